//! `inline` and `local` on resources: contents embedded as `data:` URLs.

use ferro_document::Path;
use ferro_spec::data_url::{self, Encoding as UrlEncoding};
use serde_json::{Map, Value};

use super::context::{Context, at_mut, items};

/// The canonical paths of every resource in a (normalized) config.
pub(crate) fn resource_paths(config: &Value) -> Vec<Path> {
    let mut paths = items(config, "ignition.config.merge");
    let replace = Path::parse("ignition.config.replace");
    paths.push(replace);
    paths.extend(items(
        config,
        "ignition.security.tls.certificateAuthorities",
    ));
    // Butane's `File` has `append` before `contents`.
    for file in items(config, "storage.files") {
        let append = file.key("append");
        let count = config
            .pointer(&pointer(&append))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        paths.extend((0..count).map(|i| append.index(i)));
        paths.push(file.key("contents"));
    }
    paths.extend(
        items(config, "storage.luks")
            .into_iter()
            .map(|p| p.key("keyFile")),
    );
    paths
}

/// A JSON pointer for a path.
pub(crate) fn pointer(path: &Path) -> String {
    path.segments()
        .iter()
        .map(|s| match s {
            ferro_document::Segment::Key(k) => format!("/{k}"),
            ferro_document::Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// Replaces `inline`/`local` of every resource under `section` by a `source` data URL.
/// Sections go one at a time, so files are read (and errors reported) in Butane's
/// translation order, which puts `passwd` between `ignition` and `storage`.
///
/// Encoding (gzip at the best level, as Butane does) dominates the time of large
/// configs, so the resources are encoded on all cores.
pub(crate) fn embed_contents(config: &mut Value, section: &str, ctx: &mut Context<'_>) {
    let mut jobs: Vec<(Path, Path)> = Vec::new();
    let mut contents: Vec<Vec<u8>> = Vec::new();
    let section = Path::parse(section);
    for path in resource_paths(config) {
        if !path.starts_with(&section) {
            continue;
        }
        let Some(Value::Object(resource)) = at_mut(config, &path) else {
            continue;
        };
        let inline = resource.shift_remove("inline");
        let local = resource.shift_remove("local");
        match (inline, local) {
            (_, Some(Value::String(local))) => {
                let from = path.key("local");
                match ctx.files.read(&local) {
                    Ok(bytes) => {
                        jobs.push((path, from));
                        contents.push(bytes);
                    }
                    Err(error) => ctx.input_error(from, error.to_string()),
                }
            }
            (Some(Value::String(inline)), _) => {
                let from = path.key("inline");
                jobs.push((path, from));
                contents.push(inline.into_bytes());
            }
            _ => {}
        }
    }
    let encoded = encode_all(&jobs, contents, config, ctx);
    for ((path, from), fields) in jobs.iter().zip(encoded) {
        if let Some(Value::Object(resource)) = at_mut(config, path) {
            resource.extend(fields);
        }
        if let Some(origin) = ctx.locator.source_map.get(from).cloned() {
            for key in ["source", "compression"] {
                let field = path.key(key);
                // A compression the user wrote stays where they wrote it.
                if key == "source" || ctx.locator.source_map.get(&field).is_none() {
                    ctx.locator.source_map.insert(field, origin.clone());
                }
            }
        }
    }
}

/// The `source`/`compression` fields for every job, computed on all cores; each
/// content is dropped as soon as it is encoded, so contents and their data URLs are
/// not all held at once.
///
/// The jobs go out in small batches to whichever thread is free (the machine may be
/// shared, and one thread's fixed half would wait for a descheduled other); results
/// are put back in job order. This thread takes each batch's data URLs over as they
/// come: glibc gives every thread an arena of its own, and a worker whose results
/// stayed in its arena could not reuse the space this thread freed (the parsed text),
/// which made the peak memory a fifth higher; copied over, a worker's arena holds only
/// the batches in flight.
fn encode_all(
    jobs: &[(Path, Path)],
    contents: Vec<Vec<u8>>,
    config: &Value,
    ctx: &Context<'_>,
) -> Vec<Map<String, Value>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{SyncSender, sync_channel};

    /// Jobs per batch: enough to make taking one cheap, few enough to balance.
    const BATCH: usize = 16;
    let compressions: Vec<Option<Value>> = jobs
        .iter()
        .map(|(path, _)| {
            config
                .pointer(&pointer(path))
                .and_then(|r| r.get("compression"))
                .cloned()
        })
        .collect();
    let settings = Encoding::of(ctx);
    let mut contents = contents.into_iter();
    let batches: Vec<Mutex<Vec<Vec<u8>>>> = (0..jobs.len().div_ceil(BATCH))
        .map(|_| Mutex::new(contents.by_ref().take(BATCH).collect()))
        .collect();
    let next = AtomicUsize::new(0);
    let work = |results: SyncSender<(usize, Vec<Map<String, Value>>)>| loop {
        let batch = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = batches.get(batch) else {
            return;
        };
        let batch_contents = std::mem::take(&mut *slot.lock().unwrap_or_else(|e| e.into_inner()));
        let fields: Vec<Map<String, Value>> = batch_contents
            .into_iter()
            .zip(&compressions[batch * BATCH..])
            .map(|(contents, compression)| {
                let mut fields = Map::new();
                if let Some(compression) = compression {
                    fields.insert("compression".into(), compression.clone());
                }
                settings.apply(&mut fields, &contents);
                fields
            })
            .collect();
        if results.send((batch, fields)).is_err() {
            return;
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut done = Vec::with_capacity(batches.len());
    std::thread::scope(|scope| {
        let (results, received) = sync_channel(threads * 2);
        for _ in 0..threads.min(batches.len()) {
            let results = results.clone();
            scope.spawn(move || work(results));
        }
        drop(results);
        for (batch, fields) in received {
            done.push((
                batch,
                fields.into_iter().map(copied_here).collect::<Vec<_>>(),
            ));
        }
    });
    done.sort_unstable_by_key(|(batch, _)| *batch);
    done.into_iter().flat_map(|(_, fields)| fields).collect()
}

/// `fields` with its strings allocated by this thread (see [`encode_all`]).
fn copied_here(fields: Map<String, Value>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, Value::String(text.as_str().to_owned())),
            other => (key, other),
        })
        .collect()
}

/// How contents are embedded for a profile.
#[derive(Clone, Copy)]
struct Encoding {
    /// fcos 1.0.0 (Ignition 3.0.0): always escaped text, no compression field.
    escaped_only: bool,
    allow_gzip: bool,
}

impl Encoding {
    fn of(ctx: &Context<'_>) -> Self {
        Self {
            escaped_only: ctx.profile.level() == 0,
            allow_gzip: ctx.allow_gzip,
        }
    }

    /// Sets `source` (and `compression`) of `resource` to carry `contents`.
    fn apply(self, resource: &mut Map<String, Value>, contents: &[u8]) {
        if self.escaped_only {
            resource.insert(
                "source".into(),
                data_url::encode(contents, UrlEncoding::Percent).into(),
            );
            return;
        }
        let user_compression = resource
            .get("compression")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty());
        let encoded = data_url::embed(contents, self.allow_gzip && !user_compression);
        resource.insert("source".into(), encoded.url.into());
        if !user_compression {
            let compression = if encoded.gzipped { "gzip" } else { "" };
            resource.insert("compression".into(), compression.into());
        }
    }
}

/// Sets `source` (and `compression`) of a resource to carry `contents`, following
/// Butane's encoding choice for the profile.
pub(crate) fn set_data_url(resource: &mut Map<String, Value>, contents: &[u8], ctx: &Context<'_>) {
    Encoding::of(ctx).apply(resource, contents);
}

/// A new resource carrying `contents`, for sugar that generates files.
pub(crate) fn data_url_resource(contents: &[u8], ctx: &Context<'_>) -> ferro_spec::Resource {
    let mut resource = Map::new();
    set_data_url(&mut resource, contents, ctx);
    serde_json::from_value(Value::Object(resource))
        .expect("a data URL resource is a valid Resource")
}

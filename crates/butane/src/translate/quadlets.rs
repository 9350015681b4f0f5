//! `systemd.quadlets` (fcos 1.8.0-experimental): Podman quadlet files and drop-ins.

use ferro_document::Path;
use ferro_spec::{Config, File, Link};

use super::context::Context;
use super::resources::data_url_resource;
use crate::schema::Quadlet;

/// File name endings Podman reads as quadlets.
pub(crate) const EXTENSIONS: &[&str] = &[
    ".container",
    ".volume",
    ".network",
    ".kube",
    ".image",
    ".build",
    ".pod",
    ".artifact",
];

/// Whether `name` is a template instance (`web@1.container`), which becomes a link to
/// its template.
pub(crate) fn template_of(name: &str) -> Option<String> {
    let (stem, extension) = name.rsplit_once('.')?;
    let (prefix, instance) = stem.split_once('@')?;
    (!instance.is_empty()).then(|| format!("{prefix}@.{extension}"))
}

/// Adds the files and links of every quadlet to `config`.
pub(crate) fn add(quadlets: &[Quadlet], config: &mut Config, ctx: &mut Context<'_>) {
    for (index, quadlet) in quadlets.iter().enumerate() {
        let from = Path::parse("systemd.quadlets").index(index);
        let dir = if quadlet.rootful == Some(true) {
            "/etc/containers/systemd"
        } else {
            "/etc/containers/systemd/users"
        };
        let path = format!("{dir}/{}", quadlet.name);
        if let Some(template) = template_of(&quadlet.name) {
            if !exists(config, ctx, &from, &path) {
                add_node(config, ctx, &from, &path, NodeKind::Link(template));
            }
        } else {
            add_file(
                quadlet.contents.as_ref(),
                quadlet.contents_local.as_ref(),
                (&from, &path),
                config,
                ctx,
            );
        }
        for (d, dropin) in quadlet.dropins.iter().enumerate() {
            add_file(
                dropin.contents.as_ref(),
                dropin.contents_local.as_ref(),
                (
                    &from.key("dropins").index(d),
                    &format!("{path}.d/{}", dropin.name),
                ),
                config,
                ctx,
            );
        }
    }
}

enum NodeKind {
    File(Vec<u8>),
    Link(String),
}

/// Butane's `addFileWithContents`: a node already there is an error; otherwise the file
/// gets its contents (none written: an empty file).
fn add_file(
    contents: Option<&String>,
    local: Option<&String>,
    (from, path): (&Path, &str),
    config: &mut Config,
    ctx: &mut Context<'_>,
) {
    if exists(config, ctx, from, path) {
        return;
    }
    if let Some(contents) = read(contents, local, from, ctx) {
        add_node(config, ctx, from, path, NodeKind::File(contents));
    }
}

/// Whether a node is already at `path` (then reported at `from`).
fn exists(config: &Config, ctx: &mut Context<'_>, from: &Path, path: &str) -> bool {
    let storage = &config.storage;
    let found = storage.files.iter().any(|f| f.path == path)
        || storage.directories.iter().any(|d| d.path == path)
        || storage.links.iter().any(|l| l.path == path);
    if found {
        ctx.input_error(
            from.clone(),
            "matching filesystem node has existing contents or different type",
        );
    }
    found
}

fn read(
    contents: Option<&String>,
    local: Option<&String>,
    from: &Path,
    ctx: &mut Context<'_>,
) -> Option<Vec<u8>> {
    if let Some(local) = local.filter(|l| !l.is_empty()) {
        return match ctx.files.read(local) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                ctx.input_error(from.key("contents_local"), error.to_string());
                None
            }
        };
    }
    Some(contents.map(|c| c.clone().into_bytes()).unwrap_or_default())
}

fn add_node(config: &mut Config, ctx: &mut Context<'_>, from: &Path, path: &str, kind: NodeKind) {
    match kind {
        NodeKind::File(contents) => {
            let resource = data_url_resource(&contents, ctx);
            ctx.locator.added.insert(
                Path::parse("storage.files").index(config.storage.files.len()),
                from.clone(),
            );
            config.storage.files.push(File {
                path: path.to_owned(),
                contents: resource,
                mode: Some(0o644),
                ..File::default()
            });
        }
        NodeKind::Link(target) => {
            ctx.locator.added.insert(
                Path::parse("storage.links").index(config.storage.links.len()),
                from.clone(),
            );
            config.storage.links.push(Link {
                path: path.to_owned(),
                target: Some(target),
                ..Link::default()
            });
        }
    }
}

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
            add_node(config, ctx, &from, &path, NodeKind::Link(template));
        } else if let Some(contents) = read(
            quadlet.contents.as_ref(),
            quadlet.contents_local.as_ref(),
            &from,
            ctx,
        ) {
            add_node(config, ctx, &from, &path, NodeKind::File(contents));
        }
        for (d, dropin) in quadlet.dropins.iter().enumerate() {
            let dropin_from = from.key("dropins").index(d);
            if let Some(contents) = read(
                dropin.contents.as_ref(),
                dropin.contents_local.as_ref(),
                &dropin_from,
                ctx,
            ) {
                let dropin_path = format!("{path}.d/{}", dropin.name);
                add_node(
                    config,
                    ctx,
                    &dropin_from,
                    &dropin_path,
                    NodeKind::File(contents),
                );
            }
        }
    }
}

enum NodeKind {
    File(Vec<u8>),
    Link(String),
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
    contents.map(|c| c.clone().into_bytes())
}

fn add_node(config: &mut Config, ctx: &mut Context<'_>, from: &Path, path: &str, kind: NodeKind) {
    let storage = &config.storage;
    if storage.files.iter().any(|f| f.path == path)
        || storage.directories.iter().any(|d| d.path == path)
        || storage.links.iter().any(|l| l.path == path)
    {
        ctx.input_error(
            from.clone(),
            "matching filesystem node has existing contents or different type",
        );
        return;
    }
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

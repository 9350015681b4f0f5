//! `ssh_authorized_keys_local` and `contents_local`: text read from the files dir.

use ferro_document::Path;
use serde_json::Value;

use super::context::{Context, at_mut, items, take};

/// Appends the keys of every `ssh_authorized_keys_local` file to the user's keys, one
/// per non-empty line, after the inline ones.
pub(crate) fn ssh_keys(config: &mut Value, ctx: &mut Context<'_>) {
    for user in items(config, "passwd.users") {
        let Some(Value::Array(files)) = take(config, &user, "ssh_authorized_keys_local") else {
            continue;
        };
        let keys_path = user.key("sshAuthorizedKeys");
        let mut next = at_mut(config, &keys_path)
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len);
        for (index, file) in files.iter().enumerate() {
            let Some(local) = file.as_str() else { continue };
            let from = user.key("ssh_authorized_keys_local").index(index);
            let text = match ctx.files.read(local) {
                Ok(bytes) => ferro_spec::go_text(bytes),
                // Without a files directory Butane reports the list once.
                Err(error @ crate::files_dir::LocalError::NoFilesDir) => {
                    ctx.input_error(from.parent(), error.to_string());
                    break;
                }
                Err(error) => {
                    ctx.input_error(from, error.to_string());
                    continue;
                }
            };
            // Lines end at `\r?\n`: a `\r` without a `\n` after it, at the very end, stays.
            let lines: Vec<&str> = text.split('\n').collect();
            let last = lines.len() - 1;
            let keys: Vec<Value> = lines
                .iter()
                .enumerate()
                .map(|(i, line)| match line.strip_suffix('\r') {
                    Some(stripped) if i < last => stripped,
                    _ => line,
                })
                .filter(|line| !line.is_empty())
                .map(|line| Value::String(line.to_owned()))
                .collect();
            let origin = ctx.locator.source_map.get(&from).cloned();
            let Some(Value::Object(user_object)) = at_mut(config, &user) else {
                continue;
            };
            let list = user_object
                .entry("sshAuthorizedKeys")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                for key in keys {
                    list.push(key);
                    if let Some(origin) = &origin {
                        ctx.locator
                            .source_map
                            .insert(keys_path.index(next), origin.clone());
                    }
                    next += 1;
                }
            }
        }
    }
}

/// Reads `contents_local` of units and drop-ins into `contents` (plain text).
pub(crate) fn unit_contents(config: &mut Value, ctx: &mut Context<'_>) {
    let mut holders: Vec<Path> = Vec::new();
    for unit in items(config, "systemd.units") {
        let dropins = at_mut(config, &unit.key("dropins"))
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len);
        // Butane translates a unit's drop-ins before its own `contents_local`.
        holders.extend((0..dropins).map(|i| unit.key("dropins").index(i)));
        holders.push(unit.clone());
    }
    for holder in holders {
        let Some(Value::String(local)) = take(config, &holder, "contents_local") else {
            continue;
        };
        if local.is_empty() {
            continue;
        }
        let from = holder.key("contents_local");
        match ctx.files.read(&local) {
            Ok(bytes) => {
                let text = ferro_spec::go_text(bytes);
                if let Some(Value::Object(object)) = at_mut(config, &holder) {
                    object.insert("contents".into(), Value::String(text));
                }
                if let Some(origin) = ctx.locator.source_map.get(&from).cloned() {
                    ctx.locator
                        .source_map
                        .insert(holder.key("contents"), origin);
                }
            }
            Err(error) => ctx.input_error(from, error.to_string()),
        }
    }
}

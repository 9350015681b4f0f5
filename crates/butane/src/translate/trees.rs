//! `storage.trees`: a directory of the files dir copied into the config, node by node.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path as HostPath;

use ferro_document::Path;
use ferro_spec::{Config, Directory, File, Link, NodeGroup, NodeUser};
use serde_json::{Map, Value};

use super::context::Context;
use super::resources::set_data_url;
use crate::files_dir::{LocalError, io_error};
use crate::schema::Tree;

const NODE_EXISTS: &str = "matching filesystem node has existing contents or different type";

/// Adds the files, links and (fcos 1.7 with modes or owners) directories of every tree
/// to `config`; entries the user wrote for the same path keep their attributes.
pub(crate) fn add(trees: &[Tree], config: &mut Config, ctx: &mut Context<'_>) {
    for (index, tree) in trees.iter().enumerate() {
        let from = Path::parse("storage.trees").index(index);
        let Some(local) = tree.local.as_deref() else {
            continue;
        };
        let root = match ctx.files.resolve(local) {
            Ok(root) => root,
            // The reference says so once, for the first tree, and reads no tree.
            Err(error @ LocalError::NoFilesDir) => {
                ctx.input_error(from, error.to_string());
                return;
            }
            Err(error) => {
                ctx.input_error(from, error.to_string());
                continue;
            }
        };
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                ctx.input_error(from, "root of tree must be a directory");
                continue;
            }
            Err(error) => {
                ctx.input_error(from, io_error("stat", &root, &error).to_string());
                continue;
            }
        }
        let dest = tree.path.clone().unwrap_or_else(|| "/".to_owned());
        let mut walker = Walker {
            tree,
            from: &from,
            config,
            ctx,
        };
        if let Err(message) = walker.walk(&root, &dest) {
            walker.ctx.input_error(from.clone(), message);
        }
    }
}

struct Walker<'a, 'c> {
    tree: &'a Tree,
    from: &'a Path,
    config: &'a mut Config,
    ctx: &'a mut Context<'c>,
}

impl Walker<'_, '_> {
    /// Visits `host` and, for directories, its entries in lexical order without following
    /// symlinks (Go's `filepath.Walk`, which Butane uses). An entry that cannot be read
    /// (or a directory that cannot be listed, which is then not added) is reported, and
    /// the walk goes on with the next.
    fn walk(&mut self, host: &HostPath, dest: &str) -> Result<(), String> {
        let meta =
            fs::symlink_metadata(host).map_err(|e| io_error("lstat", host, &e).to_string())?;
        let kind = meta.file_type();
        if kind.is_dir() {
            let names: Result<Vec<_>, String> = fs::read_dir(host)
                .map_err(|e| io_error("open", host, &e).to_string())
                .and_then(|entries| {
                    entries
                        .map(|entry| entry.map(|e| e.file_name()))
                        .collect::<Result<_, _>>()
                        .map_err(|e| io_error("readdirent", host, &e).to_string())
                });
            let mut names = match names {
                Ok(names) => names,
                Err(message) => {
                    self.entry_done(Err(message));
                    return Ok(());
                }
            };
            let made = self.directory(dest);
            self.entry_done(made);
            names.sort();
            for name in names {
                let child_dest = join(dest, &name.to_string_lossy());
                if let Err(message) = self.walk(&host.join(&name), &child_dest) {
                    self.entry_done(Err(message));
                }
            }
            return Ok(());
        }
        // An entry that cannot be added is reported, and the walk goes on.
        let added = if kind.is_file() {
            let executable = meta.permissions().mode() & 0o111 != 0;
            fs::read(host)
                .map_err(|e| io_error("open", host, &e).to_string())
                .and_then(|contents| self.file(dest, &contents, executable))
        } else if kind.is_symlink() {
            fs::read_link(host)
                .map_err(|e| io_error("readlink", host, &e).to_string())
                .and_then(|target| self.link(dest, &target.to_string_lossy()))
        } else {
            Err("trees may only contain files, directories, and symlinks".to_owned())
        };
        self.entry_done(added);
        Ok(())
    }

    fn entry_done(&mut self, added: Result<(), String>) {
        if let Err(message) = added {
            self.ctx.input_error(self.from.clone(), message);
        }
    }

    fn owned(&self) -> bool {
        self.tree.user != NodeUser::default() || self.tree.group != NodeGroup::default()
    }

    fn directory(&mut self, dest: &str) -> Result<(), String> {
        if self.tree.dir_mode.is_none() && !self.owned() {
            return Ok(());
        }
        if self.exists(dest) {
            return Err(NODE_EXISTS.to_owned());
        }
        self.mark_added("storage.directories", self.config.storage.directories.len());
        self.config.storage.directories.push(Directory {
            path: dest.to_owned(),
            user: self.tree.user.clone(),
            group: self.tree.group.clone(),
            mode: Some(self.tree.dir_mode.unwrap_or(0o755)),
            ..Directory::default()
        });
        Ok(())
    }

    fn file(&mut self, dest: &str, contents: &[u8], executable: bool) -> Result<(), String> {
        let storage = &self.config.storage;
        if storage.directories.iter().any(|d| d.path == dest)
            || storage.links.iter().any(|l| l.path == dest)
        {
            return Err(NODE_EXISTS.to_owned());
        }
        let index = match storage.files.iter().position(|f| f.path == dest) {
            Some(index) if storage.files[index].contents.source.is_some() => {
                return Err(NODE_EXISTS.to_owned());
            }
            Some(index) => index,
            None => {
                self.mark_added("storage.files", storage.files.len());
                self.config.storage.files.push(File {
                    path: dest.to_owned(),
                    ..File::default()
                });
                self.config.storage.files.len() - 1
            }
        };
        let mut resource = match serde_json::to_value(&self.config.storage.files[index].contents) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        set_data_url(&mut resource, contents, self.ctx);
        let default_mode = self
            .tree
            .file_mode
            .unwrap_or(if executable { 0o755 } else { 0o644 });
        let (user, group) = (self.tree.user.clone(), self.tree.group.clone());
        let file = &mut self.config.storage.files[index];
        if let Ok(resource) = serde_json::from_value(Value::Object(resource)) {
            file.contents = resource;
        }
        file.mode.get_or_insert(default_mode);
        if file.user == NodeUser::default() {
            file.user = user;
        }
        if file.group == NodeGroup::default() {
            file.group = group;
        }
        Ok(())
    }

    fn link(&mut self, dest: &str, target: &str) -> Result<(), String> {
        let storage = &self.config.storage;
        if storage.directories.iter().any(|d| d.path == dest)
            || storage.files.iter().any(|f| f.path == dest)
        {
            return Err(NODE_EXISTS.to_owned());
        }
        let index = match storage.links.iter().position(|l| l.path == dest) {
            Some(index) if storage.links[index].target.is_some() => {
                return Err(NODE_EXISTS.to_owned());
            }
            Some(index) => index,
            None => {
                self.mark_added("storage.links", storage.links.len());
                self.config.storage.links.push(Link {
                    path: dest.to_owned(),
                    ..Link::default()
                });
                self.config.storage.links.len() - 1
            }
        };
        let (user, group) = (self.tree.user.clone(), self.tree.group.clone());
        let link = &mut self.config.storage.links[index];
        link.target = Some(target.to_owned());
        if link.user == NodeUser::default() {
            link.user = user;
        }
        if link.group == NodeGroup::default() {
            link.group = group;
        }
        Ok(())
    }

    fn exists(&self, dest: &str) -> bool {
        let storage = &self.config.storage;
        storage.files.iter().any(|f| f.path == dest)
            || storage.directories.iter().any(|d| d.path == dest)
            || storage.links.iter().any(|l| l.path == dest)
    }

    fn mark_added(&mut self, list: &str, index: usize) {
        let list = Path::parse(list);
        let added = &mut self.ctx.locator.added;
        // A list the tree starts is the tree's too (the first such tree's).
        if index == 0 {
            added
                .entry(list.clone())
                .or_insert_with(|| self.from.clone());
        }
        added.insert(list.index(index), self.from.clone());
    }
}

/// `path.Join(base, name)` for slash paths.
fn join(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

//! `ferro ostree`: OSTree repository verbs over `ferro-ostree`.

use std::path::PathBuf;

use anyhow::Context;
use ferro_ostree::browse::{self, format_timestamp};
use ferro_ostree::checkout::{CheckoutOptions, LinkMode, Overwrite, checkout};
use ferro_ostree::commit::CommitOptions;
use ferro_ostree::object::Variant;
use ferro_ostree::prune::{PruneOptions, prune};
use ferro_ostree::pull_local::{PullLocalOptions, pull_local};
use ferro_ostree::tree_source::{TreeSource, commit_trees};
use ferro_ostree::{Checksum, Commit, Repo, fsck, refs};
use ferro_sys::size::format_size;

use crate::ExitStatus;
use crate::args_ostree::{ConfigAction, OstreeArgs, OstreeCommitArgs, OstreeVerb};
use crate::exit::UsageError;
use crate::printer::Printer;

/// Runs one `ferro ostree` verb (all but `admin`), printing through `printer` what
/// `ostree` prints.
pub fn run(args: OstreeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if args.version {
        printer.out(version_text())?;
        return Ok(ExitStatus::Success);
    }
    let Some(verb) = args.verb else {
        return Err(usage(no_command(&["ostree"])));
    };
    if let OstreeVerb::External(words) = &verb {
        return run_extension(words, printer);
    }
    if let OstreeVerb::Checksum {
        ignore_xattrs,
        path,
    } = &verb
    {
        let id = ferro_ostree::commit::file_checksum(path, *ignore_xattrs)?;
        printer.outln(format_args!("{id}"))?;
        return Ok(ExitStatus::Success);
    }
    let cwd = std::env::current_dir().context("could not read the current directory")?;
    let Some(path) = Repo::locate(args.repo.as_deref(), &cwd, args.env_sysroot.as_deref()) else {
        printer.errln(
            "error: Command requires a --repo argument (or set OSTREE_REPO, or OSTREE_SYSROOT \
             for the sysroot's repository)",
        );
        return Ok(ExitStatus::Usage);
    };
    if let OstreeVerb::Init {
        mode,
        collection_id,
        ignored: _,
    } = &verb
    {
        let repo = Repo::init(&path, *mode)?;
        if let Some(id) = collection_id {
            repo.set_collection_id(id)?;
        }
        return Ok(ExitStatus::Success);
    }
    let repo = Repo::open_located(&path, args.env_sysroot.as_deref())?;
    match verb {
        OstreeVerb::Init { .. } | OstreeVerb::External(_) | OstreeVerb::Checksum { .. } => {
            unreachable!("handled above")
        }
        OstreeVerb::Admin(_) => unreachable!("dispatched in main"),
        OstreeVerb::Commit(commit) => {
            return run_commit(&repo, commit, args.timestamp.as_deref(), printer);
        }
        OstreeVerb::Checkout(a) => {
            let id = repo.resolve_rev(&a.rev)?;
            let dest = a.destination.unwrap_or_else(|| PathBuf::from(&a.rev));
            let link = match (a.require_hardlinks, a.force_copy) {
                (true, true) => {
                    return Err(usage(
                        "--require-hardlinks and --force-copy exclude each other",
                    ));
                }
                (true, false) => LinkMode::Require,
                (false, true) => LinkMode::Copy,
                (false, false) => LinkMode::Auto,
            };
            let overwrite = match (a.union, a.union_add, a.union_identical) {
                (true, _, _) => Overwrite::UnionFiles,
                (_, true, _) => Overwrite::AddFiles,
                (_, _, true) => Overwrite::UnionIdentical,
                _ => Overwrite::Never,
            };
            let skip = match &a.skip_list {
                Some(file) => ferro_ostree::commit_modifier::path_list(
                    &std::fs::read_to_string(file).with_context(|| {
                        format!("could not read --skip-list '{}'", file.display())
                    })?,
                ),
                None => Default::default(),
            };
            let options = CheckoutOptions {
                user_mode: a.user_mode,
                link,
                subpath: a.subpath,
                overwrite,
                skip,
                bareuseronly_dirs: a.bareuseronly_dirs,
                allow_noent: a.allow_noent,
                disable_cache: a.disable_cache,
                whiteouts: a.whiteouts,
                passthrough_whiteouts: a.process_passthrough_whiteouts,
            };
            checkout(&repo, &id, &dest, &options)?;
        }
        OstreeVerb::RevParse { single, rev } => {
            let id = match rev {
                Some(rev) if !single => repo.resolve_rev(&rev)?,
                _ => refs::single_commit(&repo)?,
            };
            printer.outln(format_args!("{id}"))?
        }
        OstreeVerb::Refs {
            delete,
            list,
            create,
            force,
            alias,
            collections,
            refs,
        } => {
            if let (true, Some(new)) = (collections, &create) {
                let [target] = &refs[..] else {
                    return Err(usage("--create needs exactly one existing ref or commit"));
                };
                refs::create_in_collection(&repo, new, target, force)?;
            } else if collections && delete {
                refs::delete_collections(&repo, &refs)?;
            } else if collections {
                // Arguments name the collections to list (all when none).
                let wanted =
                    |r: &refs::CollectionRef| refs.is_empty() || refs.contains(&r.collection);
                for r in repo.collection_refs()?.into_iter().filter(wanted) {
                    printer.outln(format_args!("({}, {})", r.collection, r.name))?;
                }
            } else if let Some(new) = create {
                let [target] = &refs[..] else {
                    return Err(usage("--create needs exactly one existing ref or commit"));
                };
                if alias {
                    refs::create_alias(&repo, &new, target, force)?;
                } else {
                    refs::create(&repo, &new, target, force)?;
                }
            } else if alias && !delete {
                for (name, target) in refs::aliases(&repo)? {
                    if refs.is_empty() || refs.iter().any(|p| name.starts_with(p.as_str())) {
                        printer.outln(format_args!("{name} -> {target}"))?;
                    }
                }
            } else if delete {
                refs::delete(&repo, &refs)?;
            } else if refs.is_empty() {
                for (name, _) in repo.list_refs()? {
                    printer.outln(format_args!("{name}"))?;
                }
            } else {
                for prefix in &refs {
                    for (_, shown, _) in repo.refs_under(prefix, list)? {
                        printer.outln(format_args!("{shown}"))?;
                    }
                }
            }
        }
        OstreeVerb::Export {
            rev,
            output,
            subpath,
            prefix,
            no_xattrs,
        } => {
            let id = repo.resolve_rev(&rev)?;
            let options = ferro_ostree::export::ExportOptions {
                subpath,
                prefix,
                no_xattrs,
            };
            match output.filter(|p| p.as_os_str() != "-") {
                Some(path) => ferro_ostree::export::export_to_file(&repo, &id, &path, &options)?,
                None => {
                    ferro_ostree::export::export(&repo, &id, std::io::stdout().lock(), &options)?;
                }
            }
        }
        OstreeVerb::CreateUsb {
            mount,
            pairs,
            destination_repo,
            commit,
            disable_fsync: _,
        } => {
            if pairs.len() % 2 == 1 {
                return Err(usage(
                    "Only complete COLLECTION-ID REF pairs may be specified",
                ));
            }
            let options = ferro_ostree::create_usb::CreateUsbOptions {
                refs: pairs
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
                destination_repo,
                commit: commit.map(|c| repo.resolve_rev(&c)).transpose()?,
            };
            let outcome = ferro_ostree::create_usb::create_usb(&repo, &mount, &options)?;
            let n = outcome.refs.len();
            printer.outln(format_args!(
                "Copied {n}/{n} refs successfully from \u{2018}{}\u{2019} to \u{2018}{}\u{2019} repository in \u{2018}{}\u{2019}.",
                std::path::absolute(repo.path())
                    .unwrap_or_else(|_| repo.path().to_owned())
                    .display(),
                outcome.destination_repo.display(),
                mount.display()
            ))?;
        }
        OstreeVerb::FindRemotes {
            pairs,
            finders,
            pull,
            mirror,
        } => {
            if pairs.len() % 2 == 1 {
                return Err(usage(
                    "Only complete COLLECTION-ID REF pairs may be specified",
                ));
            }
            if finders.split(',').any(|f| f != "config") {
                return Err(usage(format!(
                    "unsupported --finders={finders}: only the config finder is implemented"
                )));
            }
            let options = ferro_ostree::find_remotes::FindRemotesOptions {
                refs: pairs
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
                pull,
                mirror,
            };
            let outcome = ferro_ostree::find_remotes::find_remotes(&repo, &options, &())?;
            for (i, result) in outcome.results.iter().enumerate() {
                printer.outln(format_args!("Result {i}: {}", result.url))?;
                printer.outln(" - Finder: OstreeRepoFinderConfig")?;
                printer.outln(format_args!(
                    " - Keyring: {}.trustedkeys.gpg",
                    result.remote
                ))?;
                printer.outln(" - Priority: 100")?;
                printer.outln(" - Summary last modified: unknown")?;
                printer.outln(" - Refs:")?;
                for (collection, name, commit) in &result.refs {
                    let commit = commit.map_or("(not found)".to_owned(), |c| c.to_hex());
                    printer.outln(format_args!("    - ({collection}, {name}) = {commit}"))?;
                }
                printer.outln("")?;
            }
            if outcome.results.is_empty() {
                printer.outln("No results.")?;
                return Ok(ExitStatus::Success);
            }
            let total = options.refs.len();
            printer.outln(format_args!(
                "{}/{total} refs were found.",
                total - outcome.not_found.len()
            ))?;
            if !outcome.not_found.is_empty() {
                printer.outln("Refs not found in any remote:")?;
                for (collection, name) in &outcome.not_found {
                    printer.outln(format_args!(" - ({collection}, {name})"))?;
                }
            }
            if pull {
                printer.outln(format_args!("Pulled {total}/{total} refs successfully."))?;
            }
        }
        OstreeVerb::Reset { name, rev } => {
            refs::reset(&repo, &name, &rev)?;
        }
        OstreeVerb::Log { rev } => {
            for (id, commit) in browse::history(&repo, &repo.resolve_rev(&rev)?)? {
                printer.out(commit_text(&id, &commit))?;
            }
        }
        OstreeVerb::Show {
            rev,
            print_detached_metadata_key,
            raw,
            no_byteswap,
            gpg,
        } => {
            let print_metadata_key = args.print_metadata_key;
            if print_metadata_key.is_some() && (raw || print_detached_metadata_key.is_some()) {
                return Err(usage(
                    "--print-metadata-key excludes --raw and --print-detached-metadata-key",
                ));
            }
            let id = repo.resolve_rev(&rev)?;
            let byteswap = !no_byteswap && cfg!(target_endian = "little");
            let lookup = match (print_metadata_key, print_detached_metadata_key) {
                (Some(key), _) => Some((key, repo.load_commit(&id)?.metadata)),
                (None, Some(key)) => match repo.read_commitmeta(&id)? {
                    Some(metadata) => Some((key, metadata)),
                    None => {
                        printer.errln(format_args!("error: No detached metadata for commit {id}"));
                        return Ok(ExitStatus::Failure);
                    }
                },
                (None, None) => None,
            };
            if let Some((key, metadata)) = lookup {
                let Some((_, value)) = metadata.iter().find(|(k, _)| *k == key) else {
                    printer.errln(format_args!("error: No such metadata key '{key}'"));
                    return Ok(ExitStatus::Failure);
                };
                printer.outln(format_args!("{}", value.to_text(byteswap)?))?;
            } else if raw {
                let bytes = repo.read_metadata(ferro_ostree::ObjectType::Commit, &id)?;
                let text = ferro_ostree::gvariant::text::print_serialized(
                    ferro_ostree::object::COMMIT_TYPE,
                    &bytes,
                    byteswap,
                )?;
                printer.outln(format_args!("commit {id}\n{text}"))?;
            } else {
                printer.out(commit_text(&id, &repo.load_commit(&id)?))?;
                crate::ostree_gpg::show_signatures(&repo, &id, &gpg, printer)?;
            }
        }
        OstreeVerb::Ls(a) => {
            let id = repo.resolve_rev(&a.rev)?;
            let paths = if a.paths.is_empty() {
                vec!["/".to_owned()]
            } else {
                a.paths
            };
            for path in paths {
                for entry in browse::ls(&repo, &id, &path, a.recursive)? {
                    printer.outln(format_args!("{}", entry.to_line(a.checksum)))?;
                }
            }
        }
        OstreeVerb::Cat { rev, paths } => {
            let id = repo.resolve_rev(&rev)?;
            for path in paths {
                let mut content = browse::cat(&repo, &id, &path)?;
                printer
                    .copy_out(&mut content.reader)
                    .with_context(|| format!("could not read '{path}'"))?;
            }
        }
        OstreeVerb::Prune {
            refs_only,
            depth,
            keep_younger_than,
            no_prune,
            delete_commit,
            static_deltas_only,
            retain_branch_depth,
            only_branch,
            commit_only,
            verbose: _,
        } => {
            let keep_younger_than = match &keep_younger_than {
                Some(text) => Some(
                    browse::parse_timestamp(text)
                        .ok_or_else(|| usage(format!("could not parse date '{text}'")))?,
                ),
                None => None,
            };
            let options = PruneOptions {
                refs_only,
                depth: u64::try_from(depth).ok(),
                keep_younger_than,
                no_prune,
                delete_commit: delete_commit
                    .as_deref()
                    .map(|rev| repo.resolve_rev(rev))
                    .transpose()?,
                static_deltas_only,
                retain_branch_depth: retain_branch_depth
                    .iter()
                    .map(|spec| ferro_ostree::prune::parse_branch_depth(spec))
                    .collect::<Result<_, _>>()?,
                only_branches: only_branch,
                commit_only,
            };
            options.validate()?;
            let report = prune(&repo, &options)?;
            printer.outln(format_args!("Total objects: {}", report.total))?;
            if report.deleted == 0 {
                printer.outln("No unreachable objects")?;
            } else {
                let (deleted, freed) = (report.deleted, format_size(report.freed));
                if no_prune {
                    printer.outln(format_args!(
                        "Would delete: {deleted} objects, freeing {freed}"
                    ))?;
                } else {
                    printer.outln(format_args!("Deleted {deleted} objects, {freed} freed"))?;
                }
            }
        }
        OstreeVerb::PullLocal {
            depth,
            untrusted,
            bareuseronly_files,
            require_static_deltas,
            commit_metadata_only,
            remote,
            gpg,
            src,
            refs,
        } => {
            let gpg_checks = (
                gpg.gpg_verify.unwrap_or(false),
                gpg.gpg_verify_summary.unwrap_or(false),
            );
            if let (Some(remote), (true, _) | (_, true)) = (&remote, gpg_checks) {
                let source = Repo::open(&src)?;
                ferro_ostree::gpg::verify_local_source(&repo, &source, remote, &refs, gpg_checks)?;
            }
            if require_static_deltas {
                let options = ferro_ostree::pull::PullOptions {
                    depth: u64::try_from(depth).ok(),
                    require_static_deltas: true,
                    bareuseronly_files,
                    commit_metadata_only,
                    ..Default::default()
                };
                let report = ferro_ostree::pull::pull_local_deltas(
                    &repo,
                    &src,
                    &refs,
                    remote.as_deref(),
                    &options,
                    &(),
                )?;
                let s = &report.status;
                printer.outln(format_args!(
                    "{} delta parts, {} metadata, {} content objects fetched; {} transferred",
                    s.delta_parts_fetched,
                    s.metadata_fetched,
                    s.content_fetched,
                    format_size(s.bytes_fetched)
                ))?;
                return Ok(ExitStatus::Success);
            }
            let src = Repo::open(&src)?;
            let options = PullLocalOptions {
                refs,
                depth: u64::try_from(depth).ok(),
                remote,
                commit_metadata_only,
                trusted: !untrusted,
                bareuseronly_files,
            };
            let total = pull_local(&repo, &src, &options)?.stats;
            printer.outln(format_args!(
                "{} metadata, {} content objects imported; {} content written",
                total.metadata,
                total.content,
                format_size(total.bytes)
            ))?;
        }
        OstreeVerb::Summary {
            update,
            sign,
            sign_type,
            view,
            raw,
            add_metadata,
            gpg,
        } => {
            let show = (view || raw).then(|| ferro_ostree::summary::SummaryView::new(raw));
            let additional = add_metadata
                .iter()
                .map(|kv| typed_metadata("-m", kv))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let update = update.then_some(additional);
            return crate::ostree_sign::run_summary(
                &repo,
                (update, &gpg),
                &sign,
                sign_type,
                show,
                printer,
            );
        }
        OstreeVerb::Remote { set, verb } => {
            return crate::ostree_remote::run_remote(&repo, &set, verb, printer);
        }
        OstreeVerb::Pull(pull) => return crate::ostree_remote::run_pull(&repo, pull, printer),
        OstreeVerb::Sign(a) => return crate::ostree_sign::run_sign(&repo, a, printer),
        OstreeVerb::GpgSign(a) => return crate::ostree_gpg::run_gpg_sign(&repo, a, printer),
        OstreeVerb::StaticDelta { verb } => {
            return crate::ostree_delta::run_static_delta(&repo, verb, printer);
        }
        OstreeVerb::Diff {
            stats,
            fs_diff,
            no_xattrs,
            owner_uid,
            owner_gid,
            revs,
        } => {
            let fs = ferro_ostree::commit::FsChecksumOptions {
                ignore_xattrs: no_xattrs,
                owner_uid,
                owner_gid,
            };
            return crate::ostree_sign::run_diff(&repo, stats, fs_diff, &fs, &revs, printer);
        }
        OstreeVerb::Config {
            group,
            action,
            key,
            values,
        } => {
            use ferro_ostree::config::{self, ConfigKey};
            let key = ConfigKey::parse(group.as_deref(), &key)?;
            match (action, &values[..]) {
                (ConfigAction::Get, []) => printer.outln(config::get(&repo, &key)?)?,
                (ConfigAction::Set, [value]) => config::set(&repo, &key, value)?,
                (ConfigAction::Set, []) => return Err(usage("set needs a VALUE")),
                (ConfigAction::Unset, []) => config::unset(&repo, &key)?,
                _ => return Err(usage("Too many arguments given")),
            }
        }
        OstreeVerb::Fsck {
            quiet,
            delete,
            all: _,
            add_tombstones,
            verify_bindings,
            verify_back_refs,
        } => {
            if !quiet {
                printer.outln("Validating refs...")?;
                printer.outln("Validating refs in collections...")?;
            }
            if add_tombstones {
                ferro_ostree::tombstone::add_missing_tombstones(&repo)?;
            }
            let mut report = fsck::fsck(&repo)?;
            let checks = ferro_ostree::fsck_bindings::BindingChecks {
                verify_bindings,
                verify_back_refs,
            };
            report
                .problems
                .extend(ferro_ostree::fsck_bindings::check(&repo, checks)?);
            // With --delete each problem is reported and mended, as `ostree` reports it
            // (no "error:"); the summary line below is the error.
            let prefix = if delete { "" } else { "error: " };
            for problem in &report.problems {
                printer.errln(format_args!("{prefix}{problem}"));
            }
            let repaired = fsck::repair(&repo, &report, delete)?;
            for problem in &repaired.deleted {
                printer.errln(format_args!("deleted corrupted object {}", problem.object));
            }
            for commit in repaired.partial {
                printer.errln(format_args!("Marking commit as partial: {commit}"));
            }
            if !quiet {
                printer.outln(format_args!(
                    "Checked {} commits, {} objects",
                    report.commits, report.objects
                ))?;
                if report.partial > 0 {
                    printer.outln(format_args!(
                        "{} partial commits not verified",
                        report.partial
                    ))?;
                }
            }
            if !report.problems.is_empty() {
                printer.errln(format_args!(
                    "error: {} problems found",
                    report.problems.len()
                ));
                return Ok(ExitStatus::Failure);
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn run_commit(
    repo: &Repo,
    a: OstreeCommitArgs,
    timestamp: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut trees: Vec<TreeSource> = a
        .path
        .map(TreeSource::Dir)
        .into_iter()
        .chain(a.tree)
        .collect();
    if trees.is_empty() {
        // As `ostree commit` without a tree: the current directory.
        trees.push(TreeSource::Dir(".".into()));
    }
    let timestamp = match (timestamp, &a.source_date_epoch) {
        (Some(text), _) => Some(
            browse::parse_timestamp(text)
                .ok_or_else(|| usage(format!("could not parse timestamp '{text}'")))?,
        ),
        (None, Some(epoch)) => Some(browse::parse_source_date_epoch(epoch)?),
        (None, None) => None,
    };
    // `--parent=none`, as in ostree: no parent, like --orphan.
    let no_parent = a.parent.as_deref() == Some("none");
    let parent = a
        .parent
        .as_deref()
        .filter(|_| !no_parent)
        .map(|p| repo.resolve_rev(p))
        .transpose()?;
    let mut metadata = Vec::new();
    for kv in &a.add_metadata_string {
        let (key, value) = key_value("--add-metadata-string", kv)?;
        metadata.push((key.to_owned(), Variant::string(value)));
    }
    for kv in &a.add_metadata {
        metadata.push(typed_metadata("--add-metadata", kv)?);
    }
    let mut detached_metadata = Vec::new();
    for kv in &a.add_detached_metadata_string {
        let (key, value) = key_value("--add-detached-metadata-string", kv)?;
        detached_metadata.push((key.to_owned(), Variant::string(value)));
    }
    let options = CommitOptions {
        branch: a.branch,
        subject: a.subject,
        body: match &a.body_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("could not read --body-file '{}'", file.display()))?,
            None => a.body,
        },
        timestamp,
        parent,
        orphan: a.orphan || no_parent,
        owner_uid: a.owner_uid,
        owner_gid: a.owner_gid,
        canonical_permissions: a.canonical_permissions,
        metadata,
        no_bindings: a.no_bindings,
        skip_if_unchanged: a.skip_if_unchanged,
        no_xattrs: a.no_xattrs,
        tar_autocreate_parents: a.tar_autocreate_parents,
        bootable: a.bootable,
        bind_refs: a.bind_ref,
        consume: a.consume,
        modifiers: commit_modifiers(&a.statoverride, &a.skip_list, a.mode_ro_executables)?,
        detached_metadata,
        keep_metadata: a.keep_metadata,
        base: a
            .base
            .as_deref()
            .map(|rev| repo.resolve_rev(rev))
            .transpose()?,
        // `--link-checkout-speedup`: files hardlinked from this repository's objects
        // (a checkout being committed back) are known by inode, not read again.
        devino: (a.link_checkout_speedup || a.devino_canonical)
            .then(|| ferro_ostree::commit::devino_cache(repo))
            .transpose()?
            .map(std::sync::Arc::new),
        devino_canonical: a.devino_canonical,
    };
    if options.branch.is_none() && !options.orphan {
        printer.errln("error: a branch is required (-b REF), or --orphan");
        return Ok(ExitStatus::Usage);
    }
    let outcome = commit_trees(repo, &trees, &options)?;
    crate::ostree_gpg::sign_commit(repo, &outcome.commit, &a.gpg)?;
    crate::ostree_sign::sign_new_commit(repo, &outcome.commit, &a.sign)?;
    if a.table_output {
        let s = outcome.stats;
        printer.outln(format_args!("Commit: {}", outcome.commit))?;
        printer.outln(format_args!("Metadata Total: {}", s.metadata_total))?;
        printer.outln(format_args!("Metadata Written: {}", s.metadata_written))?;
        printer.outln(format_args!("Content Total: {}", outcome.files))?;
        printer.outln(format_args!("Content Written: {}", s.content_written))?;
        printer.outln(format_args!("Content Cache Hits: {}", s.content_cache_hits))?;
        printer.outln(format_args!(
            "Content Bytes Written: {}",
            s.content_bytes_written
        ))?;
    } else {
        printer.outln(format_args!("{}", outcome.commit))?;
    }
    Ok(ExitStatus::Success)
}

/// The per-path commit rules from `--statoverride`, `--skip-list` and
/// `--mode-ro-executables`.
fn commit_modifiers(
    statoverride: &Option<PathBuf>,
    skip_list: &Option<PathBuf>,
    ro_executables: bool,
) -> anyhow::Result<ferro_ostree::commit_modifier::CommitModifiers> {
    let read = |what: &str, file: &PathBuf| {
        std::fs::read_to_string(file)
            .with_context(|| format!("could not read {what} '{}'", file.display()))
    };
    let mut modifiers = ferro_ostree::commit_modifier::CommitModifiers {
        ro_executables,
        ..Default::default()
    };
    if let Some(file) = statoverride {
        modifiers
            .add_statoverride(&read("--statoverride", file)?)
            .with_context(|| format!("in --statoverride '{}'", file.display()))?;
    }
    if let Some(file) = skip_list {
        modifiers.add_skip_list(&read("--skip-list", file)?);
    }
    Ok(modifiers)
}

/// Runs the CLI extension `ostree-NAME` from `PATH` with the remaining words, as
/// `ostree NAME …` does; its exit status becomes ferro's (0 or 1).
fn run_extension(words: &[String], printer: &Printer) -> anyhow::Result<ExitStatus> {
    use ferro_sys::CommandRunExt;
    let Some((name, rest)) = words.split_first() else {
        return Err(usage(no_command(&["ostree"])));
    };
    let program = format!("ostree-{name}");
    match std::process::Command::new(&program).args(rest).run_status() {
        Ok(status) if status.success() => Ok(ExitStatus::Success),
        Ok(_) => Ok(ExitStatus::Failure),
        Err(e) if e.is_missing() => {
            printer.errln(format_args!(
                "error: Unknown command '{name}' (no built-in verb, and no {program} on PATH)\n\n{}",
                crate::args::usage_of(&["ostree"])
            ));
            Ok(ExitStatus::Failure)
        }
        Err(e) => Err(e.into()),
    }
}

/// The version block `ostree --version` prints (YAML, which scripts parse), with the
/// features ferro has.
fn version_text() -> String {
    let mut text = format!(
        "libostree:\n Version: '{}'\n Features:\n",
        ferro_ostree::OSTREE_COMPAT_VERSION
    );
    for feature in ferro_ostree::FEATURES {
        text += &format!("  - {feature}\n");
    }
    text + &format!("ferro:\n Version: '{}'\n", env!("CARGO_PKG_VERSION"))
}

/// One commit as `ostree log` prints it.
fn commit_text(id: &Checksum, commit: &Commit) -> String {
    let mut text = format!("commit {id}\n");
    if let Some(parent) = commit.parent {
        text += &format!("Parent:  {parent}\n");
    }
    text += &format!("ContentChecksum:  {}\n", commit.content_checksum());
    text += &format!("Date:  {}\n", format_timestamp(commit.timestamp));
    if let Some(version) = commit.metadata_string("version") {
        text += &format!("Version: {version}\n");
    }
    text += &format!("\n    {}\n\n", commit.subject);
    if !commit.body.is_empty() {
        for line in commit.body.lines() {
            text += &format!("    {line}\n");
        }
        text += "\n";
    }
    text
}

/// An option value refused after parsing, where clap would have refused it too: exit 2.
/// `ostree`'s words for a command group run without its verb, with the usage.
pub(crate) fn no_command(path: &[&str]) -> String {
    format!(
        "No command specified; see `ferro {} --help`\n\n{}",
        path.join(" "),
        crate::args::usage_of(path)
    )
}

pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The two sides of a `KEY=VALUE` option.
fn key_value<'a>(option: &str, kv: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    kv.split_once('=')
        .ok_or_else(|| usage(format!("{option} '{kv}' is not KEY=VALUE")))
}

/// A `KEY=VALUE` option whose VALUE is in the GVariant text form, as `ostree` reads
/// `commit --add-metadata` and `summary -m`.
fn typed_metadata(option: &str, kv: &str) -> anyhow::Result<(String, Variant)> {
    let (key, value) = key_value(option, kv)?;
    let value = Variant::from_text(value).map_err(|e| {
        // The whole chain in the one message, as it read before it was a usage error.
        let error = anyhow::Error::new(e).context(format!(
            "{option} '{kv}': the value is not in the GVariant text form (e.g. \"'text'\", \"uint64 5\")"
        ));
        usage(format!("{error:#}"))
    })?;
    Ok((key.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn ferro(args: &[&str]) -> ExitStatus {
        let cli = Cli::try_parse_from(["ferro", "ostree"].iter().chain(args)).unwrap();
        let Command::Ostree(args) = cli.command else {
            panic!("not an ostree command")
        };
        run(*args, &Printer::new()).unwrap()
    }

    /// Corruption: a flipped byte in an object makes `ferro ostree fsck` exit 1.
    #[test]
    fn commit_checkout_and_fsck_exit_codes() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, repo) = (tmp.path().join("src"), tmp.path().join("repo"));
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("f"), b"data").unwrap();
        let r = format!("--repo={}", repo.display());
        assert_eq!(ferro(&[&r, "init", "--mode=archive"]), ExitStatus::Success);
        let tree = format!("--tree=dir={}", src.display());
        let commit = [
            "commit",
            &r,
            "-b",
            "main",
            &tree,
            "-s",
            "s",
            "--timestamp=@0",
        ];
        assert_eq!(ferro(&commit), ExitStatus::Success);
        let out = tmp.path().join("out");
        assert_eq!(
            ferro(&[&r, "checkout", "-U", "main", out.to_str().unwrap()]),
            ExitStatus::Success
        );
        assert_eq!(std::fs::read(out.join("f")).unwrap(), b"data");
        assert_eq!(ferro(&[&r, "fsck", "-q"]), ExitStatus::Success);
        let repo_obj = Repo::open(&repo).unwrap();
        let id = repo_obj
            .list_objects(ferro_ostree::ObjectType::File)
            .unwrap()[0];
        let path = repo_obj.object_path(ferro_ostree::ObjectType::File, &id);
        let mut bytes = std::fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(ferro(&[&r, "fsck", "-q"]), ExitStatus::Failure);
        let bad_mode = ["ferro", "ostree", &r, "init", "--mode=nope"];
        assert!(Cli::try_parse_from(bad_mode).is_err());
    }
}

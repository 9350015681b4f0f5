//! `ferro ostree`'s help and usage errors in `ostree`'s words, which OSTree's
//! test-help.sh walks: "Builtin Commands:" sections, "No command specified" for a
//! command group without its verb and "Unknown command" for a verb it lacks, each with
//! the usage on standard error and nothing on standard output.

use std::process::Output;

#[path = "support/tools.rs"]
mod tools;
use tools::ferro_ostree;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_usage_error(out: &Output, words: &str, usage: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(err.contains(words), "{err}");
    assert_eq!(err.matches("Usage:").count(), 1, "{err}");
    assert!(err.contains(&format!("Usage: ferro {usage}")), "{err}");
}

#[test]
fn groups_list_builtin_commands_and_refuse_a_missing_or_unknown_verb() {
    for group in [&["ostree"][..], &["ostree", "admin"], &["ostree", "remote"]] {
        let args: Vec<&str> = group[1..].iter().copied().chain(["--help"]).collect();
        let help = ferro_ostree(&args);
        assert!(help.status.success() && help.stderr.is_empty());
        let out = text(&help.stdout);
        assert!(out.contains("\nBuiltin Commands:\n"), "{out}");
        assert!(!out.contains("\n  help "), "no help subcommand: {out}");

        let usage = group.join(" ");
        assert_usage_error(&ferro_ostree(&group[1..]), "No command specified", &usage);
        let unknown: Vec<&str> = group[1..].iter().copied().chain(["no-such-verb"]).collect();
        let out = ferro_ostree(&unknown);
        if group.len() == 1 {
            // Unknown at the top is looked for as an extension `ostree-NAME` first.
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("Unknown command 'no-such-verb'"), "{err}");
            assert!(err.contains("Usage: ferro ostree"), "{err}");
        } else {
            assert_usage_error(&out, "Unknown command 'no-such-verb'", &usage);
        }
    }
}

//! The patched saphyr-parser (`vendor/saphyr-parser`) copies runs of ordinary characters
//! of a quoted scalar at once when it reads a `&str`; reading the same text through its
//! character-iterator input (which has no such shortcut) must give the same events,
//! values, positions and errors.

use saphyr_parser::Parser;

fn events_of_str(text: &str) -> Vec<String> {
    let mut parser = Parser::new_from_str(text);
    collect(std::iter::from_fn(move || parser.next_event()))
}

fn events_of_chars(text: &str) -> Vec<String> {
    let mut parser = Parser::new_from_iter(text.chars());
    collect(std::iter::from_fn(move || parser.next_event()))
}

fn collect<E: std::fmt::Debug, S: std::fmt::Debug>(
    events: impl Iterator<Item = Result<(E, S), saphyr_parser::ScanError>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for event in events {
        match event {
            Ok(event) => out.push(format!("{event:?}")),
            Err(error) => {
                out.push(format!("error {error:?}"));
                break;
            }
        }
    }
    out
}

#[test]
fn quoted_scalars_read_from_a_str_equal_those_read_char_by_char() {
    let long = "word ".repeat(40);
    let cases = [
        // Words and single blanks (the shortcut), doubled blanks and tabs (folded or
        // kept by the scanner), blanks before a line break (dropped), escapes, the
        // other quote, non-ASCII.
        format!("a: \"{long}\"\n"),
        format!("a: '{long}'\n"),
        "a: \"x  y\\t z\\n\\\"q\\\" it's \u{e9}t\u{e9} \u{1F600} end\"\nb: 1\n".to_owned(),
        "a: 'it''s a \"quote\" and  two blanks\tand a tab'\n".to_owned(),
        "a: \"first line   \n  second line\n\n  third \\\n  fourth\"\n".to_owned(),
        "- \"abcdefghijklmnopqrstuvwxyz0123456789 abcdefghijklmnop \"\n- 'q'\n".to_owned(),
        "{\"key with blanks\": \"value with blanks\", k2: 'v 2'}\n".to_owned(),
        "a: \"exactly sixteen!\"\n".to_owned(),
        "a: \"abcdefghijklmnop \"\n".to_owned(),
        "a: \"abcdefghijklmno \t\"\n".to_owned(),
        // Errors: unclosed, trailing content, bad escape, a key over lines.
        format!("a: \"{long}\n"),
        "a: \"closed\" trailing\n".to_owned(),
        "a: \"bad \\q escape with words after it\"\n".to_owned(),
        "\"key over\n lines\": 1\n".to_owned(),
    ];
    for case in &cases {
        assert_eq!(events_of_str(case), events_of_chars(case), "{case:?}");
    }
}

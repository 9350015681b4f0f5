//! Writing YAML the way Go's yaml.v3 encoder does with two-space indentation, which is
//! what OpenShift users diff MachineConfigs against.

use serde_json::Value;

/// `value` as a YAML document (without `---`), keys in the order given.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut first = true;
    for (key, value) in map {
        if !first {
            out.push_str(&" ".repeat(indent));
        }
        first = false;
        out.push_str(&string_text(key, indent));
        out.push(':');
        write_child(out, value, indent);
    }
}

/// Writes a value after `key:` or `- `: scalars and empty collections inline,
/// collections on the following lines.
fn write_child(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    let mut first = true;
    for item in items {
        if !first {
            out.push_str(&" ".repeat(indent));
        }
        first = false;
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2),
            scalar => {
                out.push_str(&scalar_text(scalar, indent));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, indent),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// A string as yaml.v3 writes it: plain when that reads back as the same string,
/// a literal block for multi-line text, else quoted.
fn string_text(text: &str, indent: usize) -> String {
    if text.contains('\n')
        && text.chars().all(|c| c == '\n' || !c.is_control())
        && !text.contains(" \n")
    {
        let chomp = if !text.ends_with('\n') {
            "-"
        } else if text.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let body = text.strip_suffix('\n').unwrap_or(text);
        let pad = " ".repeat(indent + 2);
        let mut out = format!("|{chomp}");
        if text.starts_with(' ') {
            out = format!("|2{chomp}");
        }
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    if text.is_empty() {
        return "\"\"".to_owned();
    }
    if is_plain_safe(text) {
        return text.to_owned();
    }
    if text.chars().all(|c| !c.is_control()) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    serde_json::to_string(text).unwrap_or_default()
}

fn is_plain_safe(text: &str) -> bool {
    if text.is_empty() || text.trim() != text {
        return false;
    }
    let first = text.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-` and `?` and `:` may start a plain scalar when followed by a non-space.
        let second = text.chars().nth(1);
        let allowed = matches!(first, '-' | '?' | ':') && second.is_some_and(|c| c != ' ');
        if !allowed {
            return false;
        }
    }
    if text.contains(": ") || text.contains(" #") || text.ends_with(':') {
        return false;
    }
    if text.chars().any(|c| c.is_control()) {
        return false;
    }
    !resolves_to_non_string(text)
}

/// Whether a plain scalar with this text would read back as something other than a string.
fn resolves_to_non_string(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | ".nan"
    ) {
        return true;
    }
    let digits = text.trim_start_matches(['-', '+']);
    digits.parse::<f64>().is_ok()
        || (digits.starts_with("0x") && i64::from_str_radix(&digits[2..], 16).is_ok())
        || (digits.starts_with("0o") && i64::from_str_radix(&digits[2..], 8).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_maps_and_lists() {
        let value = json!({"a": {"b": [{"c": 1, "d": "x y"}, "z"]}, "e": "", "f": []});
        assert_eq!(
            to_yaml(&value),
            "a:\n  b:\n    - c: 1\n      d: x y\n    - z\ne: \"\"\nf: []\n"
        );
    }

    #[test]
    fn quotes_what_would_read_back_differently() {
        assert_eq!(string_text("true", 0), "'true'");
        assert_eq!(string_text("", 0), "\"\"");
        assert_eq!(string_text("3.5", 0), "'3.5'");
        assert_eq!(string_text("3.5.0", 0), "3.5.0");
        assert_eq!(string_text("{\"a\": 1}", 0), "'{\"a\": 1}'");
        assert_eq!(string_text("it's: x", 0), "'it''s: x'");
    }

    #[test]
    fn writes_multi_line_text_as_literal_blocks() {
        let value = json!({"k": "a\n\nb\n"});
        assert_eq!(to_yaml(&value), "k: |\n  a\n\n  b\n");
        let value = json!({"k": "a\nb"});
        assert_eq!(to_yaml(&value), "k: |-\n  a\n  b\n");
    }
}

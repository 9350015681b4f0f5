//! The OpenShift MachineConfig YAML against the reference Butane's (which writes it with Go's
//! yaml.v3): byte for byte, on hard-coded cases captured from the reference, and on seeded
//! random strings run through the reference (`../shared/oracles/butane-v0.29.0`) when it is
//! present. `FERRO_YAML_FUZZ=N` runs N random batches instead of the default few.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_butane::{Options, translate};
use ferro_sys::CommandRunExt;

#[path = "gen/mod.rs"]
mod generator;

use generator::Rng;

fn oracle() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracles/butane-v0.29.0");
    path.is_file().then_some(path)
}

/// `text` as a YAML double-quoted scalar that every reader takes the same way: printable
/// ASCII as it is, everything else escaped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// A Butane openshift config carrying the given strings where the MachineConfig has them:
/// the name, label keys and values, kernel arguments, and (deeper in) SSH keys.
fn config(name: &str, labels: &[(String, String)], args: &[String], keys: &[String]) -> String {
    let mut yaml = format!(
        "variant: openshift\nversion: 4.14.0\nmetadata:\n  name: {}\n  labels:\n    machineconfiguration.openshift.io/role: worker\n",
        quoted(name)
    );
    for (key, value) in labels {
        yaml.push_str(&format!("    {}: {}\n", quoted(key), quoted(value)));
    }
    if !args.is_empty() {
        yaml.push_str("openshift:\n  kernel_arguments:\n");
        for arg in args {
            yaml.push_str(&format!("    - {}\n", quoted(arg)));
        }
    }
    if !keys.is_empty() {
        yaml.push_str("passwd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n");
        for key in keys {
            yaml.push_str(&format!("        - {}\n", quoted(key)));
        }
    }
    yaml
}

/// ferro's MachineConfig, or `Err` when it rejects the config (the report is compared
/// elsewhere).
fn ferro(yaml: &str) -> Result<String, ()> {
    translate(yaml, &Options::default())
        .map(|t| t.output())
        .map_err(|_| ())
}

fn reference(oracle: &Path, dir: &Path, yaml: &str) -> Result<String, ()> {
    let file = dir.join("config.bu");
    std::fs::write(&file, yaml).expect("write config");
    let output = Command::new(oracle)
        .arg(&file)
        .run_capture()
        .expect("the reference Butane runs");
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).expect("UTF-8 output"))
    } else {
        Err(())
    }
}

const TRICKY_CONFIG: &str = r##"variant: openshift
version: 4.14.0
metadata:
  name: "name: with \u2028 break"
  labels:
    "machineconfiguration.openshift.io/role": "worker"
    "a10": "1"
    "a9": "yes"
    "a_b": "x"
    "aB": ""
    "A": "~"
    "": ""
    "true": "false"
    "a: b": "c: d"
    "k\u000Av": "multi\u000Aline\u000A"
    "a\u2028b": "x"
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk": "long key"
    "-x": " "
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": "128"
openshift:
  kernel_arguments:
    - "true"
    - "True"
    - "TRUE"
    - "false"
    - "FALSE"
    - "null"
    - "Null"
    - "NULL"
    - "~"
    - ""
    - "y"
    - "Y"
    - "yes"
    - "Yes"
    - "YES"
    - "n"
    - "N"
    - "no"
    - "No"
    - "NO"
    - "on"
    - "On"
    - "ON"
    - "off"
    - "Off"
    - "OFF"
    - "yES"
    - "nO"
    - "12:30"
    - "1:20:30.5"
    - "-1_0:59"
    - "+1:2"
    - "12:60"
    - "1:2:3:4"
    - "1:"
    - "a:1"
    - "1"
    - "-1"
    - "+1"
    - "0"
    - "00"
    - "017"
    - "08"
    - "0x1F"
    - "0X1f"
    - "-0x1F"
    - "0x"
    - "0o17"
    - "0O17"
    - "0b101"
    - "0B11"
    - "0b-101"
    - "0o+17"
    - "-0b101"
    - "1_000"
    - "_1"
    - "1_"
    - "1.5"
    - "1."
    - "1.e5"
    - ".5"
    - "+.5"
    - "-.5e-3"
    - ".5_5"
    - "._5"
    - "1e3"
    - "1E-3"
    - "1e400"
    - ".1e400"
    - "1e-400"
    - ".inf"
    - ".Inf"
    - "-.inf"
    - "+.INF"
    - ".nan"
    - ".NaN"
    - "NaN"
    - "Inf"
    - "inf"
    - "9223372036854775807"
    - "9223372036854775808"
    - "18446744073709551615"
    - "18446744073709551616"
    - "0xFFFFFFFFFFFFFFFFF"
    - "0x1p-2"
    - "2001-12-14"
    - "2001-12-14T21:59:43.10Z"
    - "2001-12-14t21:59:43+05:30"
    - "2001-12-14 21:59:43.10"
    - "2001-12-14  1:2:3,5"
    - "2001-02-29"
    - "2000-02-29"
    - "2001-13-01"
    - "2001-12-14T24:00:00Z"
    - "2001-12-14T21:59:43+25:00"
    - "200-1-1"
    - " x"
    - "x "
    - " x "
    - "  "
    - "a: b"
    - "a:b"
    - "a:"
    - "a :b"
    - "x #y"
    - "x#y"
    - "#x"
    - "a # b"
    - "-"
    - "-x"
    - "- x"
    - "--"
    - "---"
    - "---x"
    - "..."
    - "...x"
    - "?"
    - "?x"
    - "? x"
    - ":"
    - ":x"
    - ": x"
    - ",x"
    - "x,y"
    - "[x"
    - "x["
    - "]x"
    - "{x"
    - "x}"
    - "}"
    - "&x"
    - "x&"
    - "*x"
    - "!x"
    - "|x"
    - "x|"
    - ">x"
    - "'x"
    - "x'"
    - "it's"
    - "\"x"
    - "x\""
    - "%x"
    - "@x"
    - "`x"
    - "=x"
    - "<<"
    - "<<x"
    - "/x"
    - "a\u000Ab"
    - "a\u000Ab\u000A"
    - "a\u000Ab\u000A\u000A"
    - "a\u000Ab\u000A\u000A\u000A"
    - "\u000Aa"
    - "\u000A"
    - " a\u000Ab"
    - "a\u000A b"
    - "a \u000Ab"
    - "a\u000A\u0009b"
    - "\u0009a\u000A"
    - "a\u0009\u000Ab"
    - "a\u000Ab "
    - "a\u000D\u000Ab"
    - "a\u000Db"
    - "a\u000D"
    - "\u000A\u000A"
    - "tab\u0009here"
    - "\u0009"
    - "\u0000"
    - "\u0007"
    - "\u0008"
    - "\u000B"
    - "\u000C"
    - "\u001B"
    - "\u007F"
    - "\u0085x"
    - "x\u0085"
    - "\u009F"
    - "\u00A0x"
    - "x\u00A0y"
    - "a\u2028b"
    - "a\u2029"
    - "\u2028"
    - "a\u2028 b"
    - "\uFEFFab c"
    - "x\uFEFF"
    - "\uFFFE"
    - "\uFFFD"
    - "\U0001F600"
    - "x\U0001F600y"
    - "\u00E9t\u00E9"
    - "\u00DF"
    - "\u4E2D\u6587"
    - "\uD7FF\uE000"
    - "a\"b\\c"
    - "\\"
    - "\""
    - "long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long "
    - "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  extensions:
    - usbguard
  fips: true
passwd:
  users:
    - name: core
      ssh_authorized_keys:
        - "a\u000Ab"
        - "a\u000Ab\u000A"
        - "  indented\u000A"
        - "x\u2028"
        - "ssh-rsa AAAA key"
storage:
  disks:
    - device: /dev/sdb
      wipe_table: false
      partitions:
        - number: 1
          size_mib: 1000000
          start_mib: 0
  files:
    - path: /etc/x
      mode: 0644
      contents:
        inline: "hello\n"
    - path: /etc/empty
"##;

/// Captured from `butane-v0.29.0` on [`TRICKY_CONFIG`].
const TRICKY_MACHINE_CONFIG: &str = concat!(
    "# Generated by Butane; do not edit\n",
    "apiVersion: machineconfiguration.openshift.io/v1\n",
    "kind: MachineConfig\n",
    "metadata:\n",
    "  labels:\n",
    "    \"\": \"\"\n",
    "    -x: ' '\n",
    "    A: \"~\"\n",
    "    'a: b': 'c: d'\n",
    "    a_b: x\n",
    "    ? 'a\u{2028}      b'\n",
    "    : x\n",
    "    a9: \"yes\"\n",
    "    a10: \"1\"\n",
    "    aB: \"\"\n",
    "    ? |-\n",
    "      k\n",
    "      v\n",
    "    : |\n",
    "      multi\n",
    "      line\n",
    "    ? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n",
    "    : long key\n",
    "    machineconfiguration.openshift.io/role: worker\n",
    "    \"true\": \"false\"\n",
    "    xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: \"128\"\n",
    "  name: \"name: with \\L break\"\n",
    "spec:\n",
    "  config:\n",
    "    ignition:\n",
    "      version: 3.4.0\n",
    "    passwd:\n",
    "      users:\n",
    "        - name: core\n",
    "          sshAuthorizedKeys:\n",
    "            - |-\n",
    "              a\n",
    "              b\n",
    "            - |\n",
    "              a\n",
    "              b\n",
    "            - |2\n",
    "                indented\n",
    "            - 'x\u{2028}'\n",
    "            - ssh-rsa AAAA key\n",
    "    storage:\n",
    "      disks:\n",
    "        - device: /dev/sdb\n",
    "          partitions:\n",
    "            - number: 1\n",
    "              sizeMiB: 1e+06\n",
    "              startMiB: 0\n",
    "          wipeTable: false\n",
    "      files:\n",
    "        - contents:\n",
    "            compression: \"\"\n",
    "            source: data:,hello%0A\n",
    "          mode: 420\n",
    "          path: /etc/x\n",
    "        - path: /etc/empty\n",
    "  extensions:\n",
    "    - usbguard\n",
    "  fips: true\n",
    "  kernelArguments:\n",
    "    - \"true\"\n",
    "    - \"True\"\n",
    "    - \"TRUE\"\n",
    "    - \"false\"\n",
    "    - \"FALSE\"\n",
    "    - \"null\"\n",
    "    - \"Null\"\n",
    "    - \"NULL\"\n",
    "    - \"~\"\n",
    "    - \"\"\n",
    "    - \"y\"\n",
    "    - \"Y\"\n",
    "    - \"yes\"\n",
    "    - \"Yes\"\n",
    "    - \"YES\"\n",
    "    - \"n\"\n",
    "    - \"N\"\n",
    "    - \"no\"\n",
    "    - \"No\"\n",
    "    - \"NO\"\n",
    "    - \"on\"\n",
    "    - \"On\"\n",
    "    - \"ON\"\n",
    "    - \"off\"\n",
    "    - \"Off\"\n",
    "    - \"OFF\"\n",
    "    - yES\n",
    "    - nO\n",
    "    - \"12:30\"\n",
    "    - \"1:20:30.5\"\n",
    "    - \"-1_0:59\"\n",
    "    - \"+1:2\"\n",
    "    - 12:60\n",
    "    - \"1:2:3:4\"\n",
    "    - '1:'\n",
    "    - a:1\n",
    "    - \"1\"\n",
    "    - \"-1\"\n",
    "    - \"+1\"\n",
    "    - \"0\"\n",
    "    - \"00\"\n",
    "    - \"017\"\n",
    "    - \"08\"\n",
    "    - \"0x1F\"\n",
    "    - \"0X1f\"\n",
    "    - \"-0x1F\"\n",
    "    - 0x\n",
    "    - \"0o17\"\n",
    "    - \"0O17\"\n",
    "    - \"0b101\"\n",
    "    - \"0B11\"\n",
    "    - \"0b-101\"\n",
    "    - \"0o+17\"\n",
    "    - \"-0b101\"\n",
    "    - \"1_000\"\n",
    "    - _1\n",
    "    - \"1_\"\n",
    "    - \"1.5\"\n",
    "    - \"1.\"\n",
    "    - \"1.e5\"\n",
    "    - \".5\"\n",
    "    - \"+.5\"\n",
    "    - \"-.5e-3\"\n",
    "    - \".5_5\"\n",
    "    - ._5\n",
    "    - \"1e3\"\n",
    "    - \"1E-3\"\n",
    "    - 1e400\n",
    "    - .1e400\n",
    "    - \"1e-400\"\n",
    "    - \".inf\"\n",
    "    - \".Inf\"\n",
    "    - \"-.inf\"\n",
    "    - \"+.INF\"\n",
    "    - \".nan\"\n",
    "    - \".NaN\"\n",
    "    - NaN\n",
    "    - Inf\n",
    "    - inf\n",
    "    - \"9223372036854775807\"\n",
    "    - \"9223372036854775808\"\n",
    "    - \"18446744073709551615\"\n",
    "    - \"18446744073709551616\"\n",
    "    - 0xFFFFFFFFFFFFFFFFF\n",
    "    - 0x1p-2\n",
    "    - \"2001-12-14\"\n",
    "    - \"2001-12-14T21:59:43.10Z\"\n",
    "    - \"2001-12-14t21:59:43+05:30\"\n",
    "    - \"2001-12-14 21:59:43.10\"\n",
    "    - \"2001-12-14  1:2:3,5\"\n",
    "    - 2001-02-29\n",
    "    - \"2000-02-29\"\n",
    "    - 2001-13-01\n",
    "    - 2001-12-14T24:00:00Z\n",
    "    - 2001-12-14T21:59:43+25:00\n",
    "    - 200-1-1\n",
    "    - ' x'\n",
    "    - 'x '\n",
    "    - ' x '\n",
    "    - '  '\n",
    "    - 'a: b'\n",
    "    - a:b\n",
    "    - 'a:'\n",
    "    - a :b\n",
    "    - 'x #y'\n",
    "    - x#y\n",
    "    - '#x'\n",
    "    - 'a # b'\n",
    "    - '-'\n",
    "    - -x\n",
    "    - '- x'\n",
    "    - --\n",
    "    - '---'\n",
    "    - '---x'\n",
    "    - '...'\n",
    "    - '...x'\n",
    "    - '?'\n",
    "    - ?x\n",
    "    - '? x'\n",
    "    - ':'\n",
    "    - :x\n",
    "    - ': x'\n",
    "    - ',x'\n",
    "    - x,y\n",
    "    - '[x'\n",
    "    - x[\n",
    "    - ']x'\n",
    "    - '{x'\n",
    "    - x}\n",
    "    - '}'\n",
    "    - '&x'\n",
    "    - x&\n",
    "    - '*x'\n",
    "    - '!x'\n",
    "    - '|x'\n",
    "    - x|\n",
    "    - '>x'\n",
    "    - '''x'\n",
    "    - x'\n",
    "    - it's\n",
    "    - '\"x'\n",
    "    - x\"\n",
    "    - '%x'\n",
    "    - '@x'\n",
    "    - '`x'\n",
    "    - =x\n",
    "    - <<\n",
    "    - <<x\n",
    "    - /x\n",
    "    - |-\n",
    "      a\n",
    "      b\n",
    "    - |\n",
    "      a\n",
    "      b\n",
    "    - |+\n",
    "      a\n",
    "      b\n",
    "\n",
    "    - |+\n",
    "      a\n",
    "      b\n",
    "\n",
    "\n",
    "    - |2-\n",
    "      a\n",
    "    - |2+\n",
    "    - |2-\n",
    "       a\n",
    "      b\n",
    "    - |-\n",
    "      a\n",
    "       b\n",
    "    - \"a \\nb\"\n",
    "    - |-\n",
    "      a\n",
    "      \tb\n",
    "    - |\n",
    "      \ta\n",
    "    - |-\n",
    "      a\t\n",
    "      b\n",
    "    - \"a\\nb \"\n",
    "    - \"a\\r\\nb\"\n",
    "    - \"a\\rb\"\n",
    "    - \"a\\r\"\n",
    "    - |2+\n",
    "\n",
    "    - \"tab\\there\"\n",
    "    - \"\\t\"\n",
    "    - \"\\0\"\n",
    "    - \"\\a\"\n",
    "    - \"\\b\"\n",
    "    - \"\\v\"\n",
    "    - \"\\f\"\n",
    "    - \"\\e\"\n",
    "    - \"\\x7F\"\n",
    "    - \"\\Nx\"\n",
    "    - \"x\\N\"\n",
    "    - \"\\x9F\"\n",
    "    - \u{a0}x\n",
    "    - x\u{a0}y\n",
    "    - 'a\u{2028}      b'\n",
    "    - 'a\u{2029}'\n",
    "    - '\u{2028}'\n",
    "    - \"a\\L b\"\n",
    "    - \"\\uFEFF\\x61\\x62\\x20\\x63\"\n",
    "    - \"x\\uFEFF\"\n",
    "    - \"\\uFFFE\"\n",
    "    - \u{fffd}\n",
    "    - \"\\U0001F600\"\n",
    "    - \"x\\U0001F600y\"\n",
    "    - \u{e9}t\u{e9}\n",
    "    - \u{df}\n",
    "    - \u{4e2d}\u{6587}\n",
    "    - \u{d7ff}\u{e000}\n",
    "    - a\"b\\c\n",
    "    - \\\n",
    "    - '\"'\n",
    "    - 'long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long long '\n",
    "    - xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
);

/// Strings of every kind yaml.v3 writes differently: the spellings that resolve to null,
/// booleans (YAML 1.1's too), integers, floats, base-60 numbers and timestamps; indicators
/// at the start and inside; leading and trailing spaces; multi-line text with every ending,
/// tabs, spaces and carriage returns; control characters, NEL, line and paragraph
/// separators, byte order marks, non-BMP and non-ASCII text; long text; keys that sort
/// by yaml.v3's order, need quoting, span lines or exceed 128 bytes; numbers as floats.
#[test]
fn machine_config_matches_reference_on_tricky_strings() {
    let translation = translate(TRICKY_CONFIG, &Options::default()).expect("the config translates");
    let ours = translation.output();
    for (line, (ours, theirs)) in ours.lines().zip(TRICKY_MACHINE_CONFIG.lines()).enumerate() {
        assert_eq!(ours, theirs, "line {}", line + 1);
    }
    assert_eq!(ours, TRICKY_MACHINE_CONFIG);
}

fn digits(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max) + 1;
    (0..n)
        .map(|_| rng.pick(&["0", "1", "5", "6", "7", "9", "_"]))
        .collect()
}

/// Pieces that change how yaml.v3 resolves or writes a string.
const PIECES: &[&str] = &[
    " ",
    " ",
    "\t",
    "\n",
    "\n",
    "\r",
    "\r\n",
    ":",
    ": ",
    " #",
    "#",
    "-",
    "- ",
    "?",
    "? ",
    ",",
    "[",
    "]",
    "{",
    "}",
    "&",
    "*",
    "!",
    "|",
    ">",
    "'",
    "\"",
    "%",
    "@",
    "`",
    "\\",
    "0",
    "1",
    "9",
    "_",
    ".",
    "e",
    "E",
    "+",
    "x",
    "o",
    "b",
    "0x",
    "0o",
    "0b",
    "y",
    "n",
    "Y",
    "N",
    "yes",
    "no",
    "on",
    "Off",
    "true",
    "False",
    "NULL",
    "null",
    "~",
    ".inf",
    "-.Inf",
    ".nan",
    "T",
    "t",
    "Z",
    "a",
    "bc",
    "é",
    "ß",
    "Ω",
    "ж",
    "中",
    "\u{663}",
    "\u{2460}",
    "\u{2167}",
    "\u{301}",
    "²",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{1F600}",
    "\u{7f}",
    "\u{0}",
    "\u{1b}",
    "\u{7}",
    "\u{8}",
    "\u{b}",
    "\u{c}",
    "\u{9f}",
    "\u{fffe}",
    "\u{fffd}",
    "\u{e000}",
    "\u{d7ff}",
    "---",
    "...",
    "<<",
    "=",
    "/",
    "2001-12-14",
    "12:30",
    "1e3",
    "  ",
    "\n\n",
];

/// A number-like string: integers in every base and spelling, floats, YAML 1.1 base-60
/// numbers and timestamps, valid or a little off.
fn numeric(rng: &mut Rng) -> String {
    let sign = rng.pick(&["", "", "-", "+"]);
    match rng.below(7) {
        0 => format!("{sign}{}", digits(rng, 22)),
        1 => {
            let prefix = rng.pick(&["0x", "0X", "0o", "0O", "0b", "0B", "0", "-0b", "0b-", "0o+"]);
            let digits: String = (0..rng.below(20) + 1)
                .map(|_| rng.pick(&["0", "1", "7", "8", "f", "F", "g", "_"]))
                .collect();
            format!("{sign}{prefix}{digits}")
        }
        2 => {
            let int = if rng.below(3) == 0 {
                String::new()
            } else {
                digits(rng, 4)
            };
            let frac = digits(rng, 4);
            let exp = if rng.below(2) == 0 {
                format!(
                    "{}{}{}",
                    rng.pick(&["e", "E"]),
                    rng.pick(&["", "+", "-"]),
                    digits(rng, 4)
                )
            } else {
                String::new()
            };
            format!("{sign}{int}{}{frac}{exp}", rng.pick(&[".", ".", ""]))
        }
        3 => {
            let mut s = format!("{sign}{}", digits(rng, 3));
            for _ in 0..rng.below(3) + 1 {
                s.push(':');
                s.push_str(&digits(rng, 2));
            }
            if rng.below(2) == 0 {
                s.push('.');
                s.push_str(&digits(rng, 3));
            }
            s
        }
        4 | 5 => {
            let year = rng.pick(&["2001", "2000", "1900", "0000", "200", "20011"]);
            let month = rng.pick(&["1", "02", "12", "13", "0", "001"]);
            let day = rng.pick(&["1", "29", "30", "31", "32", "0", "09"]);
            let mut s = format!("{year}-{month}-{day}");
            if rng.below(3) > 0 {
                s.push_str(rng.pick(&["T", "t", " ", "  ", "x", ""]));
                s.push_str(rng.pick(&["0", "23", "24", "7"]));
                s.push(':');
                s.push_str(rng.pick(&["0", "59", "60", "05"]));
                s.push(':');
                s.push_str(rng.pick(&["0", "59", "60", "5"]));
                s.push_str(rng.pick(&["", ".", ".1", ",123", ".1234567891234"]));
                s.push_str(rng.pick(&[
                    "", "Z", "z", "+01:00", "-24:00", "+25:00", "+01:61", "+0100", "+1:00", " ",
                ]));
            }
            s
        }
        _ => rng
            .pick(&[
                "1_000",
                "0_",
                "_1",
                "+_",
                "-_1",
                "1__0",
                "._5",
                ".5_5",
                ".5_",
                "1e400",
                "-1e400",
                ".1e400",
                "1e-400",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775808",
                "-9223372036854775809",
                "0xFFFFFFFFFFFFFFFF",
                "0x1FFFFFFFFFFFFFFFF",
                "1.",
                "1.e5",
                ".e5",
                ".",
                "+.5",
                "-.5e-3",
                "0x1p-2",
                "0b",
                "0o",
                "0x",
                "08",
                "0777",
                "1e",
                "1e+",
                "Inf",
                "NaN",
                ".NaN",
                "+.inf",
                "+.INF",
                ".Inf",
                "<<",
                "=",
            ])
            .to_owned(),
    }
}

fn random_string(rng: &mut Rng) -> String {
    match rng.below(11) {
        10 => {
            let n = 20 + rng.below(60);
            (0..n).map(|_| rng.pick(PIECES)).collect()
        }
        0..=2 => numeric(rng),
        3 => {
            let base = numeric(rng);
            let extra = rng.pick(PIECES);
            if rng.below(2) == 0 {
                format!("{extra}{base}")
            } else {
                format!("{base}{extra}")
            }
        }
        _ => {
            let n = rng.below(7);
            (0..n).map(|_| rng.pick(PIECES)).collect()
        }
    }
}

/// Strings from `rng`, distinct from each other and from `taken`.
fn distinct(
    rng: &mut Rng,
    count: usize,
    taken: &mut std::collections::HashSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < count {
        let s = random_string(rng);
        if taken.insert(s.clone()) {
            out.push(s);
        }
    }
    out
}

fn has_long_digit_run(text: &str) -> bool {
    text.split(|c: char| !c.is_numeric())
        .any(|run| run.chars().count() >= 19)
}

/// The strings of a batch on which ferro and the reference disagree, each tried alone.
fn culprits(oracle: &Path, dir: &Path, strings: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for s in strings {
        let alone = [s.clone()];
        for yaml in [
            config("n", &[], &alone, &[]),
            config("n", &[(s.clone(), "v".to_owned())], &[], &[]),
            config(s, &[], &[], &alone),
        ] {
            if ferro(&yaml) != reference(oracle, dir, &yaml) {
                found.push(format!("{s:?}: {yaml:?}"));
                break;
            }
        }
        if found.len() >= 20 {
            break;
        }
    }
    found
}

#[test]
fn machine_config_matches_reference_on_random_strings() {
    let Some(oracle) = oracle() else {
        eprintln!("skipped: the reference Butane is absent (../shared/oracles/butane-v0.29.0)");
        return;
    };
    let batches: usize = std::env::var("FERRO_YAML_FUZZ")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(0x7a31_0019_9a4e_5eed, 0);
    let mut strings = 0;
    let mut accepted = 0;
    for batch in 0..batches {
        let mut taken =
            std::collections::HashSet::from(["machineconfiguration.openshift.io/role".to_owned()]);
        let args = distinct(&mut rng, 300, &mut taken);
        // At most 12 labels: Go sorts those by insertion, which ferro repeats exactly even where
        // yaml.v3's key order is not transitive (long digit runs wrap around).
        // Keys with a run of 19 digits or more are left out: their number wraps around in
        // yaml.v3's key order, which then depends on Go's random map order.
        let mut label_keys = distinct(&mut rng, 11, &mut taken);
        label_keys.retain(|k| !has_long_digit_run(k));
        let label_values: Vec<String> = (0..label_keys.len())
            .map(|_| random_string(&mut rng))
            .collect();
        let keys = distinct(&mut rng, 100, &mut taken);
        let name = random_string(&mut rng);
        let labels: Vec<(String, String)> = label_keys.into_iter().zip(label_values).collect();
        strings += args.len() + labels.len() * 2 + keys.len() + 1;
        let yaml = config(&name, &labels, &args, &keys);
        let theirs = reference(&oracle, dir.path(), &yaml);
        let ours = ferro(&yaml);
        accepted += usize::from(theirs.is_ok());
        if ours != theirs {
            let mut all: Vec<String> = args.clone();
            all.extend(keys.iter().cloned());
            all.extend(labels.iter().flat_map(|(k, v)| [k.clone(), v.clone()]));
            all.push(name.clone());
            let found = culprits(&oracle, dir.path(), &all);
            let _ = std::fs::write(std::env::temp_dir().join("yaml_out_batch.bu"), &yaml);
            panic!(
                "batch {batch} differs (config in {}); strings that differ alone:\n{}\nours ok: {}, theirs ok: {}",
                std::env::temp_dir().join("yaml_out_batch.bu").display(),
                found.join("\n"),
                ours.is_ok(),
                theirs.is_ok(),
            );
        }
    }
    assert!(accepted * 2 > batches, "the reference accepts most configs");
    eprintln!(
        "{strings} random strings in {batches} configs ({accepted} accepted) agree with the reference"
    );
}

/// Integers of every magnitude, which the reference writes as Go float64s (`1e+06`).
#[test]
fn numbers_match_reference() {
    let Some(oracle) = oracle() else {
        eprintln!("skipped: the reference Butane is absent (../shared/oracles/butane-v0.29.0)");
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut rng = Rng::new(0x0019_f10a_7e5e_ed00, 0);
    let mut yaml = config("n", &[], &[], &[]);
    yaml.push_str("storage:\n  disks:\n");
    for i in 0..400 {
        let magnitude = rng.below(19) as u32;
        let value = rng.next() % 10_u64.pow(magnitude).max(2);
        let value = match rng.below(4) {
            0 => 10_u64.pow(magnitude),
            1 => value - value % 10_u64.pow(rng.below(magnitude as usize + 1) as u32),
            _ => value,
        };
        yaml.push_str(&format!(
            "    - device: /dev/disk{i}\n      partitions:\n        - number: 1\n          size_mib: {value}\n          start_mib: {}\n",
            value / 3
        ));
    }
    let theirs = reference(&oracle, dir.path(), &yaml).expect("the reference accepts the sizes");
    assert!(
        theirs.contains("e+"),
        "some sizes are written with exponents"
    );
    assert_eq!(ferro(&yaml), Ok(theirs), "sizes written differently");
}

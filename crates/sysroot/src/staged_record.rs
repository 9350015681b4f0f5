//! OSTree's record of a staged deployment, `/run/ostree/staged-deployment`: one GVariant
//! `a{sv}` in normal form, as libostree writes it when staging, so that `ostree admin`,
//! rpm-ostree and ferro see the same staged deployment and the same finalization lock.
//!
//! Keys: `target` (an `a{sv}` naming the deployment: `osname` and `csum` strings,
//! `bootcsum` string, `deployserial` and `bootserial` int32), `kargs` (`as`, the
//! kernel arguments the deployment boots with), and `locked` (`b`, present and true
//! when finalization is locked). OSTree also honours a lock *file*
//! (`/run/ostree/staged-deployment-locked`) next to the record; [`crate::Sysroot`]
//! checks both. Other keys (`overlay-initrds`) are kept out: ferro does not stage
//! initramfs overlays.

use ferro_ostree::gvariant::typed::{Type, Value};

/// What the record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRecord {
    /// The stateroot.
    pub osname: String,
    /// The deployed commit (hex).
    pub checksum: String,
    /// The deployment serial.
    pub serial: i32,
    /// The checksum of the boot files.
    pub bootcsum: String,
    /// The boot serial.
    pub bootserial: i32,
    /// The kernel arguments, when recorded.
    pub kargs: Option<Vec<String>>,
    /// Finalization locked by the record itself.
    pub locked: bool,
}

fn entry(key: &str, value: Value) -> Value {
    let ty = value.type_of();
    Value::Entry(
        Box::new(Value::Str(key.to_owned())),
        Box::new(Value::Variant(ty, Box::new(value))),
    )
}

fn dict(entries: Vec<Value>) -> Value {
    Value::Array(
        Type::Entry(Box::new(Type::Str), Box::new(Type::Variant)),
        entries,
    )
}

fn dict_type() -> Type {
    Type::Array(Box::new(Type::Entry(
        Box::new(Type::Str),
        Box::new(Type::Variant),
    )))
}

/// The `(key, value)` pairs of an `a{sv}` value.
fn entries(value: &Value) -> Vec<(&str, &Value)> {
    let Value::Array(_, items) = value else {
        return vec![];
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Entry(k, v) => match (&**k, &**v) {
                (Value::Str(k), Value::Variant(_, inner)) => Some((k.as_str(), &**inner)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

impl StagedRecord {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let target = dict(vec![
            entry("osname", Value::Str(self.osname.clone())),
            entry("csum", Value::Str(self.checksum.clone())),
            entry("bootcsum", Value::Str(self.bootcsum.clone())),
            entry("bootserial", Value::I32(self.bootserial)),
            entry("deployserial", Value::I32(self.serial)),
        ]);
        let mut top = vec![entry("target", target)];
        if self.locked {
            top.push(entry("locked", Value::Bool(true)));
        }
        if let Some(kargs) = &self.kargs {
            let args = kargs.iter().cloned().map(Value::Str).collect();
            top.push(entry("kargs", Value::Array(Type::Str, args)));
        }
        dict(top).encode()
    }

    /// Reads a record; the error says which key is missing or mistyped.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let top = Value::decode(&dict_type(), bytes).map_err(|e| e.to_string())?;
        let top = entries(&top);
        let get = |items: &[(&str, &Value)], key: &str| {
            items
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).clone())
        };
        let target = get(&top, "target").ok_or("no 'target'")?;
        let target = entries(&target);
        let string = |key: &str| match get(&target, key) {
            Some(Value::Str(s)) => Ok(s),
            _ => Err(format!("no string '{key}' in 'target'")),
        };
        let int = |key: &str| match get(&target, key) {
            Some(Value::I32(i)) => Ok(i),
            None => Ok(0),
            _ => Err(format!("'{key}' in 'target' is not an int32")),
        };
        let kargs = match get(&top, "kargs") {
            Some(Value::Array(_, items)) => Some(
                items
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            None => None,
            Some(_) => return Err("'kargs' is not a string array".into()),
        };
        Ok(StagedRecord {
            osname: string("osname")?,
            checksum: string("csum")?,
            serial: int("deployserial")?,
            bootcsum: string("bootcsum")?,
            bootserial: int("bootserial")?,
            kargs,
            locked: matches!(get(&top, "locked"), Some(Value::Bool(true))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_ostree::gvariant::text::print_serialized;

    fn record() -> StagedRecord {
        StagedRecord {
            osname: "debian".into(),
            checksum: "ab".repeat(32),
            serial: 1,
            bootcsum: "cd".repeat(32),
            bootserial: 0,
            kargs: Some(vec!["rw".into(), "quiet".into()]),
            locked: true,
        }
    }

    #[test]
    fn round_trips_and_prints_as_glib_would() {
        let bytes = record().encode();
        assert_eq!(StagedRecord::decode(&bytes).unwrap(), record());
        let text = print_serialized("a{sv}", &bytes, false).unwrap();
        assert!(
            text.starts_with("{'target': <{'osname': <'debian'>"),
            "{text}"
        );
        assert!(text.contains("'deployserial': <1>"), "{text}");
        assert!(text.contains("'locked': <true>"), "{text}");
        assert!(text.contains("'kargs': <['rw', 'quiet']>"), "{text}");
    }

    #[test]
    fn missing_or_mistyped_keys_are_named() {
        let bad = dict(vec![entry("kargs", Value::Str("rw".into()))]).encode();
        assert_eq!(StagedRecord::decode(&bad).unwrap_err(), "no 'target'");
        let bad = dict(vec![entry("target", dict(vec![]))]).encode();
        assert!(StagedRecord::decode(&bad).unwrap_err().contains("osname"));
        assert!(StagedRecord::decode(b"\x01\x02garbage").is_err());
    }
}

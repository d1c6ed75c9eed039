//! Transformer options: the YAML under `options:` into typed structs, and
//! its canonical text (which keys the transformer and enters the config
//! fingerprint).

use serde::de::DeserializeOwned;
use serde_yaml::Value;

/// Reads a transformer's options; no options (or `options: null`) is the
/// struct's default.
///
/// # Errors
/// An unknown option or a value of the wrong kind, as serde words it.
pub fn parse<T: DeserializeOwned + Default>(options: Option<&Value>) -> Result<T, String> {
    match options {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_yaml::from_value(value.clone()).map_err(|e| format!("invalid options: {e}")),
    }
}

/// Checks that a transformer without options was given none.
///
/// # Errors
/// Any option.
pub fn none(options: Option<&Value>) -> Result<(), String> {
    #[derive(Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NoOptions {}
    parse::<NoOptions>(options).map(|_| ())
}

/// One line of JSON that is the same for equal options however they were
/// written: mapping keys sorted, no whitespace.
pub fn canonical(value: Option<&Value>) -> String {
    let mut out = String::new();
    write_canonical(value.unwrap_or(&Value::Null), &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::to_string(s).expect("a string serializes")),
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            let mut entries: Vec<(String, &Value)> = map.iter().map(|(k, v)| (canonical(Some(k)), v)).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&key);
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Tagged(tagged) => {
            out.push_str(&serde_json::to_string(&tagged.tag.to_string()).expect("a string serializes"));
            out.push(':');
            write_canonical(&tagged.value, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_ignores_key_order_and_layout() {
        let a: Value = serde_yaml::from_str("{b: [1, x], a: {d: true, c: null}}").unwrap();
        let b: Value = serde_yaml::from_str("a:\n  c: ~\n  d: true\nb:\n  - 1\n  - 'x'\n").unwrap();
        assert_eq!(canonical(Some(&a)), canonical(Some(&b)));
        assert_eq!(canonical(Some(&a)), r#"{"a":{"c":null,"d":true},"b":[1,"x"]}"#);
        assert_eq!(canonical(None), "null");
    }

    #[test]
    fn unknown_options_are_errors() {
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Opts {
            #[allow(dead_code)]
            length: Option<u32>,
        }
        let value: Value = serde_yaml::from_str("{lenght: 3}").unwrap();
        assert!(parse::<Opts>(Some(&value)).unwrap_err().contains("unknown field `lenght`"));
        assert!(parse::<Opts>(None).is_ok());
    }
}

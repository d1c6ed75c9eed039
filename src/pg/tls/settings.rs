//! The TLS settings of a connection string, read as libpq reads them.
//!
//! tokio-postgres understands `sslmode` only as `disable`, `prefer` or
//! `require`, and refuses `sslrootcert`, `sslcert` and `sslkey` as unknown
//! options. So these four are taken out of the string here (in both the
//! URI and the `key=value` forms) and the rest is left to tokio-postgres.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

/// How much of TLS a connection requires, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, plain text otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is checked only if `sslrootcert` is set.
    Require,
    /// TLS, with a certificate signed by a trusted CA.
    VerifyCa,
    /// TLS, with a certificate signed by a trusted CA and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err("sslmode=allow is not supported; use prefer (or disable)".to_string()),
            other => {
                return Err(format!("sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"))
            }
        })
    }

    /// The mode as a connection string spells it.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The mode tokio-postgres negotiates with: whether to ask the server for
    /// TLS, and whether a refusal is fatal. Certificate checks are ours.
    pub fn negotiation(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Negotiation;
        match self {
            SslMode::Disable => Negotiation::Disable,
            SslMode::Prefer => Negotiation::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Negotiation::Require,
        }
    }

    /// Whether the certificate must chain to a trusted CA even without an
    /// explicit `sslrootcert`.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`).
    System,
}

/// The TLS part of a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`; `None` means libpq's default, `~/.postgresql/root.crt`,
    /// which only the verifying modes require.
    pub root_certs: Option<RootCerts>,
    /// `sslcert` and `sslkey`: a client certificate (PEM) and its key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// The connection-string keys this module takes over from tokio-postgres.
const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

impl TlsSettings {
    /// Splits a connection string into its TLS settings and the rest, which
    /// tokio-postgres can parse.
    ///
    /// # Errors
    /// An unknown `sslmode`, `sslcert` without `sslkey` (or the reverse), a
    /// malformed parameter. Messages never repeat the string, which may hold
    /// a password.
    pub fn extract(text: &str) -> Result<(String, TlsSettings), String> {
        let (rest, params) = match url_query(text) {
            Some(query_start) => split_url(text, query_start)?,
            None if text.contains("://") => (text.to_string(), Vec::new()),
            None => split_key_values(text)?,
        };
        let mut settings = TlsSettings::default();
        let (mut cert, mut key) = (None, None);
        for (name, value) in params {
            match name.as_str() {
                "sslmode" => settings.mode = SslMode::parse(&value)?,
                "sslrootcert" if value == "system" => settings.root_certs = Some(RootCerts::System),
                "sslrootcert" => settings.root_certs = Some(RootCerts::File(PathBuf::from(value))),
                "sslcert" => cert = Some(PathBuf::from(value)),
                _ => key = Some(PathBuf::from(value)),
            }
        }
        settings.client_cert = match (cert, key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => return Err("sslcert and sslkey go together: set both for a client certificate".to_string()),
        };
        Ok((rest, settings))
    }
}

/// Where the query string of a `postgres://` URI starts (after its `?`),
/// found as tokio-postgres finds it: after the credentials, which end at
/// the first `@`.
fn url_query(text: &str) -> Option<usize> {
    let rest = ["postgres://", "postgresql://"].iter().find_map(|p| text.strip_prefix(p))?;
    let after_credentials = rest.find('@').map_or(0, |at| at + 1);
    let question = rest[after_credentials..].find('?')?;
    Some(text.len() - rest.len() + after_credentials + question + 1)
}

/// Takes the TLS parameters out of a URI's query string.
fn split_url(text: &str, query_start: usize) -> Result<(String, Vec<(String, String)>), String> {
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for param in text[query_start..].split('&') {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let name = decode(name)?;
        if KEYS.contains(&name.as_str()) {
            taken.push((name, decode(value)?));
        } else {
            kept.push(param);
        }
    }
    let base = &text[..query_start - 1];
    let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, taken))
}

fn decode(text: &str) -> Result<String, String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "a parameter is not UTF-8 once percent-decoded".to_string())
}

/// Takes the TLS parameters out of a `key=value …` connection string,
/// where a value may be single-quoted and backslash escapes a character.
fn split_key_values(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { break };
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("expected `=` after {name:?}"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut value = String::new();
        let mut closed = !quoted;
        while let Some((_, c)) = chars.next_if(|(_, c)| quoted || !c.is_whitespace()) {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '\'' if quoted => {
                    closed = true;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            return Err(format!("the value of {name:?} has no closing quote"));
        }
        let end = chars.peek().map_or(text.len(), |(at, _)| *at);
        if KEYS.contains(&name.as_str()) {
            taken.push((name, value));
        } else {
            kept.push(&text[start..end]);
        }
    }
    Ok((kept.join(" "), taken))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(text: &str) -> (String, TlsSettings) {
        TlsSettings::extract(text).unwrap()
    }

    #[test]
    fn uri_parameters_are_taken_out_and_decoded() {
        let (rest, tls) = extract(
            "postgres://u:p@db.example:5432/app?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&connect_timeout=3",
        );
        assert_eq!(rest, "postgres://u:p@db.example:5432/app?application_name=x&connect_timeout=3");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_certs, Some(RootCerts::File("/etc/ca dir/ca.pem".into())));
        let (rest, tls) = extract("postgresql://h/db?sslmode=require&sslcert=/c.pem&sslkey=/k.pem");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(tls.client_cert, Some(("/c.pem".into(), "/k.pem".into())));
        assert_eq!(extract("postgres://h/db").1, TlsSettings::default());
        assert_eq!(extract("postgres://h/db?sslrootcert=system").1.root_certs, Some(RootCerts::System));
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_a_query() {
        let (rest, tls) = extract("postgres://u:p?w@h/db?sslmode=disable");
        assert_eq!(rest, "postgres://u:p?w@h/db");
        assert_eq!(tls.mode, SslMode::Disable);
        assert_eq!(extract("postgres://u:p?sslmode=disable@h/db").0, "postgres://u:p?sslmode=disable@h/db");
    }

    #[test]
    fn key_value_strings_keep_their_other_settings() {
        let (rest, tls) = extract(
            r"host=localhost  sslmode = verify-ca password='it\'s here' sslrootcert='/a b/c\\d.pem' dbname=app",
        );
        assert_eq!(rest, r"host=localhost password='it\'s here' dbname=app");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_certs, Some(RootCerts::File(r"/a b/c\d.pem".into())));
    }

    #[test]
    fn mistakes_are_named_without_echoing_the_string() {
        let err = TlsSettings::extract("postgres://u:s3cret@h/db?sslmode=verify_full").unwrap_err();
        assert!(err.contains("\"verify_full\" is not one of") && !err.contains("s3cret"), "{err}");
        assert!(TlsSettings::extract("host=h sslmode=allow").unwrap_err().contains("not supported"));
        let err = TlsSettings::extract("postgres://h/db?sslcert=/c.pem").unwrap_err();
        assert!(err.contains("go together"), "{err}");
        let err = TlsSettings::extract("host=h password='s3cret").unwrap_err();
        assert!(err.contains("no closing quote") && !err.contains("s3cret"), "{err}");
        assert!(TlsSettings::extract("host").unwrap_err().contains("expected `=`"));
    }
}

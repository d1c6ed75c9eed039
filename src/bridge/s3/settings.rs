//! The `bridge: type: s3` section, checked and normalized once, before any
//! request is made.

use aws_sdk_s3::config::Credentials;

use crate::bridge::{BridgeError, Result};
use crate::config::BridgeConfig;

/// How long a failing request is retried by default: an outage of a few
/// seconds (a store restarting) is ridden out.
const DEFAULT_RETRY_SECONDS: u64 = 60;

/// What the S3 bridge needs to know, ready to use.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Empty, or a folder ending in `/`, put before every key.
    pub prefix: String,
    pub region: Option<String>,
    /// The store's URL; `None` for AWS S3.
    pub endpoint: Option<String>,
    /// `None`: the AWS credential chain.
    pub credentials: Option<Credentials>,
    pub path_style: bool,
    /// How long a failing request is retried.
    pub retry: std::time::Duration,
}

impl TryFrom<&BridgeConfig> for S3Settings {
    type Error = BridgeError;

    /// # Errors
    /// Not an S3 bridge, an empty bucket, an endpoint that is not an
    /// http(s) URL, or only one half of a key pair.
    fn try_from(config: &BridgeConfig) -> Result<Self> {
        let BridgeConfig::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            force_path_style,
            retry_seconds,
            ..
        } = config
        else {
            return Err(invalid(format!("not an S3 bridge: {config:?}")));
        };
        if bucket.0.trim().is_empty() {
            return Err(invalid("`bucket` is empty".into()));
        }
        let endpoint = endpoint.as_ref().map(|e| e.0.trim_end_matches('/').to_string());
        if let Some(url) = endpoint.as_deref().filter(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
            return Err(invalid(format!("`endpoint` {url:?} is not a URL: write http://host:port or https://host")));
        }
        let credentials = match (access_key_id, secret_access_key) {
            (None, None) => None,
            (Some(id), Some(secret)) if !id.0.is_empty() && !secret.expose().is_empty() => {
                Some(Credentials::new(&id.0, secret.expose(), None, None, "replibyte config"))
            }
            _ => {
                return Err(invalid(
                    "`access_key_id` and `secret_access_key` go together: set both, or neither to use the AWS \
                     credential chain"
                        .into(),
                ))
            }
        };
        Ok(S3Settings {
            bucket: bucket.0.clone(),
            prefix: folder(prefix.as_ref().map_or("", |p| p.0.as_str())),
            region: region.as_ref().map(|r| r.0.clone()).filter(|r| !r.is_empty()),
            path_style: force_path_style.unwrap_or(endpoint.is_some()),
            retry: std::time::Duration::from_secs(retry_seconds.unwrap_or(DEFAULT_RETRY_SECONDS)),
            endpoint,
            credentials,
        })
    }
}

/// A prefix as a folder: `a/b`, `/a/b/` and `a/b/` all mean `a/b/`, so keys
/// never start with `/` or glue onto the prefix.
fn folder(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

fn invalid(message: String) -> BridgeError {
    BridgeError::Other { store: "S3 bridge".to_string(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<S3Settings, String> {
        let config: BridgeConfig = serde_yaml::from_str(yaml).unwrap();
        S3Settings::try_from(&config).map_err(|e| e.to_string())
    }

    #[test]
    fn prefixes_become_folders() {
        assert_eq!(folder(""), "");
        assert_eq!(folder("/"), "");
        assert_eq!(folder("replibyte"), "replibyte/");
        assert_eq!(folder("/a/b/"), "a/b/");
    }

    #[test]
    fn path_style_follows_the_endpoint_unless_set() {
        assert!(!settings("type: s3\nbucket: b\n").unwrap().path_style);
        assert!(settings("type: s3\nbucket: b\nendpoint: http://127.0.0.1:8333/\n").unwrap().path_style);
        let spaces =
            settings("type: s3\nbucket: b\nendpoint: https://fra1.digitaloceanspaces.com\nforce_path_style: false\n");
        assert!(!spaces.unwrap().path_style);
    }

    #[test]
    fn mistakes_are_named_without_the_secret() {
        let err = settings("type: s3\nbucket: b\nendpoint: 127.0.0.1:8333\n").unwrap_err();
        assert!(err.contains("`endpoint` \"127.0.0.1:8333\" is not a URL"), "{err}");
        let err = settings("type: s3\nbucket: b\nsecret_access_key: sk-hidden-77\n").unwrap_err();
        assert!(err.contains("go together") && !err.contains("sk-hidden-77"), "{err}");
        assert!(settings("type: s3\nbucket: ''\n").unwrap_err().contains("`bucket` is empty"));
        assert!(settings("type: local\n").unwrap_err().contains("not an S3 bridge"));
    }

    #[test]
    fn credentials_are_redacted_in_debug() {
        let s = settings("type: s3\nbucket: b\naccess_key_id: AKID\nsecret_access_key: sk-hidden-77\n").unwrap();
        assert!(s.credentials.is_some());
        assert!(!format!("{s:?}").contains("sk-hidden-77"));
    }
}

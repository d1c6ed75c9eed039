//! `bridge:` — where dumps are stored.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Expanded, Secret};

/// Where dumps are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BridgeConfig {
    /// A directory on this machine.
    Local {
        #[serde(default = "default_local_path")]
        path: PathBuf,
        encryption: Option<EncryptionConfig>,
    },
    /// A bucket of AWS S3 or of any S3-compatible store (docs/S3.md).
    S3 {
        bucket: Expanded,
        /// A folder inside the bucket for every key replibyte writes
        /// (`replibyte` and `replibyte/` mean the same); none by default.
        prefix: Option<Expanded>,
        /// When absent: the AWS region chain (`AWS_REGION`, profile), then
        /// `us-east-1`, which S3-compatible stores accept.
        region: Option<Expanded>,
        /// The store's URL, for anything but AWS S3 itself.
        endpoint: Option<Expanded>,
        /// With `secret_access_key`; when both are absent the AWS
        /// credential chain applies (environment, profile, container or
        /// instance role, web identity).
        access_key_id: Option<Expanded>,
        secret_access_key: Option<Secret>,
        /// Bucket in the path (`endpoint/bucket/key`) instead of the host
        /// name. Default: on with a custom `endpoint` (what MinIO and
        /// SeaweedFS need), off for AWS.
        force_path_style: Option<bool>,
        /// How long a request keeps being retried while the store does not
        /// answer (an outage, a restart) before the run fails; 60 s by
        /// default.
        retry_seconds: Option<u64>,
        encryption: Option<EncryptionConfig>,
    },
}

/// `bridge.encryption`: encrypt every object client-side (docs/SECURITY.md).
/// Exactly one of the two, best taken from the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawEncryption")]
pub enum EncryptionConfig {
    /// A passphrase (`passphrase: $REPLIBYTE_PASSPHRASE`).
    Passphrase(Secret),
    /// An age identity, `AGE-SECRET-KEY-1…` as `age-keygen` makes it
    /// (`key: $REPLIBYTE_AGE_KEY`).
    Key(Secret),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncryption {
    passphrase: Option<Secret>,
    key: Option<Secret>,
}

impl TryFrom<RawEncryption> for EncryptionConfig {
    type Error = String;

    fn try_from(raw: RawEncryption) -> Result<Self, String> {
        let (name, config) = match (raw.passphrase, raw.key) {
            (Some(passphrase), None) => ("passphrase", EncryptionConfig::Passphrase(passphrase)),
            (None, Some(key)) => ("key", EncryptionConfig::Key(key)),
            _ => return Err("encryption takes exactly one of `passphrase` or `key`".to_string()),
        };
        let (EncryptionConfig::Passphrase(secret) | EncryptionConfig::Key(secret)) = &config;
        if secret.expose().trim().is_empty() {
            return Err(format!("encryption.{name} is empty"));
        }
        Ok(config)
    }
}

impl BridgeConfig {
    /// How objects are encrypted, if they are.
    pub fn encryption(&self) -> Option<&EncryptionConfig> {
        match self {
            BridgeConfig::Local { encryption, .. } | BridgeConfig::S3 { encryption, .. } => encryption.as_ref(),
        }
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig::Local { path: default_local_path(), encryption: None }
    }
}

fn default_local_path() -> PathBuf {
    PathBuf::from("./replibyte-data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<BridgeConfig, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_s3_bridge_parses_with_variables_and_hides_its_secret() {
        std::env::set_var("REPLIBYTE_TEST_S3_BUCKET", "dumps");
        std::env::set_var("REPLIBYTE_TEST_S3_SECRET", "sk-4d1e-hidden");
        let config = parse(
            "type: s3\nbucket: $REPLIBYTE_TEST_S3_BUCKET\nprefix: nightly/\nregion: eu-west-3\n\
             endpoint: http://127.0.0.1:8333\naccess_key_id: AKID\n\
             secret_access_key: ${REPLIBYTE_TEST_S3_SECRET}\nforce_path_style: true\n",
        )
        .unwrap();
        let BridgeConfig::S3 { bucket, prefix, secret_access_key, force_path_style, .. } = &config else {
            panic!("not an S3 bridge: {config:?}");
        };
        assert_eq!(bucket.0, "dumps");
        assert_eq!(prefix.as_ref().unwrap().0, "nightly/");
        assert_eq!(secret_access_key.as_ref().unwrap().expose(), "sk-4d1e-hidden");
        assert_eq!(*force_path_style, Some(true));
        assert!(!format!("{config:?}").contains("sk-4d1e-hidden"), "secret shown in Debug");
    }

    #[test]
    fn only_the_bucket_is_required() {
        let config = parse("type: s3\nbucket: dumps\n").unwrap();
        assert!(matches!(config, BridgeConfig::S3 { prefix: None, endpoint: None, access_key_id: None, .. }));
        assert!(parse("type: s3\n").unwrap_err().contains("missing field `bucket`"));
        assert!(parse("type: s3\nbucket: b\nsecret_key: x\n").unwrap_err().contains("unknown field `secret_key`"));
    }

    #[test]
    fn encryption_takes_one_secret_and_never_shows_it() {
        std::env::set_var("REPLIBYTE_TEST_PASSPHRASE", "correct horse 81c2");
        let config = parse("type: local\nencryption:\n  passphrase: $REPLIBYTE_TEST_PASSPHRASE\n").unwrap();
        let Some(EncryptionConfig::Passphrase(secret)) = config.encryption() else {
            panic!("no passphrase: {config:?}");
        };
        assert_eq!(secret.expose(), "correct horse 81c2");
        assert!(!format!("{config:?}").contains("correct horse"), "secret shown in Debug");
        let s3 = parse("type: s3\nbucket: b\nencryption: {key: AGE-SECRET-KEY-1XYZ}\n").unwrap();
        assert!(matches!(s3.encryption(), Some(EncryptionConfig::Key(_))));
        assert!(parse("type: local\n").unwrap().encryption().is_none());

        let both = parse("type: local\nencryption: {passphrase: a, key: b}\n").unwrap_err();
        assert!(both.contains("exactly one"), "{both}");
        assert!(parse("type: local\nencryption: {}\n").unwrap_err().contains("exactly one"));
        assert!(parse("type: local\nencryption: {passphrase: ''}\n").unwrap_err().contains("is empty"));
        let typo = parse("type: local\nencryption: {pasphrase: a}\n").unwrap_err();
        assert!(typo.contains("unknown field `pasphrase`"), "{typo}");
    }

    #[test]
    fn the_s3_examples_parse() {
        std::env::set_var("SOURCE_DATABASE_URL", "postgres://u@source/app");
        std::env::set_var("DESTINATION_DATABASE_URL", "postgres://u@staging/app");
        std::env::set_var("REPLIBYTE_BUCKET", "dumps");
        for (name, text) in [
            ("s3-minio.yaml", include_str!("../../examples/s3-minio.yaml")),
            ("s3-aws.yaml", include_str!("../../examples/s3-aws.yaml")),
        ] {
            let config = Config::parse(text, std::path::Path::new(name)).unwrap();
            assert!(matches!(config.bridge, BridgeConfig::S3 { .. }), "{name}");
        }
    }
}

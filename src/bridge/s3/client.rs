//! The SDK client, configured for long streaming dumps against AWS and
//! against S3-compatible stores alike.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::Client;

use super::{S3Settings, MIN_ATTEMPTS};

/// Longest wait for the first byte of an answer, counted from the start of
/// the request: it includes sending a whole part, so it allows a slow
/// uplink, and still ends a request to a server that hangs.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(300);

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A client for the store `settings` describe.
pub(super) async fn build(settings: &S3Settings) -> Client {
    // The SDK's standard retry: throttling (429, SlowDown), 5xx and
    // transport errors (a store that is down or restarting) are retried
    // with exponential backoff and jitter, backoffs capped so that a store
    // coming back is found soon; as many attempts as fill `retry`.
    let attempts = (settings.retry.as_secs_f64() / (MAX_BACKOFF.as_secs_f64() / 2.0)).ceil() as u32;
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts.max(MIN_ATTEMPTS))
        .with_initial_backoff(Duration::from_millis(250))
        .with_max_backoff(MAX_BACKOFF);
    let timeouts = TimeoutConfig::builder().read_timeout(FIRST_BYTE_TIMEOUT).build();
    let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::from_static("us-east-1"));
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(region).retry_config(retry).timeout_config(timeouts);
    if let Some(credentials) = &settings.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.path_style)
        // Checksums only where S3 demands them. The SDK's newer default
        // (a CRC on every upload) is refused by several S3-compatible
        // stores, and a dump carries its own end-to-end checksums (each
        // segment's in the manifest, zstd's in every frame).
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        // The SDK also bounds retries by a quota shared by every request
        // of the process (500 tokens, 5-10 a retry): a store down for a
        // minute would spend it long before `retry` is over. The attempts
        // and backoffs above are the bound instead.
        .retry_partition(RetryPartition::custom("replibyte-bridge").token_bucket(TokenBucket::unlimited()).build());
    if let Some(endpoint) = &settings.endpoint {
        config = config.endpoint_url(endpoint);
    }
    Client::from_conf(config.build())
}

//! Prometheus metrics of the agent (`metrics: {bind, port}`): `/metrics` in
//! the Prometheus text format, on loopback by default like the control
//! port.
//!
//! They follow the agent's record of runs ([`super::state`]), so they say
//! what `replibyte.runs` says: `replibyte_runs_total{kind, status}` counts
//! its rows, failures are the `status="failed"` series, and the last
//! successful run of each kind gives its time, duration, rows and bytes.

use std::net::SocketAddr;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;

use super::state::{RunKind, RunRecord};

/// Starts serving `/metrics` on `address`.
///
/// # Errors
/// An address that cannot be listened on.
pub fn serve(address: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .install()
        .map_err(|e| format!("cannot serve metrics on {address}: {e}"))?;
    // Series exist from the start, at zero: a rate over a counter that
    // appears only at the first failure misses that failure.
    for kind in [RunKind::Dump, RunKind::Restore] {
        gauge!("replibyte_runs_in_progress", "kind" => kind.label()).set(0.0);
        for status in ["succeeded", "failed"] {
            counter!("replibyte_runs_total", "kind" => kind.label(), "status" => status).absolute(0);
        }
    }
    Ok(())
}

/// A run started.
pub fn started(kind: RunKind) {
    gauge!("replibyte_runs_in_progress", "kind" => kind.label()).set(1.0);
}

/// A run ended (`succeeded`, `failed`, `cancelled`, or `skipped` with
/// nothing to do), or was due and did not start (`skipped` too): one more
/// in `replibyte_runs_total`, as in `replibyte.runs`.
pub fn finished(run: &RunRecord) {
    let kind = run.kind.label();
    if run.status != "skipped" || run.error.is_none() {
        gauge!("replibyte_runs_in_progress", "kind" => kind).set(0.0);
    }
    counter!("replibyte_runs_total", "kind" => kind, "status" => run.status).increment(1);
    if run.status == "succeeded" {
        let end = run.finished_at.unwrap_or(run.started_at);
        gauge!("replibyte_last_success_timestamp_seconds", "kind" => kind).set(end.timestamp_millis() as f64 / 1000.0);
        let seconds = (end - run.started_at).num_milliseconds() as f64 / 1000.0;
        gauge!("replibyte_last_success_duration_seconds", "kind" => kind).set(seconds);
        gauge!("replibyte_last_success_rows", "kind" => kind).set(run.rows as f64);
        gauge!("replibyte_last_success_bytes", "kind" => kind).set(run.bytes as f64);
    }
}

/// What the bridge holds: complete dumps and their stored bytes.
pub fn bridge(dumps: usize, bytes: u64) {
    gauge!("replibyte_bridge_dumps").set(dumps as f64);
    gauge!("replibyte_bridge_bytes").set(bytes as f64);
}

/// The WAL the incremental slot holds back on the source.
pub fn retained_wal(bytes: i64) {
    gauge!("replibyte_slot_retained_wal_bytes").set(bytes.max(0) as f64);
}

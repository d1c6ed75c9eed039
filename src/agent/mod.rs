//! Agent: the long-running mode. Dumps on `source.cron`, restores the
//! latest complete dump on `destination.cron` (skipped when the destination
//! already holds it), never two runs at once, prunes old dumps, and answers
//! on a control port that speaks the PostgreSQL protocol.
//!
//! SIGTERM or SIGINT (the caller cancels `shutdown`): no new run starts, the
//! current one is cancelled cleanly (a cancelled dump is never complete, a
//! cancelled restore leaves the destination as it was), and `run` returns.

mod control;
mod metrics;
pub mod runner;
mod schedule;
pub mod state;

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::bridge;
use crate::config::Config;
use runner::{RetryPolicy, Runner};
pub use schedule::Schedule;
use state::{AgentState, RunKind};

/// Runs the agent until `shutdown` is cancelled.
///
/// # Errors
/// A config that schedules nothing or cannot be scheduled, a control port
/// that cannot be bound, a bridge that cannot be opened. Failed runs are
/// not errors: they are retried, recorded and logged.
pub async fn run(config: Config, retry: RetryPolicy, shutdown: CancellationToken) -> Result<()> {
    let zone = config.time_zone()?;
    let mut schedules = Vec::new();
    if let Some(cron) = config.source.as_ref().and_then(|s| s.cron.as_deref()) {
        schedules.push((RunKind::Dump, Schedule::parse(cron, zone).map_err(|e| anyhow::anyhow!("source.cron: {e}"))?));
    }
    if let Some(cron) = config.destination.as_ref().and_then(|d| d.cron.as_deref()) {
        schedules.push((
            RunKind::Restore,
            Schedule::parse(cron, zone).map_err(|e| anyhow::anyhow!("destination.cron: {e}"))?,
        ));
    }
    if schedules.is_empty() {
        bail!("nothing to schedule: set source.cron and/or destination.cron (e.g. \"0 3 * * *\") to run the agent");
    }
    let password = control_password(&config)?;

    if let Some(metrics) = &config.metrics {
        let address = format!("{}:{}", metrics.bind, metrics.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .with_context(|| format!("metrics: {}:{} is not an address to listen on", metrics.bind, metrics.port))?;
        metrics::serve(address).map_err(anyhow::Error::msg)?;
        info!(%address, "serving Prometheus metrics on /metrics");
    }
    let bridge: Arc<dyn bridge::Bridge> = Arc::from(bridge::open(&config.bridge).await?);
    let config = Arc::new(config);
    let state = Arc::new(AgentState::default());
    let runner = Arc::new(Runner::new(config.clone(), bridge.clone(), state.clone(), retry, shutdown.clone()));
    runner.bridge_metrics().await;
    let handler = Arc::new(control::ControlHandler {
        state: state.clone(),
        runner: runner.clone(),
        bridge,
        parser: Default::default(),
    });
    let control = control::serve(&config.bind, config.port, password, handler, shutdown.clone())
        .await
        .with_context(|| format!("cannot listen on the control port {}:{}", config.bind, config.port))?;

    let mut schedulers = tokio::task::JoinSet::new();
    for (kind, schedule) in schedules {
        info!(kind = kind.label(), cron = schedule.expression(), "scheduled");
        schedulers.spawn(tick(kind, schedule, runner.clone(), state.clone(), shutdown.clone()));
    }
    shutdown.cancelled().await;
    info!("shutting down: no new runs, cancelling the current one");
    while schedulers.join_next().await.is_some() {}
    runner.wait().await;
    let _ = control.await;
    info!("agent stopped");
    Ok(())
}

/// Starts a run of `kind` at every time `schedule` fires.
async fn tick(
    kind: RunKind,
    schedule: Schedule,
    runner: Arc<Runner>,
    state: Arc<AgentState>,
    shutdown: CancellationToken,
) {
    loop {
        let Some(next) = schedule.next_after(Utc::now()) else { return };
        state.set_next(kind, Some(next));
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                // Not started: already recorded as skipped by the runner.
                let _ = runner.start(kind);
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The control port's password: required unless it only listens on loopback.
fn control_password(config: &Config) -> Result<Option<String>> {
    let password = config.control.as_ref().and_then(|c| c.password.as_ref()).map(|p| p.expose().to_string());
    let loopback = config.bind == "localhost" || config.bind.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && password.is_none() {
        bail!(
            "{}: bind {} is not a loopback address: set control.password so the control port is not open to anyone",
            config.path.display(),
            config.bind
        );
    }
    Ok(password)
}

//! Progress of long work: bars per table on a terminal, plain log lines
//! otherwise (cron jobs, CI, log collectors).

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// The bars being drawn, shared by every [`Progress`] of the process, so
/// log lines can be printed above them.
static BARS: OnceLock<Arc<MultiProgress>> = OnceLock::new();

/// Runs `print` with the progress bars (if any) hidden.
pub fn above_bars(print: impl FnOnce()) {
    match BARS.get() {
        Some(bars) => bars.suspend(print),
        None => print(),
    }
}

/// Where progress goes. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    bars: Option<Arc<MultiProgress>>,
    verb: &'static str,
}

impl Progress {
    /// Bars when stderr is a terminal, log lines otherwise. `verb` says what
    /// is happening ("dumped", "restored").
    pub fn new(verb: &'static str) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            BARS.get_or_init(|| Arc::new(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))).clone()
        });
        Progress { bars, verb }
    }

    /// Log lines only.
    pub fn quiet(verb: &'static str) -> Self {
        Progress { bars: None, verb }
    }

    /// Starts tracking one table of about `expected_bytes`.
    pub fn table(&self, name: &str, expected_bytes: u64) -> TableProgress {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(expected_bytes.max(1)));
            bar.set_style(
                ProgressStyle::with_template("{prefix:30!} {bar:25} {bytes:>10} {binary_bytes_per_sec:>12} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        TableProgress { name: name.to_string(), bar, started: Instant::now(), bytes: 0, verb: self.verb }
    }
}

/// Progress of one table.
pub struct TableProgress {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    bytes: u64,
    verb: &'static str,
}

impl TableProgress {
    /// Counts bytes moved.
    pub fn add_bytes(&mut self, bytes: u64) {
        self.bytes += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn finish(self, rows: u64) {
        let seconds = self.started.elapsed().as_secs_f64();
        let bytes = self.bytes;
        let rate = if seconds > 0.0 { (bytes as f64 / seconds) as u64 } else { 0 };
        if let Some(bar) = &self.bar {
            bar.finish_with_message(format!("{rows} rows"));
        }
        info!(
            table = %self.name,
            rows,
            bytes,
            seconds = format!("{seconds:.2}"),
            "{} {} rows, {} ({}/s)",
            self.verb,
            rows,
            HumanBytes(bytes),
            HumanBytes(rate)
        );
    }
}

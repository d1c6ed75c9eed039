//! Progress of long work: bars per table on a terminal, plain log lines
//! otherwise (cron jobs, CI, log collectors).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};
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
    /// What each finished piece of a table moved, kept when asked for
    /// ([`Progress::recorded`]): the agent shows it as `replibyte.tables`.
    record: Option<Arc<Mutex<Vec<Piece>>>>,
}

/// What one table moved in a run, all its pieces (segments) together.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFigures {
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
    /// From the first piece's start to the last one's end.
    pub seconds: f64,
}

/// One finished piece of a table.
struct Piece {
    table: String,
    rows: u64,
    bytes: u64,
    started: Instant,
    finished: Instant,
}

impl Progress {
    /// Bars when stderr is a terminal, log lines otherwise. `verb` says what
    /// is happening ("dumped", "restored").
    pub fn new(verb: &'static str) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            BARS.get_or_init(|| Arc::new(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))).clone()
        });
        Progress { bars, verb, record: None }
    }

    /// Log lines only.
    pub fn quiet(verb: &'static str) -> Self {
        Progress { bars: None, verb, record: None }
    }

    /// Log lines, and the figures of each table kept for [`Progress::figures`].
    pub fn recorded(verb: &'static str) -> Self {
        Progress { bars: None, verb, record: Some(Arc::default()) }
    }

    /// What each table moved so far, by name (empty unless
    /// [`Progress::recorded`]).
    pub fn figures(&self) -> Vec<TableFigures> {
        let Some(record) = &self.record else { return Vec::new() };
        let pieces = record.lock().unwrap_or_else(|p| p.into_inner());
        let mut tables: BTreeMap<&str, (u64, u64, Instant, Instant)> = BTreeMap::new();
        for piece in pieces.iter() {
            let entry = tables.entry(&piece.table).or_insert((0, 0, piece.started, piece.finished));
            entry.0 += piece.rows;
            entry.1 += piece.bytes;
            entry.2 = entry.2.min(piece.started);
            entry.3 = entry.3.max(piece.finished);
        }
        tables
            .into_iter()
            .map(|(table, (rows, bytes, started, finished))| TableFigures {
                table: table.to_string(),
                rows,
                bytes,
                seconds: finished.duration_since(started).as_secs_f64(),
            })
            .collect()
    }

    /// Starts tracking one table of about `expected_bytes`.
    pub fn table(&self, name: &str, expected_bytes: u64) -> TableProgress {
        self.piece(name, name.to_string(), expected_bytes)
    }

    /// Starts tracking part `number` (from 0) of `of` of a table.
    pub fn table_part(&self, name: &str, number: usize, of: usize, expected_bytes: u64) -> TableProgress {
        match of {
            0 | 1 => self.table(name, expected_bytes),
            _ => self.piece(name, format!("{name} [{}/{of}]", number + 1), expected_bytes),
        }
    }

    fn piece(&self, table: &str, name: String, expected_bytes: u64) -> TableProgress {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(expected_bytes.max(1)));
            bar.set_style(
                ProgressStyle::with_template("{prefix:30!} {bar:25} {bytes:>10} {binary_bytes_per_sec:>12} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        TableProgress {
            table: table.to_string(),
            name,
            bar,
            started: Instant::now(),
            bytes: 0,
            verb: self.verb,
            record: self.record.clone(),
        }
    }
}

/// Progress of one table.
pub struct TableProgress {
    table: String,
    /// The table, and which part of it.
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    bytes: u64,
    verb: &'static str,
    record: Option<Arc<Mutex<Vec<Piece>>>>,
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
        if let Some(record) = self.record {
            let piece = Piece { table: self.table, rows, bytes, started: self.started, finished: Instant::now() };
            record.lock().unwrap_or_else(|p| p.into_inner()).push(piece);
        }
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

//! The privacy guard of a dump: before any row is copied, the columns
//! without a transformer are scanned for personal data (a bounded sample,
//! inside the dump's snapshot); `source.unmasked_pii` says what a finding
//! does: stop the dump (`fail`), a warning (`warn`, the default), or
//! nothing (`ignore`, which also skips the scan).

use tokio_postgres::Client;
use tracing::{info, warn};

use super::DumpError;
use crate::catalog::TableData;
use crate::config::UnmaskedPii;
use crate::transform::detect::{self, sample::ScanOptions};
use crate::transform::Plans;

/// Scans the columns without a transformer; fails (with `fail`) on the
/// first that looks sensitive, naming it, what it looks like and the fix.
///
/// # Errors
/// A sensitive column under `fail`, or a failing query.
pub async fn guard(client: &Client, tables: &[TableData], plans: &Plans, mode: UnmaskedPii) -> Result<(), DumpError> {
    if mode == UnmaskedPii::Ignore {
        return Ok(());
    }
    let options = ScanOptions { skip_covered: true, ..ScanOptions::default() };
    let scanned = detect::scan(client, tables, |t, c| plans.covers(t, c), options)
        .await
        .map_err(|e| DumpError::query("scanning for personal data", &e))?;
    info!(
        tables = scanned.tables,
        columns = scanned.columns,
        found = scanned.findings.len(),
        seconds = format!("{:.2}", scanned.elapsed.as_secs_f64()),
        "columns without a transformer scanned for personal data"
    );
    // Fail-closed: a table that could not be sampled cannot be vouched for.
    if let (UnmaskedPii::Fail, Some(note)) = (mode, scanned.unscanned.first()) {
        return Err(DumpError::UnmaskedPii {
            message: format!(
                "{note}, so its columns without a transformer were not checked for personal data: give them                  transformers (`transient` for reviewed ones), or set source.unmasked_pii: warn"
            ),
        });
    }
    for note in &scanned.unscanned {
        warn!("privacy scan: {note}");
    }
    let unmasked: Vec<&detect::Finding> = scanned.findings.iter().filter(|f| !f.transformed).collect();
    let fix = |f: &detect::Finding| {
        format!(
            "column {} looks like {} ({}) and has no transformer: add one (`replibyte scan --suggest` proposes `{}`), \
             or `transformer: transient` to keep it as reviewed",
            f.place(),
            f.category.label(),
            f.evidence,
            f.transformer
        )
    };
    match (mode, unmasked.first()) {
        (UnmaskedPii::Fail, Some(first)) => {
            let more = match unmasked.len() - 1 {
                0 => String::new(),
                n => format!(" ({n} more: `replibyte scan` lists them)"),
            };
            Err(DumpError::UnmaskedPii { message: format!("{}{more}", fix(first)) })
        }
        _ => {
            for finding in unmasked {
                warn!("{} (source.unmasked_pii: warn)", fix(finding));
            }
            Ok(())
        }
    }
}

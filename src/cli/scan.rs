//! `scan`: which columns of the dump's scope hold personal data, from
//! their names, types and a bounded sample of their values; never a value
//! on screen. `--json` for scripts, `--suggest` for a `transformers:` block.

use anyhow::Result;

use crate::catalog;
use crate::config::Config;
use crate::dump::{self, DumpOptions};
use crate::pg;
use crate::transform::detect::{self, sample::ScanOptions, suggest};

pub async fn scan(config: &Config, json: bool, suggest_yaml: bool) -> Result<()> {
    let source = config.source()?;
    let options = DumpOptions::from_config(source, &config.path, None).map_err(anyhow::Error::msg)?;
    let mut findings = Vec::new();
    let mut scanned_columns = 0;
    let mut notes = Vec::new();
    for name in dump::database_names(&source.connection_uri, &options.databases).await? {
        let uri =
            name.as_ref().map_or_else(|| source.connection_uri.clone(), |n| source.connection_uri.with_database(n));
        let client = pg::connect(&uri, "replibyte scan").await?;
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        let (mut schema, _) = catalog::read(&client).await?;
        options.scope.apply(&mut schema).map_err(|e| anyhow::anyhow!("{}: source.{e}", config.path.display()))?;
        let plans = options.rules.plan(&client, &schema.tables).await?;
        let scanned = detect::scan(&client, &schema.tables, |t, c| plans.covers(t, c), ScanOptions::default()).await?;
        client.batch_execute("COMMIT").await?;
        scanned_columns += scanned.columns;
        notes.extend(scanned.unscanned);
        notes.push(format!(
            "database {}: {} columns of {} tables sampled in {:.1} s",
            schema.database.name,
            scanned.columns,
            scanned.tables,
            scanned.elapsed.as_secs_f64()
        ));
        findings.extend(scanned.findings);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else if suggest_yaml {
        print!("{}", suggest::yaml(&findings));
    } else {
        print_table(&findings);
    }
    for note in &notes {
        eprintln!("{note}");
    }
    let _ = scanned_columns;
    Ok(())
}

fn print_table(findings: &[detect::Finding]) {
    if findings.is_empty() {
        println!("no column looks like personal data");
        return;
    }
    let place = |f: &detect::Finding| f.place();
    let width = findings.iter().map(|f| place(f).len()).max().unwrap_or(6).max(6);
    println!(
        "{:<width$}  {:<14}  {:<10}  {:<12}  {:<11}  EVIDENCE",
        "COLUMN", "CATEGORY", "CONFIDENCE", "TRANSFORMED", "SUGGESTED"
    );
    for f in findings {
        println!(
            "{:<width$}  {:<14}  {:<10}  {:<12}  {:<11}  {}",
            place(f),
            f.category.label(),
            format!("{:?}", f.confidence).to_lowercase(),
            if f.transformed { "yes" } else { "no" },
            f.transformer,
            f.evidence
        );
    }
}

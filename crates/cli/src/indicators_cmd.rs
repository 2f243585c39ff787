//! `skeet indicators`: adds indicator columns to a CSV of bars.
//!
//! The output keeps every input column unchanged and appends one column per indicator output,
//! named as the catalogue names them (`sma(close,10)` → `sma_close_10`, see
//! `skeet_ta::registry`). Values are written in the shortest form that reads back as the same
//! double, and left empty during an indicator's warm-up. The output file is written to a
//! temporary file and renamed into place, so a failure never leaves a half-written file.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use skeet_data::NoProgress;
use skeet_data::import::{ImportOptions, read_csv_table};
use skeet_ta::{Columns, INDICATORS, IndicatorSpec, registry};

use crate::output;

/// Arguments of `skeet indicators`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  skeet indicators --input bars.csv --output out.csv 'sma(close,10)' 'rsi(close,14)' 'macd(close,12,26,9)'\n  skeet indicators --input bars.csv --output - 'fast=ema(close,8)' 'bbands(close,20,2,2).upper' 'atr(14)'\n  skeet indicators --list"
)]
pub(crate) struct IndicatorsArgs {
    /// CSV file of OHLCV bars (any format `skeet data import` accepts).
    #[arg(long, short, required_unless_present = "list")]
    input: Option<PathBuf>,
    /// Where to write the result (`-` for standard output).
    #[arg(long, short, required_unless_present = "list")]
    output: Option<PathBuf>,
    /// Sort rows by time instead of failing on unsorted input.
    #[arg(long)]
    sort: bool,
    /// List the available indicators and exit.
    #[arg(long)]
    list: bool,
    /// Indicator calls such as `sma(close,10)`, `macd(close,12,26,9)`, `atr(14)`.
    #[arg(value_name = "EXPR", required_unless_present = "list")]
    exprs: Vec<String>,
}

pub(crate) fn run(args: &IndicatorsArgs) -> anyhow::Result<()> {
    if args.list {
        list();
        return Ok(());
    }
    let (Some(input), Some(out_path)) = (&args.input, &args.output) else {
        bail!("--input and --output are required (see skeet indicators --help)");
    };
    let specs = args
        .exprs
        .iter()
        .map(|e| registry::parse(e).with_context(|| format!("in '{e}'")))
        .collect::<anyhow::Result<Vec<IndicatorSpec>>>()?;

    let options = ImportOptions {
        sort: args.sort,
        ..ImportOptions::default()
    };
    let table = read_csv_table(input, &options, &NoProgress)?;
    let bars = &table.bars;
    let cols = Columns {
        ts: bars.ts(),
        open: bars.open(),
        high: bars.high(),
        low: bars.low(),
        close: bars.close(),
        volume: bars.volume(),
    };

    let mut names: Vec<String> = table.headers.clone();
    let mut seen: HashSet<String> = names.iter().map(|h| h.to_ascii_lowercase()).collect();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for (spec, expr) in specs.iter().zip(&args.exprs) {
        let values = spec
            .compute(&cols)
            .with_context(|| format!("in '{expr}'"))?;
        for (name, col) in spec.column_names().into_iter().zip(values) {
            if !seen.insert(name.to_ascii_lowercase()) {
                bail!(
                    "in '{expr}': column '{name}' already exists; give the indicator another name with an alias, e.g. 'my_{name}={expr}'"
                );
            }
            names.push(name);
            columns.push(col);
        }
    }

    let write = |w: &mut dyn Write| -> anyhow::Result<()> {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(&names)?;
        let mut row: Vec<String> = Vec::with_capacity(names.len());
        for (i, record) in table.records.iter().enumerate() {
            row.clear();
            row.extend(record.iter().map(str::to_string));
            row.resize(table.headers.len(), String::new());
            row.extend(columns.iter().map(|c| fmt_value(c[i])));
            csv.write_record(&row)?;
        }
        csv.flush()?;
        Ok(())
    };

    if out_path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        return write(&mut lock);
    }
    let dir = match out_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write to directory {}", dir.display()))?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut buffered)?;
        buffered.flush()?;
    }
    tmp.persist(out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    eprintln_summary(&format!(
        "wrote {} rows with {} indicator column(s) to {}",
        table.records.len(),
        columns.len(),
        out_path.display()
    ));
    Ok(())
}

fn eprintln_summary(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Shortest round-trip form; empty for "no value yet".
fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

fn list() {
    output::line(format!(
        "{:<14} {:<52} {:<28} {}",
        "NAME", "SIGNATURE", "OUTPUTS", "REFERENCE"
    ));
    for def in INDICATORS {
        let outputs = if def.outputs.len() == 1 {
            "value".to_string()
        } else {
            def.outputs.join(", ")
        };
        output::line(format!(
            "{:<14} {:<52} {:<28} {}",
            def.name,
            registry::signature(def),
            outputs,
            def.reference
        ));
    }
    output::line("");
    output::line(
        "Sources: open, high, low, close, volume, hl2, hlc3, ohlc4, or another call, e.g. sma(rsi(close,14),5).",
    );
    output::line(
        "Select one output with .name (macd(close,12,26,9).signal); name a column with alias= (fast=ema(close,8)).",
    );
}

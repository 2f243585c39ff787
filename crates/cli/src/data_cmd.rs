//! `skeet data ...`: import, generate, list, inspect, resample, export and remove market data.
//!
//! Output goes to stdout as short blocks or a table (nothing but the CSV when exporting to
//! `-`); errors come back to `main` and print as one `error: ...` line. Store commands that
//! take a symbol find the venue themselves when exactly one venue holds that symbol and
//! timeframe, so `--venue` is needed only to pick between several.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use skeet_core::{Symbol, Timeframe, UnixNanos, Venue};
use skeet_data::generate::{GenerateParams, Model};
use skeet_data::import::{ImportOptions, ImportReport, check_timeframe, read_csv};
use skeet_data::inspect::{Inspection, infer_timeframe, inspect};
use skeet_data::resample::resample;
use skeet_data::{MarketStore, Progress, SeriesKey, WriteMode, WriteReport, export};

use crate::output;

/// The `skeet data` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Import a CSV file of bars (generic with header, pandas, Yahoo, Binance klines) into the
    /// store.
    Import(ImportArgs),
    /// Generate synthetic bars (deterministic for a seed) into the store.
    Generate(GenerateArgs),
    /// List the stored series.
    Ls,
    /// Report range, gaps, duplicates and extremes of a stored series or a CSV file.
    Inspect(InspectArgs),
    /// Aggregate a stored series into a coarser timeframe and store it.
    Resample(ResampleArgs),
    /// Write a stored series as CSV.
    Export(ExportArgs),
    /// Delete a stored series.
    Rm(SeriesArgs),
    /// Download closed candles from a venue into the store: paged, rate-limited, resumable
    /// (running it again continues after the last stored bar).
    Download(DownloadArgs),
}

/// Arguments of `skeet data download`.
#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// Venue: binance, kraken, coinbase or alpaca.
    #[arg(long)]
    venue: String,
    /// Unified symbol, e.g. BTC/USDT or AAPL/USD.
    #[arg(long)]
    symbol: String,
    /// Timeframe, e.g. 1m, 1h, 1d.
    #[arg(long)]
    timeframe: String,
    /// First bar's open time (date or RFC 3339).
    #[arg(long)]
    since: String,
    /// Stop before this time (date or RFC 3339); now when absent.
    #[arg(long)]
    until: Option<String>,
    /// Endpoint override (testnet, sandbox or a local test server).
    #[arg(long)]
    base_url: Option<String>,
}

/// Arguments of `skeet data import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    /// Symbol to store the bars under, e.g. BTC/USDT or AAPL.
    #[arg(long)]
    symbol: String,
    /// Bar duration of the file, e.g. 1m, 1h, 1d.
    #[arg(long)]
    timeframe: String,
    /// Venue to store the bars under.
    #[arg(long, default_value = "local")]
    venue: String,
    /// Sort rows by time (keeping the last of rows sharing a timestamp) instead of failing.
    #[arg(long)]
    sort: bool,
    /// Replace the stored series instead of merging into it.
    #[arg(long)]
    replace: bool,
    /// Field delimiter (detected from `,`, `;` and tab when not given).
    #[arg(long)]
    delimiter: Option<char>,
    /// Skip the check that bar spacing matches --timeframe.
    #[arg(long)]
    no_spacing_check: bool,
}

/// Arguments of `skeet data generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Symbol to store the bars under.
    #[arg(long)]
    symbol: String,
    /// Bar duration, e.g. 1m, 1h, 1d.
    #[arg(long)]
    timeframe: String,
    /// Number of bars.
    #[arg(long)]
    bars: usize,
    /// Random seed: the same seed gives the same bars on every machine.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Price process: gbm (geometric Brownian motion) or regime (trends and ranges).
    #[arg(long, default_value = "gbm")]
    model: String,
    /// Open time of the first bar (date or RFC 3339 datetime).
    #[arg(long, default_value = "2024-01-01")]
    start: String,
    /// Open price of the first bar.
    #[arg(long, default_value_t = 100.0)]
    price: f64,
    /// Annualised volatility (0.6 = 60 %).
    #[arg(long, default_value_t = 0.6)]
    volatility: f64,
    /// Venue to store the bars under.
    #[arg(long, default_value = "synthetic")]
    venue: String,
}

/// Arguments of `skeet data inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Symbol of a stored series.
    #[arg(required_unless_present = "file")]
    symbol: Option<String>,
    /// Timeframe of a stored series.
    #[arg(required_unless_present = "file")]
    timeframe: Option<String>,
    /// Venue of the stored series (found automatically when only one has it).
    #[arg(long)]
    venue: Option<String>,
    /// Inspect a CSV file instead of a stored series (unsorted and duplicate rows are
    /// reported, not fatal).
    #[arg(long, conflicts_with_all = ["symbol", "venue"])]
    file: Option<PathBuf>,
    /// Timeframe of the CSV file (inferred from the most common spacing when not given).
    #[arg(long = "timeframe", value_name = "TF")]
    file_timeframe: Option<String>,
    /// How many of the largest gaps to list.
    #[arg(long, default_value_t = 5)]
    gaps: usize,
}

/// Arguments of `skeet data resample`.
#[derive(Debug, Args)]
pub(crate) struct ResampleArgs {
    /// Symbol of the stored series.
    symbol: String,
    /// Timeframe of the stored source series.
    #[arg(long)]
    from: String,
    /// Target timeframe (a whole multiple of --from).
    #[arg(long)]
    to: String,
    /// Venue of the series (found automatically when only one has it).
    #[arg(long)]
    venue: Option<String>,
    /// Keep the last bucket even when the data ends before the bucket does.
    #[arg(long)]
    keep_partial: bool,
}

/// Arguments of `skeet data export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Symbol of the stored series.
    symbol: String,
    /// Timeframe of the stored series.
    timeframe: String,
    /// Venue of the series (found automatically when only one has it).
    #[arg(long)]
    venue: Option<String>,
    /// First open time to export (inclusive; date or RFC 3339 datetime).
    #[arg(long)]
    from: Option<String>,
    /// Last open time to export (inclusive).
    #[arg(long)]
    to: Option<String>,
    /// Output CSV file, or `-` for stdout.
    #[arg(long, short)]
    output: PathBuf,
}

/// A stored series named on the command line.
#[derive(Debug, Args)]
pub(crate) struct SeriesArgs {
    /// Symbol of the stored series.
    symbol: String,
    /// Timeframe of the stored series.
    timeframe: String,
    /// Venue of the series (found automatically when only one has it).
    #[arg(long)]
    venue: Option<String>,
}

pub(crate) fn run(data_dir: &Path, cmd: DataCommand) -> anyhow::Result<()> {
    let store = MarketStore::in_data_dir(data_dir)?;
    match cmd {
        DataCommand::Import(args) => run_import(&store, &args),
        DataCommand::Generate(args) => run_generate(&store, &args),
        DataCommand::Ls => run_ls(&store),
        DataCommand::Inspect(args) => run_inspect(&store, &args),
        DataCommand::Resample(args) => run_resample(&store, &args),
        DataCommand::Export(args) => run_export(&store, &args),
        DataCommand::Download(args) => run_download(&store, &args),
        DataCommand::Rm(args) => {
            let key = resolve(&store, &args.symbol, &args.timeframe, args.venue.as_deref())?;
            store.remove(&key)?;
            output::line(format!("removed {key}"));
            Ok(())
        }
    }
}

fn run_download(store: &MarketStore, args: &DownloadArgs) -> anyhow::Result<()> {
    use skeet_worker::download::{DownloadRequest, download};
    let req = DownloadRequest {
        venue: args.venue.clone(),
        symbol: args.symbol.clone(),
        timeframe: args.timeframe.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        base_url: args.base_url.clone(),
    };
    let cfg = skeet_exchange::VenueConfig {
        base_url: args.base_url.clone(),
        credentials: crate::exchange_cmd::env_credentials(&args.venue)?,
        ..skeet_exchange::VenueConfig::default()
    };
    let ex = skeet_exchange::connect(&args.venue, cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = output::progress(1000, "download");
    let mut on_progress = |f: f64| bar.set_position((f * 1000.0).round() as u64);
    let report = rt.block_on(download(
        &*ex,
        store,
        &req,
        skeet_exchange::now_ms(),
        &mut on_progress,
    ));
    bar.finish_and_clear();
    let report = report?;
    let from = UnixNanos::from_millis(report.started_at_ms)
        .map_or_else(String::new, UnixNanos::to_rfc3339);
    output::line(format!(
        "downloaded {} new bars into {} ({} pages{}, from {from}); the series has {} bars",
        report.added,
        report.series,
        report.pages,
        if report.resumed {
            ", resumed after the stored bars"
        } else {
            ""
        },
        report.total
    ));
    Ok(())
}

/// Shows an indicatif bar for the library's progress updates.
struct BarProgress(ProgressBar);

impl Progress for BarProgress {
    fn set_len(&self, len: u64) {
        self.0.set_length(len);
    }
    fn inc(&self, delta: u64) {
        self.0.inc(delta);
    }
}

fn run_import(store: &MarketStore, args: &ImportArgs) -> anyhow::Result<()> {
    let key = SeriesKey::parse(&args.venue, &args.symbol, &args.timeframe)?;
    let delimiter = args
        .delimiter
        .map(|c| u8::try_from(c).ok().filter(u8::is_ascii))
        .map(|d| d.with_context(|| "--delimiter must be a single ASCII character"))
        .transpose()?;
    let options = ImportOptions {
        sort: args.sort,
        delimiter,
    };
    let bar = BarProgress(output::progress(0, "importing"));
    let imported = read_csv(&args.file, &options, &bar);
    bar.0.finish_and_clear();
    let imported = imported?;
    if !args.no_spacing_check {
        check_timeframe(&imported.bars, key.timeframe)?;
    }
    let mode = if args.replace {
        WriteMode::Replace
    } else {
        WriteMode::Merge
    };
    let written = store.write(&key, &imported.bars, mode)?;
    print_import(&key, &imported.report, &written);
    Ok(())
}

fn print_import(key: &SeriesKey, report: &ImportReport, written: &WriteReport) {
    output::line(format!(
        "imported {} bars into {key} from {}",
        count(report.bars),
        report.path.display()
    ));
    let time = report.time_format.map_or_else(String::new, |f| {
        format!(
            " ({f}{})",
            if report.mixed_time_formats {
                ", mixed"
            } else {
                ""
            }
        )
    });
    output::line(format!(
        "  format   {}, '{}'-delimited, time from '{}'{time}{}",
        report.format,
        delimiter_name(report.delimiter),
        report.time_column,
        if report.has_volume {
            ""
        } else {
            ", no volume column (volume 0)"
        }
    ));
    output::line(format!(
        "  rows     {} read, {} null rows skipped, {} duplicates dropped{}",
        count(report.rows),
        count(report.null_rows),
        count(report.duplicates_dropped),
        if report.sorted {
            format!(
                ", sorted ({} rows were out of order)",
                count(report.out_of_order_rows)
            )
        } else {
            String::new()
        }
    ));
    output::line(format!("  range    {}", range(report.first, report.last)));
    print_written(written);
}

fn print_written(written: &WriteReport) {
    let removed = if written.removed > 0 {
        format!(", {} removed (--replace)", count(written.removed))
    } else {
        String::new()
    };
    output::line(format!(
        "  store    {} added, {} replaced, {} unchanged{removed}; {} bars stored ({})",
        count(written.added),
        count(written.replaced),
        count(written.unchanged),
        count(written.total),
        range(written.range.map(|r| r.0), written.range.map(|r| r.1))
    ));
    output::line(format!("  path     {}", written.path.display()));
}

fn run_generate(store: &MarketStore, args: &GenerateArgs) -> anyhow::Result<()> {
    let key = SeriesKey::parse(&args.venue, &args.symbol, &args.timeframe)?;
    let model: Model = args.model.parse()?;
    let start: UnixNanos = args.start.parse()?;
    let params = GenerateParams {
        model,
        start,
        price: args.price,
        volatility: args.volatility,
        ..GenerateParams::new(key.timeframe, args.bars, args.seed)
    };
    let bar = BarProgress(output::progress(0, "generating"));
    let bars = skeet_data::generate::generate(&params, &bar);
    bar.0.finish_and_clear();
    let bars = bars?;
    // A generated series is one whole: regenerating replaces it rather than mixing streams.
    let written = store.write(&key, &bars, WriteMode::Replace)?;
    output::line(format!(
        "generated {} bars of {key} (model {model}, seed {}, start price {})",
        count(written.total),
        args.seed,
        args.price
    ));
    print_written(&written);
    Ok(())
}

fn run_ls(store: &MarketStore) -> anyhow::Result<()> {
    let series = store.list()?;
    if series.is_empty() {
        output::line(format!(
            "no market data in {}; add some with `skeet data import` or `skeet data generate`",
            store.root().display()
        ));
        return Ok(());
    }
    let mut rows = vec![
        [
            "VENUE",
            "SYMBOL",
            "TIMEFRAME",
            "BARS",
            "FIRST",
            "LAST",
            "SIZE",
        ]
        .map(String::from),
    ];
    for s in &series {
        rows.push([
            s.key.venue.to_string(),
            s.key.symbol.to_string(),
            s.key.timeframe.to_string(),
            count(s.bars),
            s.first.map_or_else(|| "-".into(), |t| t.to_string()),
            s.last.map_or_else(|| "-".into(), |t| t.to_string()),
            size(s.file_size),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                // Numbers right-aligned, text left-aligned.
                if c == 3 || c == 6 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        output::line(cells.join("  ").trim_end());
    }
    Ok(())
}

fn run_inspect(store: &MarketStore, args: &InspectArgs) -> anyhow::Result<()> {
    if let Some(file) = &args.file {
        let options = ImportOptions {
            sort: true,
            delimiter: None,
        };
        let bar = BarProgress(output::progress(0, "reading"));
        let imported = read_csv(file, &options, &bar);
        bar.0.finish_and_clear();
        let imported = imported?;
        let (timeframe, inferred) = match &args.file_timeframe {
            Some(tf) => (tf.parse::<Timeframe>()?, false),
            None => (
                infer_timeframe(&imported.bars).unwrap_or(Timeframe::D1),
                true,
            ),
        };
        let report = inspect(&imported.bars, timeframe, args.gaps);
        output::line(format!("{}", file.display()));
        output::line(format!(
            "  format      {}, time from '{}'",
            imported.report.format, imported.report.time_column
        ));
        output::line(format!(
            "  timeframe   {timeframe}{}",
            if inferred {
                " (inferred: the most common spacing; pass --timeframe to set it)"
            } else {
                ""
            }
        ));
        print_inspection(&report);
        let r = &imported.report;
        output::line(format!(
            "  rows        {} read, {} null rows skipped",
            count(r.rows),
            count(r.null_rows)
        ));
        output::line(match r.first_out_of_order {
            None => "  order       sorted by time".to_string(),
            Some(p) => format!(
                "  order       {} rows out of order (first: line {} at {} after line {} at {})",
                count(r.out_of_order_rows),
                p.second_line,
                p.second_ts,
                p.first_line,
                p.first_ts
            ),
        });
        output::line(match r.first_duplicate {
            None => "  duplicates  none".to_string(),
            Some(p) => format!(
                "  duplicates  {} rows share a timestamp with another (first: lines {} and {} at \
                 {}); import keeps the last with --sort",
                count(r.duplicates_dropped),
                p.first_line,
                p.second_line,
                p.first_ts
            ),
        });
        if report.closer_than_timeframe > 0 {
            output::line(format!(
                "  spacing     {} bars closer than {timeframe} to the previous one",
                count(report.closer_than_timeframe)
            ));
        }
        return Ok(());
    }
    if args.file_timeframe.is_some() {
        bail!("--timeframe goes with --file; a stored series is named as SYMBOL TIMEFRAME");
    }
    let (Some(symbol), Some(timeframe)) = (&args.symbol, &args.timeframe) else {
        bail!("name a stored series (SYMBOL TIMEFRAME) or a CSV file with --file");
    };
    let key = resolve(store, symbol, timeframe, args.venue.as_deref())?;
    let bars = store.read(&key, None, None)?;
    let report = inspect(&bars, key.timeframe, args.gaps);
    output::line(format!("{key}"));
    output::line(format!("  path        {}", store.path_of(&key).display()));
    print_inspection(&report);
    output::line("  duplicates  none (a stored series never has any)");
    Ok(())
}

fn print_inspection(r: &Inspection) {
    output::line(format!("  range       {}", range(r.first, r.last)));
    output::line(format!(
        "  bars        {} of {} expected ({} missing)",
        count(r.bars),
        count(r.expected_bars),
        count(r.missing_bars)
    ));
    let within_week = r.gaps - r.weekend_only_gaps - r.weekend_spanning_gaps;
    output::line(format!(
        "  gaps        {}: {} weekend-only, {} spanning a weekend, {} within the week",
        count(r.gaps),
        count(r.weekend_only_gaps),
        count(r.weekend_spanning_gaps),
        count(within_week)
    ));
    for (i, g) in r.largest_gaps.iter().enumerate() {
        let kind = if g.weekend_only {
            "weekend only"
        } else if g.spans_weekend {
            "spans a weekend"
        } else {
            "within the week"
        };
        output::line(format!(
            "  {}{} .. {}  {} missing ({kind})",
            if i == 0 {
                "largest     "
            } else {
                "            "
            },
            g.after,
            g.before,
            count(g.missing_bars)
        ));
    }
    if let (Some((low, low_ts)), Some((high, high_ts))) = (r.min_low, r.max_high) {
        output::line(format!(
            "  price       low {low} at {low_ts}, high {high} at {high_ts}"
        ));
    }
    output::line(format!(
        "  volume      {} bars with zero volume",
        count(r.zero_volume_bars)
    ));
    output::line(format!("  sha256      {}", r.hash));
}

fn run_resample(store: &MarketStore, args: &ResampleArgs) -> anyhow::Result<()> {
    let from = resolve(store, &args.symbol, &args.from, args.venue.as_deref())?;
    let to_tf: Timeframe = args.to.parse()?;
    let source = store.read(&from, None, None)?;
    let out = resample(&source, from.timeframe, to_tf, args.keep_partial)?;
    let key = SeriesKey::new(from.venue, from.symbol, to_tf);
    if out.bars.is_empty() {
        bail!(
            "resampling {} {} bars of {from} gives no complete {to_tf} bar; pass --keep-partial \
             to keep the partial one",
            count(source.len() as u64),
            from.timeframe
        );
    }
    let written = store.write(&key, &out.bars, WriteMode::Merge)?;
    output::line(format!(
        "resampled {} {} bars of {} into {} {to_tf} bars{}",
        count(source.len() as u64),
        from.timeframe,
        from.instrument(),
        count(out.bars.len() as u64),
        if out.dropped_partial {
            " (partial last bucket dropped; --keep-partial keeps it)"
        } else {
            ""
        }
    ));
    print_written(&written);
    Ok(())
}

fn run_export(store: &MarketStore, args: &ExportArgs) -> anyhow::Result<()> {
    let key = resolve(store, &args.symbol, &args.timeframe, args.venue.as_deref())?;
    let from = args
        .from
        .as_deref()
        .map(str::parse::<UnixNanos>)
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(str::parse::<UnixNanos>)
        .transpose()?;
    let bars = store.read(&key, from, to)?;
    if args.output == Path::new("-") {
        let stdout = std::io::stdout().lock();
        match export::write_csv(&bars, BufWriter::new(stdout)) {
            // `skeet data export ... - | head` closes the pipe early; that is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.context("cannot write to stdout")?,
        }
        return Ok(());
    }
    let file = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut out = BufWriter::new(file);
    export::write_csv(&bars, &mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    output::line(format!(
        "exported {} bars of {key} ({}) to {}",
        count(bars.len() as u64),
        range(bars.range().map(|r| r.0), bars.range().map(|r| r.1)),
        args.output.display()
    ));
    Ok(())
}

/// The stored key for a symbol and timeframe; the venue may be left out when exactly one
/// venue holds the series.
fn resolve(
    store: &MarketStore,
    symbol: &str,
    timeframe: &str,
    venue: Option<&str>,
) -> anyhow::Result<SeriesKey> {
    let symbol = Symbol::new(symbol)?;
    let timeframe: Timeframe = timeframe.parse()?;
    if let Some(venue) = venue {
        return Ok(SeriesKey::new(Venue::new(venue)?, symbol, timeframe));
    }
    let found = store.find(symbol, Some(timeframe))?;
    match found.as_slice() {
        [key] => Ok(*key),
        [] => bail!(
            "no stored data for {symbol} {timeframe} at any venue; `skeet data ls` lists what \
             is stored"
        ),
        several => bail!(
            "{symbol} {timeframe} is stored for several venues ({}); pass --venue",
            several
                .iter()
                .map(|k| k.venue.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "\\t".to_string(),
        other => char::from(other).to_string(),
    }
}

fn range(first: Option<UnixNanos>, last: Option<UnixNanos>) -> String {
    match (first, last) {
        (Some(a), Some(b)) => format!("{a} .. {b}"),
        _ => "empty".to_string(),
    }
}

/// `1234567` as `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes in binary units, one decimal.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Display only: f64 rounding is fine.
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_and_sizes() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(size(10), "10 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
    }
}

//! `skeet`: the command line of SKEET.
//!
//! Thin by design: it parses arguments, calls the library crates and prints results. Every
//! failure ends the process with a non-zero status and one readable line on stderr
//! (`error: ...`), never a panic or a backtrace.

mod backtest_cmd;
mod bench_cmd;
mod data_cmd;
mod demo_cmd;
mod exchange_cmd;
mod indicators_cmd;
mod monte_carlo_args;
mod optimize_cmd;
mod output;
mod run_args;
mod serve_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// SKEET: Statistically Known Entry & Exit Tactics.
#[derive(Debug, Parser)]
#[command(name = "skeet", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Directory holding SKEET's data (market data under `market/`).
    #[arg(
        long,
        global = true,
        env = "SKEET_DATA_DIR",
        default_value = "./skeet-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import, generate, inspect, resample and export market data.
    #[command(subcommand)]
    Data(data_cmd::DataCommand),
    /// Compute technical indicators over a CSV of bars.
    Indicators(indicators_cmd::IndicatorsArgs),
    /// Backtest a strategy on bars from a CSV file or the market data store.
    Backtest(Box<backtest_cmd::BacktestArgs>),
    /// Search a strategy's parameters (grid, random or Bayesian), in parallel.
    Optimize(Box<optimize_cmd::OptimizeArgs>),
    /// Walk-forward analysis: optimise in sample, trade out of sample, stitch the results.
    Walkforward(Box<optimize_cmd::WalkForwardArgs>),
    /// Generate the demo dataset (once) and print a summary with indicator readings.
    Demo,
    /// Run the platform: the HTTP API on SQLite (default) or PostgreSQL.
    Serve(serve_cmd::ServeArgs),
    /// Apply database migrations and exit.
    Migrate(serve_cmd::MigrateArgs),
    /// Run job workers only, on the same database as `skeet serve`.
    Worker(serve_cmd::WorkerArgs),
    /// Manage accounts (operator).
    #[command(subcommand)]
    User(serve_cmd::UserCommand),
    /// The credential vault: rotate the master key.
    #[command(subcommand)]
    Vault(serve_cmd::VaultCommand),
    /// Talk to a venue: markets, ticker, book, candles, balances, orders (like ccxt's CLI).
    #[command(subcommand)]
    Exchange(exchange_cmd::ExchangeCommand),
    /// Measure a running `skeet serve` from outside (websocket fan-out latency).
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data_cmd::run(&cli.data_dir, cmd),
        Command::Indicators(args) => indicators_cmd::run(&args),
        Command::Demo => demo_cmd::run(&cli.data_dir),
        Command::Backtest(args) => backtest_cmd::run(&cli.data_dir, &args),
        Command::Optimize(args) => optimize_cmd::run_optimize(&cli.data_dir, &args),
        Command::Walkforward(args) => optimize_cmd::run_walkforward(&cli.data_dir, &args),
        Command::Serve(args) => serve_cmd::serve(&cli.data_dir, &args),
        Command::Migrate(args) => serve_cmd::migrate(&cli.data_dir, &args),
        Command::Worker(args) => serve_cmd::worker(&cli.data_dir, &args),
        Command::User(cmd) => serve_cmd::user(&cli.data_dir, &cmd),
        Command::Vault(cmd) => serve_cmd::vault(&cli.data_dir, &cmd),
        Command::Bench(cmd) => bench_cmd::run(&cmd),
        Command::Exchange(cmd) => exchange_cmd::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::FAILURE
        }
    }
}

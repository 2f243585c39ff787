//! `skeet data ...`: import, generate, list, inspect, resample and export market data.

use std::path::Path;

use clap::Subcommand;

/// The `skeet data` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {}

pub(crate) fn run(_data_dir: &Path, cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {}
}

//! `skeet indicators`: indicator columns for a CSV of bars.

use clap::Args;

/// Arguments of `skeet indicators`.
#[derive(Debug, Args)]
pub(crate) struct IndicatorsArgs {}

pub(crate) fn run(_args: &IndicatorsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}

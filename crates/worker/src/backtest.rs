//! The `backtest` job: a strategy (template or spec) over a stored series.

use std::path::Path;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_backtest::{Market, RunConfig, run_spec};
use skeet_core::{Instrument, InstrumentId, Symbol, Timeframe, Venue};
use skeet_data::{MarketStore, SeriesKey};
use skeet_engine::FillModel;
use skeet_strategy::{StrategySpec, templates};

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The input is wrong: retrying cannot help.
    #[error("{0}")]
    Invalid(String),
    /// Something that may work on another attempt (I/O, storage).
    #[error("{0}")]
    Transient(String),
}

/// What a `backtest` job runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// A built-in template name (or give `spec`).
    #[serde(default)]
    pub strategy: Option<String>,
    /// A strategy spec document (or give `strategy`).
    #[serde(default)]
    pub spec: Option<serde_json::Value>,
    /// Parameter values.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, f64>,
    /// Symbol of the stored series, e.g. `BTC/USDT`.
    pub symbol: String,
    /// Timeframe, e.g. `1h`.
    pub timeframe: String,
    /// Venue (default: the only one holding the symbol).
    #[serde(default)]
    pub venue: Option<String>,
    /// Starting cash (decimal string; default 10000).
    #[serde(default)]
    pub cash: Option<String>,
    /// Fee rate per fill (decimal string; default 0.001).
    #[serde(default)]
    pub commission: Option<String>,
    /// `next-open` (default), `close` or `intrabar`.
    #[serde(default)]
    pub fill: Option<String>,
    /// The dataset the API resolved `symbol`, `timeframe` and `venue` from (kept for the
    /// record; the run reads the series those fields name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The saved strategy the API resolved `spec` from (kept for the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<String>,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_version: Option<i64>,
}

/// A checked request whose bars are not loaded yet.
pub(crate) struct Checked {
    pub(crate) spec: StrategySpec,
    params: skeet_strategy::ParamValues,
    store: MarketStore,
    key: SeriesKey,
    cash: Decimal,
    commission: Decimal,
    fill: FillModel,
}

/// A validated request, ready to run.
pub(crate) struct Prepared {
    spec: StrategySpec,
    params: skeet_strategy::ParamValues,
    market: Market,
    cfg: RunConfig,
}

fn invalid(e: impl std::fmt::Display) -> JobError {
    JobError::Invalid(e.to_string())
}

impl Prepared {
    /// The spec, the market and the run settings.
    pub(crate) fn parts(&self) -> (&StrategySpec, &Market, &RunConfig) {
        (&self.spec, &self.market, &self.cfg)
    }

    /// The resolved parameter values.
    pub(crate) fn params(&self) -> &skeet_strategy::ParamValues {
        &self.params
    }
}

impl BacktestRequest {
    /// Checks everything and loads the bars of the workspace directory `data_dir`.
    ///
    /// # Errors
    /// [`JobError::Invalid`] saying which field is wrong; [`JobError::Transient`] for I/O.
    pub fn validate(&self, data_dir: &Path) -> Result<(), JobError> {
        self.check(data_dir).map(|_| ())
    }

    /// The spec, with every field checked and the series found, without reading the bars
    /// (so that checking a request costs the same whatever the size of the data).
    ///
    /// # Errors
    /// As [`BacktestRequest::prepare`].
    pub(crate) fn check(&self, data_dir: &Path) -> Result<Checked, JobError> {
        let spec = match (&self.strategy, &self.spec) {
            (Some(name), None) => {
                templates::get(name).map_err(|e| invalid(format!("strategy: {e}")))?
            }
            (None, Some(doc)) => StrategySpec::from_json(&doc.to_string())
                .map_err(|e| invalid(format!("spec: {e}")))?,
            _ => {
                return Err(invalid(
                    "give exactly one of strategy (a template name) and spec (a spec document)",
                ));
            }
        };
        let overrides: Vec<(String, f64)> =
            self.params.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let params = spec
            .resolve_params(&overrides)
            .map_err(|e| invalid(format!("params: {e}")))?;
        let tf: Timeframe = self
            .timeframe
            .parse()
            .map_err(|e| invalid(format!("timeframe: {e}")))?;
        let symbol = Symbol::new(&self.symbol).map_err(|e| invalid(format!("symbol: {e}")))?;
        let store =
            MarketStore::in_data_dir(data_dir).map_err(|e| JobError::Transient(e.to_string()))?;
        let key = match &self.venue {
            Some(v) => SeriesKey::new(
                Venue::new(v).map_err(|e| invalid(format!("venue: {e}")))?,
                symbol,
                tf,
            ),
            None => {
                let keys = store
                    .find(symbol, Some(tf))
                    .map_err(|e| JobError::Transient(e.to_string()))?;
                match keys.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(invalid(format!(
                            "no {symbol} {tf} data is stored; upload or generate a dataset first"
                        )));
                    }
                    _ => {
                        return Err(invalid(format!(
                            "{symbol} {tf} is stored for several venues; give venue"
                        )));
                    }
                }
            }
        };
        if !store.contains(&key) {
            return Err(invalid(format!(
                "no {symbol} {tf} data is stored on {}; upload or generate a dataset first",
                key.venue
            )));
        }
        let decimal =
            |field: &str, v: Option<&String>, default: &str| -> Result<Decimal, JobError> {
                let s = v.map_or(default, String::as_str);
                s.parse::<Decimal>()
                    .map_err(|_| invalid(format!("{field}: '{s}' is not a number")))
            };
        let cash = decimal("cash", self.cash.as_ref(), "10000")?;
        if cash <= Decimal::ZERO {
            return Err(invalid("cash must be above 0"));
        }
        let commission = decimal("commission", self.commission.as_ref(), "0.001")?;
        if commission < Decimal::ZERO || commission >= Decimal::new(1, 1) {
            return Err(invalid(
                "commission must be from 0 to below 0.1 (0.001 = 0.1 %)",
            ));
        }
        let fill = match self.fill.as_deref().unwrap_or("next-open") {
            "next-open" => FillModel::NextOpen,
            "close" => FillModel::Close,
            "intrabar" => FillModel::Intrabar,
            other => {
                return Err(invalid(format!(
                    "fill: '{other}' is not a fill model; use next-open, close or intrabar"
                )));
            }
        };
        Ok(Checked {
            spec,
            params,
            store,
            key,
            cash,
            commission,
            fill,
        })
    }

    /// Checks everything and loads the bars.
    ///
    /// # Errors
    /// [`JobError::Invalid`] saying which field is wrong; [`JobError::Transient`] for I/O.
    pub(crate) fn prepare(&self, data_dir: &Path) -> Result<Prepared, JobError> {
        let Checked {
            spec,
            params,
            store,
            key,
            cash,
            commission,
            fill,
        } = self.check(data_dir)?;
        let (symbol, tf) = (key.symbol, key.timeframe);
        let (bars, data_hash) = crate::cache::read(&store, &key)
            .map_err(|e| invalid(format!("no {symbol} {tf} data on {}: {e}", key.venue)))?;
        if bars.is_empty() {
            return Err(invalid(format!("the {symbol} {tf} series is empty")));
        }
        let mut instrument = Instrument::unrestricted(InstrumentId::new(key.venue, symbol));
        instrument.maker_fee = commission;
        instrument.taker_fee = commission;
        if symbol.quote().is_none() {
            instrument.lot_size = Decimal::ONE;
        }
        let market = Market {
            instrument,
            timeframe: tf,
            data_hash,
            bars,
        };
        let cfg = RunConfig {
            cash,
            fill,
            ..RunConfig::default()
        };
        Ok(Prepared {
            spec,
            params,
            market,
            cfg,
        })
    }
}

/// Runs a `backtest` job's payload; the result is the JSON report, as text, and its
/// headline numbers.
pub(crate) fn execute(
    payload: &serde_json::Value,
    data_dir: &Path,
) -> Result<(String, serde_json::Value), JobError> {
    let req: BacktestRequest =
        serde_json::from_value(payload.clone()).map_err(|e| invalid(format!("payload: {e}")))?;
    let p = req.prepare(data_dir)?;
    let out = run_spec(&p.spec, &p.params, &p.market, &p.cfg).map_err(invalid)?;
    let m = &out.report.metrics;
    let summary = serde_json::json!({
        "total_return_pct": m.total_return_pct,
        "sharpe": m.sharpe,
        "max_drawdown_pct": m.max_drawdown_pct,
        "trades": m.trades,
        "final_equity": out.report.final_equity,
    });
    let text =
        serde_json::to_string(&out.report).map_err(|e| JobError::Transient(e.to_string()))?;
    Ok((text, summary))
}

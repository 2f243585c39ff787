//! The divergence report: rerun the backtest on the bot's data and settings over the bars the
//! bot processed, and list every fill that differs in timing, price or size, with the cause
//! where it can be told. No system in the field reports this; it is how a user learns whether
//! their live or paper results can be trusted to match what they tested.
//!
//! Invariants:
//! - The backtest side is the engine over the same bars with the bot's own settings (fees,
//!   fill model, risk limits), so any difference comes from execution, not configuration.
//! - Every difference gets a cause: a kind of difference maps to one explanation (slippage,
//!   partial fill or size cap, latency, missed or extra fill); "identical" means every fill
//!   matched exactly (bar, side, quantity and price).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_backtest::stepper::Stepper;
use skeet_engine::EventKind;

use crate::JobError;
use crate::bots::PaperConfig;

/// One fill, as the bot reported it or the backtest produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillRec {
    /// Bar index of the fill.
    pub bar: usize,
    /// `buy` or `sell`.
    pub side: String,
    /// Quantity.
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    /// Price.
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
}

/// What a `divergence` job compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivergenceRequest {
    /// The bot.
    pub bot_id: String,
    /// The bot's settings.
    pub config: PaperConfig,
    /// Bars the bot processed.
    pub bars: usize,
    /// The bot's fills, in order.
    pub fills: Vec<FillRec>,
}

/// One difference and its likely cause.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// `price`, `size`, `timing`, `missing_in_bot` or `extra_in_bot`.
    pub kind: String,
    /// The bot's fill, when it has one.
    pub bot: Option<FillRec>,
    /// The backtest's fill, when it has one.
    pub backtest: Option<FillRec>,
    /// The explanation.
    pub cause: String,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DivergenceReport {
    /// The bot.
    pub bot_id: String,
    /// Bars compared.
    pub bars: usize,
    /// Fills of the bot.
    pub bot_fills: usize,
    /// Fills of the backtest over the same bars.
    pub backtest_fills: usize,
    /// Fills identical on both sides.
    pub matched: usize,
    /// Every difference, in bar order.
    pub differences: Vec<Difference>,
    /// One line: identical, or how many differences of which kinds.
    pub verdict: String,
}

/// How far apart (in bars) the same trade may be and still count as one delayed fill.
const TIMING_WINDOW: usize = 3;

fn bps(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        return Decimal::ZERO;
    }
    ((a - b) / b * Decimal::from(10_000)).round_dp(2)
}

/// Compares the bot's fills with the backtest's.
pub fn compare(bot_id: &str, bars: usize, bot: &[FillRec], bt: &[FillRec]) -> DivergenceReport {
    let mut used = vec![false; bt.len()];
    let mut differences = Vec::new();
    let mut matched = 0;
    for f in bot {
        // The same bar and side first; then the nearest same-side fill within the window.
        let same = (0..bt.len()).find(|&j| !used[j] && bt[j].bar == f.bar && bt[j].side == f.side);
        let near = same.or_else(|| {
            (0..bt.len())
                .filter(|&j| {
                    !used[j] && bt[j].side == f.side && bt[j].bar.abs_diff(f.bar) <= TIMING_WINDOW
                })
                .min_by_key(|&j| bt[j].bar.abs_diff(f.bar))
        });
        let Some(j) = near else {
            differences.push(Difference {
                kind: "extra_in_bot".into(),
                bot: Some(f.clone()),
                backtest: None,
                cause: "the bot filled an order the backtest never placed: a manual order, a restart that re-ran a decision, or data that differed from the stored series".into(),
            });
            continue;
        };
        used[j] = true;
        let b = &bt[j];
        if b.bar != f.bar {
            let late = f.bar > b.bar;
            differences.push(Difference {
                kind: "timing".into(),
                bot: Some(f.clone()),
                backtest: Some(b.clone()),
                cause: format!(
                    "filled {} bar(s) {} than in the backtest: {}",
                    f.bar.abs_diff(b.bar),
                    if late { "later" } else { "earlier" },
                    if late { "latency (the order reached the venue after the bar it was meant for) or an outage" } else { "the venue filled a resting order sooner than the bar data showed" }
                ),
            });
        } else if f.quantity != b.quantity {
            differences.push(Difference {
                kind: "size".into(),
                bot: Some(f.clone()),
                backtest: Some(b.clone()),
                cause: format!(
                    "{} instead of {}: {}",
                    f.quantity.normalize(),
                    b.quantity.normalize(),
                    if f.quantity < b.quantity { "a partial fill, or a venue size rule (lot step, minimum) that rounded it down" } else { "a larger fill than planned: the position or balance differed when the order was sized" }
                ),
            });
        } else if f.price != b.price {
            differences.push(Difference {
                kind: "price".into(),
                bot: Some(f.clone()),
                backtest: Some(b.clone()),
                cause: format!(
                    "{} bps {} than the backtest: slippage (the market moved between the bar and the fill) or a fill model that does not match the venue",
                    bps(f.price, b.price).abs().normalize(),
                    if (f.side == "buy") == (f.price > b.price) { "worse" } else { "better" }
                ),
            });
        } else {
            matched += 1;
        }
    }
    for (j, b) in bt.iter().enumerate() {
        if !used[j] {
            differences.push(Difference {
                kind: "missing_in_bot".into(),
                bot: None,
                backtest: Some(b.clone()),
                cause: "the backtest filled here and the bot did not: a missed fill (a limit the venue never reached, an order refused by a venue rule or risk limit, or the bot paused or stopped)".into(),
            });
        }
    }
    differences.sort_by_key(|d| d.bot.as_ref().or(d.backtest.as_ref()).map_or(0, |f| f.bar));
    let verdict = if differences.is_empty() {
        format!("identical: all {matched} fills match the backtest exactly")
    } else {
        let mut kinds = std::collections::BTreeMap::new();
        for d in &differences {
            *kinds.entry(d.kind.as_str()).or_insert(0) += 1;
        }
        format!(
            "{} difference(s) ({}); {matched} fills match exactly",
            differences.len(),
            kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    DivergenceReport {
        bot_id: bot_id.to_string(),
        bars,
        bot_fills: bot.len(),
        backtest_fills: bt.len(),
        matched,
        differences,
        verdict,
    }
}

/// Runs a `divergence` job.
pub(crate) fn execute(
    payload: &serde_json::Value,
    dir: &std::path::Path,
) -> Result<(String, serde_json::Value), JobError> {
    let req: DivergenceRequest = serde_json::from_value(payload.clone())
        .map_err(|e| JobError::Invalid(format!("request body: {e}")))?;
    let p = req.config.run.prepare(dir)?;
    let (spec, market, cfg) = p.parts();
    let cfg = skeet_backtest::RunConfig {
        skip_quiet_bars: false,
        risk: req.config.risk.limits(),
        ..cfg.clone()
    };
    let mut s = Stepper::new(spec, p.params(), market.clone(), &cfg)
        .map_err(|e| JobError::Invalid(e.to_string()))?;
    let mut bt = Vec::new();
    while s.position() < req.bars {
        let Some(step) = s.step() else { break };
        for e in &step.events {
            if let EventKind::Filled {
                side,
                quantity,
                price,
                ..
            } = &e.kind
            {
                bt.push(FillRec {
                    bar: e.bar,
                    side: side.to_string(),
                    quantity: *quantity,
                    price: *price,
                });
            }
        }
    }
    let report = compare(&req.bot_id, s.position(), &req.fills, &bt);
    let summary = serde_json::json!({
        "verdict": report.verdict,
        "differences": report.differences.len(),
        "matched": report.matched,
    });
    let result = serde_json::to_string(&report).map_err(|e| JobError::Transient(e.to_string()))?;
    Ok((result, summary))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    fn f(bar: usize, side: &str, q: &str, p: &str) -> FillRec {
        FillRec {
            bar,
            side: side.into(),
            quantity: q.parse().unwrap(),
            price: p.parse().unwrap(),
        }
    }

    #[test]
    fn identical_fills_are_identical() {
        let a = [f(10, "buy", "1", "100"), f(20, "sell", "1", "110")];
        let r = compare("b", 30, &a, &a);
        assert!(r.differences.is_empty());
        assert_eq!(r.matched, 2);
        assert!(r.verdict.starts_with("identical"), "{}", r.verdict);
    }

    #[test]
    fn every_kind_of_difference_is_found_and_explained() {
        let bot = [
            f(10, "buy", "1", "100.5"), // slippage: 50 bps worse
            f(22, "sell", "1", "110"),  // two bars late
            f(30, "buy", "0.4", "90"),  // partial fill
            f(50, "sell", "1", "95"),   // never in the backtest
        ];
        let bt = [
            f(10, "buy", "1", "100"),
            f(20, "sell", "1", "110"),
            f(30, "buy", "1", "90"),
            f(40, "sell", "1", "92"), // the bot missed it
        ];
        let r = compare("b", 60, &bot, &bt);
        let kinds: Vec<&str> = r.differences.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["price", "timing", "size", "missing_in_bot", "extra_in_bot"]
        );
        assert!(
            r.differences[0].cause.starts_with("50 bps worse"),
            "{}",
            r.differences[0].cause
        );
        assert!(
            r.differences[1].cause.contains("2 bar(s) later")
                && r.differences[1].cause.contains("latency")
        );
        assert!(r.differences[2].cause.contains("partial fill"));
        assert!(r.differences[3].cause.contains("missed fill"));
        assert_eq!(r.matched, 0);
        assert_eq!(
            r.verdict,
            "5 difference(s) (1 extra_in_bot, 1 missing_in_bot, 1 price, 1 size, 1 timing); 0 fills match exactly"
        );
    }
}

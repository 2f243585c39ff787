//! Monte Carlo resampling of a backtest's closed trades: confidence intervals on total return
//! and maximum drawdown, and how likely a loss or a deeper drawdown than the one observed is
//! if the same trades had come in another order or mix.
//!
//! # Model
//!
//! Notation: trades `k = 0..n` in the order given (the run's exit order), `pnl[k]` their net
//! PnL (fees included), `E0` the initial equity.
//!
//! - **Trade returns.** Each trade's return on the equity at its entry,
//!   `f[k] = pnl[k] / (E0 + Σ_{j<k} pnl[j])`: the equity before trade `k` is the initial equity
//!   plus the PnL of every trade closed before it. Resampling these fractions (rather than the
//!   PnLs) keeps position sizing proportional to equity, as the strategies size positions.
//! - **Paths.** A path compounds `n` fractions drawn from `f` on a starting equity of 1:
//!   `e[0] = 1`, `e[i+1] = e[i] · max(1 + f[draw i], 0)`. A factor at or below zero (a trade
//!   that lost the whole account or more) ruins the path: equity stays 0 from there on.
//!   [`Method::Bootstrap`] draws `n` indices uniformly with replacement; [`Method::Shuffle`]
//!   draws a uniform random permutation (Fisher–Yates), so every path uses every trade once.
//! - **Total return** of a path `= (e[n] - 1) · 100` (percent). **Max drawdown**
//!   `= min_i (e[i] / max_{j≤i} e[j] - 1) · 100` (percent, `<= 0`), over the per-trade equity
//!   path *including the starting point*: a first trade that loses is a drawdown.
//! - **Actual** values are those of the path that takes the trades in their real order,
//!   computed by the same code. The total return equals the run's
//!   `(E0 + Σ pnl) / E0 - 1` up to rounding; the drawdown is over closed-trade equity, so it is
//!   usually shallower than the mark-to-market [`Metrics::max_drawdown_pct`](crate::metrics::Metrics::max_drawdown_pct),
//!   which also sees losses inside open trades. Compare it only with the simulated drawdowns.
//! - **Percentiles** `p5 … p95` are by linear interpolation between closest ranks (NumPy's
//!   default, R's type 7) over all simulations. For drawdowns `p5` is the bad tail (the most
//!   negative values).
//! - **Loss probability** = share of simulations with a total return below 0; **worse drawdown
//!   probability** = share with a max drawdown deeper than the actual one. Both ignore
//!   differences within 1e-9 percentage points, which are rounding (a reordered product).
//!
//! # Invariants
//!
//! - Deterministic: the same trades, equity and config give the same result, bit for bit, on
//!   every platform. The generator is xoshiro256** seeded through SplitMix64 (both by Blackman
//!   and Vigna), with Lemire's unbiased bounded integers.
//! - Compounding commutes, so under [`Method::Shuffle`] every path ends at the actual total
//!   return (up to rounding); only the drawdowns vary.
//! - When every trade has the same return fraction every path is the actual path.
//! - Every number in a result is finite: equity saturates at `f64::MAX` instead of overflowing.
//!
//! # Known limitations
//!
//! Trades are treated as independent and sequential: serial correlation (streaks, regimes) is
//! destroyed by resampling, and for overlapping trades (several instruments, pyramiding) the
//! "equity before the trade" is that after the trades *closed* before it, not the equity at its
//! entry. Open positions at the end of the run are not trades and are ignored.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::metrics::TradeRecord;

/// Differences in percentage points at or below this are rounding, not a loss or a deeper
/// drawdown.
const ROUNDING_PCT: f64 = 1e-9;

/// How trades are resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Draw `n` trades uniformly with replacement (some repeat, some are left out).
    #[default]
    Bootstrap,
    /// Take all `n` trades in a uniformly random order (a permutation).
    Shuffle,
}

impl Method {
    /// Returns the method's name as in JSON and on the command line: `bootstrap`, `shuffle`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bootstrap => "bootstrap",
            Self::Shuffle => "shuffle",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resampling method name that is neither `bootstrap` nor `shuffle`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resampling method {0:?} (expected bootstrap or shuffle)")]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bootstrap" => Ok(Self::Bootstrap),
            "shuffle" => Ok(Self::Shuffle),
            other => Err(UnknownMethod(other.to_owned())),
        }
    }
}

/// Settings of a Monte Carlo run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonteCarloConfig {
    /// Number of simulated paths (default 1000).
    pub simulations: usize,
    /// Seed of the random generator (default 0).
    pub seed: u64,
    /// How trades are resampled (default [`Method::Bootstrap`]).
    pub method: Method,
}

impl Default for MonteCarloConfig {
    fn default() -> Self {
        Self {
            simulations: 1000,
            seed: 0,
            method: Method::Bootstrap,
        }
    }
}

/// Summary of one simulated quantity over all paths, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest value.
    pub max: f64,
}

/// The outcome of [`simulate`]. Returns and drawdowns are in percent (`12.5` is 12.5 %),
/// probabilities are fractions in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarloResult {
    /// How trades were resampled.
    pub method: Method,
    /// Number of simulated paths.
    pub simulations: usize,
    /// Seed of the random generator.
    pub seed: u64,
    /// Number of trades resampled (the length of every path).
    pub trades: usize,
    /// Equity before the first trade, quote currency.
    pub initial_equity: f64,
    /// Total return with the trades in their real order, percent.
    pub actual_return_pct: f64,
    /// Max drawdown of the closed-trade equity with the trades in their real order, percent
    /// (`<= 0`).
    pub actual_max_drawdown_pct: f64,
    /// Total return over the simulated paths, percent.
    pub total_return_pct: Distribution,
    /// Max drawdown over the simulated paths, percent (`<= 0`; `p5` is the deep tail).
    pub max_drawdown_pct: Distribution,
    /// Share of paths that lose money (total return below 0).
    pub loss_probability: f64,
    /// Share of paths whose max drawdown is deeper than the actual one.
    pub worse_drawdown_probability: f64,
}

/// Returns each trade's return on the equity before it, `pnl[k] / (E0 + Σ_{j<k} pnl[j])`, as
/// a fraction (`0.05` is +5 %), for trades in exit order.
///
/// Returns `None` if `initial_equity` is not finite and positive, or if the equity before some
/// trade is not positive (the account was already wiped out), or a fraction is not finite.
pub fn trade_returns(trades: &[TradeRecord], initial_equity: f64) -> Option<Vec<f64>> {
    if !(initial_equity.is_finite() && initial_equity > 0.0) {
        return None;
    }
    let mut equity = initial_equity;
    let mut out = Vec::with_capacity(trades.len());
    for trade in trades {
        if !(equity > 0.0 && equity.is_finite()) {
            return None;
        }
        let pnl = trade.pnl.to_f64()?;
        let fraction = pnl / equity;
        if !fraction.is_finite() {
            return None;
        }
        out.push(fraction);
        equity += pnl;
    }
    Some(out)
}

/// Resamples the closed `trades` (in exit order) `cfg.simulations` times and summarises the
/// total returns and max drawdowns of the paths; see the module docs for the model.
///
/// Returns `None` with fewer than 2 trades, no simulations, or where [`trade_returns`] is.
pub fn simulate(
    trades: &[TradeRecord],
    initial_equity: f64,
    cfg: &MonteCarloConfig,
) -> Option<MonteCarloResult> {
    if trades.len() < 2 || cfg.simulations == 0 {
        return None;
    }
    let fractions = trade_returns(trades, initial_equity)?;
    let factors: Vec<f64> = fractions.iter().map(|f| (1.0 + f).max(0.0)).collect();
    let (actual_return_pct, actual_max_drawdown_pct) = path_stats(factors.iter().copied());

    let mut rng = Xoshiro256StarStar::seed_from_u64(cfg.seed);
    let mut returns = Vec::with_capacity(cfg.simulations);
    let mut drawdowns = Vec::with_capacity(cfg.simulations);
    let n = factors.len();
    let mut order = factors.clone();
    for _ in 0..cfg.simulations {
        let (ret, dd) = match cfg.method {
            Method::Bootstrap => path_stats((0..n).map(|_| factors[rng.index_below(n)])),
            Method::Shuffle => {
                // Fisher–Yates; starting from the previous permutation keeps it uniform.
                for i in (1..n).rev() {
                    order.swap(i, rng.index_below(i + 1));
                }
                path_stats(order.iter().copied())
            }
        };
        returns.push(ret);
        drawdowns.push(dd);
    }

    let sims = cfg.simulations as f64;
    let losses = returns.iter().filter(|&&r| r < -ROUNDING_PCT).count();
    let worse = drawdowns
        .iter()
        .filter(|&&d| d < actual_max_drawdown_pct - ROUNDING_PCT)
        .count();
    Some(MonteCarloResult {
        method: cfg.method,
        simulations: cfg.simulations,
        seed: cfg.seed,
        trades: n,
        initial_equity,
        actual_return_pct,
        actual_max_drawdown_pct,
        total_return_pct: distribution(&mut returns),
        max_drawdown_pct: distribution(&mut drawdowns),
        loss_probability: losses as f64 / sims,
        worse_drawdown_probability: worse as f64 / sims,
    })
}

/// Compounds `factors` from an equity of 1 and returns (total return %, max drawdown %).
fn path_stats(factors: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut equity = 1.0_f64;
    let mut peak = 1.0_f64;
    let mut worst = 0.0_f64;
    for factor in factors {
        equity = (equity * factor).min(f64::MAX);
        if equity >= peak {
            peak = equity;
        } else {
            worst = worst.min(equity / peak - 1.0);
        }
    }
    (((equity - 1.0) * 100.0).min(f64::MAX), worst * 100.0)
}

/// Summarises `values` (sorted in place); `values` must not be empty.
fn distribution(values: &mut [f64]) -> Distribution {
    values.sort_unstable_by(f64::total_cmp);
    let (min, max) = (percentile(values, 0.0), percentile(values, 1.0));
    // Where the plain sum overflows, Σ x/n does not. Clamped: rounding must not put the mean
    // outside the data (when all paths are equal it is exactly their value).
    let n = values.len() as f64;
    let mean = crate::stats::mean(values)
        .unwrap_or_else(|| values.iter().map(|x| x / n).sum())
        .clamp(min, max);
    Distribution {
        mean,
        min,
        p5: percentile(values, 0.05),
        p25: percentile(values, 0.25),
        p50: percentile(values, 0.5),
        p75: percentile(values, 0.75),
        p95: percentile(values, 0.95),
        max,
    }
}

/// Returns the `q`-quantile (`q` in `[0, 1]`) of ascending `sorted` by linear interpolation
/// between closest ranks (rank `q·(n-1)`); 0 for an empty slice.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let rank = q.clamp(0.0, 1.0) * last as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (sorted[lo.min(last)], sorted[hi.min(last)]);
    if a == b {
        a
    } else {
        // a + (b - a)·t can overflow when a and b have opposite signs near f64::MAX.
        let t = rank - lo as f64;
        (a * (1.0 - t) + b * t).clamp(a, b)
    }
}

/// xoshiro256** 1.0 (Blackman & Vigna), seeded with SplitMix64: a small, fast generator whose
/// output is fixed by its seed on every platform.
#[derive(Debug, Clone)]
struct Xoshiro256StarStar {
    s: [u64; 4],
}

impl Xoshiro256StarStar {
    /// Seeds the four state words with four outputs of SplitMix64 started at `seed` (never
    /// all zero).
    fn seed_from_u64(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Returns a uniform integer in `0..bound` (`bound > 0`) by Lemire's multiply-and-reject
    /// method: no modulo bias, and almost never a second draw.
    fn below(&mut self, bound: u64) -> u64 {
        let mut m = u128::from(self.next_u64()) * u128::from(bound);
        if (m as u64) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (m >> 64) as u64
    }

    /// Returns a uniform index in `0..len` (`len > 0`).
    fn index_below(&mut self, len: usize) -> usize {
        // usize fits in u64 on every supported target, and the result is below len.
        self.below(len as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use skeet_core::{Side, UnixNanos};

    use super::*;

    fn trade(pnl: Decimal) -> TradeRecord {
        TradeRecord {
            instrument: "local:TEST".to_owned(),
            side: Side::Buy,
            quantity: Decimal::ONE,
            entry_bar: 0,
            exit_bar: 1,
            entry_ts: UnixNanos::new(0),
            exit_ts: UnixNanos::new(60_000_000_000),
            entry_price: Decimal::ONE_HUNDRED,
            exit_price: Decimal::ONE_HUNDRED + pnl,
            fees: Decimal::ZERO,
            pnl,
            exit_reason: "signal".to_owned(),
        }
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// Trades whose returns on the equity before them are `fractions` (up to decimal
    /// rounding), starting from `initial`.
    fn trades_from_fractions(initial: f64, fractions: &[f64]) -> Vec<TradeRecord> {
        let mut equity = initial;
        fractions
            .iter()
            .map(|f| {
                let pnl = Decimal::try_from(equity * f).unwrap();
                equity += pnl.to_f64().unwrap();
                trade(pnl)
            })
            .collect()
    }

    fn cfg(simulations: usize, seed: u64, method: Method) -> MonteCarloConfig {
        MonteCarloConfig {
            simulations,
            seed,
            method,
        }
    }

    fn assert_ordered(d: &Distribution) {
        let seq = [d.min, d.p5, d.p25, d.p50, d.p75, d.p95, d.max];
        assert!(seq.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
        assert!(d.min <= d.mean && d.mean <= d.max, "{d:?}");
    }

    #[test]
    fn xoshiro_matches_the_reference_vectors() {
        // SplitMix64 from 0: first output 0xE220A8397B1DCDAF (Vigna's splitmix64.c).
        let rng = Xoshiro256StarStar::seed_from_u64(0);
        assert_eq!(rng.s[0], 0xE220_A839_7B1D_CDAF);
        // xoshiro256** from the state [1, 2, 3, 4] (Vigna's xoshiro256starstar.c; the
        // rand_xoshiro crate's test vector).
        let mut rng = Xoshiro256StarStar { s: [1, 2, 3, 4] };
        let expected: [u64; 10] = [
            11_520,
            0,
            1_509_978_240,
            1_215_971_899_390_074_240,
            1_216_172_134_540_287_360,
            607_988_272_756_665_600,
            16_172_922_978_634_559_625,
            8_476_171_486_693_032_832,
            10_595_114_339_597_558_777,
            2_904_607_092_377_533_576,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn bounded_integers_are_in_range_and_uniform() {
        let mut rng = Xoshiro256StarStar::seed_from_u64(7);
        let mut counts = [0_u32; 7];
        for _ in 0..70_000 {
            let i = rng.index_below(7);
            counts[i] += 1;
        }
        // Each bucket expects 10 000 (sd ≈ 93): within 5 sd.
        for c in counts {
            assert!((9_530..=10_470).contains(&c), "{counts:?}");
        }
        assert_eq!(rng.index_below(1), 0);
        // A bound just above a power of two, where modulo reduction would be most biased.
        let bound = (1_u64 << 63) + 1;
        for _ in 0..1000 {
            assert!(rng.below(bound) < bound);
        }
    }

    #[test]
    fn trade_returns_are_on_the_equity_before_each_trade() {
        let trades = [trade(dec("100")), trade(dec("-220")), trade(dec("44"))];
        let f = trade_returns(&trades, 1000.0).unwrap();
        assert_eq!(f, vec![0.1, -0.2, 0.05]);
        assert_eq!(trade_returns(&trades, 0.0), None);
        assert_eq!(trade_returns(&trades, f64::NAN), None);
        // The second trade loses everything: the third has no equity to return on.
        let ruined = [trade(dec("100")), trade(dec("-1100")), trade(dec("5"))];
        assert_eq!(trade_returns(&ruined, 1000.0), None);
        assert_eq!(trade_returns(&ruined[..2], 1000.0), Some(vec![0.1, -1.0]));
    }

    #[test]
    fn actual_path_return_and_drawdown() {
        // 100 → 110 → 88 → 92.4: return -7.6 %, drawdown 88 / 110 - 1 = -20 %.
        let trades = [trade(dec("10")), trade(dec("-22")), trade(dec("4.4"))];
        let r = simulate(&trades, 100.0, &MonteCarloConfig::default()).unwrap();
        assert!((r.actual_return_pct - -7.6).abs() < 1e-12, "{r:?}");
        assert!((r.actual_max_drawdown_pct - -20.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.trades, 3);
        assert_eq!(r.simulations, 1000);
        // A first trade that loses is a drawdown from the initial equity.
        let trades = [trade(dec("-10")), trade(dec("30"))];
        let r = simulate(&trades, 100.0, &MonteCarloConfig::default()).unwrap();
        assert!((r.actual_max_drawdown_pct - -10.0).abs() < 1e-12, "{r:?}");
        assert!((r.actual_return_pct - 20.0).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn identical_trade_returns_give_the_actual_value_everywhere() {
        // +10 % of the equity each time: fractions are exactly 0.1.
        let trades: Vec<_> = ["1000", "1100", "1210", "1331", "1464.1"]
            .iter()
            .map(|p| trade(dec(p)))
            .collect();
        for method in [Method::Bootstrap, Method::Shuffle] {
            let r = simulate(&trades, 10_000.0, &cfg(200, 3, method)).unwrap();
            let d = r.total_return_pct;
            for v in [d.mean, d.min, d.p5, d.p25, d.p50, d.p75, d.p95, d.max] {
                assert_eq!(v, r.actual_return_pct, "{r:?}");
            }
            let d = r.max_drawdown_pct;
            for v in [d.mean, d.min, d.p5, d.p25, d.p50, d.p75, d.p95, d.max] {
                assert_eq!(v, 0.0, "{r:?}");
            }
            assert!((r.actual_return_pct - 61.051).abs() < 1e-9, "{r:?}");
            assert_eq!(r.loss_probability, 0.0);
            assert_eq!(r.worse_drawdown_probability, 0.0);
        }
        // The same with losses: every path has the actual drawdown, none is worse.
        let losing = trades_from_fractions(10_000.0, &[-0.1; 6]);
        let r = simulate(&losing, 10_000.0, &cfg(100, 1, Method::Bootstrap)).unwrap();
        assert_eq!(r.loss_probability, 1.0);
        assert_eq!(r.worse_drawdown_probability, 0.0);
        assert!((r.max_drawdown_pct.min - r.actual_max_drawdown_pct).abs() < 1e-9);
    }

    #[test]
    fn shuffling_keeps_the_total_return_and_varies_the_drawdown() {
        let fractions = [
            0.12, -0.08, 0.03, -0.15, 0.2, 0.01, -0.05, 0.07, -0.02, 0.09,
        ];
        let trades = trades_from_fractions(50_000.0, &fractions);
        let r = simulate(&trades, 50_000.0, &cfg(2000, 11, Method::Shuffle)).unwrap();
        let d = r.total_return_pct;
        for v in [d.mean, d.min, d.p5, d.p50, d.p95, d.max] {
            assert!((v - r.actual_return_pct).abs() < 1e-9, "{r:?}");
        }
        let dd = r.max_drawdown_pct;
        assert!(dd.min < dd.max - 1.0, "{r:?}");
        assert!(dd.min >= -100.0 && dd.max <= 0.0);
        // The actual order is one of the permutations: some are worse, some are better.
        assert!(r.worse_drawdown_probability > 0.0 && r.worse_drawdown_probability < 1.0);
        assert_ordered(&r.total_return_pct);
        assert_ordered(&r.max_drawdown_pct);
    }

    #[test]
    fn bootstrap_loss_probability_matches_the_binomial() {
        // One trade of -50 % among ten, the others +5 %: a path loses iff it draws the loser at
        // least once (0.5 · 1.05^9 < 1), so P(loss) = 1 - 0.9^10 ≈ 0.6513.
        let mut fractions = [0.05; 10];
        fractions[3] = -0.5;
        let trades = trades_from_fractions(10_000.0, &fractions);
        let r = simulate(&trades, 10_000.0, &cfg(5000, 42, Method::Bootstrap)).unwrap();
        let expected = 1.0 - 0.9_f64.powi(10);
        assert!(
            (r.loss_probability - expected).abs() < 0.03,
            "{} vs {expected}",
            r.loss_probability
        );
        // The median path draws the loser once: return 0.5 · 1.05^9 - 1 = -22.43 %.
        assert!((r.total_return_pct.p50 - (0.5 * 1.05_f64.powi(9) - 1.0) * 100.0).abs() < 1e-6);
        assert_ordered(&r.total_return_pct);
        assert_ordered(&r.max_drawdown_pct);
    }

    #[test]
    fn results_are_deterministic_per_seed() {
        let fractions = [0.04, -0.03, 0.06, -0.07, 0.02, 0.05, -0.01, -0.04];
        let trades = trades_from_fractions(1000.0, &fractions);
        for method in [Method::Bootstrap, Method::Shuffle] {
            let a = simulate(&trades, 1000.0, &cfg(500, 9, method)).unwrap();
            let b = simulate(&trades, 1000.0, &cfg(500, 9, method)).unwrap();
            let c = simulate(&trades, 1000.0, &cfg(500, 10, method)).unwrap();
            assert_eq!(a, b);
            assert_ne!(a.max_drawdown_pct, c.max_drawdown_pct);
            assert_eq!(a.seed, 9);
            assert_eq!(a.method, method);
        }
    }

    #[test]
    fn ruin_is_absorbing() {
        // A trade that loses 100 %: any path that draws it ends at -100 %.
        let trades = [trade(dec("50")), trade(dec("-150")), trade(dec("0"))];
        assert_eq!(trade_returns(&trades[..2], 100.0), Some(vec![0.5, -1.0]));
        let r = simulate(&trades[..2], 100.0, &cfg(1000, 5, Method::Bootstrap)).unwrap();
        assert_eq!(r.actual_return_pct, -100.0);
        assert_eq!(r.actual_max_drawdown_pct, -100.0);
        assert_eq!(r.total_return_pct.min, -100.0);
        assert_eq!(r.max_drawdown_pct.min, -100.0);
        // Three in four paths draw the loser at least once.
        assert!((r.loss_probability - 0.75).abs() < 0.05, "{r:?}");
    }

    #[test]
    fn too_few_trades_or_no_simulations_is_none() {
        let one = [trade(dec("10"))];
        assert_eq!(simulate(&one, 100.0, &MonteCarloConfig::default()), None);
        assert_eq!(simulate(&[], 100.0, &MonteCarloConfig::default()), None);
        let two = [trade(dec("10")), trade(dec("-5"))];
        assert_eq!(simulate(&two, 100.0, &cfg(0, 1, Method::Bootstrap)), None);
        assert_eq!(simulate(&two, -1.0, &MonteCarloConfig::default()), None);
    }

    #[test]
    fn percentiles_interpolate_linearly() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.25), 2.0);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 5.0);
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&v, 0.05) - 1.15).abs() < 1e-12);
        assert!((percentile(&v, 0.95) - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&[-f64::MAX, f64::MAX], 0.5), 0.0);
    }

    #[test]
    fn method_names_round_trip() {
        for m in [Method::Bootstrap, Method::Shuffle] {
            assert_eq!(m.to_string().parse::<Method>(), Ok(m));
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
        assert_eq!(
            "perm".parse::<Method>(),
            Err(UnknownMethod("perm".to_owned()))
        );
    }

    #[test]
    fn result_serializes_to_json() {
        let trades = trades_from_fractions(1000.0, &[0.1, -0.05, 0.02]);
        let r = simulate(&trades, 1000.0, &cfg(50, 1, Method::Shuffle)).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["method"], "shuffle");
        assert_eq!(json["simulations"], 50);
        assert!(json["total_return_pct"]["p95"].is_f64());
        let back: MonteCarloResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use skeet_core::{Side, UnixNanos};

    use super::*;

    fn trade(pnl: Decimal) -> TradeRecord {
        TradeRecord {
            instrument: "local:TEST".to_owned(),
            side: Side::Sell,
            quantity: Decimal::ONE,
            entry_bar: 0,
            exit_bar: 0,
            entry_ts: UnixNanos::new(0),
            exit_ts: UnixNanos::new(0),
            entry_price: Decimal::ONE,
            exit_price: Decimal::ONE,
            fees: Decimal::ZERO,
            pnl,
            exit_reason: "signal".to_owned(),
        }
    }

    fn floats(r: &MonteCarloResult) -> Vec<f64> {
        let mut v = vec![
            r.initial_equity,
            r.actual_return_pct,
            r.actual_max_drawdown_pct,
            r.loss_probability,
            r.worse_drawdown_probability,
        ];
        for d in [r.total_return_pct, r.max_drawdown_pct] {
            v.extend([d.mean, d.min, d.p5, d.p25, d.p50, d.p75, d.p95, d.max]);
        }
        v
    }

    proptest! {
        #[test]
        fn prop_results_are_finite_ordered_and_bounded(
            pnls in prop::collection::vec(-1_000_000_000_i64..10_000_000_000, 2..60),
            scale in 0_u32..6,
            initial in 1e-3_f64..1e9,
            seed in any::<u64>(),
            shuffle in any::<bool>(),
        ) {
            let trades: Vec<_> = pnls.iter().map(|&p| trade(Decimal::new(p, scale))).collect();
            let method = if shuffle { Method::Shuffle } else { Method::Bootstrap };
            let cfg = MonteCarloConfig { simulations: 64, seed, method };
            if let Some(r) = simulate(&trades, initial, &cfg) {
                for x in floats(&r) {
                    prop_assert!(x.is_finite(), "{r:?}");
                }
                for d in [r.total_return_pct, r.max_drawdown_pct] {
                    let seq = [d.min, d.p5, d.p25, d.p50, d.p75, d.p95, d.max];
                    prop_assert!(seq.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
                }
                prop_assert!(r.total_return_pct.min >= -100.0);
                prop_assert!(r.max_drawdown_pct.min >= -100.0 && r.max_drawdown_pct.max <= 0.0);
                prop_assert!((0.0..=1.0).contains(&r.loss_probability));
                prop_assert!((0.0..=1.0).contains(&r.worse_drawdown_probability));
            } else {
                // Only a wiped-out account makes the fractions undefined.
                prop_assert!(trade_returns(&trades, initial).is_none());
            }
        }

        #[test]
        fn prop_compounded_actual_return_matches_the_pnl_sum(
            pnls in prop::collection::vec(-500_i64..1000, 2..40),
        ) {
            let trades: Vec<_> = pnls.iter().map(|&p| trade(Decimal::from(p))).collect();
            let initial = 100_000.0;
            let r = simulate(&trades, initial, &MonteCarloConfig::default()).unwrap();
            let sum: i64 = pnls.iter().sum();
            let exact = sum as f64 / initial * 100.0;
            prop_assert!((r.actual_return_pct - exact).abs() < 1e-9, "{} {exact}", r.actual_return_pct);
        }
    }
}

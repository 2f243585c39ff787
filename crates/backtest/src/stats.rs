//! Small numeric helpers for validating backtests: the standard normal distribution, sample
//! moments, and the probabilistic and deflated Sharpe ratios of Bailey & López de Prado.
//!
//! Everything here is a pure function of its arguments. An undefined result is `None`, never
//! NaN or infinity (the normal distribution functions excepted: they follow the usual
//! conventions documented on each).
//!
//! # Definitions
//!
//! Notation: a sample `x[0..n]`, `x̄` its mean, `m_k = (1/n) Σ (x[i] - x̄)^k` its biased
//! central moments.
//!
//! - **Normal CDF** `Φ(x) = erfc(-x / √2) / 2` ([`norm_cdf`]), through `libm`'s `erfc`
//!   (FreeBSD msun, about 1 ulp), so lower-tail values keep their relative precision down to
//!   `Φ(-37) ≈ 5.7e-300`.
//! - **Inverse normal CDF** `Φ⁻¹(p)` ([`norm_inv_cdf`]) by Wichura's algorithm AS 241
//!   (PPND16, Applied Statistics 37(3), 1988), relative accuracy about 1e-16.
//! - **Mean** `x̄ = Σ x / n`; **variance** `Σ (x - x̄)² / (n - 1)` (sample, ddof = 1);
//!   **standard deviation** its square root.
//! - **Skewness** `γ₃ = m₃ / m₂^{3/2}` and **kurtosis** `γ₄ = m₄ / m₂²` (*not* excess: 3 for a
//!   normal distribution); **excess kurtosis** `γ₄ - 3`. These are the biased (moment)
//!   estimators, SciPy's `stats.skew` and `stats.kurtosis(fisher=False)` with their default
//!   `bias=True`. They satisfy Pearson's inequality `γ₄ ≥ 1 + γ₃²`, which keeps the
//!   denominator of the probabilistic Sharpe ratio real (see below).
//! - **Sharpe ratio** (per period, not annualised) `SR = x̄ / s`, `s` the sample standard
//!   deviation, risk-free rate 0: the [`metrics`](crate::metrics) Sharpe divided by
//!   `sqrt(periods_per_year)`.
//! - **Probabilistic Sharpe ratio** (Bailey & López de Prado 2012), the probability that the
//!   true Sharpe ratio exceeds a benchmark `SR*` given an estimate `SR̂` from `T` returns:
//!   `PSR(SR*) = Φ((SR̂ - SR*) · sqrt(T - 1) / sqrt(1 - γ₃·SR̂ + (γ₄ - 1)/4 · SR̂²))`,
//!   `γ₄` the non-excess kurtosis (for normal returns the denominator is Lo's
//!   `sqrt(1 + SR̂²/2)`).
//! - **Expected maximum Sharpe ratio** of `N` independent trials whose Sharpe estimates have
//!   variance `V[SR]` and whose true Sharpe ratio is 0 (the null of no skill):
//!   `SR₀ = sqrt(V[SR]) · ((1 - γ)·Φ⁻¹(1 - 1/N) + γ·Φ⁻¹(1 - 1/(N·e)))`, `γ` the
//!   Euler–Mascheroni constant ([`EULER_MASCHERONI`]), `e` Euler's number. `Φ⁻¹(1 - q)` is
//!   evaluated as `-Φ⁻¹(q)`, which does not lose digits when `1 - 1/N` rounds. `SR₀ = 0` for
//!   `N = 1` (nothing was selected, so nothing is deflated) and for `V[SR] = 0`.
//! - **Deflated Sharpe ratio** (Bailey & López de Prado 2014) `DSR = PSR(SR₀)`: the
//!   probability that the selected trial's true Sharpe ratio is positive once the selection
//!   among `N` trials, the sample length and the non-normality of its returns are accounted
//!   for. `V[SR]` is the sample variance (ddof = 1) of the trials' per-period Sharpe ratios
//!   (mlfinlab uses ddof = 0, a factor `N / (N - 1)` on the variance).
//!
//! The paper's numerical example (annualised `SR̂ = 2.5` over `T = 1250` daily returns with
//! 250 periods a year, `N = 100` trials with annualised `V[SR] = 1/2`, `γ₃ = -3`, `γ₄ = 10`)
//! gives `SR₀ = 0.1132` per period (1.7894 annualised) and `DSR = 0.9004`; the tests check it,
//! along with values computed by SciPy in `scripts/dsr_reference.py`.
//!
//! # Undefined values
//!
//! `None` for: an empty sample (mean), fewer than 2 values (variance, standard deviation), a
//! zero spread (skewness, kurtosis, Sharpe; a standard deviation at or below 1e-12 of the
//! mean's magnitude is rounding noise and counts as zero), fewer than 3 returns (`T < 3`,
//! the probabilistic and deflated Sharpe ratios), no trials, a negative or non-finite trial
//! variance, a non-positive PSR denominator (only reachable with moments that violate
//! Pearson's inequality), and any non-finite input or result.
//!
//! # Known limitations
//!
//! `SR₀` assumes the trials are independent; correlated trials (neighbouring parameters of one
//! strategy) overstate the effective `N` and so understate the DSR. The caller may pass an
//! effective number of trials instead.

use serde::{Deserialize, Serialize};

/// The Euler–Mascheroni constant `γ`.
pub const EULER_MASCHERONI: f64 = 0.577_215_664_901_532_9;

/// A standard deviation at or below this fraction of the mean's magnitude is rounding noise.
const ZERO_STD_REL: f64 = 1e-12;

/// Returns the standard normal cumulative distribution function `Φ(x) = P(Z ≤ x)`.
///
/// Within 6e-14 relative of SciPy over `[-37, 8]` (`erfc`-based, so the lower tail keeps its
/// relative precision until it underflows below `x ≈ -38.5`). Returns NaN for NaN.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// Returns the standard normal quantile `Φ⁻¹(p)`, the `x` with `Φ(x) = p`, by Wichura's
/// algorithm AS 241 (PPND16): within 1.1e-15 relative of SciPy for `p` from 1e-300 to
/// `1 - 1e-5`.
///
/// Returns `-∞` for `p = 0`, `+∞` for `p = 1`, and NaN for `p` outside `[0, 1]` or NaN.
pub fn norm_inv_cdf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * horner(&as241::A, r) / horner(&as241::B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        r -= 1.6;
        horner(&as241::C, r) / horner(&as241::D, r)
    } else {
        r -= 5.0;
        horner(&as241::E, r) / horner(&as241::F, r)
    };
    if q < 0.0 { -value } else { value }
}

/// Evaluates `c[0] + c[1]·x + … + c[7]·x⁷`.
fn horner(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

/// Wichura (1988), AS 241 PPND16: coefficients in ascending powers.
#[expect(
    clippy::excessive_precision,
    reason = "the published 20-digit coefficients, verbatim so they can be checked against the paper"
)]
mod as241 {
    pub(super) const A: [f64; 8] = [
        3.387_132_872_796_366_608,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    pub(super) const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561e3,
    ];
    pub(super) const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_7e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_4e-4,
    ];
    pub(super) const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        6.897_673_349_851_000_045_5e-1,
        1.481_039_764_274_800_745_9e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    pub(super) const E: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        2.965_605_718_285_048_912_3e-1,
        2.653_218_952_657_612_309_3e-2,
        1.242_660_947_388_078_438_6e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    pub(super) const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_9e-1,
        1.369_298_809_227_358_053_1e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_888_7e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
}

/// Returns the arithmetic mean of `xs`; `None` if `xs` is empty or the mean is not finite.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let first = xs.iter().sum::<f64>() / n;
    // One refinement pass: removes most of the rounding error of the naive sum.
    let refined = first + xs.iter().map(|x| x - first).sum::<f64>() / n;
    finite(refined)
}

/// Returns the sample variance of `xs` (ddof = 1); `None` with fewer than 2 values or a
/// non-finite result.
pub fn variance(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    finite(ss / (xs.len() - 1) as f64)
}

/// Returns the sample standard deviation of `xs` (ddof = 1); `None` with fewer than 2 values
/// or a non-finite result.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    variance(xs).map(f64::sqrt)
}

/// Returns the skewness `m₃ / m₂^{3/2}` of `xs` (biased moment estimator); `None` with fewer
/// than 2 values, a zero spread or a non-finite result.
pub fn skewness(xs: &[f64]) -> Option<f64> {
    let (m2, m3, _) = central_moments(xs)?;
    finite(m3 / (m2 * m2.sqrt()))
}

/// Returns the kurtosis `m₄ / m₂²` of `xs` (biased moment estimator, **not** excess: 3 for a
/// normal distribution); `None` with fewer than 2 values, a zero spread or a non-finite
/// result.
pub fn kurtosis(xs: &[f64]) -> Option<f64> {
    let (m2, _, m4) = central_moments(xs)?;
    finite(m4 / (m2 * m2))
}

/// Returns the excess kurtosis `m₄ / m₂² - 3` of `xs` (0 for a normal distribution); `None`
/// where [`kurtosis`] is.
pub fn excess_kurtosis(xs: &[f64]) -> Option<f64> {
    kurtosis(xs).map(|k| k - 3.0)
}

/// Returns the per-period Sharpe ratio `mean / std_dev` (ddof = 1, risk-free rate 0) of the
/// returns `xs`; `None` with fewer than 2 values, a zero spread or a non-finite result.
pub fn sharpe_ratio(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    let s = std_dev(xs)?;
    if is_zero_spread(s, m) {
        return None;
    }
    finite(m / s)
}

/// Returns the biased central moments `(m₂, m₃, m₄)`, or `None` with fewer than 2 values or
/// a zero spread.
fn central_moments(xs: &[f64]) -> Option<(f64, f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let n = xs.len() as f64;
    let (mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0);
    for x in xs {
        let d = x - m;
        let d2 = d * d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    }
    let (m2, m3, m4) = (s2 / n, s3 / n, s4 / n);
    if !(m2.is_finite() && m3.is_finite() && m4.is_finite()) || is_zero_spread(m2.sqrt(), m) {
        return None;
    }
    Some((m2, m3, m4))
}

/// True when a standard deviation `s` is zero or rounding noise relative to the mean `m`.
fn is_zero_spread(s: f64, m: f64) -> bool {
    s <= ZERO_STD_REL * m.abs() || s == 0.0
}

/// A per-period Sharpe ratio estimate with what its sampling distribution depends on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SharpeEstimate {
    /// Per-period (not annualised) Sharpe ratio `SR̂ = mean / std_dev` (ddof = 1).
    pub sharpe: f64,
    /// Number of returns `T` it was estimated from.
    pub observations: usize,
    /// Skewness `γ₃` of the returns (biased moment estimator).
    pub skewness: f64,
    /// Kurtosis `γ₄` of the returns, **not** excess (3 for normal returns).
    pub kurtosis: f64,
}

impl SharpeEstimate {
    /// Returns the estimate from per-period returns; `None` with fewer than 3 returns, a zero
    /// spread or a non-finite value.
    pub fn from_returns(returns: &[f64]) -> Option<Self> {
        if returns.len() < 3 {
            return None;
        }
        Some(Self {
            sharpe: sharpe_ratio(returns)?,
            observations: returns.len(),
            skewness: skewness(returns)?,
            kurtosis: kurtosis(returns)?,
        })
    }

    /// Returns the probabilistic Sharpe ratio `PSR(SR*)`, the probability that the true
    /// per-period Sharpe ratio exceeds `benchmark` (`SR*`, per period):
    /// `Φ((SR̂ - SR*) · sqrt(T - 1) / sqrt(1 - γ₃·SR̂ + (γ₄ - 1)/4 · SR̂²))`.
    ///
    /// `None` if `T < 3`, any input is not finite, or the denominator is not positive.
    pub fn probabilistic(&self, benchmark: f64) -> Option<f64> {
        let Self {
            sharpe: sr,
            observations,
            skewness,
            kurtosis,
        } = *self;
        if observations < 3
            || ![sr, benchmark, skewness, kurtosis]
                .iter()
                .all(|x| x.is_finite())
        {
            return None;
        }
        let var = 1.0 - skewness * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
        if !(var > 0.0 && var.is_finite()) {
            return None;
        }
        let z = (sr - benchmark) * ((observations - 1) as f64).sqrt() / var.sqrt();
        finite(norm_cdf(z))
    }
}

/// Returns the expected maximum per-period Sharpe ratio `SR₀` of `trials` independent trials
/// with true Sharpe ratio 0 whose estimates have variance `sharpe_variance` (per period²):
/// `sqrt(V) · ((1 - γ)·Φ⁻¹(1 - 1/N) + γ·Φ⁻¹(1 - 1/(N·e)))`.
///
/// Returns `Some(0.0)` for one trial or a zero variance; `None` for no trials or a negative
/// or non-finite variance.
pub fn expected_max_sharpe(trials: usize, sharpe_variance: f64) -> Option<f64> {
    if trials == 0 || !sharpe_variance.is_finite() || sharpe_variance < 0.0 {
        return None;
    }
    if trials == 1 || sharpe_variance == 0.0 {
        return Some(0.0);
    }
    let n = trials as f64;
    // Φ⁻¹(1 - q) = -Φ⁻¹(q): no cancellation in 1 - 1/N for large N.
    let z = (1.0 - EULER_MASCHERONI) * -norm_inv_cdf(1.0 / n)
        + EULER_MASCHERONI * -norm_inv_cdf(1.0 / (n * std::f64::consts::E));
    finite(sharpe_variance.sqrt() * z)
}

/// The deflated Sharpe ratio of the selected trial of an optimisation, with its inputs.
/// Sharpe ratios are per period (not annualised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeflatedSharpe {
    /// The selected trial's Sharpe ratio `SR̂`.
    pub sharpe: f64,
    /// Number of returns `T` of the selected trial.
    pub observations: usize,
    /// Skewness `γ₃` of the selected trial's returns.
    pub skewness: f64,
    /// Kurtosis `γ₄` of the selected trial's returns, not excess (3 for normal returns).
    pub kurtosis: f64,
    /// Number of trials `N`.
    pub trials: usize,
    /// Variance `V[SR]` of the trials' Sharpe ratios (ddof = 1; 0 for a single trial).
    pub sharpe_variance: f64,
    /// Expected maximum Sharpe ratio `SR₀` of `N` trials without skill.
    pub expected_max_sharpe: f64,
    /// `PSR(0)`: probability that the selected trial's true Sharpe ratio is positive, ignoring
    /// the selection.
    pub probabilistic_sharpe: f64,
    /// `DSR = PSR(SR₀)`: the same probability after deflating for the selection, in `[0, 1]`.
    pub deflated_sharpe: f64,
}

/// Returns the deflated Sharpe ratio of `estimate`, selected among `trials` trials whose
/// per-period Sharpe ratios have variance `sharpe_variance`.
///
/// `None` where [`expected_max_sharpe`] or [`SharpeEstimate::probabilistic`] is.
pub fn deflated_sharpe_ratio(
    estimate: &SharpeEstimate,
    trials: usize,
    sharpe_variance: f64,
) -> Option<DeflatedSharpe> {
    let sr0 = expected_max_sharpe(trials, sharpe_variance)?;
    Some(DeflatedSharpe {
        sharpe: estimate.sharpe,
        observations: estimate.observations,
        skewness: estimate.skewness,
        kurtosis: estimate.kurtosis,
        trials,
        sharpe_variance,
        expected_max_sharpe: sr0,
        probabilistic_sharpe: estimate.probabilistic(0.0)?,
        deflated_sharpe: estimate.probabilistic(sr0)?,
    })
}

/// Returns the deflated Sharpe ratio of the trial whose per-period returns are
/// `best_returns`, selected among trials whose per-period Sharpe ratios are `trial_sharpes`
/// (the selected one included; `N = trial_sharpes.len()`, `V[SR]` their sample variance).
///
/// `None` with no trials, a non-finite trial Sharpe ratio, fewer than 3 returns, a zero
/// spread of the returns, or where [`deflated_sharpe_ratio`] is.
pub fn deflated_sharpe_ratio_from_trials(
    best_returns: &[f64],
    trial_sharpes: &[f64],
) -> Option<DeflatedSharpe> {
    if trial_sharpes.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let estimate = SharpeEstimate::from_returns(best_returns)?;
    let sharpe_variance = match trial_sharpes.len() {
        0 => return None,
        1 => 0.0,
        _ => variance(trial_sharpes)?,
    };
    deflated_sharpe_ratio(&estimate, trial_sharpes.len(), sharpe_variance)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `|actual - expected| <= tol * max(1, |expected|)`.
    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol * expected.abs().max(1.0),
            "{actual} != {expected} (tol {tol})"
        );
    }

    /// Asserts a relative error of at most `tol`.
    fn rel_close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol * expected.abs(),
            "{actual} != {expected} (rel tol {tol})"
        );
    }

    // Reference values: scripts/dsr_reference.py (scipy 1.17.1, numpy 2.4.6), printed with
    // repr(). Its output:
    //
    // # normal CDF
    // (-37.0, 5.7255712225239266e-300), (-10.0, 7.61985302416047e-24),
    // (-5.0, 2.866515718791933e-07), (-1.96, 0.024997895148220435),
    // (-1.0, 0.15865525393145707), (0.0, 0.5), (0.5, 0.6914624612740131),
    // (1.0, 0.8413447460685429), (1.96, 0.9750021048517795), (3.0, 0.9986501019683699),
    // (8.0, 0.9999999999999993)
    // # normal inverse CDF
    // (1e-300, -37.0470962993612), (1e-20, -9.262340089798409), (1e-10, -6.361340902404056),
    // (1e-05, -4.264890793922825), (0.001, -3.090232306167813),
    // (0.025, -1.9599639845400545), (0.075, -1.4395314709384563),
    // (0.3, -0.5244005127080409), (0.5, 0.0), (0.9, 1.2815515655446004),
    // (0.925, 1.4395314709384563), (0.975, 1.959963984540054), (0.999, 3.090232306167813),
    // (0.9999999999, 6.361340889697422)
    // # paper example: SR 2.5 annualised, 250 periods a year, T = 1250, N = 100, V = 0.5 annualised
    // sr = 0.15811388300841897, var = 0.002
    // sr0 = 0.11317200186513203 (as written in the paper: 0.11317200186513214), annualised 1.7894064662732059
    // dsr = 0.9003968344493909
    // psr(0) = 0.9999968595078976
    // # series
    // mean = 0.0019528794043466352
    // std = 0.010356052463298595
    // skew = -0.9300927118973249
    // kurtosis = 4.166907555010866
    // excess_kurtosis = 1.1669075550108658
    // sharpe = 0.1885737264529661
    // psr(0) = 0.9066342961934164
    // trial variance = 0.01083280693820549
    // sr0 = 0.16388540556921324
    // dsr = 0.5686179965036292
    // sr0(N = 2, V = 1) = 0.5197553442805939
    // sr0(N = 1000000, V = 1) = 4.867860037837305

    const CDF: [(f64, f64); 11] = [
        (-37.0, 5.725_571_222_523_926_6e-300),
        (-10.0, 7.619_853_024_160_47e-24),
        (-5.0, 2.866_515_718_791_933e-7),
        (-1.96, 0.024_997_895_148_220_435),
        (-1.0, 0.158_655_253_931_457_07),
        (0.0, 0.5),
        (0.5, 0.691_462_461_274_013_1),
        (1.0, 0.841_344_746_068_542_9),
        (1.96, 0.975_002_104_851_779_5),
        (3.0, 0.998_650_101_968_369_9),
        (8.0, 0.999_999_999_999_999_3),
    ];

    const INV_CDF: [(f64, f64); 14] = [
        (1e-300, -37.047_096_299_361_2),
        (1e-20, -9.262_340_089_798_409),
        (1e-10, -6.361_340_902_404_056),
        (1e-5, -4.264_890_793_922_825),
        (0.001, -3.090_232_306_167_813),
        (0.025, -1.959_963_984_540_054_5),
        (0.075, -1.439_531_470_938_456_3),
        (0.3, -0.524_400_512_708_040_9),
        (0.5, 0.0),
        (0.9, 1.281_551_565_544_600_4),
        (0.925, 1.439_531_470_938_456_3),
        (0.975, 1.959_963_984_540_054),
        (0.999, 3.090_232_306_167_813),
        (0.999_999_999_9, 6.361_340_889_697_422),
    ];

    /// The closed-form series of `scripts/dsr_reference.py` (T = 60).
    fn series() -> Vec<f64> {
        (0..60)
            .map(|t| {
                let tf = f64::from(t);
                let mut r =
                    0.0035 + 0.01 * (0.7 * tf + 0.3).sin() + 0.006 * (1.3 * tf).cos().powi(3);
                if t % 17 == 5 {
                    r -= 0.03;
                }
                r
            })
            .collect()
    }

    #[test]
    fn norm_cdf_matches_scipy() {
        for (x, p) in CDF {
            rel_close(norm_cdf(x), p, 1e-13);
        }
        assert_eq!(norm_cdf(1.96), 0.975_002_104_851_779_5);
        assert!(norm_cdf(f64::NAN).is_nan());
        assert_eq!(norm_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(norm_cdf(f64::INFINITY), 1.0);
        assert_eq!(norm_cdf(-40.0), 0.0);
    }

    #[test]
    fn norm_cdf_is_symmetric_and_monotone() {
        let mut prev = 0.0;
        for i in -800..=800 {
            let x = f64::from(i) / 100.0;
            let p = norm_cdf(x);
            assert!(p >= prev, "{x}");
            prev = p;
            close(p + norm_cdf(-x), 1.0, 1e-15);
        }
    }

    #[test]
    fn norm_inv_cdf_matches_scipy() {
        for (p, x) in INV_CDF {
            close(norm_inv_cdf(p), x, 1e-14);
        }
        // AS 241 is 2 ulp from SciPy (Cephes ndtri) here.
        close(norm_inv_cdf(0.975), 1.959_963_984_540_054, 1e-15);
        assert_eq!(norm_inv_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(norm_inv_cdf(1.0), f64::INFINITY);
        assert!(norm_inv_cdf(-0.1).is_nan());
        assert!(norm_inv_cdf(1.1).is_nan());
        assert!(norm_inv_cdf(f64::NAN).is_nan());
    }

    #[test]
    fn norm_inv_cdf_inverts_norm_cdf() {
        for i in -3700..=500 {
            let x = f64::from(i) / 100.0;
            let p = norm_cdf(x);
            // Limited by the rounding of p itself: near 1 its absolute precision 1.1e-16 is
            // an error of 1.1e-16 / φ(x) in x (7e-11 at x = 5, too much beyond).
            close(norm_inv_cdf(p), x, 1e-9);
        }
    }

    #[test]
    fn moments_match_scipy() {
        let r = series();
        close(mean(&r).unwrap(), 0.001_952_879_404_346_635_2, 1e-15);
        rel_close(std_dev(&r).unwrap(), 0.010_356_052_463_298_595, 1e-13);
        rel_close(skewness(&r).unwrap(), -0.930_092_711_897_324_9, 1e-12);
        rel_close(kurtosis(&r).unwrap(), 4.166_907_555_010_866, 1e-12);
        rel_close(excess_kurtosis(&r).unwrap(), 1.166_907_555_010_865_8, 1e-12);
        rel_close(sharpe_ratio(&r).unwrap(), 0.188_573_726_452_966_1, 1e-12);
    }

    #[test]
    fn moments_of_small_known_samples() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mean(&xs), Some(2.5));
        assert_eq!(variance(&xs), Some(5.0 / 3.0));
        assert_eq!(skewness(&xs), Some(0.0));
        // m2 = 1.25, m4 = (2 * 2.25^2 + 2 * 0.25^2) / 4 = 2.5625 → 2.5625 / 1.5625 = 1.64.
        close(kurtosis(&xs).unwrap(), 1.64, 1e-15);
        close(excess_kurtosis(&xs).unwrap(), -1.36, 1e-15);
        // Two values: skewness 0, kurtosis 1 (Pearson's bound 1 + γ₃² is attained).
        assert_eq!(skewness(&[0.0, 1.0]), Some(0.0));
        assert_eq!(kurtosis(&[0.0, 1.0]), Some(1.0));
    }

    #[test]
    fn undefined_moments_are_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(variance(&[1.0]), None);
        assert_eq!(std_dev(&[]), None);
        assert_eq!(skewness(&[1.0]), None);
        assert_eq!(skewness(&[0.1; 5]), None);
        assert_eq!(kurtosis(&[0.1; 5]), None);
        assert_eq!(sharpe_ratio(&[0.1; 5]), None);
        assert_eq!(sharpe_ratio(&[0.0; 5]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), None);
        assert_eq!(mean(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn the_papers_numerical_example() {
        let estimate = SharpeEstimate {
            sharpe: 2.5 / 250_f64.sqrt(),
            observations: 1250,
            skewness: -3.0,
            kurtosis: 10.0,
        };
        let dsr = deflated_sharpe_ratio(&estimate, 100, 0.5 / 250.0).unwrap();
        // The paper: SR₀ ≈ 0.1132 per period, DSR ≈ 0.9004.
        assert_eq!((dsr.expected_max_sharpe * 1e4).round(), 1132.0);
        assert_eq!((dsr.deflated_sharpe * 1e4).round(), 9004.0);
        rel_close(dsr.expected_max_sharpe, 0.113_172_001_865_132_03, 1e-13);
        rel_close(
            dsr.expected_max_sharpe * 250_f64.sqrt(),
            1.789_406_466_273_205_9,
            1e-13,
        );
        rel_close(dsr.deflated_sharpe, 0.900_396_834_449_390_9, 1e-12);
        rel_close(dsr.probabilistic_sharpe, 0.999_996_859_507_897_6, 1e-13);
        assert_eq!(dsr.trials, 100);
        assert_eq!(dsr.observations, 1250);
    }

    #[test]
    fn deflated_sharpe_from_trials_matches_scipy() {
        let r = series();
        let sr = sharpe_ratio(&r).unwrap();
        let trials = [0.21, -0.05, 0.12, 0.02, 0.08, -0.11, 0.15, 0.0, 0.04, sr];
        let dsr = deflated_sharpe_ratio_from_trials(&r, &trials).unwrap();
        rel_close(dsr.sharpe, 0.188_573_726_452_966_1, 1e-12);
        rel_close(dsr.sharpe_variance, 0.010_832_806_938_205_49, 1e-12);
        rel_close(dsr.expected_max_sharpe, 0.163_885_405_569_213_24, 1e-12);
        rel_close(dsr.probabilistic_sharpe, 0.906_634_296_193_416_4, 1e-11);
        rel_close(dsr.deflated_sharpe, 0.568_617_996_503_629_2, 1e-11);
        assert_eq!(dsr.trials, 10);
        assert_eq!(dsr.observations, 60);
    }

    #[test]
    fn expected_max_sharpe_known_values_and_edges() {
        rel_close(
            expected_max_sharpe(2, 1.0).unwrap(),
            0.519_755_344_280_593_9,
            1e-14,
        );
        rel_close(
            expected_max_sharpe(1_000_000, 1.0).unwrap(),
            4.867_860_037_837_305,
            1e-14,
        );
        // Scales with the standard deviation of the trials' Sharpe ratios.
        rel_close(
            expected_max_sharpe(2, 4.0).unwrap(),
            2.0 * 0.519_755_344_280_593_9,
            1e-14,
        );
        assert_eq!(expected_max_sharpe(1, 3.0), Some(0.0));
        assert_eq!(expected_max_sharpe(50, 0.0), Some(0.0));
        assert_eq!(expected_max_sharpe(0, 1.0), None);
        assert_eq!(expected_max_sharpe(10, -1.0), None);
        assert_eq!(expected_max_sharpe(10, f64::NAN), None);
        // Increasing in N.
        let mut prev = 0.0;
        for n in [2, 3, 10, 100, 1000, 100_000] {
            let v = expected_max_sharpe(n, 1.0).unwrap();
            assert!(v > prev, "{n}");
            prev = v;
        }
    }

    #[test]
    fn one_trial_is_not_deflated() {
        let r = series();
        let dsr = deflated_sharpe_ratio_from_trials(&r, &[0.5]).unwrap();
        assert_eq!(dsr.expected_max_sharpe, 0.0);
        assert_eq!(dsr.sharpe_variance, 0.0);
        assert_eq!(dsr.deflated_sharpe, dsr.probabilistic_sharpe);
        rel_close(dsr.deflated_sharpe, 0.906_634_296_193_416_4, 1e-11);
    }

    #[test]
    fn identical_trials_are_not_deflated() {
        let r = series();
        let sr = sharpe_ratio(&r).unwrap();
        let dsr = deflated_sharpe_ratio_from_trials(&r, &[sr; 20]).unwrap();
        assert_eq!(dsr.sharpe_variance, 0.0);
        assert_eq!(dsr.expected_max_sharpe, 0.0);
        assert_eq!(dsr.deflated_sharpe, dsr.probabilistic_sharpe);
    }

    #[test]
    fn more_trials_deflate_more() {
        let r = series();
        let est = SharpeEstimate::from_returns(&r).unwrap();
        let few = deflated_sharpe_ratio(&est, 5, 0.01).unwrap();
        let many = deflated_sharpe_ratio(&est, 500, 0.01).unwrap();
        assert!(many.deflated_sharpe < few.deflated_sharpe);
        assert!(few.deflated_sharpe < few.probabilistic_sharpe);
    }

    #[test]
    fn psr_under_normality_is_los_formula() {
        let est = SharpeEstimate {
            sharpe: 0.1,
            observations: 101,
            skewness: 0.0,
            kurtosis: 3.0,
        };
        let z = 0.1 * 10.0 / (1.0 + 0.1 * 0.1 / 2.0_f64).sqrt();
        close(est.probabilistic(0.0).unwrap(), norm_cdf(z), 1e-15);
        // The benchmark equal to the estimate gives one half.
        assert_eq!(est.probabilistic(0.1), Some(0.5));
    }

    #[test]
    fn undefined_sharpe_statistics_are_none() {
        assert_eq!(SharpeEstimate::from_returns(&[0.01, 0.02]), None);
        assert_eq!(SharpeEstimate::from_returns(&[0.01; 10]), None);
        assert_eq!(
            deflated_sharpe_ratio_from_trials(&[0.01, -0.02], &[0.1, 0.2]),
            None
        );
        assert_eq!(deflated_sharpe_ratio_from_trials(&series(), &[]), None);
        assert_eq!(
            deflated_sharpe_ratio_from_trials(&series(), &[0.1, f64::NAN]),
            None
        );
        let est = SharpeEstimate {
            sharpe: 0.5,
            observations: 2,
            skewness: 0.0,
            kurtosis: 3.0,
        };
        assert_eq!(est.probabilistic(0.0), None);
        // Moments that violate Pearson's inequality can make the variance negative.
        let bad = SharpeEstimate {
            sharpe: 1.0,
            observations: 100,
            skewness: 3.0,
            kurtosis: 1.0,
        };
        assert_eq!(bad.probabilistic(0.0), None);
        let nan = SharpeEstimate {
            sharpe: f64::NAN,
            ..est
        };
        assert_eq!(nan.probabilistic(0.0), None);
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn prop_inverse_cdf_round_trips(p in 1e-300_f64..1.0) {
            let x = norm_inv_cdf(p);
            prop_assert!(x.is_finite());
            let back = norm_cdf(x);
            prop_assert!((back - p).abs() <= 1e-12 * p + 1e-15, "{p} {x} {back}");
        }

        #[test]
        fn prop_sample_moments_satisfy_pearson(
            xs in prop::collection::vec(-1.0_f64..1.0, 3..200),
        ) {
            if let (Some(s), Some(k)) = (skewness(&xs), kurtosis(&xs)) {
                prop_assert!(k >= 1.0 + s * s - 1e-9, "{s} {k}");
            }
        }

        #[test]
        fn prop_dsr_is_a_probability(
            returns in prop::collection::vec(-0.2_f64..0.2, 3..300),
            trials in prop::collection::vec(-1.0_f64..1.0, 1..50),
        ) {
            if let Some(d) = deflated_sharpe_ratio_from_trials(&returns, &trials) {
                prop_assert!((0.0..=1.0).contains(&d.deflated_sharpe), "{d:?}");
                prop_assert!((0.0..=1.0).contains(&d.probabilistic_sharpe), "{d:?}");
                prop_assert!(d.expected_max_sharpe >= 0.0);
                prop_assert!(d.deflated_sharpe <= d.probabilistic_sharpe);
            }
        }
    }
}

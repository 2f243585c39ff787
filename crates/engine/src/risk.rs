//! Pre-trade risk checks. Every intent passes [`RiskManager::check`] before it can become an
//! order ([`RiskApproved`] is only constructed here); quantities resolved at fill time pass
//! [`RiskManager::cap_quantity`].
//!
//! Limits are off by default (a backtest of a spec trades as the spec says); bots set them.
//! The drawdown kill switch, once tripped, refuses every new entry for the rest of the run.

use serde::{Deserialize, Serialize};

use crate::order::{OrderIntent, Purpose, RiskApproved, Trigger};

/// Limits applied to every order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskLimits {
    /// Largest order value in quote currency.
    pub max_order_notional: Option<f64>,
    /// Largest position value per instrument in quote currency.
    pub max_position_notional: Option<f64>,
    /// Most working orders at once.
    pub max_open_orders: usize,
    /// Drawdown from the equity peak (percent) that stops all new entries.
    pub max_drawdown_pct: Option<f64>,
}

impl Default for RiskLimits {
    fn default() -> Self {
        Self {
            max_order_notional: None,
            max_position_notional: None,
            max_open_orders: 1_000,
            max_drawdown_pct: None,
        }
    }
}

/// Why an intent was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Applies [`RiskLimits`].
#[derive(Clone, Debug)]
pub struct RiskManager {
    limits: RiskLimits,
    killed: bool,
}

impl RiskManager {
    /// A manager with `limits`.
    pub fn new(limits: RiskLimits) -> Self {
        Self {
            limits,
            killed: false,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Replaces the limits (a running bot's limits were edited). A tripped kill switch stays
    /// tripped: loosening the drawdown limit does not resume trading in this run.
    pub fn set_limits(&mut self, limits: RiskLimits) {
        self.limits = limits;
    }

    /// True once the drawdown kill switch has tripped.
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// Updates the kill switch with the current drawdown (a fraction, <= 0). Returns true when
    /// it trips on this call.
    pub fn observe_drawdown(&mut self, drawdown: f64) -> bool {
        if self.killed {
            return false;
        }
        if let Some(max) = self.limits.max_drawdown_pct
            && -drawdown * 100.0 >= max
        {
            self.killed = true;
            return true;
        }
        false
    }

    /// Checks an intent before submission.
    pub fn check(
        &self,
        intent: OrderIntent,
        open_orders: usize,
    ) -> Result<RiskApproved<OrderIntent>, Refusal> {
        if self.killed && !intent.purpose.is_exit() {
            return Err(Refusal(
                "the drawdown kill switch has stopped new entries".into(),
            ));
        }
        if open_orders >= self.limits.max_open_orders {
            return Err(Refusal(format!(
                "{open_orders} orders are already working (limit {})",
                self.limits.max_open_orders
            )));
        }
        let prices: &[f64] = match &intent.trigger {
            Trigger::Market => &[],
            Trigger::Limit { price } | Trigger::Stop { price } => std::slice::from_ref(price),
            Trigger::StopLimit { stop, limit } => &[*stop, *limit],
        };
        if let Some(p) = prices.iter().find(|p| !(p.is_finite() && **p > 0.0)) {
            return Err(Refusal(format!("order price {p} is not a positive number")));
        }
        if intent.purpose == Purpose::Manual
            && let crate::order::Size::Units(q) = intent.size
            && !(q.is_finite() && q > 0.0)
        {
            return Err(Refusal(format!(
                "order quantity {q} is not a positive number"
            )));
        }
        Ok(RiskApproved::new(intent))
    }

    /// Caps a quantity resolved at fill time to the notional limits; returns the allowed
    /// quantity (possibly 0) and, when reduced, why.
    pub fn cap_quantity(
        &self,
        qty: f64,
        price: f64,
        position_value: f64,
        is_exit: bool,
    ) -> (f64, Option<String>) {
        if is_exit {
            return (qty, None);
        }
        let mut q = qty;
        let mut why = None;
        if let Some(max) = self.limits.max_order_notional
            && q * price > max
        {
            q = max / price;
            why = Some(format!("order value capped at the {max} limit"));
        }
        if let Some(max) = self.limits.max_position_notional {
            let room = (max - position_value.abs()).max(0.0);
            if q * price > room {
                q = room / price;
                why = Some(format!("position value capped at the {max} limit"));
            }
        }
        (q, why)
    }
}

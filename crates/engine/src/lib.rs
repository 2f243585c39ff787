//! # skeet-engine
//!
//! The event loop shared by backtests, paper bots and live bots (see [`engine`]): exact
//! portfolio accounting ([`account`]), orders and their state machine ([`order`]), pre-trade
//! risk checks producing [`RiskApproved`] intents ([`risk`]), the simulated venue used by
//! backtests and paper trading ([`sim`]), and the event log ([`events`]).

pub mod account;
pub mod engine;
pub mod events;
pub mod order;
pub mod risk;
pub mod sim;

pub use account::Account;
pub use engine::{
    BarRef, Engine, EngineConfig, EngineResult, FillModel, OrderRecord, Slippage, Trade,
};
pub use events::{Event, EventKind};
pub use order::{OrderIntent, Purpose, RiskApproved, Size, Trigger, WorkingOrder};
pub use risk::{RiskLimits, RiskManager};

//! Budgets: the pure part. Limits and their configuration (in code or from a
//! TOML file), windows as numbered buckets, the keys a call is charged to,
//! the estimate of a call's maximum cost, and the typed refusal.
//!
//! The state (what was spent, what is reserved) lives outside core: the
//! in-process and Redis stores of `tokentrace-reqwest`'s `budget` module. See
//! `docs/budgets.md` for the guarantees.
//!
//! ```
//! use tokentrace_core::budget::{BudgetConfig, Limit, Mode, Scope, Window};
//!
//! let config = BudgetConfig::from_toml_str(r#"
//!     [[limit]]
//!     name = "per-user-daily"
//!     scope = "user"
//!     usd = 5.0
//!     window = "day"
//!     soft = [0.8]
//! "#).unwrap();
//! assert_eq!(config.limits[0].scope, Scope::User);
//!
//! let config = BudgetConfig::new()
//!     .limit(Limit::new(Scope::Global, 100.0, Window::Month))
//!     .limit(Limit::new(Scope::Model, 2.0, Window::rolling_secs(3600)).value("gpt-4o").mode(Mode::Warn));
//! assert_eq!(config.limits.len(), 2);
//! ```

mod config;
mod estimate;
mod keys;
mod money;
mod outcome;
mod refusal;
mod window;

pub use config::{BudgetConfig, BudgetConfigError, Limit, Mode, StorePolicy};
pub use keys::{BudgetKeys, KeysProvider, MAX_KEY_CHARS, current_keys, set_keys_provider};
pub use money::{Micros, micros_to_usd, usd_to_micros};
pub use outcome::{
    BudgetOutcome, OutcomeObserver, outcomes, remove_outcome_observer, report_outcome,
    set_outcome_observer,
};
pub use refusal::{BudgetExceeded, BudgetUnavailable};
pub use window::{Buckets, ROLLING_BUCKETS, SESSION_TTL_SECS, Scope, Window};

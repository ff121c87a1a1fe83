//! Spend caps enforced before the call.
//!
//! A [`Budgets`] holds the limits ([`BudgetConfig`], in code or from a TOML
//! file) and a [`BudgetStore`] (in memory by default; Redis with the `redis`
//! feature). [`LlmMiddleware::budgets`](crate::LlmMiddleware::budgets) makes
//! every LLM call estimate its maximum cost, reserve it on every limit that
//! applies, and settle with the actual cost when the response ends (or
//! release the reservation on an error or an early drop). A call that would
//! take an enforced limit past its cap is refused before it is sent: the
//! caller gets `reqwest_middleware::Error::Middleware` wrapping a
//! [`BudgetExceeded`] (match it with [`exceeded`]).
//!
//! The same API serves a gateway: [`Budgets::check`], [`Budgets::reserve`],
//! [`Reservation::settle`] / [`Reservation::release`], and
//! [`BudgetExceeded::provider_error_body`] for the 429 body.
//!
//! # Guarantee
//!
//! For each limit and window, reservations are atomic in the store: the sum
//! of settled spend and in-flight reservations never passes the limit
//! because of a reservation. Spend can pass it only by what actual costs
//! exceed their estimates. See `docs/budgets.md`.
//!
//! ```
//! use tokentrace_core::budget::{BudgetConfig, Limit, Scope, Window};
//! use tokentrace_reqwest::LlmMiddleware;
//! use tokentrace_reqwest::budget::Budgets;
//!
//! let budgets = Budgets::new(
//!     BudgetConfig::new().limit(Limit::new(Scope::User, 5.0, Window::Day).soft(0.8)),
//! );
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(LlmMiddleware::new().budgets(budgets))
//!     .build();
//! # let _ = http;
//! ```

mod store;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
pub use store::{
    BucketState, BudgetStore, MemoryStore, ReserveOutcome, Slot, StoreError, StoreFuture,
};
pub use tokentrace_core::budget::{
    BudgetConfig, BudgetExceeded, BudgetKeys, BudgetUnavailable, Scope, Window,
};
use tokentrace_core::budget::{
    BudgetOutcome, Limit, Micros, Mode, StorePolicy, micros_to_usd, outcomes, report_outcome,
    usd_to_micros,
};
use tokentrace_core::semconv::{self, events};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// An enforced limit would be passed.
    #[error(transparent)]
    Exceeded(BudgetExceeded),
    /// The store is unreachable and the policy is fail-closed.
    #[error(transparent)]
    Unavailable(BudgetUnavailable),
}

/// The [`BudgetExceeded`] inside a middleware error, if that is what it is.
///
/// ```no_run
/// # async fn f(http: reqwest_middleware::ClientWithMiddleware) {
/// match http.post("https://api.openai.com/v1/chat/completions").send().await {
///     Err(e) if tokentrace_reqwest::budget::exceeded(&e).is_some() => { /* over budget */ }
///     _ => {}
/// }
/// # }
/// ```
pub fn exceeded(err: &reqwest_middleware::Error) -> Option<&BudgetExceeded> {
    match err {
        reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<BudgetExceeded>(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// The [`BudgetUnavailable`] inside a middleware error, if that is what it is.
pub fn unavailable(err: &reqwest_middleware::Error) -> Option<&BudgetUnavailable> {
    match err {
        reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<BudgetUnavailable>(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// Process-wide counts of one [`Budgets`]' decisions.
#[derive(Debug, Default)]
pub struct BudgetCounters {
    reserved: AtomicU64,
    refused: AtomicU64,
    warned: AtomicU64,
    unavailable: AtomicU64,
    settled: AtomicU64,
    released: AtomicU64,
}

/// A snapshot of [`BudgetCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BudgetCounts {
    /// Reservations made.
    pub reserved: u64,
    /// Calls refused by an enforced limit.
    pub refused: u64,
    /// Calls let through that a warn-mode limit would have refused.
    pub warned: u64,
    /// Times the store could not be reached (whatever the policy did).
    pub unavailable: u64,
    /// Reservations settled with a cost.
    pub settled: u64,
    /// Reservations released (error, early drop, no cost).
    pub released: u64,
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Inner {
    config: BudgetConfig,
    store: Arc<dyn BudgetStore>,
    clock: Clock,
    prefix: String,
    counters: BudgetCounters,
}

/// Limits plus the store that enforces them. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Budgets {
    inner: Arc<Inner>,
}

impl fmt::Debug for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgets")
            .field("config", &self.inner.config)
            .field("store", &self.inner.store)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A limit's part in a decision, for the span.
#[derive(Debug, Clone)]
struct Note {
    kind: &'static str,
    limit: String,
    key: String,
    limit_usd: f64,
    spent_usd: f64,
    threshold: Option<f64>,
}

/// An estimate held on every limit that applies to a call; settle it with
/// the actual cost or release it. Dropping it unsettled releases it.
#[must_use = "dropping a reservation releases it"]
pub struct Reservation {
    inner: Option<Arc<Inner>>,
    buckets: Vec<(String, u64)>,
    amount: Micros,
    estimate_usd: f64,
    notes: Vec<Note>,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("buckets", &self.buckets)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

impl Reservation {
    /// The estimate reserved, in USD.
    pub fn estimate_usd(&self) -> f64 {
        self.estimate_usd
    }

    /// Whether the store was unreachable and the call let through unchecked.
    pub fn is_unchecked(&self) -> bool {
        self.notes.iter().any(|n| n.kind == "unavailable")
    }

    /// Names of the warn-mode limits this call passed.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.notes
            .iter()
            .filter(|n| n.kind == "warned")
            .map(|n| n.limit.as_str())
    }

    /// Names and fractions of the soft thresholds this reservation crossed.
    pub fn soft_crossings(&self) -> impl Iterator<Item = (&str, f64)> {
        self.notes
            .iter()
            .filter_map(|n| Some((n.limit.as_str(), n.threshold?)))
    }

    /// Replace the reservation with the actual cost.
    pub fn settle(mut self, actual_usd: f64) {
        self.finish(usd_to_micros(actual_usd), true);
    }

    /// Give the reservation back (nothing was spent).
    pub fn release(mut self) {
        self.finish(0, false);
    }

    fn finish(&mut self, actual: Micros, settled: bool) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let c = &inner.counters;
        if settled {
            c.settled.fetch_add(1, Ordering::Relaxed);
        } else {
            c.released.fetch_add(1, Ordering::Relaxed);
        }
        if self.buckets.is_empty() {
            return;
        }
        inner.store.settle(
            std::mem::take(&mut self.buckets),
            self.amount,
            actual,
            (inner.clock)(),
        );
    }

    /// Record the decision on `span`: attributes, plus an event per warning,
    /// soft threshold and store outage.
    pub fn record(&self, span: &Span) {
        record_outcome(span, self.estimate_usd, &self.notes);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.finish(0, false);
    }
}

fn outcome_name(notes: &[Note]) -> &'static str {
    if notes.iter().any(|n| n.kind == "unavailable") {
        "unavailable"
    } else if notes.iter().any(|n| n.kind == "warned") {
        "warned"
    } else {
        "reserved"
    }
}

fn note_attrs(n: &Note) -> Vec<KeyValue> {
    let mut a = vec![
        KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT, n.limit.clone()),
        KeyValue::new(semconv::TOKENTRACE_BUDGET_KEY, n.key.clone()),
        KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT_USD, n.limit_usd),
        KeyValue::new(semconv::TOKENTRACE_BUDGET_SPENT_USD, n.spent_usd),
    ];
    if let Some(t) = n.threshold {
        a.push(KeyValue::new(semconv::TOKENTRACE_BUDGET_THRESHOLD, t));
    }
    a
}

fn record_outcome(span: &Span, estimate_usd: f64, notes: &[Note]) {
    if span.is_disabled() {
        return;
    }
    span.set_attribute(semconv::TOKENTRACE_BUDGET_OUTCOME, outcome_name(notes));
    span.set_attribute(semconv::TOKENTRACE_BUDGET_ESTIMATE_USD, estimate_usd);
    for n in notes {
        let name = match n.kind {
            "warned" => events::BUDGET_WARNING,
            "soft" => events::BUDGET_SOFT_THRESHOLD,
            _ => events::BUDGET_UNAVAILABLE,
        };
        span.add_event(name, note_attrs(n));
    }
}

fn key_label(limit: &Limit, value: &str) -> String {
    if value.is_empty() {
        limit.scope.name().to_owned()
    } else {
        format!("{}:{value}", limit.scope.name())
    }
}

impl BudgetError {
    /// Record the refusal on `span`: `tokentrace.budget.*` attributes and a
    /// `tokentrace.budget.refused` (or `.unavailable`) event.
    pub fn record(&self, span: &Span, estimate_usd: f64) {
        if span.is_disabled() {
            return;
        }
        span.set_attribute(semconv::TOKENTRACE_BUDGET_ESTIMATE_USD, estimate_usd);
        match self {
            Self::Exceeded(e) => {
                span.set_attribute(semconv::TOKENTRACE_BUDGET_OUTCOME, "refused");
                let key = if e.key.is_empty() {
                    e.scope.name().to_owned()
                } else {
                    format!("{}:{}", e.scope.name(), e.key)
                };
                let attrs = vec![
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT, e.limit.clone()),
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_KEY, key),
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_LIMIT_USD, e.limit_usd),
                    KeyValue::new(semconv::TOKENTRACE_BUDGET_SPENT_USD, e.spent_usd),
                ];
                for a in &attrs {
                    span.set_attribute(a.key.clone(), a.value.clone());
                }
                span.add_event(events::BUDGET_REFUSED, attrs);
            }
            Self::Unavailable(_) => {
                span.set_attribute(semconv::TOKENTRACE_BUDGET_OUTCOME, "unavailable_refused");
                span.add_event(events::BUDGET_UNAVAILABLE, Vec::new());
            }
        }
    }

    /// `error.type` for the span.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Exceeded(_) => "budget_exceeded",
            Self::Unavailable(_) => "budget_unavailable",
        }
    }

    /// Into the error the middleware returns (`reqwest_middleware::Error::Middleware`
    /// wrapping the [`BudgetExceeded`] or [`BudgetUnavailable`] itself).
    pub fn into_middleware_error(self) -> reqwest_middleware::Error {
        match self {
            Self::Exceeded(e) => reqwest_middleware::Error::middleware(e),
            Self::Unavailable(e) => reqwest_middleware::Error::middleware(e),
        }
    }
}

/// Default prefix of store keys.
pub const DEFAULT_PREFIX: &str = "tokentrace:budget:";

/// One limit's current standing, for the CLI and dashboards.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LimitStatus {
    /// The limit's name.
    pub limit: String,
    /// `scope:value` (or the scope alone for global limits).
    pub key: String,
    /// The cap in USD.
    pub limit_usd: f64,
    /// Settled spend in the current window.
    pub spent_usd: f64,
    /// Reservations in flight in the current window.
    pub reserved_usd: f64,
    /// The window's name.
    pub window: String,
    /// Enforce or warn.
    pub mode: Mode,
    /// Refusals counted for this limit (all keys, kept about a month).
    pub refusals: u64,
}

impl Budgets {
    /// Enforce `config` with the in-process [`MemoryStore`].
    pub fn new(config: BudgetConfig) -> Self {
        Self::with_store(config, MemoryStore::new())
    }

    /// Enforce `config` with `store` (shared by every clone).
    pub fn with_store(config: BudgetConfig, store: impl BudgetStore) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                store: Arc::new(store),
                clock: Arc::new(system_ms),
                prefix: DEFAULT_PREFIX.to_owned(),
                counters: BudgetCounters::default(),
            }),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut Inner)) -> Self {
        let i = &self.inner;
        let mut inner = Inner {
            config: i.config.clone(),
            store: i.store.clone(),
            clock: i.clock.clone(),
            prefix: i.prefix.clone(),
            counters: BudgetCounters::default(),
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Read time from `clock` (milliseconds since the Unix epoch) instead of
    /// the system clock: for tests and simulations. Counters start over.
    #[must_use]
    pub fn clock(self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.rebuild(|i| i.clock = Arc::new(clock))
    }

    /// Prefix every store key with `prefix`. Defaults to [`DEFAULT_PREFIX`].
    /// Counters start over.
    #[must_use]
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.rebuild(|i| i.prefix = prefix)
    }

    /// The configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.inner.config
    }

    /// Counts of the decisions taken so far.
    pub fn counts(&self) -> BudgetCounts {
        let c = &self.inner.counters;
        BudgetCounts {
            reserved: c.reserved.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            warned: c.warned.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
            settled: c.settled.load(Ordering::Relaxed),
            released: c.released.load(Ordering::Relaxed),
        }
    }

    fn bucket_key(&self, limit: &Limit, index: i64, value: &str) -> String {
        format!("{}{}:{index}:{value}", self.inner.prefix, limit.name)
    }

    fn refusal_key(&self, limit: &Limit) -> String {
        format!("{}refusals:{}", self.inner.prefix, limit.name)
    }

    fn slots(&self, keys: &BudgetKeys, now_ms: i64) -> Vec<(usize, String, Slot)> {
        let mut out = Vec::new();
        for (i, limit) in self.inner.config.limits.iter().enumerate() {
            let Some(value) = limit.key_for(keys) else {
                continue;
            };
            let b = limit.window.buckets(now_ms);
            let window = (0..i64::from(b.count))
                .map(|back| self.bucket_key(limit, b.index - back, value))
                .collect::<Vec<_>>();
            let refuse = (limit.mode == Mode::Enforce).then(|| limit.micros());
            out.push((
                i,
                value.to_owned(),
                Slot::new(
                    window[0].clone(),
                    window,
                    refuse,
                    b.ttl_secs,
                    self.refusal_key(limit),
                ),
            ));
        }
        out
    }

    /// Would a call costing up to `estimate_usd`, charged to `keys`, be let
    /// through now? Reserves nothing and counts nothing.
    pub async fn check(&self, keys: &BudgetKeys, estimate_usd: f64) -> Result<(), BudgetError> {
        self.decide(keys, estimate_usd, true).await.map(|mut r| {
            r.inner = None;
        })
    }

    /// Reserve `estimate_usd` on every limit that applies to `keys`, or
    /// refuse. Bounded by the store's timeouts; an unreachable store
    /// follows [`BudgetConfig::on_store_error`].
    pub async fn reserve(
        &self,
        keys: &BudgetKeys,
        estimate_usd: f64,
    ) -> Result<Reservation, BudgetError> {
        self.decide(keys, estimate_usd, false).await
    }

    async fn decide(
        &self,
        keys: &BudgetKeys,
        estimate_usd: f64,
        dry_run: bool,
    ) -> Result<Reservation, BudgetError> {
        let inner = &self.inner;
        let now = (inner.clock)();
        let slots = self.slots(keys, now);
        let amount = usd_to_micros(estimate_usd);
        let mut reservation = Reservation {
            inner: Some(inner.clone()),
            buckets: Vec::new(),
            amount,
            estimate_usd,
            notes: Vec::new(),
        };
        if slots.is_empty() {
            if !dry_run {
                inner.counters.reserved.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(reservation);
        }
        let plain: Vec<Slot> = slots.iter().map(|s| s.2.clone()).collect();
        let outcome = inner.store.reserve(&plain, amount, dry_run, now).await;
        let limits = &inner.config.limits;
        match outcome {
            Err(e) => {
                if !dry_run {
                    inner.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    let outcome = match inner.config.on_store_error {
                        StorePolicy::FailClosed => outcomes::UNAVAILABLE_REFUSED,
                        _ => outcomes::UNAVAILABLE,
                    };
                    for (li, _, _) in &slots {
                        let l = &limits[*li];
                        report_outcome(&BudgetOutcome::new(&l.name, l.scope, outcome));
                    }
                }
                match inner.config.on_store_error {
                    StorePolicy::FailClosed => {
                        reservation.inner = None;
                        Err(BudgetError::Unavailable(BudgetUnavailable { reason: e.0 }))
                    }
                    _ => {
                        reservation.notes.push(Note {
                            kind: "unavailable",
                            limit: String::new(),
                            key: String::new(),
                            limit_usd: 0.0,
                            spent_usd: 0.0,
                            threshold: None,
                        });
                        Ok(reservation)
                    }
                }
            }
            Ok(ReserveOutcome::Refused { slot, before }) => {
                reservation.inner = None;
                if !dry_run {
                    inner.counters.refused.fetch_add(1, Ordering::Relaxed);
                }
                let (li, value, _) = &slots[slot];
                let limit = &limits[*li];
                if !dry_run {
                    report_outcome(&BudgetOutcome::new(
                        &limit.name,
                        limit.scope,
                        outcomes::REFUSED,
                    ));
                }
                Err(BudgetError::Exceeded(BudgetExceeded {
                    limit: limit.name.clone(),
                    scope: limit.scope,
                    key: value.clone(),
                    limit_usd: limit.usd,
                    spent_usd: micros_to_usd(before),
                    requested_usd: estimate_usd,
                    window: limit.window.name(),
                }))
            }
            Ok(ReserveOutcome::Reserved { before }) => {
                for ((li, value, _), before) in slots.iter().zip(before) {
                    let limit = &limits[*li];
                    let cap = limit.micros();
                    let after = before.saturating_add(amount);
                    let note = |kind, threshold| Note {
                        kind,
                        limit: limit.name.clone(),
                        key: key_label(limit, value),
                        limit_usd: limit.usd,
                        spent_usd: micros_to_usd(before),
                        threshold,
                    };
                    let report = |outcome| {
                        if !dry_run {
                            report_outcome(&BudgetOutcome::new(&limit.name, limit.scope, outcome));
                        }
                    };
                    if limit.mode == Mode::Warn && after > cap {
                        if !dry_run {
                            inner.counters.warned.fetch_add(1, Ordering::Relaxed);
                        }
                        reservation.notes.push(note("warned", None));
                        report(outcomes::WARNED);
                    } else {
                        report(outcomes::RESERVED);
                    }
                    for &t in &limit.soft {
                        let mark = (cap as f64 * t).ceil() as Micros;
                        if before < mark && after >= mark {
                            reservation.notes.push(note("soft", Some(t)));
                            report(outcomes::SOFT_THRESHOLD);
                        }
                    }
                }
                if !dry_run {
                    inner.counters.reserved.fetch_add(1, Ordering::Relaxed);
                    reservation.buckets = slots
                        .into_iter()
                        .map(|(_, _, s)| (s.current, s.ttl_secs))
                        .collect();
                }
                Ok(reservation)
            }
        }
    }

    /// Every limit's standing in its current window, one row per key seen
    /// (global and single-value limits always have a row).
    pub async fn status(&self) -> Result<Vec<LimitStatus>, StoreError> {
        let inner = &self.inner;
        let now = (inner.clock)();
        let mut out = Vec::new();
        for limit in &inner.config.limits {
            let b = limit.window.buckets(now);
            let head = format!("{}{}:", inner.prefix, limit.name);
            let refusals = inner.store.refusals(&self.refusal_key(limit)).await?;
            let mut per_value: std::collections::BTreeMap<String, (Micros, Micros)> =
                std::collections::BTreeMap::new();
            if limit.scope == Scope::Global {
                per_value.insert(String::new(), (0, 0));
            } else if let Some(v) = &limit.value {
                per_value.insert(v.clone(), (0, 0));
            }
            for (key, state) in inner.store.scan(&head, now).await? {
                let Some((index, value)) = key[head.len()..].split_once(':') else {
                    continue;
                };
                let Ok(index) = index.parse::<i64>() else {
                    continue;
                };
                if index > b.index || index <= b.index - i64::from(b.count) {
                    continue;
                }
                let e = per_value.entry(value.to_owned()).or_default();
                e.0 = e.0.saturating_add(state.spent);
                e.1 = e.1.saturating_add(state.reserved);
            }
            for (value, (spent, reserved)) in per_value {
                out.push(LimitStatus {
                    limit: limit.name.clone(),
                    key: key_label(limit, &value),
                    limit_usd: limit.usd,
                    spent_usd: micros_to_usd(spent),
                    reserved_usd: micros_to_usd(reserved),
                    window: limit.window.name(),
                    mode: limit.mode,
                    refusals,
                });
            }
        }
        Ok(out)
    }
}

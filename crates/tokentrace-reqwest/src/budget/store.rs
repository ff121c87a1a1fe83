//! The state a [`Budgets`](super::Budgets) keeps, behind a trait so that one
//! process can keep it in memory and a fleet in Redis.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokentrace_core::budget::Micros;

/// The future a store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store could not answer (unreachable, timed out, bad reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("budget store: {0}")]
pub struct StoreError(pub String);

/// One limit's part in a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Slot {
    /// The bucket the reservation (and later the spend) goes to.
    pub current: String,
    /// Every bucket the window sums, `current` first.
    pub window: Vec<String>,
    /// Refuse when spent + reserved + amount would pass this; `None`: never refuse (warn mode).
    pub limit: Option<Micros>,
    /// Seconds a bucket is kept after its last write.
    pub ttl_secs: u64,
    /// The counter of this limit's refusals.
    pub refusals: String,
}

impl Slot {
    /// A slot (see the fields).
    pub fn new(
        current: String,
        window: Vec<String>,
        limit: Option<Micros>,
        ttl_secs: u64,
        refusals: String,
    ) -> Self {
        Self {
            current,
            window,
            limit,
            ttl_secs,
            refusals,
        }
    }
}

/// What a reservation attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReserveOutcome {
    /// Reserved on every slot; spent + reserved of each slot before it.
    Reserved {
        /// Per slot, in order.
        before: Vec<Micros>,
    },
    /// Nothing reserved: slot `slot` (spent + reserved `before`) would pass its limit.
    Refused {
        /// Index of the first slot that refused.
        slot: usize,
        /// Its spent + reserved.
        before: Micros,
    },
}

/// Spend and reservations of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketState {
    /// Settled spend.
    pub spent: Micros,
    /// Reservations in flight.
    pub reserved: Micros,
}

/// Where budgets keep their state. Implementations must make
/// [`reserve`](Self::reserve) atomic across its slots (all or nothing, and
/// no two reservations may both see the room only one of them fits in).
pub trait BudgetStore: Send + Sync + fmt::Debug + 'static {
    /// Check every slot and, unless `dry_run` or one refuses, add `amount`
    /// to each slot's current bucket's reservations. `now_ms` is the
    /// budget's clock (stores with their own expiry may ignore it).
    fn reserve<'a>(
        &'a self,
        slots: &'a [Slot],
        amount: Micros,
        dry_run: bool,
        now_ms: i64,
    ) -> StoreFuture<'a, ReserveOutcome>;

    /// Move `reserved` out of each bucket's reservations and add `actual`
    /// to its spend (`actual = 0` releases). Must not block: a remote store
    /// completes it in the background and counts its failures.
    fn settle(&self, buckets: Vec<(String, u64)>, reserved: Micros, actual: Micros, now_ms: i64);

    /// The state of these buckets (absent ones are zero).
    fn read<'a>(&'a self, keys: &'a [String], now_ms: i64) -> StoreFuture<'a, Vec<BucketState>>;

    /// Every live bucket whose key starts with `prefix`, with its state.
    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<(String, BucketState)>>;

    /// The value of a refusal counter.
    fn refusals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, u64>;
}

#[derive(Debug, Default)]
struct Entry {
    state: BucketState,
    expires_ms: i64,
}

/// The in-process store (the default): one mutex over a map, held for a
/// few map operations per call, never across an `.await`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    buckets: HashMap<String, Entry>,
    refusals: HashMap<String, u64>,
    ops: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // The critical sections only do arithmetic on plain integers: a
        // panic there cannot leave them half-updated in a harmful way.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn ttl_ms(ttl_secs: u64) -> i64 {
    i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl MemoryInner {
    fn live(&self, key: &str, now_ms: i64) -> BucketState {
        self.buckets
            .get(key)
            .filter(|e| e.expires_ms > now_ms)
            .map(|e| e.state)
            .unwrap_or_default()
    }

    fn entry(&mut self, key: &str, now_ms: i64, ttl_secs: u64) -> &mut Entry {
        let e = self.buckets.entry(key.to_owned()).or_default();
        if e.expires_ms <= now_ms {
            *e = Entry::default();
        }
        e.expires_ms = now_ms.saturating_add(ttl_ms(ttl_secs));
        e
    }

    fn sweep(&mut self, now_ms: i64) {
        self.ops += 1;
        if self.ops.is_multiple_of(4096) {
            self.buckets
                .retain(|_, e| e.expires_ms > now_ms || e.state.reserved > 0);
        }
    }
}

impl BudgetStore for MemoryStore {
    fn reserve<'a>(
        &'a self,
        slots: &'a [Slot],
        amount: Micros,
        dry_run: bool,
        now_ms: i64,
    ) -> StoreFuture<'a, ReserveOutcome> {
        let mut inner = self.lock();
        inner.sweep(now_ms);
        let mut before = Vec::with_capacity(slots.len());
        for (i, slot) in slots.iter().enumerate() {
            let total: Micros = slot
                .window
                .iter()
                .map(|k| {
                    let s = inner.live(k, now_ms);
                    s.spent.saturating_add(s.reserved)
                })
                .fold(0, Micros::saturating_add);
            if let Some(limit) = slot.limit
                && total.saturating_add(amount) > limit
            {
                if !dry_run {
                    *inner.refusals.entry(slot.refusals.clone()).or_default() += 1;
                }
                return Box::pin(std::future::ready(Ok(ReserveOutcome::Refused {
                    slot: i,
                    before: total,
                })));
            }
            before.push(total);
        }
        if !dry_run {
            for slot in slots {
                let e = inner.entry(&slot.current, now_ms, slot.ttl_secs);
                e.state.reserved = e.state.reserved.saturating_add(amount);
            }
        }
        Box::pin(std::future::ready(Ok(ReserveOutcome::Reserved { before })))
    }

    fn settle(&self, buckets: Vec<(String, u64)>, reserved: Micros, actual: Micros, now_ms: i64) {
        let mut inner = self.lock();
        for (key, ttl) in buckets {
            let e = inner.entry(&key, now_ms, ttl);
            e.state.reserved = e.state.reserved.saturating_sub(reserved).max(0);
            e.state.spent = e.state.spent.saturating_add(actual);
        }
    }

    fn read<'a>(&'a self, keys: &'a [String], now_ms: i64) -> StoreFuture<'a, Vec<BucketState>> {
        let inner = self.lock();
        let out = keys.iter().map(|k| inner.live(k, now_ms)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<(String, BucketState)>> {
        let inner = self.lock();
        let mut out: Vec<_> = inner
            .buckets
            .iter()
            .filter(|(k, e)| k.starts_with(prefix) && e.expires_ms > now_ms)
            .map(|(k, e)| (k.clone(), e.state))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Box::pin(std::future::ready(Ok(out)))
    }

    fn refusals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, u64> {
        let n = self.lock().refusals.get(key).copied().unwrap_or(0);
        Box::pin(std::future::ready(Ok(n)))
    }
}

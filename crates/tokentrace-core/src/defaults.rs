//! Process-wide defaults that the facade's `install()` sets once and the
//! integration crates read: the price catalogue (built-in plus the user's
//! price file) and whether content capture is on by default.
//!
//! They exist so that `LlmMiddleware::new()` (which takes no arguments) picks
//! up `TOKENTRACE_PRICES_FILE` and `TOKENTRACE_CAPTURE_CONTENT` without the
//! integration crates depending on the facade. Explicit settings on a client
//! or a request always win over these.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::price::PriceCatalogue;

static PRICES: RwLock<Option<Arc<PriceCatalogue>>> = RwLock::new(None);
static CAPTURE_CONTENT: AtomicBool = AtomicBool::new(false);

/// Make `catalogue` the process-wide default price catalogue.
pub fn set_price_catalogue(catalogue: Arc<PriceCatalogue>) {
    // A poisoned lock only means a writer panicked mid-assignment of an Arc,
    // which cannot leave it half-written: take the guard anyway.
    let mut slot = PRICES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = Some(catalogue);
}

/// The process-wide default price catalogue: the one set by
/// [`set_price_catalogue`], else the built-in catalogue.
pub fn price_catalogue() -> Arc<PriceCatalogue> {
    if let Some(p) = PRICES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        return p.clone();
    }
    static BUILTIN: OnceLock<Arc<PriceCatalogue>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| Arc::new(PriceCatalogue::builtin().clone()))
        .clone()
}

/// Turn content capture on or off by default for clients that don't choose.
pub fn set_capture_content(enabled: bool) {
    CAPTURE_CONTENT.store(enabled, Ordering::Relaxed);
}

/// Whether content capture is on by default. Defaults to `false`.
pub fn capture_content() -> bool {
    CAPTURE_CONTENT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalogue_is_the_builtin_one_until_set() {
        let before = price_catalogue();
        assert_eq!(before.len(), PriceCatalogue::builtin().len());
        let custom = Arc::new(
            PriceCatalogue::with_overrides_toml(
                "[models.\"zz-test-model\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n",
            )
            .unwrap(),
        );
        set_price_catalogue(custom);
        assert!(price_catalogue().lookup(None, "zz-test-model").is_some());
        set_price_catalogue(Arc::new(PriceCatalogue::builtin().clone()));
        assert!(price_catalogue().lookup(None, "zz-test-model").is_none());
    }
}

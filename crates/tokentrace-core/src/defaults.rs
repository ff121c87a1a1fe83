//! Every process-wide switch of tokentrace, in one place. The facade's
//! `install()` sets them once from its settings and the environment; the
//! integration crates read them, so that `LlmMiddleware::new()` and
//! `WorkflowLayer::new()` (which take no arguments) follow
//! `TOKENTRACE_PRICES_FILE`, `TOKENTRACE_CAPTURE_CONTENT` and
//! `TOKENTRACE_WORKFLOWS` without depending on the facade.
//!
//! | switch | set by | read by | default |
//! |---|---|---|---|
//! | [`price_catalogue`] | `install()` (price file, local catalogue) | `LlmMiddleware`, `EnrichLayer` | the built-in catalogue |
//! | [`capture_content`] | `install()` (`TOKENTRACE_CAPTURE_CONTENT`) | `LlmMiddleware` without its own setting | off |
//! | [`content_capture_allowed`] | the application (`set_content_capture_allowed`) | `LlmMiddleware`, `BedrockInterceptor`: `false` wins over every other setting | allowed |
//! | [`workflow_allowed`] / [`workflow_layers_enabled`] | `install()` (`TOKENTRACE_WORKFLOWS`, `TOKENTRACE_EXCLUDE_MODULES`) through [`set_workflow_filter`] | `#[workflow]`, `traced_run`, `WorkflowLayer` | every workflow records |
//!
//! Explicit settings on a client or a request win over the defaults (not
//! over a forbidden capture).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::price::PriceCatalogue;
use crate::workflow_filter::WorkflowFilter;

static PRICES: RwLock<Option<Arc<PriceCatalogue>>> = RwLock::new(None);
static CAPTURE_CONTENT: AtomicBool = AtomicBool::new(false);
static CAPTURE_ALLOWED: AtomicBool = AtomicBool::new(true);
static WORKFLOW_LAYERS: AtomicBool = AtomicBool::new(true);
static FILTER: RwLock<Option<Arc<WorkflowFilter>>> = RwLock::new(None);
/// Bumped by every [`set_workflow_filter`]; call-sites cache their decision
/// against it. Starts at 1 so a zeroed cache entry is never current.
static GENERATION: AtomicU32 = AtomicU32::new(1);

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

/// Allow or forbid content capture process-wide. `false` wins over every
/// per-client and per-request setting. Defaults to `true` (allowed, but each
/// client still has capture off by default).
pub fn set_content_capture_allowed(allowed: bool) {
    CAPTURE_ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Whether content capture is allowed process-wide; see
/// [`set_content_capture_allowed`].
pub fn content_capture_allowed() -> bool {
    CAPTURE_ALLOWED.load(Ordering::Relaxed)
}

/// Turns every `WorkflowLayer` in the process on or off, on top of each
/// layer's own setting. [`set_workflow_filter`] sets it too (off when the
/// filter is off).
pub fn set_workflow_layers_enabled(enabled: bool) {
    WORKFLOW_LAYERS.store(enabled, Ordering::Relaxed);
}

/// Whether `WorkflowLayer`s open spans; see [`set_workflow_layers_enabled`].
pub fn workflow_layers_enabled() -> bool {
    WORKFLOW_LAYERS.load(Ordering::Relaxed)
}

/// Installs the process-wide workflow filter.
///
/// `Telemetry::install` calls it once with the environment's values; later
/// calls replace the filter, and every `#[workflow]` call-site re-reads it on
/// its next call. A filter that is [off](WorkflowFilter::is_off) also turns
/// off every `WorkflowLayer` (see [`set_workflow_layers_enabled`]).
pub fn set_workflow_filter(filter: WorkflowFilter) {
    set_workflow_layers_enabled(!filter.is_off());
    let mut slot = FILTER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = Some(Arc::new(filter));
    // Release pairs with the Acquire in `workflow_filter_generation`: a
    // call-site that sees the new generation also sees the new filter.
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The number of [`set_workflow_filter`] calls so far, plus one, in 30 bits
/// (what fits in a call-site's cache word beside its decision).
pub fn workflow_filter_generation() -> u32 {
    GENERATION.load(Ordering::Acquire) & 0x3fff_ffff
}

/// Whether the workflow `name`, defined in `module` when known, records
/// under the installed filter (every workflow records when none is).
pub fn workflow_allowed(name: &str, module: Option<&str>) -> bool {
    let slot = FILTER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.as_ref().is_none_or(|f| f.allows(name, module))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workflow filter and the `WorkflowLayer` switch move together, and
    /// every change bumps the generation call-sites cache against.
    #[test]
    fn the_workflow_filter_drives_the_layer_switch_and_the_generation() {
        let g0 = workflow_filter_generation();
        set_workflow_filter(WorkflowFilter::off());
        assert!(!workflow_layers_enabled());
        assert!(!workflow_allowed("pizza_workflow", None));
        assert_ne!(workflow_filter_generation(), g0);
        set_workflow_filter(WorkflowFilter::all().exclude_module("app::noisy"));
        assert!(workflow_layers_enabled());
        assert!(workflow_allowed("pizza_workflow", Some("app")));
        assert!(!workflow_allowed("pizza_workflow", Some("app::noisy")));
        set_workflow_filter(WorkflowFilter::all());
        assert!(workflow_allowed("pizza_workflow", Some("app::noisy")));
    }

    #[test]
    fn content_capture_is_allowed_until_forbidden() {
        assert!(content_capture_allowed());
        set_content_capture_allowed(false);
        assert!(!content_capture_allowed());
        set_content_capture_allowed(true);
        assert!(content_capture_allowed());
    }

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

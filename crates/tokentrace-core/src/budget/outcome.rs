//! Budget outcomes and the process-wide observer that counts them.

use std::sync::RwLock;

use super::window::Scope;

/// One budget decision on one limit, reported to the installed
/// [`OutcomeObserver`] (the facade's counts it in the
/// `tokentrace.budget.outcomes` metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetOutcome<'a> {
    /// The limit's name (empty when the store failed before any limit was read).
    pub limit: &'a str,
    /// Its scope.
    pub scope: Scope,
    /// What happened: one of the [`outcomes`] values.
    pub outcome: &'static str,
}

impl<'a> BudgetOutcome<'a> {
    /// An outcome (see the fields).
    pub const fn new(limit: &'a str, scope: Scope, outcome: &'static str) -> Self {
        Self {
            limit,
            scope,
            outcome,
        }
    }
}

/// The values of [`BudgetOutcome::outcome`] (and of the
/// `tokentrace.budget.outcome` metric attribute).
pub mod outcomes {
    /// Reserved within the limit.
    pub const RESERVED: &str = "reserved";
    /// Refused: the call would pass this enforced limit.
    pub const REFUSED: &str = "refused";
    /// Let through past this warn-mode limit.
    pub const WARNED: &str = "warned";
    /// The reservation crossed one of this limit's soft thresholds (reported
    /// in addition to `reserved` or `warned`).
    pub const SOFT_THRESHOLD: &str = "soft_threshold";
    /// The store could not be reached; the call went through unchecked (fail open).
    pub const UNAVAILABLE: &str = "unavailable";
    /// The store could not be reached; the call was refused (fail closed).
    pub const UNAVAILABLE_REFUSED: &str = "unavailable_refused";
}

/// Receives every [`BudgetOutcome`]; must be quick and must not block (it
/// runs on the request path).
pub type OutcomeObserver = std::sync::Arc<dyn Fn(&BudgetOutcome<'_>) + Send + Sync>;

static OBSERVER: RwLock<Option<OutcomeObserver>> = RwLock::new(None);

/// Install (or with `None` remove) the process-wide [`OutcomeObserver`]
/// (`tokentrace::init()` installs one that feeds the
/// `tokentrace.budget.outcomes` counter).
pub fn set_outcome_observer(observer: Option<OutcomeObserver>) {
    *OBSERVER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = observer;
}

/// Remove `observer` if it is still the installed one (another installed
/// since is kept).
pub fn remove_outcome_observer(observer: &OutcomeObserver) {
    let mut slot = OBSERVER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slot
        .as_ref()
        .is_some_and(|o| std::sync::Arc::ptr_eq(o, observer))
    {
        *slot = None;
    }
}

/// Report one outcome to the installed observer (a no-op without one).
pub fn report_outcome(outcome: &BudgetOutcome<'_>) {
    let observer = OBSERVER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(o) = observer {
        o(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_reach_the_installed_observer() {
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<(String, Scope, &'static str)>>> = Arc::default();
        let sink = seen.clone();
        set_outcome_observer(Some(Arc::new(move |o: &BudgetOutcome<'_>| {
            if o.limit.starts_with("observer-test") {
                sink.lock()
                    .unwrap()
                    .push((o.limit.to_owned(), o.scope, o.outcome));
            }
        })));
        report_outcome(&BudgetOutcome::new(
            "observer-test",
            Scope::User,
            outcomes::REFUSED,
        ));
        // Removing another observer keeps the installed one.
        let other: OutcomeObserver = Arc::new(|_: &BudgetOutcome<'_>| {});
        remove_outcome_observer(&other);
        report_outcome(&BudgetOutcome::new(
            "observer-test-kept",
            Scope::Global,
            outcomes::WARNED,
        ));
        set_outcome_observer(None);
        report_outcome(&BudgetOutcome::new(
            "observer-test-after",
            Scope::User,
            outcomes::REFUSED,
        ));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                ("observer-test".to_owned(), Scope::User, "refused"),
                ("observer-test-kept".to_owned(), Scope::Global, "warned"),
            ]
        );
    }
}

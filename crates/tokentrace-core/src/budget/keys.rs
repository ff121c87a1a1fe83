//! The keys a call is charged to and the process-wide provider that reads
//! them for the current request.

use std::sync::RwLock;

/// The values a call is charged to. Unset keys make the limits of that
/// scope not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetKeys {
    /// `user.id`.
    pub user: Option<String>,
    /// `session.id`.
    pub session: Option<String>,
    /// The innermost workflow's name.
    pub workflow: Option<String>,
    /// A gateway client key's id (never the key).
    pub api_key: Option<String>,
    /// The request model.
    pub model: Option<String>,
}

/// Longest key value kept (longer ones are cut at a character boundary).
pub const MAX_KEY_CHARS: usize = 128;

fn bounded(v: impl Into<String>) -> String {
    let mut v: String = v.into();
    if let Some((i, _)) = v.char_indices().nth(MAX_KEY_CHARS) {
        v.truncate(i);
    }
    v
}

impl BudgetKeys {
    /// No keys: only global limits apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the user.
    #[must_use]
    pub fn user(mut self, v: impl Into<String>) -> Self {
        self.user = Some(bounded(v));
        self
    }

    /// Set the session.
    #[must_use]
    pub fn session(mut self, v: impl Into<String>) -> Self {
        self.session = Some(bounded(v));
        self
    }

    /// Set the workflow.
    #[must_use]
    pub fn workflow(mut self, v: impl Into<String>) -> Self {
        self.workflow = Some(bounded(v));
        self
    }

    /// Set the client key id (an id, never the key).
    #[must_use]
    pub fn api_key(mut self, v: impl Into<String>) -> Self {
        self.api_key = Some(bounded(v));
        self
    }

    /// Set the model.
    #[must_use]
    pub fn model(mut self, v: impl Into<String>) -> Self {
        self.model = Some(bounded(v));
        self
    }

    /// Fill every unset key from `other`.
    #[must_use]
    pub fn or(mut self, other: Self) -> Self {
        self.user = self.user.or(other.user);
        self.session = self.session.or(other.session);
        self.workflow = self.workflow.or(other.workflow);
        self.api_key = self.api_key.or(other.api_key);
        self.model = self.model.or(other.model);
        self
    }
}

/// Reads the keys of the current request from wherever the application
/// keeps them (the facade installs one that reads `metadata!` guards,
/// `WorkflowLayer` headers and workflow names from the span tree).
pub type KeysProvider = fn() -> BudgetKeys;

static PROVIDER: RwLock<Option<KeysProvider>> = RwLock::new(None);

/// Install the process-wide [`KeysProvider`] (`tokentrace::init()` does).
pub fn set_keys_provider(provider: KeysProvider) {
    *PROVIDER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(provider);
}

/// The keys of the current request, from the installed provider (empty
/// when none is installed).
pub fn current_keys() -> BudgetKeys {
    let p = *PROVIDER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    p.map(|f| f()).unwrap_or_default()
}

//! The store's error type.

use std::fmt;

/// What went wrong in a [`Store`](crate::Store) call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The requested trace or session is not in the store.
    NotFound,
    /// A trace id was not 32 lowercase hexadecimal digits.
    InvalidTraceId,
    /// SQLite reported an error (locked, full, corrupt, ...).
    Sqlite,
    /// The database file or its directory could not be created.
    Io,
    /// The database was written by a newer tokentrace with an unknown schema.
    Schema,
    /// A stored JSON column could not be decoded.
    Decode,
    /// The file is a SQLite database (or empty) but not a tokentrace store;
    /// opened read-only, it was left untouched.
    NotAStore,
    /// The file is damaged or is not a SQLite database at all.
    Corrupt,
    /// A trace id prefix matched several traces.
    Ambiguous,
}

/// An error from the store: see [`StoreError::kind`].
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    detail: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    pub(crate) fn new(kind: StoreErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        kind: StoreErrorKind,
        detail: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            detail: detail.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(StoreErrorKind::NotFound, format!("{what} {id} not found"))
    }

    /// The category of the error.
    #[must_use]
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// `true` when the error is [`StoreErrorKind::NotFound`].
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.kind == StoreErrorKind::NotFound
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => {
                Self::with_source(StoreErrorKind::Corrupt, "the database file is corrupt", e)
            }
            Some(ErrorCode::NotADatabase) => Self::with_source(
                StoreErrorKind::Corrupt,
                "the file is not a SQLite database, or is corrupt",
                e,
            ),
            _ => Self::with_source(StoreErrorKind::Sqlite, "sqlite error", e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::with_source(
            StoreErrorKind::Decode,
            "stored json could not be decoded",
            e,
        )
    }
}

/// Checks that `id` is 32 lowercase hexadecimal digits (a W3C trace id).
pub(crate) fn check_trace_id(id: &str) -> Result<(), StoreError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::new(
            StoreErrorKind::InvalidTraceId,
            format!("invalid trace id {id:?}: expected 32 lowercase hex digits"),
        ))
    }
}

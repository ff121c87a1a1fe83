//! Errors from loading a price-override file.

use std::fmt;
use std::path::PathBuf;

/// Where in a price file a problem is: the file (when read from one) and the
/// 1-based line (when known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file, when the TOML came from [`PriceCatalogue::with_overrides_file`](super::PriceCatalogue::with_overrides_file).
    pub path: Option<PathBuf>,
    /// The 1-based line number.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("<prices>")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// Why a price-override file was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// The file could not be read.
    #[error("cannot read price file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not have the override shape
    /// (unknown keys, wrong types, missing `input_per_mtok`/`output_per_mtok`).
    #[error("invalid price file {location}: {message}")]
    Toml {
        /// Where.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A price is negative, NaN or infinite.
    #[error(
        "invalid price file {location}: model {model:?}: {field} must be a finite, non-negative USD amount, got {value}"
    )]
    InvalidPrice {
        /// Where.
        location: Location,
        /// The model whose price is wrong.
        model: String,
        /// The field (`input_per_mtok`, `tiers[0].output_per_mtok`, …).
        field: String,
        /// The rejected value.
        value: f64,
    },
    /// A price table given to `tokentrace prices update` (or
    /// [`update::convert`](super::update::convert)) is not one of the accepted
    /// formats, or a local catalogue is malformed.
    #[error("invalid price table{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Table {
        /// The file, when known.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// The local catalogue's path holds a file tokentrace did not write; it
    /// is left as it is.
    #[error(
        "{} exists and is not a price catalogue written by tokentrace; not overwriting it (choose another path)",
        path.display()
    )]
    NotOurs {
        /// The file.
        path: PathBuf,
    },
}

impl PriceError {
    /// The location of the problem in the file, when it is a content error.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Toml { location, .. } | Self::InvalidPrice { location, .. } => Some(location),
            Self::Io { .. } | Self::Table { .. } | Self::NotOurs { .. } => None,
        }
    }

    pub(crate) fn with_path(mut self, file: PathBuf) -> Self {
        match &mut self {
            Self::Toml { location, .. } | Self::InvalidPrice { location, .. } => {
                location.path = Some(file);
            }
            Self::Table { path, .. } => *path = Some(file),
            Self::Io { .. } | Self::NotOurs { .. } => {}
        }
        self
    }
}

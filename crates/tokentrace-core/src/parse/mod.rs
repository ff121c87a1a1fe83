//! Usage parsers.

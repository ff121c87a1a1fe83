//! View models: store types turned into what the templates print (formatted
//! strings and precomputed geometry), so templates hold no arithmetic.

mod canonical;
mod format;
mod messages;
mod span;
mod trace;

#[cfg(test)]
pub(crate) use canonical::canonical_attributes;
pub(crate) use format::{encode, human_duration, query_string, round1};
pub(crate) use messages::{Message, messages};
pub(crate) use trace::{TraceRow, TraceView, WATERFALL_WIDTH, fold};

//! HTML page handlers.

mod query;
mod sessions;
mod stats;
mod traces;

pub(crate) use query::TracesQuery;
pub(crate) use sessions::{session, sessions};
pub(crate) use stats::stats;
pub(crate) use traces::{trace, traces, version};

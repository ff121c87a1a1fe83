//! The gateway end to end: real clients (reqwest, curl, the official Python
//! `openai` package) through the gateway to loopback mock upstreams, spans
//! compared attribute by attribute with the same calls made in-process.

mod budgets;
mod clients;
mod faults;
mod keys;
mod load;
mod proxy;
mod support;

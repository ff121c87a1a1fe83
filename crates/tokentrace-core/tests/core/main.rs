//! tokentrace-core integration tests: golden fixtures from real recordings,
//! cost figures computed by hand, property tests.

mod cost;
mod golden;
mod properties;

//! tokentrace-core integration tests: golden fixtures from real recordings,
//! cost figures computed by hand, property tests.

mod cost;
mod docs;
mod golden;
mod modalities;
mod price_update;
mod properties;

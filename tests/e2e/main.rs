//! End-to-end tests of the whole tokentrace pipeline: load and soak through
//! a real axum service and loopback mock providers, provider and client
//! faults, secrets in every exported byte, and hostile input. Figures are
//! printed to stderr (run with `--nocapture`) and recorded in
//! `docs/robustness.md`. Each area is one module; add yours with one `mod` line.

mod faults;
mod hostile;
mod load;
mod phoenix;
mod secrets;
mod soak;
mod support;

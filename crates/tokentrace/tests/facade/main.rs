//! Integration tests of the `tokentrace` facade. Each area is one module;
//! add yours with one `mod` line.

mod telemetry;
mod workflow;

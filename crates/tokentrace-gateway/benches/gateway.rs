//! Added latency and time to first byte: direct vs the gateway vs LiteLLM (see docs/gateway.md).

fn main() {}

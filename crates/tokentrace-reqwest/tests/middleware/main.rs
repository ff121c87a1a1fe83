//! Loopback tests of `LlmMiddleware` against mock providers replaying real
//! recordings, asserted through an in-memory OpenTelemetry exporter.

#[cfg(feature = "async-openai")]
mod async_openai;
#[cfg(feature = "bedrock")]
mod bedrock;
mod behaviour;
mod budget;
#[cfg(feature = "redis")]
mod budget_redis;
mod encoding;
mod replay;
mod support;

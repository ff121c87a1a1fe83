//! Integration tests of `WorkflowLayer`: axum routers driven with `oneshot`
//! and on loopback, spans asserted through an in-memory OTel exporter.

mod support;

mod bounds;
mod lifecycle;
mod propagation;
mod spans;

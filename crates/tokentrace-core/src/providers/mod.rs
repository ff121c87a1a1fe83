//! One module per provider wire format: its routes and hosts (read by
//! `detect`), and everything else that is the provider's own.
//!
//! "Where is Anthropic handled?": `providers/anthropic.rs`. The generic
//! machinery (URL matching in `detect`, framing and scanning in `parse`)
//! knows no provider; it reads the tables these modules write.

pub(crate) mod anthropic;
pub(crate) mod azure;
pub(crate) mod bedrock;
pub(crate) mod cohere;
pub(crate) mod compat;
pub(crate) mod gemini;
pub(crate) mod mistral;
pub(crate) mod ollama;
pub(crate) mod openai;
pub(crate) mod vector;

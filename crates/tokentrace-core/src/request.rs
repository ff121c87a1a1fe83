//! Request peek: model, stream flag and parameters from a JSON request body.
//!
//! OWNED BY THE DETECTION HELPER: placeholder API, to be implemented.

use crate::provider::Flavor;

/// What the request body says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// `model` from the body.
    pub model: Option<String>,
    /// `stream` from the body.
    pub stream: Option<bool>,
}

/// Read model, stream flag and parameters from a request body. Never fails:
/// a body that is not JSON gives an empty [`RequestInfo`].
pub fn peek_request(flavor: Flavor, body: &[u8]) -> RequestInfo {
    let _ = (flavor, body);
    RequestInfo::default()
}

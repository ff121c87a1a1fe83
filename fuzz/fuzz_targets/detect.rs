//! Provider detection and request peeking on arbitrary URLs and bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokentrace_core::{Flavor, ProviderRegistry, peek_request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let flavor = Flavor::ALL[usize::from(selector) % Flavor::ALL.len()];
    let _ = peek_request(flavor, rest);
    let _ = tokentrace_core::request::inject_include_usage(rest);
    if let Ok(url) = std::str::from_utf8(rest) {
        let _ = ProviderRegistry::new().detect_url("POST", url);
    }
});

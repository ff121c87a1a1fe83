//! Shared by the four parser targets: every flavour's parser on an arbitrary
//! body in one framing, split at a fuzzer-chosen point. It must not panic,
//! must parse the same as the unsplit body, and must keep its memory bounded.

use tokentrace_core::parse::ResponseParser;
use tokentrace_core::{BodyFormat, Flavor, Provider};

pub fn run(format: BodyFormat, data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let flavor = Flavor::ALL[usize::from(selector) % Flavor::ALL.len()];
    let provider = Provider::ALL[usize::from(selector / 16) % Provider::ALL.len()];
    let cut = if body.is_empty() {
        0
    } else {
        usize::from(selector) * 31 % (body.len() + 1)
    };
    let mut whole = ResponseParser::new(provider, flavor, format);
    whole.push(body);
    let a = whole.finish();
    let mut split = ResponseParser::new(provider, flavor, format);
    split.push(&body[..cut]);
    assert!(
        split.retained_bytes() < 1 << 20,
        "parser holds {} bytes",
        split.retained_bytes()
    );
    split.push(&body[cut..]);
    let b = split.finish();
    assert_eq!(a, b, "split at {cut} changed the result");
}

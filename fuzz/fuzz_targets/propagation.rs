//! W3C traceparent, tracestate and baggage parsing on arbitrary strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokentrace_core::propagation::{BaggageLimits, TraceParent, parse_baggage, parse_tracestate};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tp) = TraceParent::parse(s) {
        let again = TraceParent::parse(&tp.to_string()).expect("a formatted traceparent parses");
        assert_eq!(tp, again);
    }
    let _ = parse_tracestate(s);
    let b = parse_baggage(s, BaggageLimits::default());
    assert!(b.members.len() <= 64);
});

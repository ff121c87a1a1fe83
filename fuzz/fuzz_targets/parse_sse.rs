//! Every flavour's parser on arbitrary Sse bodies (see `split_check.rs`).
#![no_main]

#[path = "split_check.rs"]
mod split_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    split_check::run(tokentrace_core::BodyFormat::Sse, data);
});

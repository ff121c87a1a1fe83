//! Every flavour's parser on arbitrary AwsEventStream bodies (see `src/split_check.rs`).
#![no_main]

use tokentrace_fuzz::split_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    split_check::run(tokentrace_core::BodyFormat::AwsEventStream, data);
});

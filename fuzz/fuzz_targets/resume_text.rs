#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| looma_fuzz_targets::resume_text(data));

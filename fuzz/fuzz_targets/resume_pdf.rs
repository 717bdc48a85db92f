#![no_main]

libfuzzer_sys::fuzz_target!(
    init: looma_fuzz_targets::tolerate_panics_caught_around_pdf_extract(),
    |data: &[u8]| looma_fuzz_targets::resume_pdf(data)
);

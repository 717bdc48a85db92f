//! The resume domain: pure rules with no I/O. `format` (what the bytes are), `extract`
//! (bytes → text, with the PDF fallback chain), `parse` (text → profile), `pii` (masking),
//! `profile` (the stored shape).

pub mod extract;
pub mod format;
pub mod parse;
pub mod pii;
pub mod profile;

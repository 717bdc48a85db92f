//! The resume domain: pure rules with no I/O. `parse` (text → profile), `pii` (masking),
//! `profile` (the stored shape). What the bytes are and their text come from `looma-extract`.

pub mod parse;
pub mod pii;
pub mod profile;

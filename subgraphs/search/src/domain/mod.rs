//! Pure rules: rank fusion, cursors, and what a valid query, filter or document is.

pub mod cursor;
pub mod fusion;
pub mod validate;

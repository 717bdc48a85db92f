//! The `looma` binary's library half: configuration of the whole platform and the code that
//! starts components. `main.rs` only parses arguments and calls in here; integration tests
//! call in here too, so they run exactly what the binary runs.

pub mod config;
pub mod platform;

pub use config::LoomaConfig;
pub use platform::{Component, Platform};

//! Shared vocabulary of every Looma component: the error codes clients see, configuration
//! loading (defaults → `looma.toml` → `LOOMA_*` environment), redacted secrets, and logging.
//!
//! This crate does no I/O beyond reading the config file and writing logs; it knows nothing of
//! HTTP, databases or any one subgraph.

pub mod config;
pub mod envelope;
pub mod error;
pub mod metrics;
pub mod page;
pub mod retry;
pub mod secret;
pub mod telemetry;

pub use error::{CodedError, ErrorCode, GraphqlErrorExt, GraphqlResultExt};
pub use secret::Secret;

//! The federation router (port 8206): the platform's single entry point.
//!
//! - [`supergraph`]: parse a supergraph SDL into routing metadata and the API schema.
//! - [`plan`]: turn a client operation into a query plan (pure, no I/O).
//! - [`execute`]: run a plan against subgraphs and shape the response.
//! - [`transport`]: how subgraphs are reached (HTTP, or a test double).
//! - [`pipeline`]: one request end to end without HTTP; [`http`]: the HTTP face.
//! - [`registry`]: following the schema registry (supergraph swaps, routes) and reporting
//!   operation usage ([`usage`]) for its checks.
//! - [`subscription`]: subscriptions over WebSocket, SSE and multipart, each event through
//!   the rest of its plan.

pub mod compose;
pub mod config;
pub mod error;
pub mod execute;
pub mod graphiql;
pub mod http;
pub mod limits;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod schema_diff;
pub mod subscription;
pub mod supergraph;
pub mod transport;
pub mod uploads;
pub mod usage;

pub use config::RouterConfig;
pub use http::{RouterService, read_supergraph, router, spawn_reloader};

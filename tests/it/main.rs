//! Integration tests: the real components, started in-process on ephemeral ports, spoken to
//! over HTTP the way the CRM does. Tests that need PostgreSQL and Redis run when
//! `LOOMA_TEST_DATABASE_URL` and `LOOMA_TEST_REDIS_URL` are set (CI sets both) and fail
//! loudly if those servers are unreachable.

mod harness;

mod hostile;

mod chat;
mod cli;
mod entity_cache;
mod identity_auth;
mod identity_config;
mod matching;
mod monitor;
mod recommendations;
mod registry;
mod resume;
mod router;
mod schema_registry;
mod search;
mod trace_export;
mod traffic;

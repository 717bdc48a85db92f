//! Database migrations for every component, in one ordered list.
//!
//! Each subgraph owns its tables, named with its prefix (`identity_*`, `resume_*`, ...), and
//! adds its migrations here as `mYYYYMMDD_NNNNNN_<component>_<change>`. Migrations are
//! forward-only in production; `down` exists for development resets.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_identity_init;
mod m20261125_000002_resume_init;
mod m20261125_000003_matching_init;
mod m20261126_000004_identity_revocations;
mod m20261206_000005_embedding_models;
mod m20261206_000006_chat_init;
mod m20261206_000007_monitor_init;
mod m20261206_000008_registry_init;
mod m20261207_000009_monitor_user_usage;
mod m20261208_000010_matching_job_analysis;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_identity_init::Migration),
            Box::new(m20261125_000002_resume_init::Migration),
            Box::new(m20261125_000003_matching_init::Migration),
            Box::new(m20261126_000004_identity_revocations::Migration),
            Box::new(m20261206_000005_embedding_models::Migration),
            Box::new(m20261206_000006_chat_init::Migration),
            Box::new(m20261206_000007_monitor_init::Migration),
            Box::new(m20261206_000008_registry_init::Migration),
            Box::new(m20261207_000009_monitor_user_usage::Migration),
            Box::new(m20261208_000010_matching_job_analysis::Migration),
        ]
    }
}

//! Database connections and migrations, shared by every component.
//!
//! SQLite (a file under `./data/`) is the embedded default; PostgreSQL is the production
//! choice. Components get a [`DatabaseConnection`] and own their tables through their own
//! `store.rs`; this crate never knows what any table means.

mod backup;

pub use backup::{BackupError, backup, restore};

use looma_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

pub use sea_orm::{DatabaseConnection, DbErr};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL `{0}` is not sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("cannot create the directory for the SQLite file: {0}")]
    CreateDirectory(std::io::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(DbErr),
    #[error("migration failed: {0}")]
    Migrate(DbErr),
    #[error("database unreachable: {0}")]
    Unreachable(DbErr),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://data/looma.db?mode=rwc` or `postgres://user:pass@host:5432/db`.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
    /// Apply pending migrations when a component starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/looma.db?mode=rwc".into(),
            max_connections: 10,
            connect_timeout_ms: 5_000,
            migrate_on_start: true,
        }
    }
}

impl DatabaseConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("sqlite:") || is_postgres(&self.url)) {
            return Err(format!(
                "config key `database.url`: `{}` is not a sqlite:// or postgres:// URL",
                looma_core::secret::redact_url(&self.url)
            ));
        }
        if self.max_connections == 0 {
            return Err("config key `database.max_connections`: must be at least 1".into());
        }
        Ok(())
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens a pool. For SQLite the file's directory is created, and the connection uses WAL
/// journaling, enforced foreign keys and a busy timeout so concurrent writers wait instead of
/// failing.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbError> {
    let url = config.url.as_str();
    let sqlite = url.starts_with("sqlite:");
    if !sqlite && !is_postgres(url) {
        return Err(DbError::UnsupportedUrl(looma_core::secret::redact_url(url)));
    }
    if sqlite {
        create_sqlite_directory(url)?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.max_connections)
        .min_connections(if sqlite { 1 } else { 0 })
        .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
        .acquire_timeout(Duration::from_millis(config.connect_timeout_ms))
        .sqlx_logging(false);
    if sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    }
    Database::connect(options).await.map_err(DbError::Connect)
}

fn create_sqlite_directory(url: &str) -> Result<(), DbError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(DbError::CreateDirectory)
        }
        _ => Ok(()),
    }
}

/// Applies every pending migration; returns how many ran.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, DbError> {
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DbError::Migrate)?
        .len();
    Migrator::up(db, None).await.map_err(DbError::Migrate)?;
    Ok(pending)
}

/// Pending and applied migration names, for `looma migrate --status`.
pub async fn migration_status(
    db: &DatabaseConnection,
) -> Result<(Vec<String>, Vec<String>), DbError> {
    let applied = Migrator::get_applied_migrations(db)
        .await
        .map_err(DbError::Migrate)?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DbError::Migrate)?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Ok((applied, pending))
}

/// A round trip to the database, for `/ready`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbError> {
    let backend = db.get_database_backend();
    let statement = Statement::from_string(backend, "SELECT 1");
    db.execute_raw(statement)
        .await
        .map(|_| ())
        .map_err(DbError::Unreachable)
}

/// Whether a write failed on a unique constraint (a duplicate), on either backend.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Records the pool's open and idle connections as `looma_db_pool_connections{component,
/// state}` (for a component's `/metrics` collector).
pub fn record_pool_metrics(db: &DatabaseConnection, component: &'static str) {
    let (open, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return,
    };
    metrics::gauge!("looma_db_pool_connections", "component" => component, "state" => "open")
        .set(f64::from(open));
    metrics::gauge!("looma_db_pool_connections", "component" => component, "state" => "idle")
        .set(idle as f64);
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

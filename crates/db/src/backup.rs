//! Backups of the whole database, taken while the platform runs, and their restore (with the
//! platform stopped).
//!
//! - SQLite: `VACUUM INTO` writes a consistent, compacted copy of the live file in one
//!   statement (readers and writers carry on); restore replaces the file (and drops its
//!   write-ahead log) with the copy, after checking it is a Looma database.
//! - PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner`
//!   (PostgreSQL's client tools, run as child processes with the URL from the configuration).
//!
//! Search indexes are not in the database: after a restore, rebuild them with
//! `looma search reindex resumes|jobs|knowledge`.

use crate::{DatabaseConfig, DatabaseConnection, is_postgres};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: choose a new file (backups never overwrite)")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0}")]
    Invalid(String),
    #[error("the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes a backup of the database behind `db` (configured as `config`) to `path`.
pub async fn backup(
    db: &DatabaseConnection,
    config: &DatabaseConfig,
    path: &Path,
) -> Result<(), BackupError> {
    if path.exists() {
        return Err(BackupError::Exists(path.to_owned()));
    }
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let target = path.to_str().ok_or_else(|| {
                BackupError::Invalid(format!("{} is not a UTF-8 path", path.display()))
            })?;
            // A string literal in SQL: quotes doubled.
            let sql = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
            db.execute_raw(Statement::from_string(DbBackend::Sqlite, sql))
                .await?;
            Ok(())
        }
        DbBackend::Postgres => {
            let (url, password) = split_password(&config.url)?;
            let mut command = Command::new("pg_dump");
            command
                .arg("--format=custom")
                .arg("--no-owner")
                .arg(format!("--file={}", path.display()))
                .arg(format!("--dbname={url}"));
            if let Some(password) = password {
                command.env("PGPASSWORD", password);
            }
            run("pg_dump", &mut command)
        }
        _ => Err(BackupError::Invalid("unsupported database".into())),
    }
}

/// Restores the backup at `path` into the configured database. Stop every component first:
/// SQLite's file is replaced, PostgreSQL's tables are dropped and recreated.
pub async fn restore(config: &DatabaseConfig, path: &Path) -> Result<(), BackupError> {
    if !path.is_file() {
        return Err(BackupError::Missing(path.to_owned()));
    }
    if is_postgres(&config.url) {
        let (url, password) = split_password(&config.url)?;
        let mut command = Command::new("pg_restore");
        command
            .arg("--clean")
            .arg("--if-exists")
            .arg("--no-owner")
            .arg("--single-transaction")
            .arg(format!("--dbname={url}"))
            // A file name, even one starting with `-`.
            .arg(std::path::absolute(path)?);
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        return run("pg_restore", &mut command);
    }
    let live = sqlite_file(&config.url)
        .ok_or_else(|| BackupError::Invalid("database.url names no SQLite file".into()))?;
    check_sqlite_backup(path).await?;
    // Copy beside the live file, then rename over it: a crash leaves one or the other whole.
    let staged = live.with_extension("restoring");
    std::fs::copy(path, &staged)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = live.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    std::fs::rename(&staged, &live)?;
    Ok(())
}

/// The backup opens as SQLite and holds the migrations table every Looma database has.
async fn check_sqlite_backup(path: &Path) -> Result<(), BackupError> {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = sea_orm::Database::connect(url).await.map_err(|e| {
        BackupError::Invalid(format!("{} is not a SQLite database: {e}", path.display()))
    })?;
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*) AS n FROM sqlite_master WHERE name = 'seaql_migrations'",
        ))
        .await
        .map_err(|e| {
            BackupError::Invalid(format!("{} is not a SQLite database: {e}", path.display()))
        })?
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    db.close().await?;
    if found == 0 {
        return Err(BackupError::Invalid(format!(
            "{} is not a Looma backup (no migrations table)",
            path.display()
        )));
    }
    Ok(())
}

/// The URL without its password, and the password: the tools get it through `PGPASSWORD`,
/// never on a command line that every local user can read in the process list.
fn split_password(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| BackupError::Invalid(format!("database.url is not a URL: {e}")))?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        let _ = parsed.set_password(None);
    }
    Ok((parsed.to_string(), password))
}

/// The file of a `sqlite://path?...` URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn run(tool: &'static str, command: &mut Command) -> Result<(), BackupError> {
    let output = command.output().map_err(|e| BackupError::Tool {
        tool,
        message: format!("cannot run it ({e}); install PostgreSQL's client tools"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        // The URL may be in the message; the tool prints its own errors without it.
        Err(BackupError::Tool {
            tool,
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        let (url, password) = split_password("postgres://looma:s%40cret@db:5432/looma").unwrap();
        assert_eq!(url, "postgres://looma@db:5432/looma");
        assert_eq!(password.as_deref(), Some("s@cret"));
        let (url, password) = split_password("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(url, "postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(password, None);
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://data/looma.db?mode=rwc"),
            Some(PathBuf::from("data/looma.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x/y"), None);
    }

    #[tokio::test]
    async fn a_backup_restores_what_was_there_when_it_was_taken() {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig {
            url: format!("sqlite://{}/live.db?mode=rwc", dir.path().display()),
            ..DatabaseConfig::default()
        };
        let db = crate::connect(&config).await.unwrap();
        crate::migrate(&db).await.unwrap();
        let exec = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql.to_owned());
        db.execute_raw(exec("CREATE TABLE notes (body TEXT)"))
            .await
            .unwrap();
        db.execute_raw(exec("INSERT INTO notes VALUES ('before')"))
            .await
            .unwrap();
        let copy = dir.path().join("copy's backup.db");
        backup(&db, &config, &copy).await.unwrap();
        assert!(matches!(
            backup(&db, &config, &copy).await,
            Err(BackupError::Exists(_))
        ));
        db.execute_raw(exec("INSERT INTO notes VALUES ('after')"))
            .await
            .unwrap();
        db.close().await.unwrap();

        restore(&config, &copy).await.unwrap();
        let db = crate::connect(&config).await.unwrap();
        let rows = db
            .query_all_raw(exec("SELECT body FROM notes"))
            .await
            .unwrap();
        let bodies: Vec<String> = rows
            .iter()
            .map(|row| row.try_get::<String>("", "body").unwrap())
            .collect();
        assert_eq!(bodies, ["before"]);

        // Anything that is not a Looma backup is refused, and the live file is untouched.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database").unwrap();
        assert!(matches!(
            restore(&config, &junk).await,
            Err(BackupError::Invalid(_))
        ));
        assert!(matches!(
            restore(&config, &dir.path().join("nope.db")).await,
            Err(BackupError::Missing(_))
        ));
    }
}

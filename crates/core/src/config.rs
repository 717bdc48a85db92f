//! Layered configuration: built-in defaults, then `looma.toml` (or `--config FILE`), then the
//! environment. `LOOMA_SECTION__KEY=value` sets `section.key`; `DATABASE_URL`, `REDIS_URL`,
//! `ELASTICSEARCH_URL` and `QDRANT_URL`
//! are honoured as the conventional names for `database.url` and `cache.redis_url`.
//!
//! Errors name the key that was wrong and where its value came from, so a bad value stops
//! start-up with a message an operator can act on.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// `LOOMA_` variables with a `__` section separator are configuration keys
/// (`LOOMA_IDENTITY__PORT`); others (`LOOMA_CONFIG`, `LOOMA_ADMIN_PASSWORD`, `LOOMA_TEST_*`,
/// an operator's own `LOOMA_BIN`) are not, and are left alone.
const SECTION_SEPARATOR: &str = "__";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn invalid(key: &str, reason: impl std::fmt::Display) -> Self {
        ConfigError(format!("config key `{key}`: {reason}"))
    }
}

/// The layered sources for a config of type `T`, without extracting it yet.
pub fn layered<T: Serialize + Default>(file: Option<&Path>) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment
        .merge(
            Env::prefixed("LOOMA_")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    key.contains(SECTION_SEPARATOR) && !key.starts_with("test_")
                })
                .split(SECTION_SEPARATOR),
        )
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
        .merge(
            Env::raw()
                .only(&["REDIS_URL"])
                .map(|_| "cache.redis_url".into()),
        )
        .merge(
            Env::raw()
                .only(&["ELASTICSEARCH_URL"])
                .map(|_| "search.elasticsearch_url".into()),
        )
        .merge(
            Env::raw()
                .only(&["QDRANT_URL"])
                .map(|_| "search.qdrant_url".into()),
        )
}

/// Extracts `T` from [`layered`] sources, turning figment's errors into messages naming keys.
pub fn load<T: Serialize + DeserializeOwned + Default>(
    file: Option<&Path>,
) -> Result<T, ConfigError> {
    extract(layered::<T>(file))
}

pub fn extract<T: DeserializeOwned>(figment: Figment) -> Result<T, ConfigError> {
    figment.extract::<T>().map_err(describe)
}

fn describe(errors: figment::Error) -> ConfigError {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let key = if error.path.is_empty() {
                "(top level)".to_owned()
            } else {
                error.path.join(".")
            };
            let source = match &error.metadata {
                Some(meta) => match &meta.source {
                    Some(source) => format!(" (from {} {source})", meta.name),
                    None if meta.name.contains("LOOMA_") => format!(
                        " (from environment variable LOOMA_{})",
                        error.path.join("__").to_ascii_uppercase()
                    ),
                    None => format!(" (from {})", meta.name),
                },
                None => String::new(),
            };
            format!("config key `{key}`: {}{source}", error.kind)
        })
        .collect();
    ConfigError(lines.join("; "))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        database: Database,
        server: Server,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Database {
        url: String,
    }

    impl Default for Database {
        fn default() -> Self {
            Database {
                url: "sqlite://default.db".into(),
            }
        }
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Server {
        port: u16,
    }

    impl Default for Server {
        fn default() -> Self {
            Server { port: 8211 }
        }
    }

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            // Only the variables a test sets, not the ones CI exports.
            jail.clear_env();
            jail.create_file("looma.toml", "[server]\nport = 9000\n")?;
            let from_file: Sample = load(Some(Path::new("looma.toml"))).expect("loads");
            assert_eq!(from_file.server.port, 9000);
            assert_eq!(from_file.database.url, "sqlite://default.db");

            jail.set_env("LOOMA_SERVER__PORT", "9100");
            jail.set_env("DATABASE_URL", "postgres://db/looma");
            jail.set_env("LOOMA_TEST_DATABASE_URL", "ignored");
            jail.set_env("LOOMA_BIN", "/usr/local/bin/looma");
            let from_env: Sample = load(Some(Path::new("looma.toml"))).expect("loads");
            assert_eq!(from_env.server.port, 9100);
            assert_eq!(from_env.database.url, "postgres://db/looma");
            Ok(())
        });
    }

    #[test]
    fn bad_value_names_its_key() {
        figment::Jail::expect_with(|jail| {
            // Only the variables a test sets, not the ones CI exports.
            jail.clear_env();
            jail.set_env("LOOMA_SERVER__PORT", "not-a-port");
            let error = load::<Sample>(None).expect_err("must fail");
            assert!(error.0.contains("server.port"), "{}", error.0);
            assert!(error.0.contains("LOOMA_SERVER__PORT"), "{}", error.0);
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_file_is_rejected() {
        figment::Jail::expect_with(|jail| {
            // Only the variables a test sets, not the ones CI exports.
            jail.clear_env();
            jail.create_file("looma.toml", "[server]\nprot = 9000\n")?;
            let error = load::<Sample>(Some(Path::new("looma.toml"))).expect_err("must fail");
            assert!(error.0.contains("prot"), "{}", error.0);
            Ok(())
        });
    }
}

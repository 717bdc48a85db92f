//! The `looma` binary itself: argument parsing, configuration errors, admin bootstrap,
//! migrations. Runs the compiled binary against a temporary SQLite file.

use std::process::{Command, Output, Stdio};

fn looma(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_looma"));
    command
        .args(args)
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/cli.db?mode=rwc", dir.display()),
        )
        .env_remove("REDIS_URL")
        .env("LOOMA_LOG__LEVEL", "warn")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("looma runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = looma(dir.path(), &["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for role in ["dev", "serve", "migrate", "admin", "config", "sdl"] {
        assert!(help.contains(role), "--help mentions {role}: {help}");
    }
}

#[test]
fn bad_config_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = looma(
        dir.path(),
        &["serve", "identity"],
        &[("LOOMA_IDENTITY__PORT", "eighty")],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("identity.port"), "{stderr}");
    assert!(stderr.contains("LOOMA_IDENTITY__PORT"), "{stderr}");

    std::fs::write(
        dir.path().join("looma.toml"),
        "[identity]\naccess_token_ttl_secs = 0\n",
    )
    .unwrap();
    let out = looma(dir.path(), &["config"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("identity.access_token_ttl_secs"),
        "{}",
        text(&out.stderr)
    );

    let out = looma(dir.path(), &["config"], &[("DATABASE_URL", "mysql://nope")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("database.url"));
}

#[test]
fn config_prints_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let out = looma(
        dir.path(),
        &["config"],
        &[
            ("DATABASE_URL", "postgres://looma:hunter2@db:5432/looma"),
            (
                "LOOMA_SERVER__ROUTER_SECRET",
                "a-very-long-router-secret-of-32-plus-chars",
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("postgres://looma:***@db:5432/looma"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"));
    assert!(!printed.contains("a-very-long-router-secret"));
}

#[test]
fn migrate_and_create_admin() {
    let dir = tempfile::tempdir().unwrap();
    let status = looma(dir.path(), &["migrate", "--status"], &[]);
    assert!(
        text(&status.stdout).contains("pending  m20261125_000001_identity_init"),
        "{}",
        text(&status.stdout)
    );
    let migrate = looma(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let status = looma(dir.path(), &["migrate", "--status"], &[]);
    assert!(text(&status.stdout).contains("applied  m20261125_000001_identity_init"));

    let created = looma(
        dir.path(),
        &["admin", "create-user", "--email", "boss@looma.test"],
        &[("LOOMA_ADMIN_PASSWORD", "Chief-Passw0rd-99")],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("boss@looma.test"));
    assert!(
        !text(&created.stdout).contains("Chief-Passw0rd-99"),
        "a given password is not echoed"
    );

    let again = looma(
        dir.path(),
        &["admin", "create-user", "--email", "BOSS@looma.test"],
        &[("LOOMA_ADMIN_PASSWORD", "Chief-Passw0rd-99")],
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    let weak = looma(
        dir.path(),
        &["admin", "create-user", "--email", "weak@looma.test"],
        &[("LOOMA_ADMIN_PASSWORD", "short")],
    );
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("too weak"));

    let generated = looma(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "gen@looma.test",
            "--role",
            "viewer",
        ],
        &[],
    );
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    assert!(text(&generated.stdout).contains("generated password: "));
}

/// A backup taken while data changes restores exactly what was there when it was taken.
fn backup_and_restore(dir: &std::path::Path, database_url: &str) {
    let env = [
        ("DATABASE_URL", database_url),
        ("LOOMA_ADMIN_PASSWORD", "Chief-Passw0rd-99"),
    ];
    let create = |email: &str| looma(dir, &["admin", "create-user", "--email", email], &env);
    assert!(create("kept@looma.test").status.success());
    let file = dir.join("looma.backup");
    let file_arg = file.to_str().unwrap();
    let backup = looma(dir, &["admin", "backup", "--output", file_arg], &env);
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert!(text(&backup.stdout).contains("backup written"));
    let again = looma(dir, &["admin", "backup", "--output", file_arg], &env);
    assert!(!again.status.success(), "a backup never overwrites");
    assert!(text(&again.stderr).contains("already exists"));
    assert!(create("later@looma.test").status.success());

    let restore = looma(dir, &["admin", "restore", "--input", file_arg], &env);
    assert!(restore.status.success(), "{}", text(&restore.stderr));
    assert!(
        !create("kept@looma.test").status.success(),
        "the user from before the backup is back"
    );
    assert!(
        create("later@looma.test").status.success(),
        "the user created after the backup is gone"
    );
    let missing = looma(
        dir,
        &["admin", "restore", "--input", "/nonexistent/backup"],
        &env,
    );
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("does not exist"));
}

#[test]
fn backup_and_restore_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    backup_and_restore(dir.path(), &url);
}

#[test]
fn backup_and_restore_postgres() {
    let Ok(admin_url) = std::env::var("LOOMA_TEST_DATABASE_URL") else {
        looma_testkit::report_skipped("set LOOMA_TEST_DATABASE_URL to run the PostgreSQL variant");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (database, url) = runtime.block_on(crate::harness::PostgresDatabase::create(&admin_url));
    let dir = tempfile::tempdir().unwrap();
    backup_and_restore(dir.path(), &url);
    drop(database);
}

#[test]
fn the_example_config_loads_and_production_urls_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("looma.example.toml");
    let out = looma(
        dir.path(),
        &["--config", example.to_str().unwrap(), "config"],
        &[
            ("ELASTICSEARCH_URL", "http://elastic:s3cret@es:9200"),
            ("QDRANT_URL", "http://qdrant:6334"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("elasticsearch_url = \"http://elastic:***@es:9200\""),
        "{printed}"
    );
    assert!(
        printed.contains("qdrant_url = \"http://qdrant:6334\""),
        "{printed}"
    );
    assert!(!printed.contains("s3cret"));
    for section in ["[embed]", "[resume]", "[search]", "[matching]"] {
        assert!(printed.contains(section), "{section} in {printed}");
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `looma eval resumes --show FILE | head -1`: the output is larger than a pipe's buffer, so
    // the binary meets the closed pipe whatever the timing.
    let dir = tempfile::tempdir().unwrap();
    let mut resume = String::from("Jane Doe\nBackend Engineer\n\nExperience\n");
    while resume.len() < 128 * 1024 {
        resume.push_str("- Built payment services in Rust and Go on Kubernetes and PostgreSQL.\n");
    }
    let file = dir.path().join("long-resume.txt");
    std::fs::write(&file, resume).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_looma"))
        .args(["eval", "resumes", "--show"])
        .arg(&file)
        .current_dir(dir.path())
        .env("LOOMA_LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("looma runs");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first_line).unwrap();
    assert_eq!(first_line.trim(), "[text]", "{first_line}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        stderr.is_empty(),
        "nothing to say on a closed pipe: {stderr}"
    );
}

/// `looma schema check` against the committed schemas: every committed subgraph checks clean,
/// a removed field is breaking (exit 1), a clash with another subgraph is a composition error
/// (exit 2), an added field is safe (exit 0).
#[test]
fn schema_check_classifies_changes_and_composition_errors() {
    let dir = tempfile::tempdir().unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    let schema_dir = schema.to_str().unwrap();
    let check = |subgraph: &str, sdl: &std::path::Path, json: bool| {
        let mut args = vec![
            "schema",
            "check",
            subgraph,
            "--sdl",
            sdl.to_str().unwrap(),
            "--schema-dir",
            schema_dir,
        ];
        if json {
            args.push("--json");
        }
        looma(dir.path(), &args, &[])
    };
    for subgraph in [
        "identity", "resume", "search", "matching", "chat", "monitor",
    ] {
        let out = check(subgraph, &schema.join(format!("{subgraph}.graphql")), false);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("SAFE (0 changes)"),
            "{}",
            text(&out.stdout)
        );
    }
    let monitor = std::fs::read_to_string(schema.join("monitor.graphql")).unwrap();

    let removed = dir.path().join("removed.graphql");
    std::fs::write(&removed, monitor.replace("\tuptimeSeconds: Float\n", "")).unwrap();
    let out = check("monitor", &removed, true);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "BREAKING");
    assert_eq!(
        report["changes"][0]["path"],
        "ComponentHealth.uptimeSeconds"
    );

    let added = dir.path().join("added.graphql");
    std::fs::write(
        &added,
        monitor.replace(
            "\tuptimeSeconds: Float\n",
            "\tuptimeSeconds: Float\n\thostname: String\n",
        ),
    )
    .unwrap();
    let out = check("monitor", &added, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("SAFE (1 change)"),
        "{}",
        text(&out.stdout)
    );

    // A type of another subgraph redefined differently does not compose.
    let clash = dir.path().join("clash.graphql");
    std::fs::write(
        &clash,
        format!("{monitor}\ntype Education {{\n\tschool: Int!\n}}\n"),
    )
    .unwrap();
    let out = check("monitor", &clash, true);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "COMPOSITION_ERROR");
    assert!(!report["compositionErrors"].as_array().unwrap().is_empty());
}

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
            (
                "LOOMA_LOG__OTLP_ENDPOINT",
                "https://otel:t0ken@collector:4318",
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("otlp_endpoint = \"https://otel:***@collector:4318\""),
        "{printed}"
    );
    assert!(!printed.contains("t0ken"));
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
        "identity", "resume", "search", "matching", "chat", "monitor", "registry",
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

/// `looma schema publish` and `looma schema check --registry` against a running registry:
/// exit 0 published, 2 for a composition error (nothing stored); a check exits 0 for an unused
/// breaking change and 1 once a client's reported operation used it, naming the client.
async fn schema_publish_and_registry_check(
    platform: crate::harness::TestPlatform,
) -> crate::harness::TestPlatform {
    use looma::platform::Component;
    let fixtures = looma_testkit::start_all(0).await.unwrap();
    let products = fixtures.iter().find(|f| f.name == "products").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let registry = format!("{}/graphql", platform.url(Component::Registry));
    let v1 = dir.path().join("products.graphql");
    std::fs::write(&v1, &products.sdl).unwrap();
    let without_weight = dir.path().join("without-weight.graphql");
    std::fs::write(
        &without_weight,
        products.sdl.replace("\tweight: Int!\n", ""),
    )
    .unwrap();
    let clash = dir.path().join("clash.graphql");
    std::fs::write(&clash, "type Query { topProducts: Int }").unwrap();
    let run = |args: Vec<String>| {
        let dir = dir.path().to_owned();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                looma(
                    &dir,
                    &args,
                    &[("LOOMA_SERVER__ROUTER_SECRET", crate::harness::ROUTER_SECRET)],
                )
            })
            .await
            .unwrap()
        }
    };
    let arg = |s: &str| s.to_owned();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let out = run(vec![
        arg("schema"),
        arg("publish"),
        arg("products"),
        arg("--sdl"),
        path(&v1),
        arg("--url"),
        products.url(),
        arg("--registry"),
        registry.clone(),
        arg("--commit"),
        arg("0123abc"),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("products: published as"),
        "{}",
        text(&out.stdout)
    );

    let out = run(vec![
        arg("schema"),
        arg("publish"),
        arg("clash"),
        arg("--sdl"),
        path(&clash),
        arg("--url"),
        arg("http://127.0.0.1:9/graphql"),
        arg("--registry"),
        registry.clone(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("not published"),
        "{}",
        text(&out.stdout)
    );

    let check = |sdl: std::path::PathBuf, subgraph: &'static str| {
        run(vec![
            arg("schema"),
            arg("check"),
            arg(subgraph),
            arg("--sdl"),
            path(&sdl),
            arg("--registry"),
            registry.clone(),
        ])
    };
    let out = check(without_weight.clone(), "products").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("no operation used it"),
        "{}",
        text(&out.stdout)
    );
    let out = check(clash.clone(), "clash").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));

    let admin = platform.admin().await;
    let reported = crate::registry::registry(
        &platform,
        &admin,
        "mutation($ops: [OperationUsageInput!]!) { reportSchemaUsage(operations: $ops) }",
        serde_json::json!({ "ops": [{
            "signature": "b".repeat(64), "name": "Weights",
            "coordinates": ["Product.weight"], "clientName": "crm-mobile",
            "clientVersion": "1.4", "count": 1,
        }]}),
    )
    .await;
    assert_eq!(reported["data"]["reportSchemaUsage"], 1, "{reported}");
    let out = check(without_weight.clone(), "products").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("BREAKING")
            && stdout.contains("crm-mobile 1.4")
            && stdout.contains("Weights"),
        "{stdout}"
    );
    // Publishing it is refused (exit 1) while crm-mobile uses it; --force publishes.
    let publish = |force: bool| {
        let mut args = vec![
            arg("schema"),
            arg("publish"),
            arg("products"),
            arg("--sdl"),
            path(&without_weight),
            arg("--registry"),
            registry.clone(),
        ];
        if force {
            args.push(arg("--force"));
        }
        run(args)
    };
    let out = publish(false).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("crm-mobile 1.4"),
        "{}",
        text(&out.stdout)
    );
    let out = publish(true).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("BREAKING"),
        "{}",
        text(&out.stdout)
    );
    platform
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_publish_and_check_through_the_registry() {
    crate::harness::run_with(
        schema_publish_and_registry_check,
        crate::harness::Backend::Sqlite,
        &[looma::platform::Component::Registry],
    )
    .await;
}

/// `looma dev` (the README's first command) from an empty directory: every subgraph registers
/// with the registry it runs and the router serves their composed supergraph; SIGTERM stops it
/// cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_serves_every_subgraph_through_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = Vec::new();
    for _ in 0..8 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(listener.local_addr().unwrap().port());
    }
    let keys = [
        "ROUTER", "IDENTITY", "RESUME", "SEARCH", "MATCHING", "CHAT", "MONITOR", "REGISTRY",
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_looma"));
    command
        .arg("dev")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("LOOMA_LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("dev.log")).unwrap());
    for (key, port) in keys.iter().zip(&ports) {
        command.env(format!("LOOMA_{key}__PORT"), port.to_string());
    }
    let mut child = command.spawn().expect("looma dev starts");
    let router = format!("http://127.0.0.1:{}/graphql", ports[0]);
    let http = reqwest::Client::new();
    let wanted = [
        "me",
        "searchBackends",
        "systemHealth",
        "registeredSubgraphs",
        "jobs",
    ];
    let started = std::time::Instant::now();
    let fields = loop {
        let answer = http
            .post(&router)
            .json(&serde_json::json!({ "query": "{ __schema { queryType { fields { name } } } }" }))
            .send()
            .await;
        if let Ok(answer) = answer
            && let Ok(body) = answer.json::<serde_json::Value>().await
        {
            let fields: Vec<String> = body["data"]["__schema"]["queryType"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect();
            if wanted.iter().all(|w| fields.iter().any(|f| f == w)) {
                break fields;
            }
        }
        if started.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            panic!(
                "looma dev never served every subgraph:\n{}",
                std::fs::read_to_string(dir.path().join("dev.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(fields.len() > 20, "{fields:?}");
    // As an operator or a container runtime stops it.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let status = output.expect("looma dev stops within 30 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

//! Starts a platform for one test on its own database (a temporary SQLite file, or a fresh
//! PostgreSQL database) and its own cache namespace, and removes both afterwards.

use looma::LoomaConfig;
use looma::platform::{self, Component, Platform};
use looma_core::Secret;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use std::time::Duration;

pub const ADMIN_EMAIL: &str = "root@looma.test";
pub const ADMIN_PASSWORD: &str = "Adm1n-Passphrase";
pub const ROUTER_SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process cache (the embedded default).
    Sqlite,
    /// PostgreSQL + Redis (production backends), from `LOOMA_TEST_*_URL`.
    PostgresRedis,
}

/// Runs `test` against each backend; the PostgreSQL/Redis run is skipped with a notice when
/// the variables are unset.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run(super::$name, $crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run(super::$name, $crate::harness::Backend::PostgresRedis).await;
                }
            )*
        }
    };
}

/// Like `on_each_backend!`, with more subgraphs behind a router (`[Component::Resume]`).
#[macro_export]
macro_rules! on_each_backend_with {
    ($components:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_with(super::$name, $crate::harness::Backend::Sqlite, $components).await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_with(super::$name, $crate::harness::Backend::PostgresRedis, $components).await;
                }
            )*
        }
    };
}

/// Says that the running test returns without running its body because a server is not
/// configured: one `[looma-test] skipped <test>: <reason>` line written straight to stderr,
/// past libtest's output capture (which hides what a passing test prints), so `scripts/test`
/// counts the test as skipped instead of passed. One home for every test crate:
/// `looma_testkit::report_skipped`.
pub use looma_testkit::report_skipped;

pub async fn run<F, Fut>(test: F, backend: Backend)
where
    F: FnOnce(TestPlatform) -> Fut,
    Fut: std::future::Future<Output = TestPlatform>,
{
    run_with(test, backend, &[]).await
}

pub async fn run_with<F, Fut>(test: F, backend: Backend, components: &[Component])
where
    F: FnOnce(TestPlatform) -> Fut,
    Fut: std::future::Future<Output = TestPlatform>,
{
    let Some(platform) = TestPlatform::start_with(backend, components).await else {
        return;
    };
    let platform = test(platform).await;
    platform.stop().await;
}

/// Like [`run_with`], with `configure` applied to the configuration before anything starts
/// (e.g. `server.require_trusted_callers`).
pub async fn run_configured<F, Fut>(
    test: F,
    backend: Backend,
    components: &[Component],
    configure: impl FnOnce(&mut LoomaConfig),
) where
    F: FnOnce(TestPlatform) -> Fut,
    Fut: std::future::Future<Output = TestPlatform>,
{
    let Some(platform) = TestPlatform::start_configured(backend, components, configure).await
    else {
        return;
    };
    let platform = test(platform).await;
    platform.stop().await;
}

/// Owns a PostgreSQL database created for one test; drops it when dropped.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    /// A new, empty database on the server of `admin_url`, and its URL.
    pub async fn create(admin_url: &str) -> (Self, String) {
        let name = format!("looma_t_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url).await.unwrap_or_else(|e| {
            panic!("LOOMA_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("CREATE DATABASE {name}"),
            ))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = replace_database(admin_url, &name);
        (
            PostgresDatabase {
                admin_url: admin_url.to_owned(),
                name,
            },
            url,
        )
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await?;
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// Removes every Redis key of one test's prefix when dropped.
struct RedisNamespace {
    url: String,
    prefix: String,
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(cache) =
                    looma_cache::RedisCache::connect(&url, &prefix, Duration::from_secs(2)).await
                {
                    let _ = cache.clear_prefix().await;
                }
            })
        })
        .join();
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| i + scheme_end);
    let mut replaced = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    replaced
}

pub struct TestPlatform {
    #[allow(dead_code)]
    pub backend: Backend,
    pub config: LoomaConfig,
    platform: Option<Platform>,
    /// Subgraphs besides identity, then the router, when the test asked for them.
    extra: Vec<Platform>,
    components: Vec<Component>,
    pub identity_url: String,
    /// `http://host:port` of the router, when started.
    pub router_url: Option<String>,
    pub http: reqwest::Client,
    /// The OTLP trace exporter, when `log.otlp_endpoint` is set (started as `looma serve`
    /// starts it).
    trace_export: Option<looma_server::trace_export::TraceExporter>,
    _postgres: Option<PostgresDatabase>,
    _redis: Option<RedisNamespace>,
    _dir: tempfile::TempDir,
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
    Header(&'static str, String),
}

impl TestPlatform {
    /// Identity, plus `components` and a router composed over all of them.
    pub async fn start_with(backend: Backend, components: &[Component]) -> Option<TestPlatform> {
        Self::start_configured(backend, components, |_| {}).await
    }

    /// [`start_with`](Self::start_with), with `configure` applied to the configuration first.
    pub async fn start_configured(
        backend: Backend,
        components: &[Component],
        configure: impl FnOnce(&mut LoomaConfig),
    ) -> Option<TestPlatform> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = LoomaConfig::default();
        config.server.router_secret = Secret::new(ROUTER_SECRET);
        config.identity.login_max_failures = 3;
        config.log.level = "warn".into();
        if let Ok(models_dir) = std::env::var("LOOMA_EMBED__MODELS_DIR") {
            config.embed.models_dir = models_dir.into();
        }
        config.resume.poll_interval_ms = 200;
        config.matching.poll_interval_ms = 200;
        config.chat.poll_interval_ms = 200;
        config.server.feature_flag_cache_ms = 100;
        config.search.data_dir = dir.path().join("search");
        // Per-user usage goes to the test's own monitor, often; without one, nowhere.
        config.server.usage_report_ms = if components.contains(&Component::Monitor) {
            200
        } else {
            0
        };
        let mut postgres = None;
        let mut redis = None;
        match backend {
            Backend::Sqlite => {
                config.database.url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("looma.db").display()
                );
            }
            Backend::PostgresRedis => {
                let (Ok(db_url), Ok(redis_url)) = (
                    std::env::var("LOOMA_TEST_DATABASE_URL"),
                    std::env::var("LOOMA_TEST_REDIS_URL"),
                ) else {
                    report_skipped(
                        "set LOOMA_TEST_DATABASE_URL and LOOMA_TEST_REDIS_URL to run the \
                         PostgreSQL/Redis variant",
                    );
                    return None;
                };
                let (database, url) = PostgresDatabase::create(&db_url).await;
                config.database.url = url;
                postgres = Some(database);
                let prefix = format!("looma-test:{}:", uuid::Uuid::new_v4().simple());
                config.cache.redis_url = Some(redis_url.clone());
                config.cache.key_prefix = prefix.clone();
                redis = Some(RedisNamespace {
                    url: redis_url,
                    prefix,
                });
            }
        }
        configure(&mut config);
        config.validate().expect("test config is valid");
        looma_core::telemetry::init_logging(&config.log);
        let trace_export = looma_server::trace_export::TraceExporter::start(&config.log);

        let shared = platform::open_shared(&config)
            .await
            .expect("open database and cache");
        let identity = looma_identity::IdentityService::start(
            looma_identity::store::IdentityStore::new(shared.db.clone()),
            shared.cache.clone(),
            config.identity.clone(),
        )
        .await
        .expect("identity starts");
        identity
            .create_user(looma_identity::service::NewUser {
                email: ADMIN_EMAIL.into(),
                password: ADMIN_PASSWORD.into(),
                display_name: "Test admin".into(),
                roles: vec!["admin".into()],
            })
            .await
            .expect("admin created");
        let platform = Platform::start_with(shared.clone(), &config, &[Component::Identity], true)
            .await
            .expect("platform starts");
        let identity_url = format!(
            "http://{}",
            platform.addr(Component::Identity).expect("identity runs")
        );
        config.router.jwks_url = Some(format!("{identity_url}/.well-known/jwks.json"));
        config.router.identity_url = Some(format!("{identity_url}/graphql"));
        let supergraph_path = dir.path().join("supergraph.graphql");
        config.router.supergraph_path = Some(supergraph_path);
        let (extra, router_url) =
            start_extra(&config, Some(shared), components, &identity_url).await;
        Some(TestPlatform {
            backend,
            config,
            platform: Some(platform),
            extra,
            components: components.to_vec(),
            router_url,
            identity_url,
            http: reqwest::Client::new(),
            trace_export,
            _postgres: postgres,
            _redis: redis,
            _dir: dir,
        })
    }

    /// Stops the servers and starts them again on the same database and cache.
    pub async fn restart(mut self) -> TestPlatform {
        if let Some(platform) = self.platform.take() {
            platform.shutdown().await.expect("clean shutdown");
        }
        let platform = Platform::start(&self.config, &[Component::Identity], true)
            .await
            .expect("platform restarts");
        self.identity_url = format!(
            "http://{}",
            platform.addr(Component::Identity).expect("identity")
        );
        self.platform = Some(platform);
        self.restart_extra().await;
        self
    }

    /// Stops and starts again only the extra subgraphs and the router (a subgraph crash).
    pub async fn restart_extra(&mut self) {
        for platform in self.extra.drain(..) {
            platform.shutdown().await.expect("clean shutdown");
        }
        self.config.router.jwks_url = Some(format!("{}/.well-known/jwks.json", self.identity_url));
        self.config.router.identity_url = Some(format!("{}/graphql", self.identity_url));
        // Opened afresh, as a restarted process would, and shared by the restarted components
        // and their router as in one `looma dev` process.
        let shared = platform::open_shared(&self.config)
            .await
            .expect("open database and cache");
        let (extra, router_url) = start_extra(
            &self.config,
            Some(shared),
            &self.components,
            &self.identity_url,
        )
        .await;
        self.extra = extra;
        self.router_url = router_url;
    }

    /// Stops one extra component (a crash, as the others see it); the rest keep running.
    pub async fn stop_component(&mut self, component: Component) {
        let index = self
            .extra
            .iter()
            .position(|p| p.addr(component).is_some())
            .expect("component runs");
        self.extra
            .remove(index)
            .shutdown()
            .await
            .expect("clean shutdown");
    }

    pub async fn stop(mut self) {
        for platform in self.extra.drain(..) {
            platform.shutdown().await.expect("clean shutdown");
        }
        if let Some(platform) = self.platform.take() {
            platform.shutdown().await.expect("clean shutdown");
        }
        if let Some(exporter) = self.trace_export.take() {
            exporter.stop().await;
        }
    }

    /// POSTs a GraphQL request to the router and returns the JSON body.
    pub async fn gql_router(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        let url = self
            .router_url
            .as_deref()
            .expect("the test started a router");
        let request = self
            .http
            .post(format!("{url}/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        let response = with_auth(request, auth)
            .send()
            .await
            .expect("router answers");
        response.json().await.expect("JSON body")
    }

    /// The address of a running extra component (`http://host:port`).
    pub fn url(&self, component: Component) -> String {
        self.extra
            .iter()
            .find_map(|p| p.addr(component))
            .map(|addr| format!("http://{addr}"))
            .expect("component runs")
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self
            .platform
            .as_ref()
            .and_then(|p| p.shared.as_ref())
            .expect("running with storage")
            .db
    }

    /// POSTs a GraphQL request to identity and returns the JSON body.
    pub async fn gql(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.identity_url))
            .json(&json!({"query": query, "variables": variables}));
        request = with_auth(request, auth);
        let response = request.send().await.expect("identity answers");
        response.json().await.expect("JSON body")
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(
            &Auth::None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
                accessToken refreshToken tokenType expiresIn user { id email roles } } }",
            json!({"e": email, "p": password}),
        )
        .await
    }

    pub async fn admin(&self) -> Auth {
        let body = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        Auth::Bearer(
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("admin login failed: {body}"))
                .to_owned(),
        )
    }

    /// Creates a user with `roles` and returns (id, bearer auth).
    pub async fn user_with_roles(&self, email: &str, roles: &[&str]) -> (String, Auth) {
        let password = "Sturdy-Passw0rd-42";
        let created = self
            .gql(
                &self.admin().await,
                "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
                json!({"input": {"email": email, "password": password, "displayName": email, "roles": roles}}),
            )
            .await;
        let id = created["data"]["createUser"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createUser failed: {created}"))
            .to_owned();
        let login = self.login(email, password).await;
        let token = login["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {login}"))
            .to_owned();
        (id, Auth::Bearer(token))
    }

    /// A service credential: an API key holding `permissions`.
    pub async fn api_key(&self, name: &str, permissions: &[&str]) -> Auth {
        let created = self
            .gql(
                &self.admin().await,
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
                json!({"input": {"name": name, "permissions": permissions}}),
            )
            .await;
        Auth::ApiKey(
            created["data"]["createApiKey"]["secret"]
                .as_str()
                .unwrap_or_else(|| panic!("createApiKey failed: {created}"))
                .to_owned(),
        )
    }
}

pub fn with_auth(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::ApiKey(key) => request.header("x-api-key", key),
        Auth::Header(name, value) => request.header(*name, value),
    }
}

/// Starts `components` (sharing `shared` when given) and a router composed over identity and
/// them. Returns the platforms and the router's URL.
async fn start_extra(
    config: &LoomaConfig,
    shared: Option<platform::Shared>,
    components: &[Component],
    identity_url: &str,
) -> (Vec<Platform>, Option<String>) {
    if components.is_empty() {
        return (Vec::new(), None);
    }
    // One at a time, search first, so each later component is pointed at the earlier ones'
    // (ephemeral) ports.
    let mut config = config.clone();
    let mut platforms = Vec::new();
    let mut addrs = Vec::new();
    // `Component::Router` alone asks for the router in front of identity only.
    let mut ordered: Vec<Component> = components
        .iter()
        .copied()
        .filter(|c| *c != Component::Router)
        .collect();
    ordered.sort_by_key(|c| match c {
        Component::Search => 0,
        Component::Resume => 1,
        Component::Matching => 2,
        Component::Monitor => 4,
        _ => 3,
    });
    // A test may point matching at another identity (an unreachable one, say).
    if config.matching.identity_url.is_none() {
        config.matching.identity_url = Some(format!("{identity_url}/graphql"));
    }
    if config.chat.identity_url.is_none() {
        config.chat.identity_url = Some(format!("{identity_url}/graphql"));
    }
    // The monitor starts last (it watches the others) but they report per-user usage to it
    // from the start: its port is taken now and held until it binds.
    let mut monitor_port = None;
    if ordered.contains(&Component::Monitor) && config.server.monitor_url.is_none() {
        let held = std::net::TcpListener::bind((config.server.host, 0)).expect("a free port");
        let port = held.local_addr().expect("bound").port();
        config.server.monitor_url = Some(format!("http://{}:{port}/graphql", config.server.host));
        config.monitor.port = port;
        monitor_port = Some(held);
    }
    // Chat's tools call the router, which starts last: its port is taken now, the same way.
    let mut router_port = None;
    if ordered.contains(&Component::Chat) && config.chat.router_url.is_none() {
        let held = std::net::TcpListener::bind((config.server.host, 0)).expect("a free port");
        let port = held.local_addr().expect("bound").port();
        config.chat.router_url = Some(format!("http://{}:{port}/graphql", config.server.host));
        config.router.port = port;
        router_port = Some(held);
    }
    for component in ordered {
        if component == Component::Monitor && config.monitor.targets.is_empty() {
            // The monitor watches identity and everything started before it.
            config.monitor.identity_url = Some(format!("{identity_url}/graphql"));
            config.monitor.targets = std::iter::once(("identity", identity_url.to_owned()))
                .chain(
                    addrs
                        .iter()
                        .map(|(c, a): &(Component, std::net::SocketAddr)| {
                            (c.name(), format!("http://{a}"))
                        }),
                )
                .map(|(component, url)| looma_monitor::MonitorTarget {
                    component: component.to_owned(),
                    url,
                })
                .collect();
        }
        // The monitor binds the port held for it; the others any free port.
        let ephemeral = !(component == Component::Monitor && monitor_port.take().is_some());
        let started = match shared.clone() {
            Some(shared) => Platform::start_with(shared, &config, &[component], ephemeral).await,
            None => Platform::start(&config, &[component], ephemeral).await,
        }
        .expect("subgraphs start");
        let addr = started.addr(component).expect("subgraph runs");
        let url = format!("http://{addr}/graphql");
        match component {
            Component::Search => {
                config.resume.search_url = Some(url.clone());
                config.chat.search_url = Some(url.clone());
                config.matching.search_url = Some(url);
            }
            Component::Resume => config.matching.resume_url = Some(url),
            _ => {}
        }
        addrs.push((component, addr));
        platforms.push(started);
    }
    let mut sources = vec![looma_router::compose::SubgraphSource {
        name: "identity".into(),
        url: format!("{identity_url}/graphql"),
        sdl: looma_identity::sdl(),
    }];
    for &(component, addr) in &addrs {
        sources.push(looma_router::compose::SubgraphSource {
            name: component.name().into(),
            url: format!("http://{addr}/graphql"),
            sdl: looma::sdl(component),
        });
    }
    let supergraph =
        looma_router::compose::compose(&sources).expect("the test supergraph composes");
    let path = config
        .router
        .supergraph_path
        .clone()
        .expect("a supergraph path");
    std::fs::write(&path, supergraph).expect("write supergraph");
    // The router binds the port held for it (released just before), or any free port.
    let ephemeral = router_port.take().is_none();
    let router = match shared {
        Some(shared) => {
            Platform::start_with(shared, &config, &[Component::Router], ephemeral).await
        }
        None => Platform::start(&config, &[Component::Router], ephemeral).await,
    }
    .expect("router starts");
    let url = format!("http://{}", router.addr(Component::Router).expect("router"));
    platforms.push(router);
    (platforms, Some(url))
}

/// The `extensions.code` of the first error, or panics showing the body.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
}

pub fn error_reason(body: &Value) -> &str {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a reason, got {body}"))
}

/// The data of a response that must have no errors.
pub fn data(body: &Value) -> &Value {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    &body["data"]
}

#[test]
fn database_name_is_replaced() {
    assert_eq!(
        replace_database("postgres://root@127.0.0.1:5432/test?sslmode=disable", "x"),
        "postgres://root@127.0.0.1:5432/x?sslmode=disable"
    );
    assert_eq!(replace_database("postgres://h/test", "y"), "postgres://h/y");
}

/// Sends `mutation` (whose `$file: Upload!` variable is the file) through the router as a
/// GraphQL multipart request, with `bytes` named `filename`.
pub async fn upload_through_router(
    p: &TestPlatform,
    auth: &Auth,
    mutation: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Value {
    let operations = json!({"query": mutation, "variables": {"file": null}});
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
    let url = format!("{}/graphql", p.router_url.as_deref().expect("router"));
    let request = p
        .http
        .post(url)
        .header("apollo-require-preflight", "true")
        .multipart(form);
    with_auth(request, auth)
        .send()
        .await
        .expect("router answers")
        .json()
        .await
        .expect("JSON body")
}

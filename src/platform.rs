//! Starting components. `looma dev` starts them all in one process; `looma serve <component>`
//! starts one. Either way each component gets its own port, and they share one database pool
//! and one cache client per process.

use crate::LoomaConfig;
use anyhow::{Context, Result};
use looma_auth::ForwardedPrincipalCodec;
use looma_cache::Cache;
use looma_db::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A component the binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Component {
    /// The federation router, the single entry point (port 8206); needs a supergraph.
    Router,
    /// Users, login, API keys, JWKS, configuration and feature flags (port 8211).
    Identity,
    /// Resume upload, parsing, profiles and embeddings (port 8207).
    Resume,
    /// Text, vector, semantic and hybrid search and suggestions (port 8210).
    Search,
    /// Jobs and explainable job ↔ candidate matching (port 8208).
    Matching,
    /// The recruiting assistant: conversations, streamed answers, knowledge base (port 8209).
    Chat,
    /// Health of every component, alert rules and history, usage (port 8212).
    Monitor,
    /// The schema registry: subgraph schemas, supergraph versions, checks, live instances
    /// (port 8213).
    Registry,
}

impl Component {
    /// Subgraphs `looma dev` runs (the router joins them once it can compose them).
    pub const SUBGRAPHS: &'static [Component] = &[
        Component::Identity,
        Component::Resume,
        Component::Search,
        Component::Matching,
        Component::Chat,
        Component::Monitor,
        Component::Registry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Router => looma_router::http::COMPONENT,
            Component::Identity => looma_identity::COMPONENT,
            Component::Resume => looma_resume::COMPONENT,
            Component::Search => looma_search::COMPONENT,
            Component::Matching => looma_matching::COMPONENT,
            Component::Chat => looma_chat::COMPONENT,
            Component::Monitor => looma_monitor::COMPONENT,
            Component::Registry => looma_registry::COMPONENT,
        }
    }

    /// Whether the component needs the database and cache (the router and search need
    /// neither: search keeps its own indexes).
    pub fn needs_storage(self) -> bool {
        !matches!(self, Component::Router | Component::Search)
    }

    pub fn port(self, config: &LoomaConfig) -> u16 {
        match self {
            Component::Router => config.router.port,
            Component::Identity => config.identity.port,
            Component::Resume => config.resume.port,
            Component::Search => config.search.port,
            Component::Matching => config.matching.port,
            Component::Chat => config.chat.port,
            Component::Monitor => config.monitor.port,
            Component::Registry => config.registry.port,
        }
    }
}

/// What the components of one process share.
#[derive(Clone)]
pub struct Shared {
    pub db: DatabaseConnection,
    pub cache: Arc<dyn Cache>,
    pub forwarded: Option<ForwardedPrincipalCodec>,
    /// One embedding model per process, loaded on first use.
    pub embedder: looma_embed::EmbeddingService,
    /// The master keys that seal signing keys and resume files at rest
    /// (`server.encryption_keys`; disabled when none is configured).
    pub keyring: Arc<looma_core::envelope::Keyring>,
}

/// Connects the database (migrating it when configured to) and the cache.
pub async fn open_shared(config: &LoomaConfig) -> Result<Shared> {
    let db = looma_db::connect(&config.database)
        .await
        .context("opening the database (config key `database.url`)")?;
    if config.database.migrate_on_start {
        let applied = looma_db::migrate(&db)
            .await
            .context("migrating the database")?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
    }
    let cache = looma_cache::connect(&config.cache)
        .await
        .context("connecting the cache (config key `cache.redis_url`)")?;
    let forwarded = ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes());
    tracing::info!(
        database = looma_db::backend_name(&db),
        cache = cache.backend(),
        trusts_router = forwarded.is_some(),
        "shared resources ready"
    );
    let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
    if !embedder.is_available() {
        tracing::warn!(
            model_dir = %embedder.model_dir().display(),
            "embedding model not installed: semantic features answer MODEL_UNAVAILABLE until `scripts/install-model` runs"
        );
    }
    let keyring = Arc::new(
        looma_core::envelope::Keyring::from_config(&config.server.encryption_keys)
            .map_err(anyhow::Error::msg)?,
    );
    if !keyring.is_enabled() {
        tracing::warn!(
            "server.encryption_keys is empty: signing keys and resume files are stored unencrypted"
        );
    }
    Ok(Shared {
        db,
        cache,
        forwarded,
        embedder,
        keyring,
    })
}

/// One component serving on its port.
pub struct RunningComponent {
    pub component: Component,
    pub addr: SocketAddr,
    handle: JoinHandle<std::io::Result<()>>,
}

/// A set of running components and the switch that stops them.
pub struct Platform {
    pub components: Vec<RunningComponent>,
    /// Database and cache, when a started component needs them.
    pub shared: Option<Shared>,
    stop: watch::Sender<bool>,
    /// Registry registrations of the components started with `registry.register`: each
    /// deregisters when the platform stops, before the servers do.
    deregister: watch::Sender<bool>,
    registrations: Vec<JoinHandle<()>>,
    /// Sends the per-user usage counted here to the monitor; its last report goes when the
    /// platform deregisters, while the monitor still answers.
    usage_reporter: Option<JoinHandle<()>>,
}

impl Platform {
    /// Starts `components`. With `ephemeral_ports`, each binds port 0 (tests).
    pub async fn start(
        config: &LoomaConfig,
        components: &[Component],
        ephemeral_ports: bool,
    ) -> Result<Platform> {
        let shared = if components.iter().any(|c| c.needs_storage()) {
            Some(open_shared(config).await?)
        } else {
            None
        };
        Self::start_inner(shared, config, components, ephemeral_ports).await
    }

    /// Starts `components` on already opened shared resources.
    pub async fn start_with(
        shared: Shared,
        config: &LoomaConfig,
        components: &[Component],
        ephemeral_ports: bool,
    ) -> Result<Platform> {
        Self::start_inner(Some(shared), config, components, ephemeral_ports).await
    }

    async fn start_inner(
        shared: Option<Shared>,
        config: &LoomaConfig,
        components: &[Component],
        ephemeral_ports: bool,
    ) -> Result<Platform> {
        let (stop, stopped) = watch::channel(false);
        let (deregister, deregistering) = watch::channel(false);
        let lock_down = config.server.require_trusted_callers.unwrap_or(false);
        let trusted_signer =
            ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes());
        if lock_down
            && trusted_signer.is_none()
            && components.iter().any(|c| *c != Component::Router)
        {
            anyhow::bail!(
                "config key `server.require_trusted_callers` is on (the default for `looma serve`) \
                 but `server.router_secret` is empty, so the router could not reach this \
                 subgraph: set the router's secret (32+ characters) here too, or set \
                 LOOMA_SERVER__REQUIRE_TRUSTED_CALLERS=false"
            );
        }
        let (usage, usage_reporter) = usage_reporting(
            config,
            components,
            trusted_signer.clone(),
            deregistering.clone(),
        );
        let mut running = Vec::new();
        let mut registrations = Vec::new();
        for &component in components {
            let port = if ephemeral_ports {
                0
            } else {
                component.port(config)
            };
            let addr = SocketAddr::new(config.server.host, port);
            let mut router = build_router(
                component,
                config,
                shared.as_ref(),
                usage.clone(),
                stopped.clone(),
            )
            .await?;
            if lock_down && component != Component::Router {
                router = looma_server::require_trusted_callers(router, trusted_signer.clone());
            }
            let listener = looma_server::bind(addr)
                .await
                .with_context(|| format!("binding {} to {addr}", component.name()))?;
            let addr = listener.local_addr()?;
            let mut stopped = stopped.clone();
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let handle = tokio::spawn(looma_server::serve(listener, router, shutdown));
            tracing::info!(component = component.name(), %addr, "listening");
            if config.registry.register && component != Component::Router {
                let url = crate::registration::advertised_url(config, addr);
                registrations.push(crate::registration::spawn(
                    component,
                    url,
                    config,
                    trusted_signer.clone(),
                    deregistering.clone(),
                )?);
            }
            running.push(RunningComponent {
                component,
                addr,
                handle,
            });
        }
        Ok(Platform {
            components: running,
            shared,
            stop,
            deregister,
            registrations,
            usage_reporter,
        })
    }

    pub fn addr(&self, component: Component) -> Option<SocketAddr> {
        self.components
            .iter()
            .find(|c| c.component == component)
            .map(|c| c.addr)
    }

    /// Stops accepting, drains in-flight requests, and waits for every server to end.
    pub async fn shutdown(self) -> Result<()> {
        // Deregistered first, while every server still answers, so routers stop sending
        // requests before the servers drain.
        let _ = self.deregister.send(true);
        for registration in self.registrations {
            let _ = registration.await;
        }
        if let Some(reporter) = self.usage_reporter {
            let _ = reporter.await;
        }
        let _ = self.stop.send(true);
        for component in self.components {
            component
                .handle
                .await
                .context("server task panicked")?
                .with_context(|| format!("{} server failed", component.component.name()))?;
        }
        Ok(())
    }

    /// Runs until ctrl-c or SIGTERM, or until a server fails.
    pub async fn run_until_signal(self) -> Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// The chat's model chain; an embedded provider without a `path` reads the model that
/// `scripts/install-model` put under `embed.models_dir`.
pub fn chat_model(config: &LoomaConfig) -> Result<Arc<dyn looma_llm::ChatModel>> {
    let mut providers = config.chat.providers.clone();
    for provider in &mut providers {
        if provider.kind == looma_llm::config::ProviderKind::Embedded && provider.path.is_none() {
            provider.path = Some(
                config
                    .embed
                    .models_dir
                    .join(looma_llm::embedded::MODEL_DIR_NAME)
                    .join(looma_llm::embedded::MODEL_FILE_NAME),
            );
        }
    }
    Ok(looma_llm::config::build_chain(
        &providers,
        &config.chat.fallback,
        &config.chat.breaker,
    )?)
}

/// Components that count per-user usage (see `looma_server::usage`).
const COUNTS_USAGE: &[Component] = &[
    Component::Resume,
    Component::Search,
    Component::Matching,
    Component::Chat,
];

/// The ledger the usage-counting components among `components` share, and the task that
/// reports it to the monitor (over HTTP, signed, in `looma dev` too: one path for both
/// modes) until `stopping` — none when no such component runs, `server.usage_report_ms` is 0
/// or there is no router secret to sign with.
fn usage_reporting(
    config: &LoomaConfig,
    components: &[Component],
    signer: Option<ForwardedPrincipalCodec>,
    stopping: watch::Receiver<bool>,
) -> (
    Option<looma_server::usage::UsageLedger>,
    Option<JoinHandle<()>>,
) {
    let counts = components.iter().any(|c| COUNTS_USAGE.contains(c));
    let (true, Some(codec), every @ 1..) = (counts, signer, config.server.usage_report_ms) else {
        return (None, None);
    };
    let url = config.server.monitor_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}:{}/graphql",
            reachable_host(config.server.host),
            config.monitor.port
        )
    });
    let ledger = looma_server::usage::UsageLedger::new();
    let monitor = looma_server::ServiceClient::signed(
        looma_monitor::COMPONENT,
        url,
        codec,
        "usage-reporter",
        &[looma_auth::permission::USAGE_REPORT],
    );
    let reporter = looma_server::usage::UsageReporter::new(ledger.clone(), monitor)
        .spawn(std::time::Duration::from_millis(every), stopping);
    (Some(ledger), Some(reporter))
}

async fn build_router(
    component: Component,
    config: &LoomaConfig,
    shared: Option<&Shared>,
    usage: Option<looma_server::usage::UsageLedger>,
    stopped: watch::Receiver<bool>,
) -> Result<axum::Router> {
    match component {
        Component::Router => {
            let forwarded =
                ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes());
            // The router needs no database, only the cache (persisted queries).
            let cache = match shared {
                Some(shared) => shared.cache.clone(),
                None => looma_cache::connect(&config.cache)
                    .await
                    .context("connecting the cache (config key `cache.redis_url`)")?,
            };
            // Subgraphs invalidate cached entities through the shared cache: a router alone
            // in its process with an in-process cache would never hear of a change.
            if shared.is_none()
                && cache.backend() == "local"
                && !config.router.entity_cache.entities.is_empty()
            {
                anyhow::bail!(
                    "config key `router.entity_cache` needs a cache the subgraphs share: set                      `cache.redis_url`, or run the router with its subgraphs in one process                      (`looma dev`)"
                );
            }
            if let Some(url) = config.router.registry.url.clone() {
                let codec = forwarded.clone().context(
                    "config key `router.registry.url` is set but `server.router_secret` is \
                     empty: the router signs its calls to the registry with it",
                )?;
                let registry = looma_router::registry::RegistryClient::new(
                    looma_server::ServiceClient::signed(
                        looma_registry::COMPONENT,
                        url,
                        codec,
                        looma_router::http::COMPONENT,
                        &[
                            looma_auth::permission::SCHEMA_READ,
                            looma_auth::permission::SCHEMA_PUBLISH,
                        ],
                    ),
                    config.router.registry.clone(),
                );
                let (supergraph, view) = registry
                    .first_supergraph()
                    .await
                    .map_err(anyhow::Error::msg)?;
                let service = looma_router::RouterService::new(
                    supergraph,
                    config.router.clone(),
                    forwarded,
                    cache,
                );
                service.set_routes(view.routes.clone());
                looma_router::registry::spawn_follower(
                    &service,
                    registry.clone(),
                    view.etag,
                    view.version,
                );
                looma_router::registry::spawn_usage_reporter(&service, registry);
                return Ok(looma_router::router(service));
            }
            let path = config.router.supergraph_path.clone().context(
                "the router needs a supergraph: pass --supergraph FILE, set \
                 router.supergraph_path, or follow a registry (router.registry.url)",
            )?;
            let supergraph = looma_router::read_supergraph(&path)?;
            let service = looma_router::RouterService::new(
                supergraph,
                config.router.clone(),
                forwarded,
                cache,
            );
            looma_router::spawn_reloader(service.clone(), path);
            Ok(looma_router::router(service))
        }
        Component::Registry => {
            let shared = shared.context("the registry needs the database")?;
            let service =
                looma_registry::start(shared.db.clone(), config.registry.clone(), stopped);
            Ok(looma_registry::router(
                service,
                subgraph_verifier(config),
                shared.forwarded.clone(),
            ))
        }
        Component::Identity => {
            let shared = shared.context("identity needs the database and cache")?;
            let service = looma_identity::start(
                shared.db.clone(),
                shared.cache.clone(),
                config.identity.clone(),
                shared.keyring.clone(),
            )
            .await
            .context("starting identity")?;
            Ok(looma_identity::router(service, shared.forwarded.clone()))
        }
        Component::Resume => {
            let shared = shared.context("resume needs the database")?;
            if config.resume.search_url.is_none() {
                tracing::warn!(
                    "resume.search_url is not set: parsed resumes wait in the outbox and stay \
                     PARSED, never searchable, until it is (LOOMA_RESUME__SEARCH_URL)"
                );
            }
            let service = looma_resume::start(
                shared.db.clone(),
                config.resume.clone(),
                shared.embedder.clone(),
                shared.forwarded.clone(),
                feature_flags(
                    config,
                    shared.forwarded.as_ref(),
                    "resume",
                    identity_url(config),
                ),
                shared.keyring.clone(),
                shared.cache.clone(),
                stopped,
            );
            Ok(looma_resume::router(
                service,
                subgraph_verifier(config),
                shared.forwarded.clone(),
                usage,
            ))
        }
        Component::Matching => {
            let shared = shared.context("matching needs the database")?;
            let host = config.server.host;
            let local = |port: u16| format!("http://{host}:{port}/graphql");
            let peers = looma_matching::Peers {
                identity_url: config
                    .matching
                    .identity_url
                    .clone()
                    .unwrap_or_else(|| identity_url(config)),
                resume_url: config
                    .matching
                    .resume_url
                    .clone()
                    .unwrap_or_else(|| local(config.resume.port)),
                search_url: config
                    .matching
                    .search_url
                    .clone()
                    .unwrap_or_else(|| local(config.search.port)),
            };
            let flags = feature_flags(
                config,
                shared.forwarded.as_ref(),
                "matching",
                peers.identity_url.clone(),
            );
            let service = looma_matching::start(
                shared.db.clone(),
                config.matching.clone(),
                shared.embedder.clone(),
                shared.forwarded.clone(),
                peers,
                flags,
                shared.cache.clone(),
                stopped,
            );
            Ok(looma_matching::router(
                service,
                subgraph_verifier(config),
                shared.forwarded.clone(),
                usage,
            ))
        }
        Component::Chat => {
            let shared = shared.context("chat needs the database")?;
            let host = config.server.host;
            let peers = looma_chat::Peers {
                identity_url: config
                    .chat
                    .identity_url
                    .clone()
                    .unwrap_or_else(|| identity_url(config)),
                search_url: config
                    .chat
                    .search_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{host}:{}/graphql", config.search.port)),
                router_url: config
                    .chat
                    .router_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{host}:{}/graphql", config.router.port)),
            };
            let flags = feature_flags(
                config,
                shared.forwarded.as_ref(),
                "chat",
                peers.identity_url.clone(),
            );
            let model = chat_model(config).context("building the chat's language models (config keys `chat.providers`, `chat.fallback`)")?;
            let service = looma_chat::start(
                shared.db.clone(),
                config.chat.clone(),
                model,
                shared.embedder.clone(),
                shared.forwarded.clone(),
                peers,
                flags,
                stopped,
            );
            Ok(looma_chat::router(
                service,
                subgraph_verifier(config),
                shared.forwarded.clone(),
                usage,
            ))
        }
        Component::Monitor => {
            let shared = shared.context("monitor needs the database")?;
            let identity = config
                .monitor
                .identity_url
                .clone()
                .unwrap_or_else(|| identity_url(config));
            let service = looma_monitor::start(
                shared.db.clone(),
                config.monitor.clone(),
                monitor_targets(config),
                shared.forwarded.clone(),
                identity,
                stopped,
            );
            Ok(looma_monitor::router(
                service,
                subgraph_verifier(config),
                shared.forwarded.clone(),
            ))
        }
        Component::Search => {
            // Alone (`looma serve search`) it opens no database: only the embedder and the
            // router secret, which `Shared` carries when other components run beside it.
            let (embedder, forwarded) = match shared {
                Some(shared) => (shared.embedder.clone(), shared.forwarded.clone()),
                None => (
                    looma_embed::EmbeddingService::new(config.embed.clone()),
                    ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes()),
                ),
            };
            let flags = feature_flags(config, forwarded.as_ref(), "search", identity_url(config));
            let service = looma_search::start(config.search.clone(), embedder, flags)
                .context("opening the search indexes (config keys `search.*`)")?;
            Ok(looma_search::router(
                service,
                subgraph_verifier(config),
                forwarded,
                usage,
            ))
        }
    }
}

/// What the monitor watches: `monitor.targets`, else every other component on this host's
/// configured ports.
pub fn monitor_targets(config: &LoomaConfig) -> Vec<looma_monitor::MonitorTarget> {
    if !config.monitor.targets.is_empty() {
        return config.monitor.targets.clone();
    }
    let host = reachable_host(config.server.host);
    [Component::Router]
        .iter()
        .chain(Component::SUBGRAPHS)
        .filter(|c| **c != Component::Monitor)
        .map(|c| looma_monitor::MonitorTarget {
            component: c.name().to_owned(),
            url: format!("http://{}", SocketAddr::new(host, c.port(config))),
        })
        .collect()
}

/// The address other processes on this host reach a component bound to `host` at: loopback
/// for the unspecified address (`0.0.0.0`, `::`).
pub fn reachable_host(host: std::net::IpAddr) -> std::net::IpAddr {
    if host.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        host
    }
}

/// Identity's GraphQL URL as other components reach it: the router's `identity_url`, else
/// identity's port on this host.
pub fn identity_url(config: &LoomaConfig) -> String {
    config.router.identity_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}:{}/graphql",
            config.server.host, config.identity.port
        )
    })
}

/// Identity's feature flags for `component`, read from `identity` (its GraphQL URL) as a signed
/// service (every flag on when no router secret is configured: nothing could be verified).
fn feature_flags(
    config: &LoomaConfig,
    forwarded: Option<&ForwardedPrincipalCodec>,
    component: &str,
    identity: String,
) -> looma_server::FeatureFlags {
    match forwarded {
        Some(codec) => looma_server::FeatureFlags::new(
            looma_server::ServiceClient::signed(
                "identity",
                identity,
                codec.clone(),
                component,
                &[looma_auth::permission::CONFIG_READ],
            ),
            std::time::Duration::from_millis(config.server.feature_flag_cache_ms),
        ),
        None => looma_server::FeatureFlags::always_on(),
    }
}

/// How a subgraph other than identity checks bearer tokens and API keys sent to it directly:
/// against identity (the router's `jwks_url`/`identity_url`, defaulting to identity's port on
/// this host).
pub fn subgraph_verifier(config: &LoomaConfig) -> Arc<dyn looma_auth::CredentialVerifier> {
    let host = config.server.host;
    let port = config.identity.port;
    let jwks = config
        .router
        .jwks_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}:{port}/.well-known/jwks.json"));
    let identity = config
        .router
        .identity_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}:{port}/graphql"));
    Arc::new(looma_server::RemoteVerifier::new(
        Some(jwks),
        Some(identity),
        &config.identity.issuer,
        &config.identity.audience,
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

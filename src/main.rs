//! `looma`: one binary, many roles. Parses arguments and wires library calls; nothing else.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use looma::LoomaConfig;
use looma::platform::{self, Component, Platform};
use looma_core::Secret;
use std::io::BufRead;
use std::path::PathBuf;

/// `print!` that returns a [`StdoutError`] instead of panicking: with `?`, a reader that went
/// away (`looma eval resumes --show FILE | head`) ends the command, and `main` ends quietly on
/// that broken pipe, as the writer upstream of `head` should.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err(StdoutError)
    }};
}

/// `println!` the same way as [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(StdoutError)
    }};
}

/// Writing the command's output failed. Kept apart from other I/O errors so that only a closed
/// stdout, not a broken network connection, ends a command quietly.
#[derive(Debug)]
struct StdoutError(std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to stdout: {}", self.0)
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Parser)]
#[command(
    name = "looma",
    version,
    about = "Looma AI Platform: one federated GraphQL endpoint for the talent CRM",
    long_about = "Looma AI Platform: one federated GraphQL endpoint for the talent CRM.\n\n\
        Configuration comes from built-in defaults, then looma.toml (or --config), then \
        LOOMA_SECTION__KEY environment variables; DATABASE_URL and REDIS_URL are honoured."
)]
struct Cli {
    /// Configuration file (default: ./looma.toml when it exists).
    #[arg(long, global = true, env = "LOOMA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every component in one process, each on its own port, on embedded defaults:
    /// SQLite under ./data/, in-process cache, no servers needed. Creates a first admin on an
    /// empty database and prints its password.
    Dev,
    /// Run one component alone (microservices mode, as deployed by docker/).
    Serve {
        #[arg(value_enum)]
        component: Component,
        /// Supergraph SDL file for the router (overrides `router.supergraph_path`).
        #[arg(long)]
        supergraph: Option<PathBuf>,
        /// A subgraph: publish its SDL and URL to the schema registry at start and heartbeat
        /// (`registry.register`); the router: follow the registry (`router.registry.url`,
        /// default this host's registry).
        #[arg(long)]
        register: bool,
        /// The registry's GraphQL URL (`registry.url`; default: this host's port 8213).
        #[arg(long)]
        registry_url: Option<String>,
        /// The host others reach this component at, for the registered URL
        /// (`registry.advertise_host`).
        #[arg(long)]
        advertise_host: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate {
        /// List applied and pending migrations instead of applying them.
        #[arg(long)]
        status: bool,
    },
    /// Administrative tasks run against the database directly.
    Admin {
        #[command(subcommand)]
        task: AdminTask,
    },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Compose subgraphs into a supergraph. Each --subgraph is `name=url` (SDL fetched from
    /// the running subgraph's `_service { sdl }`) or `name=url=file.graphql`.
    Compose {
        #[arg(long = "subgraph", required = true)]
        subgraphs: Vec<String>,
        /// Where to write the supergraph (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the query plan the router makes for an operation (for debugging plans).
    Plan {
        /// Supergraph SDL file.
        #[arg(long)]
        supergraph: PathBuf,
        /// The operation text.
        query: String,
        #[arg(long)]
        operation_name: Option<String>,
    },
    /// Print a subgraph's federation SDL (what `_service { sdl }` returns).
    Sdl {
        #[arg(value_enum)]
        component: Component,
    },
    /// Schema checks for CI: composition and breaking changes.
    Schema {
        #[command(subcommand)]
        task: SchemaTask,
    },
    /// Search index maintenance.
    Search {
        #[command(subcommand)]
        task: SearchTask,
    },
    /// Score a component against a judged fixture set and print the metrics.
    Eval {
        #[command(subcommand)]
        target: EvalTarget,
    },
}

#[derive(Subcommand)]
enum EvalTarget {
    /// Field-level precision/recall/F1 of resume parsing over `<stem>.expected.json` files.
    Resumes {
        #[arg(long, default_value = "tests/fixtures/resumes")]
        dir: PathBuf,
        /// Also list each resume's wrong fields.
        #[arg(long)]
        verbose: bool,
        /// Print one file's extracted text and parsed profile instead.
        #[arg(long)]
        show: Option<PathBuf>,
        /// Score only the documents of this split (`train`, `dev`, `test`).
        #[arg(long)]
        split: Option<String>,
        /// Read images and scanned PDFs with Tesseract when it is installed.
        #[arg(long)]
        ocr: bool,
    },
    /// NDCG@10 of matching (ours and a keyword-overlap baseline) over judged jobs × resumes.
    Matching {
        #[arg(long, default_value = "tests/fixtures/matching")]
        dir: PathBuf,
    },
    /// nDCG@10 of text, semantic and hybrid search over a judged query set.
    Search {
        #[arg(long, default_value = "tests/fixtures/search")]
        dir: PathBuf,
        /// Also print every query's score per mode.
        #[arg(long)]
        verbose: bool,
        /// Also try these hybrid vector weights on the dev split (comma-separated), to
        /// choose `search.hybrid_vector_weight*` from.
        #[arg(long, value_delimiter = ',')]
        tune: Vec<f64>,
        /// Keep the documents' vectors in this directory between runs (by model and texts).
        #[arg(long)]
        vector_cache: Option<PathBuf>,
        /// Write every query's text and vector candidate lists to this file (JSON lines).
        #[arg(long)]
        runs: Option<PathBuf>,
    },
    /// Accuracy of `analyzeText`'s language, sentiment and job family on public labelled sets
    /// (README, "Text analytics"), beside simple baselines; `--train` first trains the heads on
    /// the train splits (L2 chosen on dev) and writes them to `crates/analytics/data`.
    Analyze {
        /// Holds `sentiment/` (ChnSentiCorp, SST-2), see `scripts/eval-data/analyze-sets`.
        #[arg(long, default_value = "/var/cache/looma-ci/eval-data/raw")]
        raw: PathBuf,
        #[arg(
            long,
            default_value = "crates/taxonomy/tests/fixtures/csco_title_pairs.tsv"
        )]
        title_pairs: PathBuf,
        /// Train the heads and write them into this directory (`crates/analytics/data`).
        #[arg(long)]
        train: Option<PathBuf>,
        /// Embedded texts are cached here between runs.
        #[arg(long, default_value = "/var/cache/looma-ci/eval-data/analyze-vectors")]
        cache: PathBuf,
        /// Embed and score only the test split (with the shipped heads).
        #[arg(long)]
        test_only: bool,
    },
    /// Citation recall@k of the chat assistant's knowledge retrieval over a judged question
    /// set (`scripts/eval-data/build-chat-set`), through an in-process search service.
    Chat {
        #[arg(
            long,
            default_value = "/var/cache/looma-ci/eval-data/sets/chat-bilingual"
        )]
        dir: PathBuf,
        /// Also answer this many test-split questions with the embedded model and time them.
        #[arg(long)]
        generate: Option<usize>,
        /// Also print every question's answer-bearing chunks and rank.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Subcommand)]
enum SchemaTask {
    /// Checks a new SDL of one subgraph against the committed one: composes it with the other
    /// subgraphs in `--schema-dir` and classifies every change as BREAKING, DANGEROUS or SAFE.
    /// Exit code 0: safe or dangerous; 1: breaking; 2: composition (or parse) error.
    Check {
        /// The subgraph's name (its file is `<schema-dir>/<name>.graphql`).
        subgraph: String,
        /// The new SDL (e.g. `looma sdl resume > new.graphql`).
        #[arg(long)]
        sdl: PathBuf,
        /// Where the committed subgraph SDLs are.
        #[arg(long, default_value = "schema")]
        schema_dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Check against the schema registry at this GraphQL URL instead of `--schema-dir`:
        /// composed with the registry's latest subgraphs, and a breaking change no client
        /// operation used within the usage window is reported safe.
        #[arg(long)]
        registry: Option<String>,
        /// Days of usage a registry check considers (default: `registry.usage_window_days`).
        #[arg(long)]
        usage_window_days: Option<u32>,
        /// API key holding `schema:read` (else calls are signed with `server.router_secret`).
        #[arg(long, env = "LOOMA_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
    /// Publishes a subgraph's SDL to the schema registry: composed with the latest of the
    /// others; a composition error is refused with every error and nothing changes, and so is
    /// a breaking change client operations used (unless --force).
    /// Exit code 0: published (or unchanged); 1: breaking changes in use; 2: composition error.
    Publish {
        subgraph: String,
        #[arg(long)]
        sdl: PathBuf,
        /// Where routers reach the subgraph (kept from the previous version when absent).
        #[arg(long)]
        url: Option<String>,
        /// The registry's GraphQL URL (default: `registry.url`, else this host's port 8213).
        #[arg(long)]
        registry: Option<String>,
        /// The commit the SDL comes from.
        #[arg(long, env = "GITHUB_SHA")]
        commit: Option<String>,
        /// API key holding `schema:publish` (else calls are signed with `server.router_secret`).
        #[arg(long, env = "LOOMA_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Publish even breaking changes that client operations used (refused otherwise,
        /// exit code 1).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SearchTask {
    /// Rebuild a search collection from its owner's tables (the source of truth), with a
    /// progress bar. Talks to the running search subgraph; authenticates with --api-key (a key
    /// holding `search:index`) or else the shared `server.router_secret`.
    Reindex {
        /// `resumes`, `jobs`, `knowledge` or `all`.
        #[arg(default_value = "all")]
        collection: String,
        /// The search subgraph's GraphQL URL (default: this host's search port).
        #[arg(long)]
        search_url: Option<String>,
        #[arg(long, env = "LOOMA_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Documents per request.
        #[arg(long, default_value_t = 200)]
        batch: usize,
    },
}

#[derive(Subcommand)]
enum AdminTask {
    /// Create a user, typically the first admin. The password is read from stdin with
    /// --password-stdin, else from LOOMA_ADMIN_PASSWORD, else generated and printed.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Role to grant; repeat for several.
        #[arg(long = "role", default_value = "admin")]
        roles: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Start signing tokens with a new key; the old key keeps verifying until its tokens expire.
    RotateSigningKey,
    /// Seal every signing key and stored resume file under the first master key of
    /// `server.encryption_keys` (after adding a new key first, or when encryption was just
    /// configured); afterwards the older master keys can be removed.
    RewrapDataKeys,
    /// Write a consistent copy of the whole database to a new file while the platform runs
    /// (SQLite: `VACUUM INTO`; PostgreSQL: `pg_dump` custom format).
    Backup {
        #[arg(long)]
        output: PathBuf,
    },
    /// Replace the database with a backup (stop every component first; SQLite: the file is
    /// replaced; PostgreSQL: `pg_restore --clean`). Rebuild the search indexes afterwards with
    /// `looma search reindex`.
    Restore {
        #[arg(long)]
        input: PathBuf,
    },
}

/// mimalloc: glibc malloc's arena locks showed up as the router's top cost under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader of our output is gone (`| head`): nothing left to say, and nobody to
        // say it to.
        Err(error) if is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<StdoutError>()
            .is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn config_file(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| {
        let default = PathBuf::from("looma.toml");
        default.exists().then_some(default)
    })
}

async fn run(cli: Cli) -> Result<()> {
    let file = config_file(&cli);
    if let Command::Sdl { component } = cli.command {
        out!("{}", looma::sdl(component))?;
        return Ok(());
    }
    if let Command::Schema { task } = &cli.command {
        let code = match task {
            SchemaTask::Check {
                subgraph,
                sdl,
                schema_dir,
                json,
                registry: None,
                ..
            } => schema_check(subgraph, sdl, schema_dir, *json)?,
            SchemaTask::Check {
                subgraph,
                sdl,
                json,
                registry: Some(registry),
                usage_window_days,
                api_key,
                ..
            } => {
                let config = LoomaConfig::load(file.as_deref())?;
                let client = registry_client(&config, Some(registry), api_key.clone())?;
                registry_check(&client, subgraph, sdl, *usage_window_days, *json).await?
            }
            SchemaTask::Publish {
                subgraph,
                sdl,
                url,
                registry,
                commit,
                api_key,
                force,
                json,
            } => {
                let config = LoomaConfig::load(file.as_deref())?;
                let client = registry_client(&config, registry.as_ref(), api_key.clone())?;
                let publication = Publication {
                    subgraph,
                    sdl_file: sdl,
                    url: url.as_deref(),
                    commit: commit.as_deref(),
                    force: *force,
                };
                registry_publish(&client, &publication, *json).await?
            }
        };
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        std::process::exit(code);
    }
    if let Command::Eval { target } = &cli.command {
        return eval(target, file.as_deref()).await;
    }
    if let Command::Plan {
        supergraph,
        query,
        operation_name,
    } = &cli.command
    {
        let supergraph = looma_router::read_supergraph(supergraph)?;
        let loaded = looma_router::pipeline::LoadedSupergraph::new(supergraph, 1);
        let config = looma_router::RouterConfig::default();
        match looma_router::pipeline::prepare(&loaded, &config, query, operation_name.as_deref()) {
            Ok(prepared) => {
                for fetch in &prepared.plan.fetches {
                    outln!("{}", looma_router::plan::describe_fetch(fetch))?;
                }
            }
            Err(errors) => outln!("{errors:#}")?,
        }
        return Ok(());
    }
    let mut config = LoomaConfig::load(file.as_deref())?;
    looma_core::telemetry::init_logging(&config.log);
    match cli.command {
        Command::Dev => {
            let log = config.log.clone();
            with_trace_export(&log, dev(&mut config)).await
        }
        Command::Serve {
            component,
            supergraph,
            register,
            registry_url,
            advertise_host,
        } => {
            if supergraph.is_some() {
                config.router.supergraph_path = supergraph;
            }
            if registry_url.is_some() {
                config.registry.url = registry_url;
            }
            if advertise_host.is_some() {
                config.registry.advertise_host = advertise_host;
            }
            if register {
                if component == Component::Router {
                    let url = looma::registration::registry_url(&config);
                    config.router.registry.url.get_or_insert(url);
                } else {
                    config.registry.register = true;
                }
            }
            // Production: subgraph ports answer only the router and services.
            config.server.require_trusted_callers.get_or_insert(true);
            print_config(&config, file.as_deref())?;
            with_trace_export(&config.log, async {
                let platform = Platform::start(&config, &[component], false).await?;
                platform.run_until_signal().await
            })
            .await
        }
        Command::Migrate { status } => migrate(&config, status).await,
        Command::Admin { task } => admin(&config, task).await,
        Command::Config => {
            outln!("{}", config.to_redacted_toml())?;
            Ok(())
        }
        Command::Compose { subgraphs, output } => {
            compose(&config, &subgraphs, output.as_deref()).await
        }
        Command::Search { task } => search_task(&config, task).await,
        Command::Sdl { .. }
        | Command::Plan { .. }
        | Command::Eval { .. }
        | Command::Schema { .. } => Ok(()),
    }
}

/// Runs `serve` with the OTLP trace exporter on when `log.otlp_endpoint` is set, and sends
/// the spans still queued once it ends.
async fn with_trace_export(
    log: &looma_core::telemetry::LogConfig,
    serve: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    let exporter = looma_server::trace_export::TraceExporter::start(log);
    let result = serve.await;
    if let Some(exporter) = exporter {
        exporter.stop().await;
    }
    result
}

async fn eval(target: &EvalTarget, file: Option<&std::path::Path>) -> Result<()> {
    match target {
        EvalTarget::Matching { dir } => {
            let config = LoomaConfig::load(file)?;
            let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
            let weights = looma_matching::domain::weights::Weights::defaults();
            let report = looma_matching::eval::evaluate(dir, &embedder, &weights)
                .await
                .with_context(|| format!("evaluating {}", dir.display()))?;
            out!("{}", report.render())?;
            Ok(())
        }
        EvalTarget::Analyze {
            raw,
            title_pairs,
            train,
            cache,
            test_only,
        } => {
            let config = LoomaConfig::load(file)?;
            let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
            let options = looma_analytics::eval::EvalOptions {
                raw_dir: raw.clone(),
                title_pairs: title_pairs.clone(),
                train_into: train.clone(),
                cache_dir: cache.clone(),
                test_only: *test_only,
            };
            let report = looma_analytics::eval::evaluate(&embedder, &options)
                .await
                .map_err(anyhow::Error::msg)?;
            out!("{}", report.render())?;
            Ok(())
        }
        EvalTarget::Search {
            dir,
            verbose,
            tune,
            vector_cache,
            runs,
        } => {
            let config = LoomaConfig::load(file)?;
            let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
            let work =
                std::env::temp_dir().join(format!("looma-eval-search-{}", std::process::id()));
            let options = looma_search::eval::EvalOptions {
                tune_weights: tune.clone(),
                vector_cache: vector_cache.clone(),
                runs: runs.clone(),
            };
            let report =
                looma_search::eval::evaluate(dir, embedder, config.search.clone(), &work, &options)
                    .await;
            let _ = std::fs::remove_dir_all(&work);
            let report = report.with_context(|| format!("evaluating {}", dir.display()))?;
            out!("{}", report.render(*verbose))?;
            Ok(())
        }
        EvalTarget::Chat {
            dir,
            generate,
            verbose,
        } => {
            let config = LoomaConfig::load(file)?;
            eval_chat(&config, dir, *generate, *verbose).await
        }
        EvalTarget::Resumes {
            dir,
            verbose,
            show,
            split,
            ocr,
        } => {
            let config = looma_resume::ResumeConfig::default();
            let limits =
                looma_extract::ExtractLimits::new(config.max_docx_decompressed_bytes, *ocr);
            if let Some(file) = show {
                let (text, profile) = looma_resume::eval::show(file, limits)?;
                outln!("{text}\n----\n{profile}")?;
                return Ok(());
            }
            let report = looma_resume::eval::evaluate(dir, limits, split.as_deref())
                .with_context(|| format!("evaluating {}", dir.display()))?;
            out!("{}", report.render())?;
            if *verbose {
                for (file, fields) in &report.misses {
                    outln!("{file}: {}", fields.join(", "))?;
                }
            }
            Ok(())
        }
    }
}

/// `looma eval chat`: the knowledge base indexed into an in-process search service built as
/// `looma eval search` builds it, retrieval through its hybrid search over KNOWLEDGE, as
/// chat's `hybridSearch` call runs it.
async fn eval_chat(
    config: &LoomaConfig,
    dir: &std::path::Path,
    generate: Option<usize>,
    verbose: bool,
) -> Result<()> {
    let set = looma_chat::eval::EvalSet::load(dir)?;
    let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
    let work = std::env::temp_dir().join(format!("looma-eval-chat-{}", std::process::id()));
    let engines = looma_search::Engines::ephemeral(&work, embedder.dimension())
        .context("opening the in-process search engines")?;
    let search = looma_search::SearchService::new(engines, embedder.clone(), config.search.clone());
    let retriever = InProcessKnowledge(search);
    let report = looma_chat::eval::evaluate(&set, &config.chat, &embedder, &retriever).await;
    let _ = std::fs::remove_dir_all(&work);
    let report = report.with_context(|| format!("evaluating {}", dir.display()))?;
    out!("{}", report.render(verbose))?;
    let Some(n) = generate else {
        return Ok(());
    };
    let path = looma_llm::embedded::model_path(&config.embed.models_dir);
    if !path.exists() {
        outln!(
            "generation skipped: the embedded model is not installed at {} (scripts/install-model)",
            path.display()
        )?;
        return Ok(());
    }
    let model = tokio::task::spawn_blocking(move || {
        looma_llm::embedded::EmbeddedModel::load(&path, looma_chat::config::EMBEDDED)
    })
    .await
    .context("loading the embedded model")??;
    let timing = looma_chat::eval::generate(&set, &report, &config.chat, &model, n).await?;
    out!("{}", timing.render(looma_llm::ChatModel::model(&model)))?;
    Ok(())
}

/// Search's in-process service as chat's knowledge retrieval sees it: chunks indexed as
/// `indexDocuments` takes them, questions answered by `hybridSearch(collection: KNOWLEDGE)`.
struct InProcessKnowledge(looma_search::SearchService);

impl looma_chat::eval::Retriever for InProcessKnowledge {
    fn index(
        &self,
        documents: Vec<looma_search_client::SearchDocument>,
    ) -> looma_chat::eval::RetrieverFuture<'_, std::result::Result<(), String>> {
        Box::pin(async move {
            self.0
                .index_client_documents(&documents)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn retrieve<'a>(
        &'a self,
        question: &'a str,
        top_k: usize,
    ) -> looma_chat::eval::RetrieverFuture<
        'a,
        std::result::Result<Vec<String>, looma_chat::eval::RetrieveError>,
    > {
        use looma_chat::eval::RetrieveError;
        Box::pin(async move {
            self.0
                .knowledge_hits(question, top_k)
                .await
                .map_err(|error| match error {
                    looma_search::SearchError::InvalidInput { .. } => {
                        RetrieveError::Refused(error.to_string())
                    }
                    error => RetrieveError::Failed(error.to_string()),
                })
        })
    }
}

async fn search_task(config: &LoomaConfig, task: SearchTask) -> Result<()> {
    let SearchTask::Reindex {
        collection,
        search_url,
        api_key,
        batch,
    } = task;
    if !(1..=1000).contains(&batch) {
        bail!("--batch must be between 1 and 1000");
    }
    let url = search_url.unwrap_or_else(|| {
        format!(
            "http://{}:{}/graphql",
            config.server.host, config.search.port
        )
    });
    let client = match api_key {
        Some(key) => looma_server::ServiceClient::api_key("search", url.clone(), key),
        None => {
            let codec = looma_auth::ForwardedPrincipalCodec::new(
                config.server.router_secret.expose().as_bytes(),
            )
            .context(
                "no credentials for search: pass --api-key (a key holding search:index) or set \
                 server.router_secret to the secret the search subgraph trusts",
            )?;
            looma_server::ServiceClient::signed(
                "search",
                url.clone(),
                codec,
                "looma-reindex",
                &[looma_auth::permission::SEARCH_INDEX],
            )
        }
    };
    let collections: Vec<&str> = match collection.as_str() {
        "all" => vec!["resumes", "jobs", "knowledge"],
        "resumes" | "jobs" | "knowledge" => vec![collection.as_str()],
        other => bail!("unknown collection `{other}`: resumes, jobs, knowledge or all"),
    };
    let db = looma_db::connect(&config.database)
        .await
        .context("opening the database (config key `database.url`)")?;
    let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
    for name in collections {
        let bar = progress_bar(name);
        let progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        let sent = match name {
            "resumes" => looma_resume::ResumeService::new(
                looma_resume::store::ResumeStore::new(db.clone()),
                config.resume.clone(),
                embedder.clone(),
                None,
                None,
            )
            .reindex(
                &looma_search_client::SearchClient::from_client(client.clone()),
                batch,
                progress,
            )
            .await
            .with_context(|| format!("reindexing resumes into {url}"))?,
            "jobs" => looma_matching::MatchingService::new(
                looma_matching::store::MatchingStore::new(db.clone()),
                config.matching.clone(),
                embedder.clone(),
                None,
            )
            .reindex(
                &looma_search_client::SearchClient::from_client(client.clone()),
                batch,
                progress,
            )
            .await
            .with_context(|| format!("reindexing jobs into {url}"))?,
            _ => looma_chat::service::reindex_knowledge(
                &looma_chat::store::ChatStore::new(db.clone()),
                &embedder,
                &looma_search_client::SearchClient::from_client(client.clone()),
                progress,
            )
            .await
            .with_context(|| format!("reindexing knowledge into {url}"))?,
        };
        bar.finish();
        outln!("{name}: {sent} documents indexed")?;
    }
    Ok(())
}

fn progress_bar(collection: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{collection:<9} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    )
}

/// `looma schema check`: prints the report and returns the exit code (0 safe or dangerous,
/// 1 breaking, 2 composition or parse error).
fn schema_check(
    subgraph: &str,
    sdl_file: &std::path::Path,
    schema_dir: &std::path::Path,
    json: bool,
) -> Result<i32> {
    use looma_router::schema_diff::{self, Severity};
    let new = std::fs::read_to_string(sdl_file)
        .with_context(|| format!("reading {}", sdl_file.display()))?;
    let mut sources = Vec::new();
    let mut current = None;
    let mut entries: Vec<_> = std::fs::read_dir(schema_dir)
        .with_context(|| format!("reading {}", schema_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if name == "supergraph" {
            continue;
        }
        let committed = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let sdl = if name == subgraph {
            current = Some(committed);
            new.clone()
        } else {
            committed
        };
        sources.push(looma_router::compose::SubgraphSource {
            name: name.to_owned(),
            url: format!("http://{name}/graphql"),
            sdl,
        });
    }
    if current.is_none() {
        // A new subgraph: everything it brings is an addition.
        sources.push(looma_router::compose::SubgraphSource {
            name: subgraph.to_owned(),
            url: format!("http://{subgraph}/graphql"),
            sdl: new.clone(),
        });
    }
    let composition = looma_router::compose::compose(&sources)
        .map_err(|errors| errors.to_string())
        .and_then(|supergraph| {
            looma_router::supergraph::Supergraph::parse(&supergraph)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    let (changes, failure) = match (
        &composition,
        schema_diff::diff(current.as_deref().unwrap_or(""), &new),
    ) {
        (Err(error), _) => (Vec::new(), Some(error.clone())),
        (Ok(()), Err(error)) => (Vec::new(), Some(error)),
        (Ok(()), Ok(changes)) => (changes, None),
    };
    let verdict = schema_diff::verdict(&changes);
    let code = match (&failure, verdict) {
        (Some(_), _) => 2,
        (None, Severity::Breaking) => 1,
        (None, _) => 0,
    };
    if json {
        let report = serde_json::json!({
            "subgraph": subgraph,
            "verdict": if failure.is_some() { "COMPOSITION_ERROR".into() } else { serde_json::to_value(verdict)? },
            "compositionErrors": failure.iter().flat_map(|e| e.lines()).collect::<Vec<_>>(),
            "changes": changes,
        });
        outln!("{report:#}")?;
    } else if let Some(error) = &failure {
        outln!("{subgraph}: composition failed\n{error}")?;
    } else {
        outln!(
            "{subgraph}: {} ({} change{})",
            serde_json::to_value(verdict)?.as_str().unwrap_or_default(),
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        )?;
        for change in &changes {
            let severity = serde_json::to_value(change.severity)?;
            outln!(
                "  {:<9} {}",
                severity.as_str().unwrap_or_default(),
                change.message
            )?;
        }
    }
    Ok(code)
}

/// The schema registry as an operator command calls it: with `api_key`, else signed with
/// `server.router_secret` as `looma-cli`.
fn registry_client(
    config: &LoomaConfig,
    url: Option<&String>,
    api_key: Option<String>,
) -> Result<looma_server::ServiceClient> {
    let url = url
        .cloned()
        .unwrap_or_else(|| looma::registration::registry_url(config));
    if let Some(key) = api_key {
        return Ok(looma_server::ServiceClient::api_key(
            looma_registry::COMPONENT,
            url,
            key,
        ));
    }
    let codec =
        looma_auth::ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes())
            .context("no credentials for the registry: pass --api-key (or LOOMA_API_KEY) or set server.router_secret")?;
    Ok(looma_server::ServiceClient::signed(
        looma_registry::COMPONENT,
        url,
        codec,
        "looma-cli",
        &[
            looma_auth::permission::SCHEMA_READ,
            looma_auth::permission::SCHEMA_PUBLISH,
        ],
    ))
}

/// `looma schema check --registry`: exit code 0 safe or dangerous, 1 breaking, 2 composition
/// error.
async fn registry_check(
    client: &looma_server::ServiceClient,
    subgraph: &str,
    sdl_file: &std::path::Path,
    usage_window_days: Option<u32>,
    json: bool,
) -> Result<i32> {
    let sdl = std::fs::read_to_string(sdl_file)
        .with_context(|| format!("reading {}", sdl_file.display()))?;
    let data = client
        .query(
            "query Check($subgraph: String!, $sdl: String!, $days: Int) {
               schemaCheck(subgraph: $subgraph, sdl: $sdl, usageWindowDays: $days) {
                 verdict compositionErrors usageWindowDays
                 changes { severity originalSeverity path message affectedOperations
                           affectedClients { name version } usageCount }
               }
             }",
            serde_json::json!({ "subgraph": subgraph, "sdl": sdl, "days": usage_window_days }),
        )
        .await?;
    let report = &data["schemaCheck"];
    let verdict = report["verdict"].as_str().unwrap_or("COMPOSITION_ERROR");
    if json {
        outln!("{report:#}")?;
    } else if verdict == "COMPOSITION_ERROR" {
        outln!("{subgraph}: composition failed")?;
        for error in report["compositionErrors"].as_array().into_iter().flatten() {
            outln!("  {}", error.as_str().unwrap_or_default())?;
        }
    } else {
        let changes = report["changes"].as_array().cloned().unwrap_or_default();
        outln!(
            "{subgraph}: {verdict} ({} change{}, usage of the last {} days)",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            report["usageWindowDays"]
        )?;
        for change in &changes {
            outln!(
                "  {:<9} {}",
                change["severity"].as_str().unwrap_or_default(),
                change["message"].as_str().unwrap_or_default()
            )?;
            let clients: Vec<String> = change["affectedClients"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["version"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            if !clients.is_empty() {
                let operations: Vec<&str> = change["affectedOperations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.as_str())
                    .collect();
                outln!(
                    "            used by {} ({} requests): {}",
                    clients.join(", "),
                    change["usageCount"],
                    operations.join(", ")
                )?;
            }
        }
    }
    Ok(match verdict {
        "COMPOSITION_ERROR" => 2,
        "BREAKING" => 1,
        _ => 0,
    })
}

/// What `looma schema publish` sends.
struct Publication<'a> {
    subgraph: &'a str,
    sdl_file: &'a std::path::Path,
    url: Option<&'a str>,
    commit: Option<&'a str>,
    force: bool,
}

/// `looma schema publish`: exit code 0 published or unchanged, 1 breaking changes in use
/// (without --force), 2 composition error.
async fn registry_publish(
    client: &looma_server::ServiceClient,
    publication: &Publication<'_>,
    json: bool,
) -> Result<i32> {
    let subgraph = publication.subgraph;
    let sdl_file = publication.sdl_file;
    let sdl = std::fs::read_to_string(sdl_file)
        .with_context(|| format!("reading {}", sdl_file.display()))?;
    let result = client
        .query(
            "mutation Publish($input: PublishSchemaInput!) {
               publishSchema(input: $input) {
                 unchanged supergraphVersion
                 schemaVersion { id publishedBy publishedAt commit }
                 changes { severity path message }
               }
             }",
            serde_json::json!({ "input": {
                "subgraph": subgraph, "sdl": sdl, "url": publication.url,
                "commit": publication.commit, "force": publication.force,
            }}),
        )
        .await;
    let data = match result {
        Ok(data) => data,
        Err(error) if matches!(error.code(), Some("COMPOSITION_FAILED" | "CONFLICT")) => {
            if json {
                outln!(
                    "{:#}",
                    serde_json::json!({ "published": false, "error": error.to_string() })
                )?;
            } else {
                outln!("{subgraph}: not published\n{error}")?;
            }
            return Ok(if error.code() == Some("CONFLICT") {
                1
            } else {
                2
            });
        }
        Err(error) => return Err(error.into()),
    };
    let published = &data["publishSchema"];
    if json {
        outln!("{published:#}")?;
    } else if published["unchanged"] == serde_json::json!(true) {
        outln!(
            "{subgraph}: unchanged (supergraph version {})",
            published["supergraphVersion"]
        )?;
    } else {
        outln!(
            "{subgraph}: published as {} (supergraph version {})",
            published["schemaVersion"]["id"]
                .as_str()
                .unwrap_or_default(),
            published["supergraphVersion"]
        )?;
        for change in published["changes"].as_array().into_iter().flatten() {
            outln!(
                "  {:<9} {}",
                change["severity"].as_str().unwrap_or_default(),
                change["message"].as_str().unwrap_or_default()
            )?;
        }
    }
    Ok(0)
}

async fn compose(
    config: &LoomaConfig,
    specs: &[String],
    output: Option<&std::path::Path>,
) -> Result<()> {
    // Subgraphs in lock-down answer `_service` only to signed callers: sign as the router
    // does when the secret is configured.
    let codec =
        looma_auth::ForwardedPrincipalCodec::new(config.server.router_secret.expose().as_bytes());
    let mut sources = Vec::new();
    for spec in specs {
        let mut parts = spec.splitn(3, '=');
        let (Some(name), Some(url)) = (parts.next(), parts.next()) else {
            bail!("--subgraph `{spec}`: expected name=url or name=url=file.graphql");
        };
        let sdl = match parts.next() {
            Some(file) => {
                std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
            }
            None => fetch_sdl(url, codec.as_ref())
                .await
                .with_context(|| format!("fetching the SDL of `{name}` from {url}"))?,
        };
        sources.push(looma_router::compose::SubgraphSource {
            name: name.to_owned(),
            url: url.to_owned(),
            sdl,
        });
    }
    let supergraph = looma_router::compose::compose(&sources)
        .map_err(|e| anyhow::anyhow!("composition failed:\n{e}"))?;
    looma_router::supergraph::Supergraph::parse(&supergraph)
        .context("the composed supergraph does not load")?;
    match output {
        Some(path) => std::fs::write(path, &supergraph)
            .with_context(|| format!("writing {}", path.display()))?,
        None => out!("{supergraph}")?,
    }
    Ok(())
}

async fn fetch_sdl(
    url: &str,
    codec: Option<&looma_auth::ForwardedPrincipalCodec>,
) -> Result<String> {
    let mut request = looma_server::http_client().post(url);
    if let Some(codec) = codec {
        request = request.header(
            looma_server::ROUTER_MARKER_HEADER,
            looma_server::router_marker(codec),
        );
    }
    let response: serde_json::Value = request
        .json(&serde_json::json!({"query": "{ _service { sdl } }"}))
        .send()
        .await?
        .json()
        .await?;
    response["data"]["_service"]["sdl"]
        .as_str()
        .map(str::to_owned)
        .context("the response has no data._service.sdl")
}

fn print_config(config: &LoomaConfig, file: Option<&std::path::Path>) -> Result<()> {
    let source = file.map_or("defaults and environment".to_owned(), |f| {
        f.display().to_string()
    });
    outln!(
        "# effective configuration ({source}), secrets redacted\n{}",
        config.to_redacted_toml()
    )?;
    Ok(())
}

async fn dev(config: &mut LoomaConfig) -> Result<()> {
    if config.server.router_secret.is_empty() {
        config.server.router_secret = Secret::new(random_secret());
    }
    // One process on a developer's machine: subgraph ports stay open to GraphiQL and curl.
    config.server.require_trusted_callers.get_or_insert(false);
    let host = config.server.host;
    let identity_url = format!("http://{host}:{}/graphql", config.identity.port);
    let search_url = format!("http://{host}:{}/graphql", config.search.port);
    // Every subgraph `looma dev` starts (`Component::SUBGRAPHS`) registers with the registry
    // it also runs, and the router follows that registry: a subgraph started later with
    // `looma serve <component> --register` joins without a restart. Composed once here first,
    // so a schema that cannot compose stops `looma dev` with every error before anything runs.
    let sources: Vec<looma_router::compose::SubgraphSource> = Component::SUBGRAPHS
        .iter()
        .map(|&component| looma_router::compose::SubgraphSource {
            name: component.name().into(),
            url: format!("http://{host}:{}/graphql", component.port(config)),
            sdl: looma::sdl(component),
        })
        .collect();
    config.resume.search_url.get_or_insert(search_url);
    looma_router::compose::compose(&sources)
        .map_err(|e| anyhow::anyhow!("composing the dev supergraph:\n{e}"))?;
    config.registry.register = true;
    let registry_url = looma::registration::registry_url(config);
    config.router.registry.url.get_or_insert(registry_url);
    config.router.jwks_url.get_or_insert_with(|| {
        format!(
            "http://{host}:{}/.well-known/jwks.json",
            config.identity.port
        )
    });
    config.router.identity_url.get_or_insert(identity_url);
    config.router.token_issuer = config.identity.issuer.clone();
    config.router.token_audience = config.identity.audience.clone();
    print_config(config, None)?;
    let shared = platform::open_shared(config).await?;
    let first_admin = bootstrap_dev_admin(config, &shared).await?;
    // The registry first, so the others register at once.
    let mut components = vec![Component::Registry];
    components.extend(
        Component::SUBGRAPHS
            .iter()
            .filter(|c| **c != Component::Registry),
    );
    components.push(Component::Router);
    let platform = Platform::start_with(shared, config, &components, false).await?;
    outln!("\nLooma is running (ctrl-c stops it):")?;
    for running in &platform.components {
        let base = format!("http://{}", running.addr);
        outln!("  {:<10} {base}/graphql", running.component.name())?;
        if running.component == Component::Router {
            outln!("  {:<10} {base}/  (GraphiQL)", "")?;
        }
        if running.component == Component::Identity {
            outln!("  {:<10} {base}/.well-known/jwks.json", "")?;
        }
        outln!("  {:<10} {base}/health  {base}/ready", "")?;
    }
    if let Some((email, password)) = first_admin {
        outln!("\nFirst admin created: {email} / {password}")?;
        outln!("(also written to data/dev-admin.txt; log in with the `login` mutation)")?;
    }
    platform.run_until_signal().await
}

/// On an empty database, creates `admin@looma.local` so a developer can log in at once.
async fn bootstrap_dev_admin(
    config: &LoomaConfig,
    shared: &platform::Shared,
) -> Result<Option<(String, String)>> {
    let service = identity_service(config, shared).await?;
    if service.store().count_users().await? > 0 {
        return Ok(None);
    }
    let email = "admin@looma.local".to_owned();
    let password = random_password();
    service
        .create_user(looma_identity::service::NewUser {
            email: email.clone(),
            password: password.clone(),
            display_name: "Development admin".into(),
            roles: vec!["admin".into()],
        })
        .await?;
    std::fs::create_dir_all("data").context("creating ./data")?;
    std::fs::write("data/dev-admin.txt", format!("{email}\n{password}\n"))
        .context("writing data/dev-admin.txt")?;
    Ok(Some((email, password)))
}

async fn identity_service(
    config: &LoomaConfig,
    shared: &platform::Shared,
) -> Result<looma_identity::IdentityService> {
    Ok(looma_identity::IdentityService::start(
        looma_identity::store::IdentityStore::with_keyring(
            shared.db.clone(),
            shared.keyring.clone(),
        ),
        shared.cache.clone(),
        config.identity.clone(),
    )
    .await?)
}

async fn migrate(config: &LoomaConfig, status: bool) -> Result<()> {
    let db = looma_db::connect(&config.database).await?;
    if status {
        let (applied, pending) = looma_db::migration_status(&db).await?;
        for name in applied {
            outln!("applied  {name}")?;
        }
        for name in pending {
            outln!("pending  {name}")?;
        }
        return Ok(());
    }
    let applied = looma_db::migrate(&db).await?;
    outln!("{applied} migration(s) applied")?;
    Ok(())
}

async fn admin(config: &LoomaConfig, task: AdminTask) -> Result<()> {
    // Backups touch no component: they open the database only (restore not even that).
    match &task {
        AdminTask::Backup { output } => {
            let db = looma_db::connect(&config.database)
                .await
                .context("opening the database (config key `database.url`)")?;
            looma_db::backup(&db, &config.database, output).await?;
            let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
            outln!("backup written to {} ({bytes} bytes)", output.display())?;
            return Ok(());
        }
        AdminTask::Restore { input } => {
            looma_db::restore(&config.database, input).await?;
            outln!(
                "restored from {}; rebuild the search indexes with `looma search reindex`",
                input.display()
            )?;
            return Ok(());
        }
        _ => {}
    }
    let shared = platform::open_shared(config).await?;
    let service = identity_service(config, &shared).await?;
    match task {
        AdminTask::CreateUser {
            email,
            name,
            roles,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else if let Ok(password) = std::env::var("LOOMA_ADMIN_PASSWORD") {
                (password, false)
            } else {
                (random_password(), true)
            };
            if password.is_empty() {
                bail!("the password is empty");
            }
            let user = service
                .create_user(looma_identity::service::NewUser {
                    email,
                    password: password.clone(),
                    display_name: name,
                    roles,
                })
                .await?;
            outln!(
                "created user {} ({}) with roles {:?}",
                user.row.email,
                user.row.id,
                user.roles
            )?;
            if generated {
                outln!("generated password: {password}")?;
            }
            Ok(())
        }
        AdminTask::RotateSigningKey => {
            let kid = service.rotate_signing_key().await?;
            outln!("now signing with key {kid}")?;
            Ok(())
        }
        AdminTask::RewrapDataKeys => {
            let Some(active) = shared.keyring.active_key() else {
                bail!(
                    "no master key: set server.encryption_keys (`id:base64 of 32 bytes`, the \
                     new one first) before rewrapping"
                );
            };
            let keys = service.store().rewrap_signing_keys().await?;
            let files = looma_resume::store::ResumeStore::new(shared.db.clone())
                .with_keyring(shared.keyring.clone())
                .rewrap_files()
                .await?;
            outln!(
                "sealed under master key `{active}`: {keys} signing key(s), {files} resume file(s); \
                 keys listed after the first in server.encryption_keys can now be removed"
            )?;
            Ok(())
        }
        AdminTask::Backup { .. } | AdminTask::Restore { .. } => Ok(()),
    }
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_password() -> String {
    // Hex plus a fixed mixed-class suffix: 24 random hex chars satisfy the policy by length.
    format!("{}-Lm", &random_secret()[..24])
}

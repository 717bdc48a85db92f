//! Search latency over generated documents, in-process and through the router.
//!
//!     cargo bench --bench search_load                    # 100,000 documents
//!     LOOMA_BENCH_DOCS=20000 LOOMA_BENCH_QUERIES=100 cargo bench --bench search_load
//!
//! 1. Generates bilingual resumes and jobs (`looma_search::corpus`: role templates and the skill
//!    taxonomy; clustered synthetic vectors) and indexes them into the embedded engines,
//!    timing text indexing (docs/s) and vector indexing (vectors/s) separately.
//! 2. Runs every query kind against `SearchService` in-process (p50/p95/p99).
//! 3. Reopens the same index behind the real search subgraph, identity and the router on
//!    127.0.0.1, logs in, and runs the same queries as GraphQL over HTTP through the router,
//!    one at a time, with a bearer token (the CRM's path), and directly to the subgraph.
//!
//! Semantic and hybrid queries embed the query text with the real model (install it with
//! `scripts/install-model`). Numbers are printed, not asserted.

use looma::LoomaConfig;
use looma::platform::{self, Component, Platform};
use looma_search::corpus::Corpus;
use looma_search::service::{RankedRequest, TextRequest};
use looma_search_engine::{Collection, FacetField, Filters, Metric, SuggestionKind};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1_000;
const ADMIN_EMAIL: &str = "bench@looma.local";
const ADMIN_PASSWORD: &str = "Sturdy-Passw0rd-2026";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Row {
    name: &'static str,
    where_: &'static str,
    samples: Vec<Duration>,
    errors: usize,
}

impl Row {
    fn print(&mut self) {
        self.samples.sort();
        println!(
            "{:<22} {:<12} {:>8.3} {:>8.3} {:>8.3} {:>7}{}",
            self.name,
            self.where_,
            percentile(&self.samples, 0.50),
            percentile(&self.samples, 0.95),
            percentile(&self.samples, 0.99),
            self.samples.len(),
            if self.errors > 0 {
                format!("  ({} errors)", self.errors)
            } else {
                String::new()
            }
        );
    }
}

const FUZZY: &[&str] = &[
    "enginer",
    "kubernets",
    "recruitmnt",
    "finanical analyst",
    "pytorhc",
    "microservcies",
];
const SUGGEST: &[&str] = &["Ku", "Ja", "Sen", "后端", "数据", "Pyt", "Rea", "产品"];
const SEMANTIC: &[&str] = &[
    "someone who keeps production servers healthy",
    "builds recommendation models",
    "hires engineers and runs interviews",
    "writes automated regression tests",
    "designs payment backends in Go",
    "mobile apps for iOS and Android",
];
const CITIES: &[&str] = &["北京", "上海", "深圳", "杭州", "Singapore"];

/// One query of each kind, as GraphQL (for HTTP) — the in-process run calls the service.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    TextFiltered,
    Fuzzy,
    Vector,
    VectorFiltered,
    Semantic,
    Hybrid,
    Suggest,
}

const KINDS: &[(Kind, &str)] = &[
    (Kind::Text, "text"),
    (Kind::TextFiltered, "text+filter+facets"),
    (Kind::Fuzzy, "text fuzzy"),
    (Kind::Vector, "vector top10"),
    (Kind::VectorFiltered, "vector filtered"),
    (Kind::Semantic, "semantic top10"),
    (Kind::Hybrid, "hybrid top10"),
    (Kind::Suggest, "suggest"),
];

fn graphql(kind: Kind, i: usize, salt: &str, corpus: &mut Corpus) -> (String, Value) {
    let texts = Corpus::text_queries();
    let text = texts[i % texts.len()];
    let city = CITIES[i % CITIES.len()];
    match kind {
        Kind::Text => (
            "query($q: String!) { textSearch(query: $q, options: {first: 10}) { total hits { id title snippet score highlights { field fragment } } } }".into(),
            json!({"q": text}),
        ),
        Kind::TextFiltered => (
            "query($q: String!, $c: String!) { textSearch(query: $q, options: {first: 10, filter: {cities: [$c], minYears: 3}, facets: [SKILLS, CITY]}) { total hits { id title score } facets { field values { value count } } } }".into(),
            json!({"q": text, "c": city}),
        ),
        Kind::Fuzzy => (
            "query($q: String!) { textSearch(query: $q, options: {first: 10}) { total hits { id title score } } }".into(),
            json!({"q": FUZZY[i % FUZZY.len()]}),
        ),
        Kind::Vector => (
            "query($v: [Float!]!) { vectorSearch(vector: $v, topK: 10) { id title score } }".into(),
            json!({"v": corpus.query_vector()}),
        ),
        Kind::VectorFiltered => (
            "query($v: [Float!]!, $c: String!) { vectorSearch(vector: $v, topK: 10, filter: {cities: [$c]}) { id title score } }".into(),
            json!({"v": corpus.query_vector(), "c": city}),
        ),
        Kind::Semantic => (
            "query($q: String!) { semanticSearch(query: $q, topK: 10) { id title score } }".into(),
            json!({"q": format!("{} {salt} {i}", SEMANTIC[i % SEMANTIC.len()])}),
        ),
        Kind::Hybrid => (
            "query($q: String!) { hybridSearch(query: $q, topK: 10) { id title score textRank vectorRank } }".into(),
            json!({"q": format!("{} {salt} hybrid {i}", SEMANTIC[i % SEMANTIC.len()])}),
        ),
        Kind::Suggest => (
            "query($p: String!) { suggest(prefix: $p) { text kind count } }".into(),
            json!({"p": SUGGEST[i % SUGGEST.len()]}),
        ),
    }
}

async fn in_process(
    service: &looma_search::SearchService,
    kind: Kind,
    i: usize,
    corpus: &mut Corpus,
) -> bool {
    let texts = Corpus::text_queries();
    let text = texts[i % texts.len()].to_owned();
    let city = CITIES[i % CITIES.len()].to_owned();
    let ranked = |filters: Filters| RankedRequest {
        collection: Collection::Resumes,
        names: true,
        top_k: 10,
        filters,
    };
    let text_request = |query: String, filters: Filters, facets: Vec<FacetField>| TextRequest {
        collection: Collection::Resumes,
        query,
        filters,
        facets,
        first: 10,
        after: None,
        fuzzy: true,
        highlight: true,
        names: true,
    };
    // Distinct texts per query kind: the embedder caches repeated texts.
    let semantic = format!("{} in-process {i}", SEMANTIC[i % SEMANTIC.len()]);
    let hybrid = format!("{} in-process hybrid {i}", SEMANTIC[i % SEMANTIC.len()]);
    match kind {
        Kind::Text => service
            .text_search(text_request(text, Filters::default(), vec![]))
            .await
            .is_ok(),
        Kind::TextFiltered => service
            .text_search(text_request(
                text,
                Filters {
                    cities: vec![city],
                    min_years: Some(3.0),
                    ..Filters::default()
                },
                vec![FacetField::Skills, FacetField::City],
            ))
            .await
            .is_ok(),
        Kind::Fuzzy => service
            .text_search(text_request(
                FUZZY[i % FUZZY.len()].to_owned(),
                Filters::default(),
                vec![],
            ))
            .await
            .is_ok(),
        Kind::Vector => service
            .vector_search(
                ranked(Filters::default()),
                corpus.query_vector(),
                Metric::Cosine,
            )
            .await
            .is_ok(),
        Kind::VectorFiltered => service
            .vector_search(
                ranked(Filters {
                    cities: vec![city],
                    ..Filters::default()
                }),
                corpus.query_vector(),
                Metric::Cosine,
            )
            .await
            .is_ok(),
        Kind::Semantic => service
            .semantic_search(ranked(Filters::default()), &semantic)
            .await
            .is_ok(),
        Kind::Hybrid => service
            .hybrid_search(ranked(Filters::default()), &hybrid, None, None)
            .await
            .is_ok(),
        Kind::Suggest => service
            .suggest(
                Collection::Resumes,
                SUGGEST[i % SUGGEST.len()],
                8,
                vec![
                    SuggestionKind::Title,
                    SuggestionKind::Skill,
                    SuggestionKind::Name,
                ],
            )
            .await
            .is_ok(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(error) = runtime.block_on(run()) {
        eprintln!("search_load failed: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let docs = env_number("LOOMA_BENCH_DOCS", 100_000);
    let queries = env_number("LOOMA_BENCH_QUERIES", 200);
    let dir = tempfile::tempdir()?;
    let mut config = LoomaConfig::default();
    config.log.level = "warn".into();
    config.database.url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    config.search.data_dir = dir.path().join("search");
    config.server.router_secret = looma_core::Secret::new("bench-router-secret-0123456789abcdef");
    if let Ok(models_dir) = std::env::var("LOOMA_EMBED__MODELS_DIR") {
        config.embed.models_dir = models_dir.into();
    }
    looma_core::telemetry::init_logging(&config.log);
    let embedder = looma_embed::EmbeddingService::new(config.embed.clone());
    if !embedder.is_available() {
        anyhow::bail!("the embedding model is missing: run scripts/install-model");
    }

    // ---- 1. indexing -------------------------------------------------------------------
    let service = looma_search::start(
        config.search.clone(),
        embedder.clone(),
        looma_server::FeatureFlags::always_on(),
    )?;
    let mut corpus = Corpus::new(2026, embedder.dimension());
    let (mut text_time, mut vector_time) = (Duration::ZERO, Duration::ZERO);
    let mut vectors = 0usize;
    println!("indexing {docs} generated documents (batches of {BATCH})...");
    let mut i = 0;
    while i < docs {
        let batch: Vec<_> = (i..(i + BATCH).min(docs))
            .map(|n| corpus.document(n))
            .collect();
        i += batch.len();
        let started = Instant::now();
        service.engines().text.upsert(&batch).await?;
        text_time += started.elapsed();
        for collection in [Collection::Resumes, Collection::Jobs] {
            let points: Vec<_> = batch
                .iter()
                .filter(|d| d.collection == collection)
                .filter_map(|d| {
                    d.vector
                        .clone()
                        .map(|vector| looma_search_engine::VectorPoint {
                            id: d.id.clone(),
                            vector,
                            fields: d.fields.clone(),
                        })
                })
                .collect();
            vectors += points.len();
            let started = Instant::now();
            service.engines().vector.upsert(collection, &points).await?;
            vector_time += started.elapsed();
        }
    }
    println!(
        "text indexing   {:>9.0} docs/s    ({docs} docs in {:.1} s)",
        docs as f64 / text_time.as_secs_f64(),
        text_time.as_secs_f64()
    );
    println!(
        "vector indexing {:>9.0} vectors/s ({vectors} vectors in {:.1} s)\n",
        vectors as f64 / vector_time.as_secs_f64(),
        vector_time.as_secs_f64()
    );

    println!(
        "{:<22} {:<12} {:>8} {:>8} {:>8} {:>7}",
        "query", "path", "p50 ms", "p95 ms", "p99 ms", "n"
    );
    // ---- 2. in-process -----------------------------------------------------------------
    let mut query_corpus = Corpus::new(7, embedder.dimension());
    for &(kind, name) in KINDS {
        // Warm up (first embedding loads the model).
        in_process(&service, kind, 0, &mut query_corpus).await;
        let mut row = Row {
            name,
            where_: "in-process",
            samples: Vec::new(),
            errors: 0,
        };
        for q in 0..queries {
            let started = Instant::now();
            if in_process(&service, kind, q, &mut query_corpus).await {
                row.samples.push(started.elapsed());
            } else {
                row.errors += 1;
            }
        }
        row.print();
    }
    drop(service);

    // ---- 3. through the router ---------------------------------------------------------
    let shared = platform::open_shared(&config).await?;
    let identity = looma_identity::IdentityService::start(
        looma_identity::store::IdentityStore::new(shared.db.clone()),
        shared.cache.clone(),
        config.identity.clone(),
    )
    .await?;
    identity
        .create_user(looma_identity::service::NewUser {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            display_name: "Bench".into(),
            roles: vec!["admin".into()],
        })
        .await?;
    // Identity first: the search subgraph verifies tokens sent to it directly against its JWKS.
    let identity_platform =
        Platform::start_with(shared.clone(), &config, &[Component::Identity], true).await?;
    let identity_url = format!(
        "http://{}",
        identity_platform
            .addr(Component::Identity)
            .expect("identity")
    );
    config.router.jwks_url = Some(format!("{identity_url}/.well-known/jwks.json"));
    config.router.identity_url = Some(format!("{identity_url}/graphql"));
    let subgraphs =
        Platform::start_with(shared.clone(), &config, &[Component::Search], true).await?;
    let search_url = format!(
        "http://{}",
        subgraphs.addr(Component::Search).expect("search")
    );
    config.matching.search_url = Some(format!("{search_url}/graphql"));
    config.matching.identity_url = Some(format!("{identity_url}/graphql"));
    let matching = Platform::start_with(shared, &config, &[Component::Matching], true).await?;
    let matching_url = format!(
        "http://{}",
        matching.addr(Component::Matching).expect("matching")
    );
    let supergraph = looma_router::compose::compose(&[
        looma_router::compose::SubgraphSource {
            name: "identity".into(),
            url: format!("{identity_url}/graphql"),
            sdl: looma_identity::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "search".into(),
            url: format!("{search_url}/graphql"),
            sdl: looma_search::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "matching".into(),
            url: format!("{matching_url}/graphql"),
            sdl: looma_matching::sdl(),
        },
    ])
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let supergraph_path = dir.path().join("supergraph.graphql");
    std::fs::write(&supergraph_path, supergraph)?;
    config.router.supergraph_path = Some(supergraph_path);
    let router = Platform::start(&config, &[Component::Router], true).await?;
    let router_url = format!("http://{}", router.addr(Component::Router).expect("router"));
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{router_url}/graphql"))
        .json(&json!({"query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", "variables": {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
        .to_owned();

    for (base, where_) in [(&router_url, "router"), (&search_url, "subgraph")] {
        let mut query_corpus = Corpus::new(7, embedder.dimension());
        for &(kind, name) in KINDS {
            let send = |query: String, variables: Value| {
                http.post(format!("{base}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({"query": query, "variables": variables}))
                    .send()
            };
            let (query, variables) = graphql(kind, 0, where_, &mut query_corpus);
            let warm: Value = send(query, variables).await?.json().await?;
            if warm.get("errors").is_some() {
                anyhow::bail!("{name} via {where_} failed: {warm}");
            }
            let mut row = Row {
                name,
                where_,
                samples: Vec::new(),
                errors: 0,
            };
            for q in 0..queries {
                let (query, variables) = graphql(kind, q, where_, &mut query_corpus);
                let started = Instant::now();
                let body: Value = send(query, variables).await?.json().await?;
                let elapsed = started.elapsed();
                if body.get("errors").is_some() {
                    row.errors += 1;
                } else {
                    row.samples.push(elapsed);
                }
            }
            row.print();
        }
    }
    match_candidates(&http, &router_url, &token, queries).await?;
    router.shutdown().await?;
    matching.shutdown().await?;
    subgraphs.shutdown().await?;
    identity_platform.shutdown().await?;
    Ok(())
}

/// Matching over the same 100,000 documents: jobs created through the router, then
/// `matchCandidates` (search shortlist of 200 + 100, exact scoring, history write) for the
/// top 50.
async fn match_candidates(
    http: &reqwest::Client,
    router_url: &str,
    token: &str,
    queries: usize,
) -> anyhow::Result<()> {
    let post = |query: &str, variables: Value| {
        http.post(format!("{router_url}/graphql"))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
    };
    let jobs = [
        json!({"title": "Senior Backend Engineer", "requiredSkills": ["Java", "Go", "Kubernetes"], "preferredSkills": ["Kafka"], "minYears": 5, "city": "上海"}),
        json!({"title": "机器学习工程师", "description": "负责推荐系统排序模型，熟悉PyTorch与深度学习", "minYears": 3, "city": "北京"}),
        json!({"title": "Site Reliability Engineer", "requiredSkills": ["Kubernetes", "Terraform", "Linux"], "remote": true}),
        json!({"title": "QA Engineer", "requiredSkills": ["Selenium", "Python"], "city": "深圳", "education": "BACHELOR"}),
        json!({"title": "Data Engineer", "requiredSkills": ["Spark", "Flink", "Kafka"], "minYears": 4, "city": "杭州"}),
    ];
    let mut ids = Vec::new();
    for job in jobs {
        let body: Value = post(
            "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
            json!({"i": job}),
        )
        .await?
        .json()
        .await?;
        ids.push(
            body["data"]["createJob"]["id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("createJob failed: {body}"))?
                .to_owned(),
        );
    }
    let query = "query($j: ID!) { matchCandidates(jobId: $j, limit: 50) { runId matches { resume { id } score explanation { missingSkills components { component contribution } } } } }";
    let warm: Value = post(query, json!({"j": ids[0]})).await?.json().await?;
    if warm.get("errors").is_some() {
        anyhow::bail!("matchCandidates failed: {warm}");
    }
    let returned = warm["data"]["matchCandidates"]["matches"]
        .as_array()
        .map_or(0, Vec::len);
    let mut row = Row {
        name: "matchCandidates top50",
        where_: "router",
        samples: Vec::new(),
        errors: 0,
    };
    for q in 0..queries {
        let started = Instant::now();
        let body: Value = post(query, json!({"j": ids[q % ids.len()]}))
            .await?
            .json()
            .await?;
        let elapsed = started.elapsed();
        if body.get("errors").is_some() {
            row.errors += 1;
        } else {
            row.samples.push(elapsed);
        }
    }
    row.print();
    println!("(the first job's match returned {returned} candidates)");
    Ok(())
}

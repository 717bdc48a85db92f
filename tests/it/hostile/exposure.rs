//! Exposure: what a caller learns that it should not.
//!
//! - A viewer without `resume:pii` must not learn a candidate's name from any field it can
//!   reach: the file name, the text, the profile's free text, search hits and highlights,
//!   suggestions, matching (issue 11 item 9; the field-by-field treatment is in
//!   `looma_resume::domain::pii`).
//! - With `server.require_trusted_callers`, a subgraph's port answers only the router and
//!   services: no anonymous introspection or `_service { sdl }`, no user tokens around the
//!   router; the platform still works through the router (issue 11 item 10).

use crate::harness::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Auth, Backend, ROUTER_SECRET, TestPlatform, data, error_code,
    error_reason, run_configured, with_auth,
};
use base64::Engine;
use looma::{Component, LoomaConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

crate::on_each_backend_with!(&[looma::Component::Search, looma::Component::Resume, looma::Component::Matching];
    a_viewer_never_learns_the_candidates_name,
);

const SUBGRAPHS: &[Component] = &[Component::Search, Component::Resume, Component::Matching];

fn lock_down(config: &mut LoomaConfig) {
    config.server.require_trusted_callers = Some(true);
}

mod subgraph_ports_answer_only_the_router {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run_configured(
            super::subgraph_ports_answer_only_the_router,
            Backend::Sqlite,
            SUBGRAPHS,
            lock_down,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_redis() {
        run_configured(
            super::subgraph_ports_answer_only_the_router,
            Backend::PostgresRedis,
            SUBGRAPHS,
            lock_down,
        )
        .await;
    }
}

/// The part of the name a viewer must never see (the first name is what `Janet P.` shows).
const SURNAME: &str = "probeington";
const FILE_NAME: &str = "Janet-Probeington-CV.txt";
const RESUME: &str = "Janet Probeington
Senior Rust Backend Engineer
+1 415 555 0187  |  janet.probeington@example.com  |  Location: San Francisco, CA

Summary
========================
Backend engineer with 8 years of payment systems in Rust and Go. Probeington led the ledger rewrite; portfolio at janetprobeington.dev.

Work Experience
========================
Senior Backend Engineer — Stripe, San Francisco, CA    2019/03 – Present
- Built the settlement ledger in Rust on Kubernetes and PostgreSQL (the Probeington ledger).
Software Engineer — Square, Oakland, CA    2016/06 – 2019/02
- Wrote Go microservices for card payments with Kafka.

Education
========================
Stanford University — B.S., Computer Science    2012/09 – 2016/06

Skills
========================
- Rust, Go, Kubernetes, PostgreSQL, Kafka
- References on request: JANET PROBEINGTON
";

const HIT_FIELDS: &str = "id title snippet metadata score highlights { field fragment }
    resume { id file { filename } profile { name email phone summary headline keywords } text }";

const RESUME_FIELDS: &str = "id status failureReason text skills
    file { filename contentType format sizeBytes }
    profile { language name email phone city contactMasked summary headline keywords totalYears
      highestDegree education { school degree major } experience { company title description } }";

fn assert_no_name(what: &str, body: &Value) {
    assert!(
        !body.to_string().to_lowercase().contains(SURNAME),
        "{what} shows the candidate's name to a caller without resume:pii: {body}"
    );
}

fn hit_ids(hits: &Value) -> Vec<String> {
    hits.as_array()
        .unwrap_or_else(|| panic!("no hits in {hits}"))
        .iter()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect()
}

async fn upload(p: &TestPlatform, auth: &Auth) -> String {
    let body = p
        .gql_router(
            auth,
            "mutation($f: String!, $c: String!) { uploadResumeBase64(filename: $f, contentBase64: $c) { resume { id } } }",
            json!({"f": FILE_NAME, "c": base64::engine::general_purpose::STANDARD.encode(RESUME)}),
        )
        .await;
    data(&body)["uploadResumeBase64"]["resume"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("upload failed: {body}"))
        .to_owned()
}

/// Polls through the router until search has the resume.
async fn wait_indexed(p: &TestPlatform, auth: &Auth, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = p
            .gql_router(
                auth,
                "query($id: ID!) { resume(id: $id) { status failureReason } }",
                json!({"id": id}),
            )
            .await;
        let status = data(&body)["resume"]["status"].clone();
        if status == "INDEXED" {
            return;
        }
        assert!(
            Instant::now() < deadline && status != "FAILED",
            "not indexed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_job(p: &TestPlatform, auth: &Auth) -> String {
    let body = p
        .gql_router(
            auth,
            "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
            json!({"i": {
                "title": "Rust Backend Engineer", "company": "Northwind",
                "description": "Own the payments ledger in Rust on Kubernetes.",
                "requiredSkills": ["Rust", "Kubernetes"], "minYears": 3}}),
        )
        .await;
    data(&body)["createJob"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createJob failed: {body}"))
        .to_owned()
}

async fn a_viewer_never_learns_the_candidates_name(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let id = upload(&p, &admin).await;
    wait_indexed(&p, &admin, &id).await;
    let job = create_job(&p, &admin).await;

    let (_, viewer) = p.user_with_roles("viewer@looma.test", &["viewer"]).await;
    let role = p
        .gql(
            &admin,
            "mutation { createRole(input: {name: \"matcher\", description: \"Matches without contacts\",
                permissions: [\"resume:read\", \"job:read\", \"search:read\", \"match:run\"]}) { name } }",
            json!({}),
        )
        .await;
    data(&role);
    let (_, matcher) = p.user_with_roles("matcher@looma.test", &["matcher"]).await;

    // The resume itself, alone and in a list.
    let body = p
        .gql_router(
            &viewer,
            &format!("query($id: ID!) {{ resume(id: $id) {{ {RESUME_FIELDS} embedding }} }}"),
            json!({"id": id}),
        )
        .await;
    let resume = data(&body)["resume"].clone();
    assert_eq!(resume["profile"]["contactMasked"], true, "{resume}");
    assert_eq!(resume["profile"]["name"], "Janet P.");
    let filename = resume["file"]["filename"].as_str().unwrap();
    assert!(
        filename.starts_with("resume-") && filename.ends_with(".txt"),
        "{filename}"
    );
    assert!(id.ends_with(&filename["resume-".len()..filename.len() - 4]));
    assert!(resume["text"].as_str().unwrap().contains("Janet P."));
    let mut without_embedding = resume.clone();
    let embedding = without_embedding["embedding"].take();
    assert_no_name("resume(id)", &without_embedding);
    let body = p
        .gql_router(
            &viewer,
            &format!("{{ resumes(first: 20) {{ edges {{ node {{ {RESUME_FIELDS} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_no_name("resumes", data(&body));

    // Search, every kind, with the name and without it in the query.
    for query in ["rust kubernetes ledger", "Probeington", "Janet Probeington"] {
        let body = p
            .gql_router(
                &viewer,
                &format!(
                    "query($q: String!) {{ textSearch(query: $q) {{ total hits {{ {HIT_FIELDS} }} }} }}"
                ),
                json!({"q": query}),
            )
            .await;
        let hits = &data(&body)["textSearch"]["hits"];
        if query.starts_with("rust") {
            assert!(hit_ids(hits).contains(&id), "{body}");
        }
        assert_no_name(&format!("textSearch({query})"), &body);
    }
    let body = p
        .gql_router(
            &viewer,
            &format!(
                "query($q: String!, $v: [Float!]!) {{
                   hybrid: hybridSearch(query: $q) {{ {HIT_FIELDS} }}
                   semantic: semanticSearch(query: $q) {{ {HIT_FIELDS} }}
                   vector: vectorSearch(vector: $v) {{ {HIT_FIELDS} }} }}"
            ),
            json!({"q": "Probeington rust backend engineer", "v": embedding}),
        )
        .await;
    for kind in ["hybrid", "semantic", "vector"] {
        assert!(hit_ids(&data(&body)[kind]).contains(&id), "{kind}: {body}");
    }
    assert_no_name("hybrid/semantic/vector search", &body);
    for prefix in ["Probe", "probeington", "Jan", "Resume", "Ru"] {
        let body = p
            .gql_router(
                &viewer,
                "query($p: String!) { suggest(prefix: $p) { text kind count } }",
                json!({"p": prefix}),
            )
            .await;
        assert_no_name(&format!("suggest({prefix})"), data(&body));
    }

    // Matching: explanations, and the candidates it returns.
    let body = p
        .gql_router(
            &matcher,
            "query($j: ID!, $r: ID!) {
               matchCandidates(jobId: $j) { matches { score resume { id file { filename } text profile { name summary } }
                 explanation { matchedSkills missingSkills components { component explanation } } } }
               resume(id: $r) { jobMatches { score explanation { components { explanation } } job { title } } } }",
            json!({"j": job, "r": id}),
        )
        .await;
    let matched: Vec<&str> = data(&body)["matchCandidates"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["resume"]["id"].as_str())
        .collect();
    assert!(matched.contains(&id.as_str()), "{body}");
    assert_no_name("matching", &body);

    // Error messages: a bad id names the id, never a neighbour's data.
    let body = p
        .gql_router(
            &viewer,
            "mutation($id: ID!) { reprocessResume(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_no_name("errors", &body);

    // A caller holding resume:pii still sees everything.
    let body = p
        .gql_router(
            &admin,
            &format!("query($id: ID!) {{ resume(id: $id) {{ {RESUME_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await;
    let full = &data(&body)["resume"];
    assert_eq!(full["file"]["filename"], FILE_NAME);
    assert_eq!(full["profile"]["name"], "Janet Probeington");
    assert_eq!(full["profile"]["email"], "janet.probeington@example.com");
    assert!(full["text"].as_str().unwrap().contains("JANET PROBEINGTON"));
    let body = p
        .gql_router(
            &admin,
            "{ textSearch(query: \"Probeington\") { hits { id } } suggest(prefix: \"Probe\") { text kind } }",
            json!({}),
        )
        .await;
    assert!(
        hit_ids(&data(&body)["textSearch"]["hits"]).contains(&id),
        "{body}"
    );
    assert!(
        data(&body)["suggest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "NAME" && s["text"] == "Janet Probeington"),
        "{body}"
    );
    p
}

/// POSTs `query` straight to a component's `/graphql`.
async fn post_direct(
    p: &TestPlatform,
    base: &str,
    auth: &Auth,
    query: &str,
) -> (StatusCode, Value) {
    let request = p
        .http
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query}));
    let response = with_auth(request, auth)
        .send()
        .await
        .expect("component answers");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// Logs in through the router (identity's port answers no anonymous caller in lock-down).
async fn login_through_router(p: &TestPlatform, email: &str, password: &str) -> Auth {
    let body = p
        .gql_router(
            &Auth::None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({"e": email, "p": password}),
        )
        .await;
    Auth::Bearer(
        data(&body)["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login through the router failed: {body}"))
            .to_owned(),
    )
}

async fn subgraph_ports_answer_only_the_router(p: TestPlatform) -> TestPlatform {
    // Anonymous through the router: identity's login still works.
    let admin = login_through_router(&p, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ports = [
        ("identity", p.identity_url.clone()),
        ("resume", p.url(Component::Resume)),
        ("search", p.url(Component::Search)),
        ("matching", p.url(Component::Matching)),
    ];
    for (name, base) in &ports {
        for query in ["{ _service { sdl } }", "{ __schema { types { name } } }"] {
            let (status, body) = post_direct(&p, base, &Auth::None, query).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {query}: {body}");
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}: {body}");
            assert_eq!(error_reason(&body), "TRUSTED_CALLER_REQUIRED");
            assert!(body["data"].is_null(), "{name}: {body}");
        }
        let (status, body) = post_direct(&p, base, &admin, "{ _service { sdl } }").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{name} with a user token: {body}"
        );
        assert_eq!(error_code(&body), "FORBIDDEN");
        let forged = Auth::Header("x-looma-router", "e30.c2lnbmF0dXJl".into());
        let (status, body) = post_direct(&p, base, &forged, "{ _service { sdl } }").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{name} forged marker: {body}"
        );
        for path in ["health", "ready"] {
            let response = p.http.get(format!("{base}/{path}")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{name} /{path}");
        }
    }
    let jwks: Value = p
        .http
        .get(format!("{}/.well-known/jwks.json", p.identity_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");

    // Through the router: anonymous calls reach resolvers (which decide), users work.
    let router = p.router_url.clone().unwrap();
    let ready = p.http.get(format!("{router}/ready")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "{}",
        ready.text().await.unwrap()
    );
    let body = p
        .gql_router(
            &Auth::None,
            "{ resumes(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    assert_ne!(
        body["errors"][0]["extensions"]["reason"], "TRUSTED_CALLER_REQUIRED",
        "the router's anonymous request reached the resolver: {body}"
    );
    let body = p.gql_router(&admin, "{ me { email } }", json!({})).await;
    assert_eq!(data(&body)["me"]["email"], ADMIN_EMAIL);

    // Subgraph to subgraph (ServiceClient): uploads check identity's flag, the outbox indexes
    // into search, matching asks identity, resume and search.
    let id = upload(&p, &admin).await;
    wait_indexed(&p, &admin, &id).await;
    let job = create_job(&p, &admin).await;
    let body = p
        .gql_router(
            &admin,
            "query($j: ID!) { matchCandidates(jobId: $j) { matches { resume { id } } } textSearch(query: \"ledger\") { hits { id } } }",
            json!({"j": job}),
        )
        .await;
    let matched = &data(&body)["matchCandidates"]["matches"];
    assert!(
        matched
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["resume"]["id"] == id.as_str()),
        "{body}"
    );
    assert!(hit_ids(&data(&body)["textSearch"]["hits"]).contains(&id));

    // A service credential may call a subgraph directly; the subgraph checks the key with
    // identity (RemoteVerifier), which must answer it in lock-down too.
    let body = p
        .gql_router(
            &admin,
            "mutation { createApiKey(input: {name: \"reporting\", permissions: [\"search:read\"]}) { secret } }",
            json!({}),
        )
        .await;
    let key = Auth::ApiKey(
        data(&body)["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let (status, body) = post_direct(
        &p,
        &p.url(Component::Search),
        &key,
        "{ searchBackends { text } }",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(data(&body)["searchBackends"]["text"].is_string());

    // Operators compose from running subgraphs with the shared secret.
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["compose".to_owned()];
    for (name, base) in &ports {
        args.push("--subgraph".into());
        args.push(format!("{name}={base}/graphql"));
    }
    let composed = std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
        .args(&args)
        .current_dir(dir.path())
        .env("LOOMA_SERVER__ROUTER_SECRET", ROUTER_SECRET)
        .env("LOOMA_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        composed.status.success(),
        "{}",
        String::from_utf8_lossy(&composed.stderr)
    );
    assert!(String::from_utf8_lossy(&composed.stdout).contains("textSearch"));
    p
}

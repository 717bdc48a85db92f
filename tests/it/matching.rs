//! The matching subgraph through the router, with the real resume and search subgraphs behind
//! it: jobs, matches both ways (and as entity fields), explanations that sum to the score,
//! skill gaps, hard filters, weights versions changing the ranking, history, the feature flag
//! and bad input — on both backends.

use crate::harness::{Auth, TestPlatform, data, error_code};
use base64::Engine;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

crate::on_each_backend_with!(&[looma::Component::Search, looma::Component::Resume, looma::Component::Matching];
    matches_both_ways_with_explanations,
    weights_flags_history_filters_and_bad_input,
);

/// Matching whose identity (weights, the `job_matching` flag) cannot be reached.
mod identity_outage {
    use looma::Component;

    const COMPONENTS: &[Component] = &[Component::Search, Component::Resume, Component::Matching];

    fn unreachable_identity(config: &mut looma::LoomaConfig) {
        // Nothing listens on the discard port: connections are refused.
        config.matching.identity_url = Some("http://127.0.0.1:9/graphql".into());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        crate::harness::run_configured(
            super::matching_fails_open_when_identity_is_unreachable,
            crate::harness::Backend::Sqlite,
            COMPONENTS,
            unreachable_identity,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_redis() {
        crate::harness::run_configured(
            super::matching_fails_open_when_identity_is_unreachable,
            crate::harness::Backend::PostgresRedis,
            COMPONENTS,
            unreachable_identity,
        )
        .await;
    }
}

const EXPLANATION: &str = "score explanation { score matchedSkills missingSkills
    relatedSkills { skill via } components { component weight score contribution explanation } }";

struct World {
    admin: Auth,
    /// Resume ids by fixture stem.
    go: String,
    java: String,
    qa_en: String,
    qa_zh: String,
    /// Job ids.
    go_job: String,
    java_job: String,
    qa_job: String,
}

async fn upload(p: &TestPlatform, admin: &Auth, file: &str) -> String {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/resumes")
            .join(file),
    )
    .unwrap();
    let body = p
        .gql_router(
            admin,
            "mutation($f: String!, $c: String!) { uploadResumeBase64(filename: $f, contentBase64: $c) { resume { id } } }",
            json!({"f": file, "c": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        )
        .await;
    data(&body)["uploadResumeBase64"]["resume"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_job(p: &TestPlatform, admin: &Auth, input: Value) -> Value {
    p.gql_router(
        admin,
        "mutation($i: CreateJobInput!) { createJob(input: $i) { id title requiredSkills preferredSkills skillsExtracted minYears education city remote status jobFamily jobFamilyName keywords } }",
        json!({"i": input}),
    )
    .await
}

async fn world(p: &TestPlatform) -> World {
    let admin = p.admin().await;
    let files = [
        "en-01-backend-go.pdf",
        "zh-01-java-backend.pdf",
        "en-03-data-scientist.docx",
        "en-05-qa-engineer.txt",
        "zh-07-qa-engineer.txt",
    ];
    let mut ids = Vec::new();
    for file in files {
        ids.push(upload(p, &admin, file).await);
    }
    let go = create_job(
        p,
        &admin,
        json!({
        "title": "Senior Go Backend Engineer", "company": "Northwind",
        "description": "Build payment microservices in Go on Kubernetes.",
        "requiredSkills": ["Go", "k8s"], "preferredSkills": ["Kafka"],
        "minYears": 5, "city": "San Francisco"}),
    )
    .await;
    let go = data(&go)["createJob"].clone();
    assert_eq!(
        go["requiredSkills"],
        json!(["Go", "Kubernetes"]),
        "aliases resolve"
    );
    assert_eq!(go["skillsExtracted"], false);
    let java = create_job(
        p,
        &admin,
        json!({
        "title": "Java后端开发工程师", "company": "云帆网络",
        "description": "负责基于Java和Spring Boot的微服务开发，使用MySQL与Redis，熟悉Kafka。",
        "education": "bachelor", "city": "杭州", "minYears": 3}),
    )
    .await;
    let java = data(&java)["createJob"].clone();
    assert_eq!(java["skillsExtracted"], true);
    // Text analytics on save: the title's CSCO job family, keywords of title and description.
    assert_eq!(java["jobFamily"], "2-02", "{java}");
    assert_eq!(java["jobFamilyName"], "工程技术人员");
    let keywords = java["keywords"].as_array().unwrap();
    assert!(keywords.iter().any(|k| k == "微服务"), "{java}");
    assert!(!keywords.iter().any(|k| k == "负责"), "{java}");
    let extracted: Vec<&str> = java["requiredSkills"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for skill in ["Java", "Spring Boot", "MySQL", "Redis"] {
        assert!(
            extracted.contains(&skill),
            "{skill} extracted from the description: {extracted:?}"
        );
    }
    assert_eq!(java["education"], "BACHELOR");
    let qa = create_job(
        p,
        &admin,
        json!({
        "title": "QA Automation Engineer", "description": "Own the Selenium regression suite.",
        "requiredSkills": ["Selenium", "Python"], "minYears": 10, "city": "成都"}),
    )
    .await;
    let qa = data(&qa)["createJob"].clone();
    assert_eq!(qa["status"], "OPEN");

    // Wait until every resume is searchable and the jobs reached search through the outbox.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let body = p
            .gql_router(
                &admin,
                "{ searchBackends { collections { collection documents } } }",
                json!({}),
            )
            .await;
        let counts = data(&body)["searchBackends"]["collections"].clone();
        if counts[0]["documents"] == 5 && counts[1]["documents"] == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "not indexed in time: {counts}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    World {
        go: ids[0].clone(),
        java: ids[1].clone(),
        qa_en: ids[3].clone(),
        qa_zh: ids[4].clone(),
        go_job: id(&go),
        java_job: id(&java),
        qa_job: id(&qa),
        admin,
    }
}

/// Every explanation: contributions sum to the score, weights sum to 1, and each required
/// skill is matched, related or missing.
fn check_explanation(explanation: &Value, required: &[&str]) {
    let components = explanation["components"].as_array().unwrap();
    assert_eq!(components.len(), 7);
    let sum: f64 = components
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    let score = explanation["score"].as_f64().unwrap();
    assert!(
        (sum - score).abs() < 1e-9,
        "contributions {sum} vs score {score}"
    );
    let weights: f64 = components
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .sum();
    assert!((weights - 1.0).abs() < 1e-9);
    for c in components {
        let (w, s, contribution) = (
            c["weight"].as_f64().unwrap(),
            c["score"].as_f64().unwrap(),
            c["contribution"].as_f64().unwrap(),
        );
        assert!((w * s - contribution).abs() < 1e-9 && (0.0..=1.0).contains(&s));
        assert!(!c["explanation"].as_str().unwrap().is_empty());
    }
    let listed = |key: &str| -> Vec<String> {
        explanation[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v["skill"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let matched = listed("matchedSkills");
    let mut covered: Vec<String> = matched
        .into_iter()
        .filter(|s| required.contains(&s.as_str()))
        .collect();
    covered.extend(listed("relatedSkills"));
    covered.extend(listed("missingSkills"));
    covered.sort();
    let mut expected: Vec<String> = required.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(covered, expected, "{explanation}");
}

async fn match_candidates(
    p: &TestPlatform,
    auth: &Auth,
    job: &str,
    filter: Value,
    limit: i64,
) -> Value {
    p.gql_router(
        auth,
        &format!("query($j: ID!, $f: MatchFilter, $l: Int!) {{ matchCandidates(jobId: $j, filter: $f, limit: $l) {{ runId weightsVersion matches {{ resume {{ id }} {EXPLANATION} }} }} }}"),
        json!({"j": job, "f": filter, "l": limit}),
    )
    .await
}

fn resume_ids(result: &Value) -> Vec<String> {
    result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["resume"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn matches_both_ways_with_explanations(p: TestPlatform) -> TestPlatform {
    let w = world(&p).await;
    // Candidates for the Go job: the Go engineer first, with no skill gap.
    let body = match_candidates(&p, &w.admin, &w.go_job, json!(null), 5).await;
    let result = &data(&body)["matchCandidates"];
    assert_eq!(result["weightsVersion"], 0);
    let ids = resume_ids(result);
    assert_eq!(ids[0], w.go, "{result}");
    for m in result["matches"].as_array().unwrap() {
        check_explanation(&m["explanation"], &["Go", "Kubernetes"]);
    }
    let top = &result["matches"][0]["explanation"];
    assert_eq!(top["missingSkills"], json!([]));
    let scores: Vec<f64> = result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|s| s[0] >= s[1]), "{scores:?}");
    // The skill gap of a QA engineer for the Go job.
    let qa = result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["resume"]["id"] == w.qa_en.as_str());
    if let Some(qa) = qa {
        assert!(
            qa["explanation"]["missingSkills"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "Kubernetes"),
            "{qa}"
        );
    }

    // Jobs for the Java engineer: the Java job first, Chinese job text against a Chinese resume.
    let body = p
        .gql_router(
            &w.admin,
            &format!("query($r: ID!) {{ matchJobs(resumeId: $r, limit: 3) {{ runId matches {{ job {{ id title company }} {EXPLANATION} }} }} }}"),
            json!({"r": w.java}),
        )
        .await;
    let matches = data(&body)["matchJobs"]["matches"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(matches[0]["job"]["id"], w.java_job.as_str(), "{matches:?}");
    assert_eq!(matches[0]["job"]["company"], "云帆网络");

    // The same matches as entity fields, joined by the router across three subgraphs.
    let body = p
        .gql_router(
            &w.admin,
            "query($r: ID!, $j: ID!) {
               resume(id: $r) { status profile { city } jobMatches(limit: 1) { score job { title } } }
               job(id: $j) { title candidateMatches(limit: 2) { score resume { id status skills } } } }",
            json!({"r": w.qa_en, "j": w.qa_job}),
        )
        .await;
    let d = data(&body);
    assert_eq!(
        d["resume"]["jobMatches"][0]["job"]["title"],
        "QA Automation Engineer"
    );
    let candidates = d["job"]["candidateMatches"].as_array().unwrap();
    let mut ids: Vec<&str> = candidates
        .iter()
        .map(|c| c["resume"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut qa = vec![w.qa_en.as_str(), w.qa_zh.as_str()];
    qa.sort();
    assert_eq!(ids, qa, "both QA engineers lead");
    assert!(candidates.iter().all(|c| {
        c["resume"]["skills"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Selenium")
    }));

    // `looma search reindex jobs` rebuilds the JOBS collection from matching's table.
    let key = p.api_key("reindexer", &["search:index"]).await;
    let Auth::ApiKey(secret) = &key else {
        unreachable!()
    };
    data(
        &p.gql_router(
            &key,
            "mutation { clearCollection(collection: JOBS) }",
            json!({}),
        )
        .await,
    );
    assert_eq!(job_documents(&p, &w.admin).await, 0);
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
        .args(["search", "reindex", "jobs", "--batch", "2", "--search-url"])
        .arg(format!("{}/graphql", p.url(looma::Component::Search)))
        .current_dir(dir.path())
        .env("DATABASE_URL", &p.config.database.url)
        .env("LOOMA_API_KEY", secret)
        .env("LOOMA_LOG__LEVEL", "warn")
        .output()
        .expect("looma runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("jobs: 3 documents indexed"), "{stdout}");
    assert_eq!(job_documents(&p, &w.admin).await, 3);

    // Updates: a cleared city and a remote flag; new skills are normalised; the index follows.
    let body = p
        .gql_router(
            &w.admin,
            "mutation($j: ID!) { updateJob(id: $j, input: {city: null, remote: true, requiredSkills: [\"selenium\", \"py3\"]}) { city remote requiredSkills skillsExtracted title } }",
            json!({"j": w.qa_job}),
        )
        .await;
    let updated = &data(&body)["updateJob"];
    assert_eq!(updated["city"], Value::Null);
    assert_eq!(updated["remote"], true);
    assert_eq!(updated["requiredSkills"], json!(["Selenium", "Python"]));
    assert_eq!(
        updated["title"], "QA Automation Engineer",
        "untouched fields stay"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = p
            .gql_router(&w.admin, "query($r: ID!) { matchJobs(resumeId: $r, filter: {remote: true}) { matches { job { id } } } }", json!({"r": w.qa_en}))
            .await;
        let found = data(&body)["matchJobs"]["matches"].clone();
        if found
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["job"]["id"] == w.qa_job.as_str()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the remote job never matched: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = (&w.go_job, &w.java);
    p
}

async fn job_documents(p: &TestPlatform, admin: &Auth) -> u64 {
    let body = p
        .gql_router(
            admin,
            "{ searchBackends { collections { collection documents } } }",
            json!({}),
        )
        .await;
    data(&body)["searchBackends"]["collections"][1]["documents"]
        .as_u64()
        .unwrap()
}

async fn set_weights(p: &TestPlatform, admin: &Auth, weights: Value) -> i64 {
    let body = p
        .gql_router(
            admin,
            "mutation($i: SetConfigInput!) { setConfig(input: $i) { version } }",
            json!({"i": {"key": "matching.weights", "value": weights}}),
        )
        .await;
    data(&body)["setConfig"]["version"].as_i64().unwrap()
}

async fn weights_flags_history_filters_and_bad_input(p: TestPlatform) -> TestPlatform {
    let w = world(&p).await;
    let only = |component: &str| {
        let mut weights = json!({"required_skills": 0, "preferred_skills": 0, "semantic": 0,
            "experience": 0, "education": 0, "location": 0, "salary": 0});
        weights[component] = json!(1);
        weights
    };
    // Both QA engineers cover the skills; the US one has the 10 years, the Chengdu one the city.
    let v1 = set_weights(&p, &w.admin, only("experience")).await;
    let body = match_candidates(&p, &w.admin, &w.qa_job, json!(null), 2).await;
    let first = data(&body)["matchCandidates"].clone();
    assert_eq!(first["weightsVersion"], v1);
    assert_eq!(resume_ids(&first)[0], w.qa_en, "{first}");
    let v2 = set_weights(&p, &w.admin, only("location")).await;
    assert_eq!(v2, v1 + 1);
    let body = match_candidates(&p, &w.admin, &w.qa_job, json!(null), 2).await;
    let second = data(&body)["matchCandidates"].clone();
    assert_eq!(second["weightsVersion"], v2);
    assert_eq!(
        resume_ids(&second)[0],
        w.qa_zh,
        "a new weights version, a different ranking"
    );

    // History: both runs, newest first, with their weights versions and results.
    let body = p
        .gql_router(
            &w.admin,
            "query($s: ID!) { matchRuns(subjectId: $s) { nodes { id direction subjectId requestedBy weightsVersion limit results { id score } } } }",
            json!({"s": w.qa_job}),
        )
        .await;
    let runs = data(&body)["matchRuns"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (
            runs[0]["weightsVersion"].as_i64(),
            runs[1]["weightsVersion"].as_i64()
        ),
        (Some(v2), Some(v1))
    );
    assert_eq!(runs[0]["id"], second["runId"]);
    assert_eq!(runs[0]["direction"], "CANDIDATES");
    assert_eq!(runs[0]["results"][0]["id"], w.qa_zh.as_str());
    assert!(!runs[0]["requestedBy"].as_str().unwrap().is_empty());

    // Hard filters exclude: a city in the other language, a minimum of years.
    let body = match_candidates(&p, &w.admin, &w.qa_job, json!({"cities": ["Chengdu"]}), 10).await;
    assert_eq!(
        resume_ids(&data(&body)["matchCandidates"]),
        std::slice::from_ref(&w.qa_zh)
    );
    let body = match_candidates(&p, &w.admin, &w.qa_job, json!({"minYears": 10}), 10).await;
    assert_eq!(
        resume_ids(&data(&body)["matchCandidates"]),
        std::slice::from_ref(&w.qa_en)
    );
    let body = p
        .gql_router(&w.admin, "query($r: ID!) { matchJobs(resumeId: $r, filter: {remote: true}) { matches { job { id } } } }", json!({"r": w.go}))
        .await;
    assert_eq!(
        data(&body)["matchJobs"]["matches"],
        json!([]),
        "no remote jobs"
    );
    // A salary filter keeps jobs that post no salary (none of these do); remote is ignored
    // for candidates.
    let body = p
        .gql_router(&w.admin, "query($r: ID!) { matchJobs(resumeId: $r, filter: {salaryMin: 30000}) { matches { job { id } } } }", json!({"r": w.go}))
        .await;
    assert!(
        !data(&body)["matchJobs"]["matches"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{body}"
    );
    let body = match_candidates(&p, &w.admin, &w.qa_job, json!({"remote": true}), 10).await;
    assert_eq!(resume_ids(&data(&body)["matchCandidates"]).len(), 5);

    // Closed jobs leave job matches.
    data(
        &p.gql_router(
            &w.admin,
            "mutation($j: ID!) { closeJob(id: $j) { status } }",
            json!({"j": w.go_job}),
        )
        .await,
    );
    let body = p
        .gql_router(
            &w.admin,
            "query($r: ID!) { matchJobs(resumeId: $r, limit: 5) { matches { job { id } } } }",
            json!({"r": w.go}),
        )
        .await;
    assert!(
        data(&body)["matchJobs"]["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["job"]["id"] != w.go_job.as_str())
    );

    // Bad input.
    let cases = [
        (
            "{ matchCandidates(jobId: \"nope\") { runId } }".to_owned(),
            "NOT_FOUND",
        ),
        (
            "{ matchJobs(resumeId: \"nope\") { runId } }".to_owned(),
            "NOT_FOUND",
        ),
        (
            format!(
                "{{ matchCandidates(jobId: \"{}\", limit: 0) {{ runId }} }}",
                w.qa_job
            ),
            "BAD_USER_INPUT",
        ),
        (
            format!(
                "{{ matchCandidates(jobId: \"{}\", limit: 1000) {{ runId }} }}",
                w.qa_job
            ),
            "BAD_USER_INPUT",
        ),
        (
            format!(
                "{{ matchJobs(resumeId: \"{}\", filter: {{salaryMin: 9, salaryMax: 1}}) {{ runId }} }}",
                w.go
            ),
            "BAD_USER_INPUT",
        ),
        (
            "mutation { createJob(input: {title: \"  \"}) { id } }".to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            "mutation { createJob(input: {title: \"x\", education: \"WIZARD\"}) { id } }"
                .to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            "mutation { createJob(input: {title: \"x\", minYears: -1}) { id } }".to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            "mutation { updateJob(id: \"nope\", input: {title: \"x\"}) { id } }".to_owned(),
            "NOT_FOUND",
        ),
    ];
    for (query, code) in cases {
        let body = p.gql_router(&w.admin, &query, json!({})).await;
        assert_eq!(error_code(&body), code, "{query}: {body}");
    }
    let (_, viewer) = p.user_with_roles("viewer@example.com", &["viewer"]).await;
    let body = match_candidates(&p, &viewer, &w.qa_job, json!(null), 2).await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    // The feature flag stops matching only.
    data(
        &p.gql_router(
            &w.admin,
            "mutation { setFeatureFlag(name: \"job_matching\", enabled: false) { enabled } }",
            json!({}),
        )
        .await,
    );
    let body = eventually(
        || match_candidates(&p, &w.admin, &w.qa_job, json!(null), 2),
        |body| body["errors"][0]["extensions"]["code"] == "FEATURE_DISABLED",
    )
    .await;
    assert_eq!(error_code(&body), "FEATURE_DISABLED");
    let body = p
        .gql_router(
            &w.admin,
            "{ textSearch(query: \"selenium\") { total } }",
            json!({}),
        )
        .await;
    assert!(data(&body)["textSearch"]["total"].as_u64().unwrap() >= 2);
    let body = p
        .gql_router(
            &w.admin,
            "query($j: ID!) { job(id: $j) { title } }",
            json!({"j": w.qa_job}),
        )
        .await;
    assert_eq!(data(&body)["job"]["title"], "QA Automation Engineer");
    data(
        &p.gql_router(
            &w.admin,
            "mutation { setFeatureFlag(name: \"job_matching\", enabled: true) { enabled } }",
            json!({}),
        )
        .await,
    );
    let body = eventually(
        || match_candidates(&p, &w.admin, &w.qa_job, json!(null), 2),
        |body| body.get("errors").is_none(),
    )
    .await;
    assert_eq!(resume_ids(&data(&body)["matchCandidates"]).len(), 2);
    let _ = (&w.java, &w.java_job);
    p
}

/// Retries `request` until `done` accepts its answer (feature flags are cached for
/// `server.feature_flag_cache_ms`), and returns that answer.
async fn eventually<F, Fut>(request: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = request().await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "still {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Identity is down for matching: its flag cannot be read (fail-open: on), nor its weights
/// (the defaults, version 0). Matching still answers.
async fn matching_fails_open_when_identity_is_unreachable(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    // What matching would obey if it could reach identity.
    set_weights(&p, &admin, json!({"required_skills": 1})).await;
    data(
        &p.gql_router(
            &admin,
            "mutation { setFeatureFlag(name: \"job_matching\", enabled: false) { enabled } }",
            json!({}),
        )
        .await,
    );
    let resume = upload(&p, &admin, "en-05-qa-engineer.txt").await;
    let job = create_job(
        &p,
        &admin,
        json!({"title": "QA Automation Engineer",
               "description": "Own the Selenium regression suite.",
               "requiredSkills": ["Selenium", "Python"]}),
    )
    .await;
    let job = data(&job)["createJob"]["id"].as_str().unwrap().to_owned();
    // Until resume and the job reach search, the shortlist is empty.
    let body = eventually(
        || match_candidates(&p, &admin, &job, json!(null), 5),
        |body| {
            body["data"]["matchCandidates"]["matches"]
                .as_array()
                .is_some_and(|matches| !matches.is_empty())
                || body.get("errors").is_some()
        },
    )
    .await;
    let result = &data(&body)["matchCandidates"];
    assert_eq!(result["weightsVersion"], 0, "{body}");
    assert_eq!(resume_ids(result), vec![resume]);
    p
}

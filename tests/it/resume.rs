//! The resume subgraph through the router (multipart and base64 uploads, processing status,
//! PII masking, bad input, crash recovery, the indexing outbox) and directly (entity batches),
//! on both backends.

use crate::harness::{Auth, TestPlatform, data, error_code, error_reason, with_auth};
use base64::Engine;
use looma::Component;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

crate::on_each_backend_with!(&[looma::Component::Resume];
    upload_parse_and_deduplicate,
    pii_is_masked_without_permission,
    bad_uploads_are_refused_and_nothing_is_lost,
    pdf_fallback_chain_and_needs_ocr,
    unfinished_work_resumes_after_restart,
    entity_batches_are_one_sql_lookup,
    index_updates_survive_a_search_outage,
    list_filters_and_pages,
    a_parse_over_the_time_limit_fails_and_can_be_retried,
    the_processing_flag_stops_uploads_only,
);

const RESUME_FIELDS: &str = "id status failureReason attempts skills text
    file { filename contentType format sizeBytes sha256 }
    profile { language name email phone city contactMasked totalYears highestDegree headline
      education { school degree major start end }
      experience { company title start end current } }";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Uploads through the router with the GraphQL multipart request spec.
async fn upload_multipart(p: &TestPlatform, auth: &Auth, filename: &str, bytes: Vec<u8>) -> Value {
    crate::harness::upload_through_router(p, auth, &format!("mutation($file: Upload!) {{ uploadResume(file: $file) {{ duplicate resume {{ {RESUME_FIELDS} }} }} }}"), filename, bytes).await
}

async fn upload_base64(p: &TestPlatform, auth: &Auth, filename: &str, bytes: &[u8]) -> Value {
    p.gql_router(
        auth,
        &format!("mutation($f: String!, $c: String!) {{ uploadResumeBase64(filename: $f, contentBase64: $c) {{ duplicate resume {{ {RESUME_FIELDS} }} }} }}"),
        json!({"f": filename, "c": base64::engine::general_purpose::STANDARD.encode(bytes)}),
    )
    .await
}

async fn get_resume(p: &TestPlatform, auth: &Auth, id: &str) -> Value {
    let body = p
        .gql_router(
            auth,
            &format!("query($id: ID!) {{ resume(id: $id) {{ {RESUME_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await;
    data(&body)["resume"].clone()
}

/// Polls until the resume leaves `RECEIVED` (or the deadline passes).
async fn wait_processed(p: &TestPlatform, auth: &Auth, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resume = get_resume(p, auth, id).await;
        if resume["status"] != "RECEIVED" || Instant::now() > deadline {
            return resume;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn id_of(upload: &Value) -> String {
    let resume = &data(upload)["uploadResume"].as_object().map_or_else(
        || data(upload)["uploadResumeBase64"]["resume"].clone(),
        |o| o["resume"].clone(),
    );
    resume["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {upload}"))
        .to_owned()
}

async fn upload_parse_and_deduplicate(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let bytes = fixture("resumes/zh-02-frontend.docx");
    let first = upload_multipart(&p, &admin, "李娜-简历.docx", bytes.clone()).await;
    let uploaded = &data(&first)["uploadResume"];
    assert_eq!(uploaded["duplicate"], false);
    assert_eq!(uploaded["resume"]["file"]["format"], "DOCX");
    assert_eq!(uploaded["resume"]["file"]["filename"], "李娜-简历.docx");
    assert_eq!(uploaded["resume"]["file"]["sizeBytes"], bytes.len());
    let id = id_of(&first);

    let resume = wait_processed(&p, &admin, &id).await;
    assert_eq!(resume["status"], "PARSED", "{resume}");
    let expected: Value =
        serde_json::from_slice(&fixture("resumes/zh-02-frontend.expected.json")).unwrap();
    let profile = &resume["profile"];
    assert_eq!(profile["language"], "zh");
    assert_eq!(profile["name"], expected["profile"]["name"]);
    assert_eq!(profile["phone"], expected["profile"]["phone"]);
    assert_eq!(profile["email"], expected["profile"]["email"]);
    assert_eq!(profile["contactMasked"], false);
    assert!(!profile["education"].as_array().unwrap().is_empty());
    assert!(!profile["experience"].as_array().unwrap().is_empty());
    let skills: Vec<&str> = resume["skills"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for skill in expected["profile"]["skills"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
    {
        assert!(
            skills.contains(&skill.as_str().unwrap()),
            "{skill} in {skills:?}"
        );
    }

    // The same bytes again, even under another name and through base64: the same resume.
    let again = upload_base64(&p, &admin, "copy.docx", &bytes).await;
    let again = &data(&again)["uploadResumeBase64"];
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["resume"]["id"], id.as_str());
    let list = p
        .gql_router(
            &admin,
            "{ resumes(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&list)["resumes"]["edges"].as_array().unwrap().len(), 1);
    p
}

async fn pii_is_masked_without_permission(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    // zh-01 carries an 18-digit resident ID number.
    let upload = upload_base64(
        &p,
        &admin,
        "zh-01.pdf",
        &fixture("resumes/zh-01-java-backend.pdf"),
    )
    .await;
    let id = id_of(&upload);
    let full = wait_processed(&p, &admin, &id).await;
    assert_eq!(full["status"], "PARSED", "{full}");
    assert_eq!(full["profile"]["phone"], "+8613812345678");
    let text = full["text"].as_str().unwrap();
    assert!(text.contains("zhangwei.dev@example.com"));
    let id_number = regex_free_id_number(text);
    assert!(
        id_number.is_none(),
        "an 18-digit ID number survived ingest: {id_number:?}"
    );

    let (_, viewer) = p.user_with_roles("viewer@looma.test", &["viewer"]).await;
    let masked = get_resume(&p, &viewer, &id).await;
    let profile = &masked["profile"];
    assert_eq!(profile["contactMasked"], true);
    assert_eq!(profile["phone"], "+86138****5678");
    assert_eq!(profile["email"], "z***@example.com");
    assert_eq!(profile["name"], "张*");
    let masked_text = masked["text"].as_str().unwrap();
    assert!(!masked_text.contains("zhangwei.dev@example.com"));
    assert!(!masked_text.contains("5678") || !masked_text.contains("1234-5678"));
    assert!(!masked_text.contains("张伟"));
    // Viewers may read but not upload.
    let denied = upload_base64(
        &p,
        &viewer,
        "x.txt",
        b"Jane Doe\nSkills: Rust, Go, Kubernetes and more",
    )
    .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    p
}

/// An 18-digit run of digits (optionally ending in X) in `text`.
fn regex_free_id_number(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run: String = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == 'X' || **c == 'x')
            .collect();
        if run.len() >= 18 {
            return Some(run);
        }
        i += run.len().max(1);
    }
    None
}

async fn bad_uploads_are_refused_and_nothing_is_lost(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let good = upload_base64(
        &p,
        &admin,
        "en-05.txt",
        &fixture("resumes/en-05-qa-engineer.txt"),
    )
    .await;
    let good_id = id_of(&good);
    let before = wait_processed(&p, &admin, &good_id).await;
    assert_eq!(before["status"], "PARSED");

    for (file, reason) in [
        ("resumes-bad/empty.pdf", None),
        ("resumes-bad/not-a-docx.docx", Some("UNSUPPORTED_FORMAT")),
        ("resumes-bad/zip-bomb.docx", None),
    ] {
        let body = upload_base64(&p, &admin, file, &fixture(file)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{file}: {body}");
        if let Some(reason) = reason {
            assert_eq!(error_reason(&body), reason, "{file}");
        }
    }
    // Over the size limit, as multipart through the router and as base64.
    let oversize = [b"%PDF-1.4\n".to_vec(), vec![b'0'; 11 * 1024 * 1024]].concat();
    let body = upload_multipart(&p, &admin, "big.pdf", oversize.clone()).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let just_over = [b"%PDF-1.4\n".to_vec(), vec![b'0'; 10 * 1024 * 1024]].concat();
    // The router holds JSON bodies to `router.max_request_bytes`: base64 is for small files.
    let body = upload_base64(&p, &admin, "big.pdf", &just_over).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_reason(&body), "PAYLOAD_TOO_LARGE");
    // The resume subgraph, called directly, applies its own file limit to base64 uploads.
    let request = p
        .http
        .post(format!("{}/graphql", p.url(Component::Resume)))
        .json(&json!({
            "query": "mutation($f: String!, $c: String!) { uploadResumeBase64(filename: $f, contentBase64: $c) { duplicate } }",
            "variables": {"f": "big.pdf", "c": base64::engine::general_purpose::STANDARD.encode(&just_over)},
        }));
    let body: Value = with_auth(request, &admin)
        .send()
        .await
        .expect("resume answers")
        .json()
        .await
        .expect("JSON body");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_reason(&body), "FILE_TOO_LARGE");
    // Not base64; multipart without the CSRF header.
    let body = p
        .gql_router(
            &admin,
            "mutation { uploadResumeBase64(filename: \"a.pdf\", contentBase64: \"%%%\") { duplicate } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let form = reqwest::multipart::Form::new()
        .text("operations", json!({"query": "mutation($file: Upload!) { uploadResume(file: $file) { duplicate } }", "variables": {"file": null}}).to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part("0", reqwest::multipart::Part::bytes(b"hello world resume".to_vec()).file_name("a.txt"));
    let url = format!("{}/graphql", p.router_url.as_deref().unwrap());
    let body: Value = with_auth(p.http.post(url).multipart(form), &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");

    // Damaged and protected PDFs are stored, then fail with a reason (not a crash).
    for file in ["resumes-bad/truncated.pdf", "resumes-bad/encrypted.pdf"] {
        let body = upload_base64(&p, &admin, file, &fixture(file)).await;
        let id = id_of(&body);
        let resume = wait_processed(&p, &admin, &id).await;
        assert!(
            matches!(
                resume["status"].as_str(),
                Some("FAILED") | Some("NEEDS_OCR")
            ),
            "{file}: {resume}"
        );
        assert!(
            resume["failureReason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{resume}"
        );
    }
    // Unknown ids and bad pagination.
    let body = p
        .gql_router(
            &admin,
            "mutation { reprocessResume(id: \"nope\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let body = p
        .gql_router(
            &admin,
            "{ resumes(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let body = p
        .gql_router(
            &admin,
            "{ resumes(after: \"garbage\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    let after = get_resume(&p, &admin, &good_id).await;
    assert_eq!(
        after, before,
        "a stored resume changed while bad uploads were refused"
    );
    p
}

async fn pdf_fallback_chain_and_needs_ocr(mut p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    // CJK font without a ToUnicode map: pdf-extract panics on it; the chain must not.
    let body = upload_base64(
        &p,
        &admin,
        "stsong.pdf",
        &fixture("resumes/zh-05-product-manager-stsong.pdf"),
    )
    .await;
    let id = id_of(&body);
    let resume = wait_processed(&p, &admin, &id).await;
    assert_eq!(resume["status"], "PARSED", "{resume}");
    let expected: Value = serde_json::from_slice(&fixture(
        "resumes/zh-05-product-manager-stsong.expected.json",
    ))
    .unwrap();
    assert_eq!(resume["profile"]["name"], expected["profile"]["name"]);

    // Scans are read by OCR when Tesseract is installed (`.ci/run` installs it): a scanned
    // English PDF (a raster page, no text layer) and a photographed Chinese page (PNG).
    let scans = [
        (
            "scan.pdf",
            "resumes/en-06-scanned-needs-ocr.pdf",
            "James Wilson",
            "+16465550127",
        ),
        (
            "scan.png",
            "resumes-ocr/zh-01-java-backend-scan.png",
            "张伟",
            "+8613812345678",
        ),
    ];
    let mut scan_ids = Vec::new();
    for (filename, file, name, phone) in scans {
        let body = upload_base64(&p, &admin, filename, &fixture(file)).await;
        let id = id_of(&body);
        let scan = wait_processed(&p, &admin, &id).await;
        if looma_extract::Tesseract::detect().is_some() {
            assert_eq!(scan["status"], "PARSED", "{file}: {scan}");
            assert_eq!(scan["profile"]["name"], name, "{file}: {scan}");
            assert_eq!(scan["profile"]["phone"], phone, "{file}: {scan}");
        } else {
            crate::harness::report_skipped("tesseract is not installed: scans end NEEDS_OCR");
            assert_eq!(scan["status"], "NEEDS_OCR", "{file}: {scan}");
        }
        scan_ids.push(id);
    }
    // A picture without text, named `.pdf`: the content decides (a PNG), and with nothing to
    // read it needs OCR rather than becoming an empty profile.
    let body = upload_base64(
        &p,
        &admin,
        "cv.pdf",
        &fixture("resumes-bad/png-renamed.pdf"),
    )
    .await;
    let picture = wait_processed(&p, &admin, &id_of(&body)).await;
    assert_eq!(picture["file"]["format"], "PNG", "{picture}");
    assert_eq!(picture["status"], "NEEDS_OCR", "{picture}");
    assert_eq!(picture["profile"], Value::Null, "{picture}");

    // With OCR off, reprocessing a scan ends NEEDS_OCR and says how to get OCR; the profile
    // of the earlier successful parse is kept (a failed retry loses nothing).
    p.config.resume.ocr = false;
    p.restart_extra().await;
    let scan_id = &scan_ids[0];
    let body = p
        .gql_router(
            &admin,
            "mutation($id: ID!) { reprocessResume(id: $id) { status } }",
            json!({"id": scan_id}),
        )
        .await;
    assert_eq!(data(&body)["reprocessResume"]["status"], "RECEIVED");
    let again = wait_processed(&p, &admin, scan_id).await;
    assert_eq!(again["status"], "NEEDS_OCR", "{again}");
    assert!(
        again["failureReason"]
            .as_str()
            .is_some_and(|reason| reason.contains("tesseract-ocr")),
        "the reason says how to get OCR: {again}"
    );
    if looma_extract::Tesseract::detect().is_some() {
        assert_eq!(again["profile"]["name"], "James Wilson", "{again}");
    } else {
        assert_eq!(again["profile"], Value::Null, "no fake profile: {again}");
    }
    assert_eq!(
        again["attempts"], 1,
        "reprocessing restarts the attempt count"
    );
    p.config.resume.ocr = true;
    p.restart_extra().await;
    p
}

async fn unfinished_work_resumes_after_restart(mut p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    // A replica without a worker accepts uploads; nothing parses them.
    p.config.resume.worker_enabled = false;
    p.restart_extra().await;
    let body = upload_base64(
        &p,
        &admin,
        "en-11.txt",
        &fixture("resumes/en-11-recruiter.txt"),
    )
    .await;
    let id = id_of(&body);
    let body = upload_base64(
        &p,
        &admin,
        "en-15.txt",
        &fixture("resumes/en-15-operations-manager.txt"),
    )
    .await;
    let leased_id = id_of(&body);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get_resume(&p, &admin, &id).await["status"], "RECEIVED");
    // The second looks claimed by a worker that crashed mid-parse: its lease has run out.
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "UPDATE resume_resumes SET lease_until = '2020-01-01 00:00:00+00:00', attempts = 1 WHERE id = '{leased_id}'"
    );
    p.db()
        .execute_unprepared(&sql)
        .await
        .expect("simulate a stale lease");

    p.config.resume.worker_enabled = true;
    p.restart_extra().await;
    let resumed = wait_processed(&p, &admin, &id).await;
    assert_eq!(resumed["status"], "PARSED", "{resumed}");
    let leased = wait_processed(&p, &admin, &leased_id).await;
    assert_eq!(leased["status"], "PARSED", "{leased}");
    assert_eq!(leased["attempts"], 2);
    p
}

async fn metric(p: &TestPlatform, name: &str) -> u64 {
    let text = p
        .http
        .get(format!("{}/metrics", p.url(Component::Resume)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{component=\"resume\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

async fn entity_batches_are_one_sql_lookup(mut p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let mut ids = Vec::new();
    for file in [
        "resumes/en-05-qa-engineer.txt",
        "resumes/en-11-recruiter.txt",
        "resumes/zh-07-qa-engineer.txt",
    ] {
        ids.push(id_of(
            &upload_base64(&p, &admin, file, &fixture(file)).await,
        ));
    }
    for id in &ids {
        wait_processed(&p, &admin, id).await;
    }
    // No background polling while we count.
    p.config.resume.worker_enabled = false;
    p.restart_extra().await;
    let before = metric(&p, "looma_resume_sql_lookups_by_id_total").await;
    let mut representations: Vec<Value> = ids
        .iter()
        .map(|id| json!({"__typename": "Resume", "id": id}))
        .collect();
    representations.push(json!({"__typename": "Resume", "id": "missing"}));
    let request = p
        .http
        .post(format!("{}/graphql", p.url(Component::Resume)))
        .json(&json!({
            "query": "query($r: [_Any!]!) { _entities(representations: $r) { ... on Resume { id status profile { headline } } } }",
            "variables": {"r": representations},
        }));
    let body: Value = with_auth(request, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entities = data(&body)["_entities"].as_array().unwrap().clone();
    assert_eq!(entities.len(), 4);
    assert_eq!(entities[0]["id"], ids[0].as_str());
    assert_eq!(entities[3], Value::Null);
    let after = metric(&p, "looma_resume_sql_lookups_by_id_total").await;
    assert_eq!(
        after - before,
        1,
        "one SQL lookup for the whole _entities batch"
    );
    p
}

async fn index_updates_survive_a_search_outage(mut p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    // Search is down: the port is reserved but nothing answers GraphQL on it yet.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    p.config.resume.search_url = Some(format!("http://{addr}/graphql"));
    p.restart_extra().await;
    let body = upload_base64(
        &p,
        &admin,
        "en-18.txt",
        &fixture("resumes/en-18-marketing-manager.txt"),
    )
    .await;
    let id = id_of(&body);
    let parsed = wait_processed(&p, &admin, &id).await;
    assert_eq!(parsed["status"], "PARSED");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(metric(&p, "looma_outbox_pending").await >= 1);

    // Search comes back: a stand-in that records what it is sent (the search subgraph's
    // `indexDocuments` contract), requiring the signed service principal.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    if headers
                        .get(looma_auth::FORWARDED_PRINCIPAL_HEADER)
                        .is_none()
                    {
                        return axum::Json(json!({"errors": [{"message": "no principal"}]}));
                    }
                    seen.lock().unwrap().push(body);
                    axum::Json(json!({"data": {"indexDocuments": 1}}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let deadline = Instant::now() + Duration::from_secs(30);
    let indexed = loop {
        let resume = get_resume(&p, &admin, &id).await;
        if resume["status"] == "INDEXED" || Instant::now() > deadline {
            break resume;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(indexed["status"], "INDEXED", "{indexed}");
    let bodies = received.lock().unwrap().clone();
    let document = &bodies[0]["variables"]["documents"][0];
    assert_eq!(document["id"], id.as_str());
    assert_eq!(document["collection"], "RESUMES");
    assert!(document["skills"].as_array().is_some_and(|s| !s.is_empty()));
    let content = document["content"].as_str().unwrap();
    let email = indexed["profile"]["email"].as_str().unwrap();
    assert!(
        !content.contains(email),
        "contacts leave the resume subgraph masked"
    );
    assert_eq!(metric(&p, "looma_outbox_pending").await, 0);
    server.abort();
    p
}

async fn list_filters_and_pages(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let mut ids = Vec::new();
    for file in [
        "resumes/en-05-qa-engineer.txt",
        "resumes/en-11-recruiter.txt",
        "resumes/zh-07-qa-engineer.txt",
        "resumes/zh-11-operations.txt",
    ] {
        ids.push(id_of(
            &upload_base64(&p, &admin, file, &fixture(file)).await,
        ));
    }
    for id in &ids {
        assert_eq!(wait_processed(&p, &admin, id).await["status"], "PARSED");
    }
    let page = |after: Option<String>| {
        let p = &p;
        let admin = admin.clone();
        async move {
            p.gql_router(
                &admin,
                "query($a: String) { resumes(first: 3, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({"a": after}),
            )
            .await
        }
    };
    let first = page(None).await;
    let first = &data(&first)["resumes"];
    assert_eq!(first["edges"].as_array().unwrap().len(), 3);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = page(first["pageInfo"]["endCursor"].as_str().map(str::to_owned)).await;
    let second = &data(&second)["resumes"];
    assert_eq!(second["edges"].as_array().unwrap().len(), 1);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    // Newest first: the last upload leads.
    assert_eq!(first["edges"][0]["node"]["id"], ids[3].as_str());

    let selenium = p
        .gql_router(
            &admin,
            "{ resumes(filter: {skill: \"selenium\"}) { edges { node { id skills } } } }",
            json!({}),
        )
        .await;
    let edges = data(&selenium)["resumes"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!edges.is_empty());
    for edge in &edges {
        let skills = edge["node"]["skills"].as_array().unwrap();
        assert!(skills.iter().any(|s| s == "Selenium"), "{edge}");
    }
    let none = p
        .gql_router(
            &admin,
            "{ resumes(filter: {minYears: 79}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        data(&none)["resumes"]["edges"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    p
}

async fn a_parse_over_the_time_limit_fails_and_can_be_retried(mut p: TestPlatform) -> TestPlatform {
    // A 1 ms limit against a 1 MB resume (a real one with its project list pasted many
    // times): no parser gets through that much text in a millisecond.
    p.config.resume.parse_timeout_ms = 1;
    p.restart_extra().await;
    let admin = p.admin().await;
    let mut long = fixture("resumes/zh-07-qa-engineer.txt");
    let section = long.clone();
    while long.len() < 1024 * 1024 {
        long.extend_from_slice(&section);
    }
    let body = upload_base64(&p, &admin, "long.txt", &long).await;
    let id = id_of(&body);
    let failed = wait_processed(&p, &admin, &id).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert!(
        failed["failureReason"]
            .as_str()
            .unwrap()
            .contains("1 ms limit"),
        "{failed}"
    );
    assert!(failed["profile"].is_null());

    // With a sane limit the same stored file parses: nothing was lost.
    p.config.resume.parse_timeout_ms = 30_000;
    p.restart_extra().await;
    let body = p
        .gql_router(
            &admin,
            "mutation($id: ID!) { reprocessResume(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data(&body)["reprocessResume"]["status"], "RECEIVED");
    let parsed = wait_processed(&p, &admin, &id).await;
    assert_eq!(parsed["status"], "PARSED", "{parsed}");
    assert!(parsed["profile"]["name"].is_string(), "{parsed}");
    p
}

async fn the_processing_flag_stops_uploads_only(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let body = upload_base64(
        &p,
        &admin,
        "qa.txt",
        &fixture("resumes/en-05-qa-engineer.txt"),
    )
    .await;
    let id = id_of(&body);
    assert_eq!(wait_processed(&p, &admin, &id).await["status"], "PARSED");
    let set = |enabled: bool| {
        let p = &p;
        let admin = admin.clone();
        async move {
            data(&p
                .gql_router(
                    &admin,
                    "mutation($e: Boolean!) { setFeatureFlag(name: \"resume_processing\", enabled: $e) { enabled } }",
                    json!({"e": enabled}),
                )
                .await)
            .clone()
        }
    };
    set(false).await;
    // Flags are cached briefly (server.feature_flag_cache_ms): poll until the switch shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let body = upload_base64(
            &p,
            &admin,
            "recruiter.txt",
            &fixture("resumes/en-11-recruiter.txt"),
        )
        .await;
        if body["errors"][0]["extensions"]["code"] == "FEATURE_DISABLED" {
            break body;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("resume_processing")
    );
    // Reading what is stored goes on.
    assert_eq!(get_resume(&p, &admin, &id).await["status"], "PARSED");
    set(true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = upload_base64(
            &p,
            &admin,
            "recruiter.txt",
            &fixture("resumes/en-11-recruiter.txt"),
        )
        .await;
        if body.get("errors").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p
}

fn master_key(id: &str, byte: u8) -> String {
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    )
}

async fn raw_column(p: &TestPlatform, sql: &str, column: &str) -> Vec<u8> {
    use sea_orm::ConnectionTrait;
    let db = p.db();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .expect("a row");
    row.try_get::<Vec<u8>>("", column)
        .or_else(|_| row.try_get::<String>("", column).map(String::into_bytes))
        .unwrap()
}

/// With `server.encryption_keys`, uploaded files are sealed at rest (and still parsed);
/// `looma admin rewrap-data-keys` after putting a new master key first seals every file and
/// the signing keys (one written before encryption was configured) under it, so the old
/// master key can be dropped.
async fn files_and_signing_keys_are_encrypted_at_rest_and_rotated(p: TestPlatform) -> TestPlatform {
    use looma_core::Secret;
    use looma_core::envelope::{EnvelopeError, Keyring};
    let admin = p.admin().await;
    let text = "Wang Fang\nBackend Engineer\nwang.fang@example.com\n\nSkills\nRust, PostgreSQL, Kubernetes\n";
    let uploaded = upload_base64(&p, &admin, "wang-fang.txt", text.as_bytes()).await;
    let id = id_of(&uploaded);
    let resume = wait_processed(&p, &admin, &id).await;
    assert_eq!(resume["status"], "PARSED", "{resume}");

    let stored = raw_column(&p, "SELECT bytes FROM resume_files", "bytes").await;
    assert!(stored.starts_with(b"LOOMA-ENC1"), "the file is sealed");
    assert!(
        !stored.windows(8).any(|w| w == b"Wang Fan"),
        "no plaintext at rest"
    );
    let pem_sql = "SELECT private_key_pem FROM identity_signing_keys WHERE status = 'active'";
    let pem = raw_column(&p, pem_sql, "private_key_pem").await;
    assert!(
        pem.starts_with(b"-----BEGIN"),
        "written before encryption was configured"
    );

    let keys = format!(r#"["{}", "{}"]"#, master_key("k2", 2), master_key("k1", 1));
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let database_url = p.config.database.url.clone();
        let dir = dir.path().to_owned();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
                .args(["admin", "rewrap-data-keys"])
                .current_dir(dir)
                .env("DATABASE_URL", database_url)
                .env_remove("REDIS_URL")
                .env("LOOMA_SERVER__ENCRYPTION_KEYS", keys)
                .env("LOOMA_LOG__LEVEL", "warn")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("`k2`: 1 signing key(s), 1 resume file(s)"),
        "{stdout}"
    );

    let new_only = Keyring::from_config(&[Secret::new(master_key("k2", 2))]).unwrap();
    let old_only = Keyring::from_config(&[Secret::new(master_key("k1", 1))]).unwrap();
    let rewrapped = raw_column(&p, "SELECT bytes FROM resume_files", "bytes").await;
    assert_eq!(new_only.open(&rewrapped).unwrap().as_ref(), text.as_bytes());
    assert_eq!(
        old_only.open(&rewrapped).unwrap_err(),
        EnvelopeError::UnknownKey("k2".into())
    );
    let pem = String::from_utf8(raw_column(&p, pem_sql, "private_key_pem").await).unwrap();
    assert!(pem.starts_with("looma-enc1:"), "{pem}");
    assert!(new_only.open_text(&pem).unwrap().starts_with("-----BEGIN"));
    p
}

fn with_master_key(config: &mut looma::LoomaConfig) {
    config.server.encryption_keys = vec![looma_core::Secret::new(master_key("k1", 1))];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_and_signing_keys_are_encrypted_at_rest_and_rotated() {
    crate::harness::run_configured(
        files_and_signing_keys_are_encrypted_at_rest_and_rotated,
        crate::harness::Backend::Sqlite,
        &[Component::Resume],
        with_master_key,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_files_and_signing_keys_are_encrypted_at_rest_and_rotated() {
    crate::harness::run_configured(
        files_and_signing_keys_are_encrypted_at_rest_and_rotated,
        crate::harness::Backend::PostgresRedis,
        &[Component::Resume],
        with_master_key,
    )
    .await;
}

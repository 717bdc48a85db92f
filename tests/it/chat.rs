//! The chat subgraph through the router, with the real search subgraph behind it and a
//! loopback server speaking the OpenAI wire protocol in place of the paid provider: a
//! bilingual knowledge document uploaded, retrieved and cited; conversations owned by their
//! user; bad input, a provider that is down or out of quota, the fallback chain, and
//! deleting knowledge — on both backends. The embedded model answers for real in
//! `embedded_model_answers_through_the_router`.

use crate::harness::{Auth, Backend, TestPlatform, data, error_code, error_reason, with_auth};
use looma::Component;
use looma_llm::config::{ProviderConfig, ProviderKind};
use looma_testkit::llm_wire::{MockLlm, Reply};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Resume and matching too: the assistant's tools call the router, whose operations join them.
const COMPONENTS: &[Component] = &[
    Component::Search,
    Component::Resume,
    Component::Matching,
    Component::Chat,
];

const HANDBOOK: &str = "# Looma Recruiting Handbook

## Annual leave

New employees receive fifteen days of paid annual leave per year. Unused days may be carried
over until the end of March of the following year.

## Probation

The probation period lasts three months for all full-time roles. A written review is held
before it ends.

## 面试流程

所有技术岗位的面试包括两轮技术面试和一轮主管面试。候选人应在五个工作日内收到结果通知。

## 薪资发放

工资于每月十日通过银行转账发放。如遇节假日则提前至最近的工作日。
";

/// The first provider refuses connections (nothing listens on the discard port), so every
/// answer comes through the fallback chain from the mock.
fn configure(mock_url: String) -> impl FnOnce(&mut looma::LoomaConfig) {
    move |config| {
        let mut primary = ProviderConfig::new("primary", ProviderKind::OpenAi);
        primary.base_url = Some("http://127.0.0.1:9/v1".into());
        primary.model = Some("gpt-test".into());
        primary.max_retries = Some(0);
        let mut mock = ProviderConfig::new("mock", ProviderKind::OpenAi);
        mock.base_url = Some(mock_url);
        mock.model = Some("mock-model".into());
        mock.max_retries = Some(0);
        config.chat.providers = vec![primary, mock];
        config.chat.fallback = vec!["primary".into(), "mock".into()];
    }
}

async fn run(backend: Backend) {
    let mock = MockLlm::start().await;
    let url = mock.openai_base_url();
    crate::harness::run_configured(
        |p| async move { knowledge_conversations_and_failures(p, mock).await },
        backend,
        COMPONENTS,
        configure(url),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_the_router_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_the_router_postgres_redis() {
    run(Backend::PostgresRedis).await;
}

async fn upload(p: &TestPlatform, auth: &Auth, filename: &str, bytes: Vec<u8>) -> Value {
    crate::harness::upload_through_router(p, auth, "mutation($file: Upload!) { uploadKnowledgeDocument(file: $file) { id title format language chunkCount chunks { id heading content } } }", filename, bytes).await
}

/// Waits until knowledge search finds (or, `present == false`, no longer finds) a chunk of
/// `document`.
async fn wait_for_knowledge(
    p: &TestPlatform,
    auth: &Auth,
    query: &str,
    document: &str,
    present: bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = p
            .gql_router(
                auth,
                "query($q: String!) { textSearch(query: $q, options: {collection: KNOWLEDGE}) { hits { id } } }",
                json!({"q": query}),
            )
            .await;
        let found = data(&body)["textSearch"]["hits"]
            .as_array()
            .is_some_and(|hits| {
                hits.iter()
                    .any(|h| h["id"].as_str().is_some_and(|id| id.starts_with(document)))
            });
        if found == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "knowledge index did not reach present={present}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens `messageStream` through the router over graphql-sse (`Accept: text/event-stream`).
async fn open_stream(
    p: &TestPlatform,
    auth: &Auth,
    conversation: &str,
    content: &str,
) -> reqwest::Response {
    let body = json!({
        "query": "subscription($c: ID!, $m: String!) { messageStream(conversationId: $c, content: $m) { type delta sources { number chunkId } message { id role status content error citations { number chunk { heading } } } } }",
        "variables": {"c": conversation, "m": content},
    });
    let url = format!("{}/graphql", p.router_url.as_deref().expect("router"));
    let request = p
        .http
        .post(url)
        .header("accept", "text/event-stream")
        .json(&body);
    let response = with_auth(request, auth)
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status(), 200, "the stream opens");
    response
}

/// Reads SSE frames until `stop` says so or the stream completes; returns the `next` payloads.
async fn read_events(
    response: &mut reqwest::Response,
    stop: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut kind = "";
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    kind = if value.trim() == "next" {
                        "next"
                    } else if value.trim() == "complete" {
                        "complete"
                    } else {
                        "other"
                    };
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            match kind {
                "complete" => return events,
                "next" => {
                    events.push(serde_json::from_str(&data).expect("an event is JSON"));
                    if stop(&events) {
                        return events;
                    }
                }
                _ => {}
            }
        }
        assert!(Instant::now() < deadline, "the stream stalled: {events:?}");
        match tokio::time::timeout(Duration::from_secs(30), response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => return events,
            other => panic!("the stream broke: {other:?} after {events:?}"),
        }
    }
}

const ANSWER: &str = "content status error provider model position
    usage { promptTokens completionTokens totalTokens }
    citations { number chunkId snippet score document { id title } chunk { content heading } }
    sources { number chunkId }";

async fn ask(p: &TestPlatform, auth: &Auth, conversation: &str, content: &str) -> Value {
    p.gql_router(
        auth,
        &format!("mutation($c: ID!, $m: String!) {{ sendMessage(conversationId: $c, content: $m) {{ userMessage {{ content role status position }} assistantMessage {{ {ANSWER} }} }} }}"),
        json!({"c": conversation, "m": content}),
    )
    .await
}

async fn knowledge_conversations_and_failures(p: TestPlatform, mock: MockLlm) -> TestPlatform {
    let admin = p.admin().await;
    let (_, recruiter) = p
        .user_with_roles("recruiter@chat.test", &["recruiter"])
        .await;
    let (_, other) = p.user_with_roles("other@chat.test", &["recruiter"]).await;
    let (_, viewer) = p.user_with_roles("viewer@chat.test", &["viewer"]).await;

    // The knowledge base: only chat:admin uploads; the document is chunked by heading.
    let refused = upload(&p, &recruiter, "handbook.md", HANDBOOK.as_bytes().to_vec()).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let uploaded = upload(&p, &admin, "handbook.md", HANDBOOK.as_bytes().to_vec()).await;
    let document = &data(&uploaded)["uploadKnowledgeDocument"];
    let document_id = document["id"].as_str().expect("document id").to_owned();
    assert_eq!(document["format"], "MARKDOWN");
    assert_eq!(document["language"], "mixed");
    assert_eq!(document["title"], "Looma Recruiting Handbook");
    let headings: Vec<&str> = document["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .filter_map(|c| c["heading"].as_str())
        .collect();
    assert_eq!(
        headings,
        ["Annual leave", "Probation", "面试流程", "薪资发放"],
        "{document}"
    );
    let again = upload(&p, &admin, "copy.md", HANDBOOK.as_bytes().to_vec()).await;
    assert_eq!(
        error_code(&again),
        "BAD_USER_INPUT",
        "a duplicate is refused: {again}"
    );
    let png = upload(
        &p,
        &admin,
        "logo.png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
    )
    .await;
    assert_eq!(error_code(&png), "BAD_USER_INPUT", "{png}");
    assert_eq!(error_reason(&png), "UNSUPPORTED_DOCUMENT", "{png}");
    wait_for_knowledge(&p, &admin, "probation period", &document_id, true).await;

    // A conversation of the recruiter's.
    let created = p
        .gql_router(
            &recruiter,
            "mutation { createConversation(title: \"Policies\") { id title archived } }",
            json!({}),
        )
        .await;
    let conversation = data(&created)["createConversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // English: the answer cites the probation chunk as [1].
    mock.enqueue(Reply::text(&[
        "The probation period lasts ",
        "three months [1].",
    ]));
    let answered = ask(
        &p,
        &recruiter,
        &conversation,
        "How long is the probation period?",
    )
    .await;
    let turn = &data(&answered)["sendMessage"];
    assert_eq!(
        turn["userMessage"]["content"],
        "How long is the probation period?"
    );
    assert_eq!(turn["userMessage"]["position"], 0);
    let answer = &turn["assistantMessage"];
    assert_eq!(
        answer["content"],
        "The probation period lasts three months [1]."
    );
    assert_eq!(answer["status"], "COMPLETE");
    assert_eq!(
        answer["provider"], "mock",
        "the fallback chain answered from the mock: {answer}"
    );
    assert_eq!(answer["position"], 1);
    assert!(
        answer["usage"]["totalTokens"].as_i64().unwrap_or(0) > 0,
        "{answer}"
    );
    let citations = answer["citations"].as_array().expect("citations");
    assert_eq!(citations.len(), 1, "{answer}");
    assert_eq!(citations[0]["number"], 1);
    assert_eq!(citations[0]["document"]["id"], document_id.as_str());
    assert_eq!(citations[0]["chunk"]["heading"], "Probation");
    assert!(
        citations[0]["chunk"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("three months")
    );
    assert!(
        answer["sources"].as_array().is_some_and(|s| s.len() >= 2),
        "{answer}"
    );
    // What the provider was sent: the system prompt with the numbered sources, then the question.
    let sent = mock
        .requests()
        .last()
        .expect("the mock was called")
        .body
        .clone();
    let system = sent["messages"][0]["content"].as_str().unwrap_or_default();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(
        system.contains("[1] Looma Recruiting Handbook — Probation"),
        "{system}"
    );
    assert_eq!(sent["model"], "mock-model");
    assert_eq!(sent["stream"], true);

    // Chinese: retrieval finds the interview chunk; the full-width citation counts.
    mock.enqueue(Reply::text(&["两轮技术面试", "和一轮主管面试【1】。"]));
    let answered = ask(&p, &recruiter, &conversation, "技术岗位有几轮面试？").await;
    let answer = &data(&answered)["sendMessage"]["assistantMessage"];
    assert_eq!(
        answer["citations"][0]["chunk"]["heading"], "面试流程",
        "{answer}"
    );
    // The earlier turn is in the prompt: history is kept.
    let sent = mock.requests().last().expect("called").body.clone();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "{sent}");

    // Ownership: the owner and chat:admin read it; another recruiter does not see it.
    let listed = p
        .gql_router(
            &recruiter,
            "{ conversations { nodes { id messageCount } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&listed)["conversations"]["nodes"][0]["messageCount"],
        4
    );
    let query = "query($id: ID!) { conversation(id: $id) { id messages { nodes { role position status } } } }";
    let by_admin = p
        .gql_router(&admin, query, json!({"id": conversation}))
        .await;
    assert_eq!(
        data(&by_admin)["conversation"]["messages"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let by_other = p
        .gql_router(&other, query, json!({"id": conversation}))
        .await;
    assert!(data(&by_other)["conversation"].is_null(), "{by_other}");
    let foreign = ask(&p, &other, &conversation, "hello").await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "{foreign}");
    let everyone = p
        .gql_router(
            &other,
            "{ conversations(allUsers: true) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&everyone), "FORBIDDEN", "{everyone}");
    let viewer_asks = p
        .gql_router(&viewer, "mutation { createConversation { id } }", json!({}))
        .await;
    assert_eq!(error_code(&viewer_asks), "FORBIDDEN", "{viewer_asks}");

    // Bad input: nothing is saved for it.
    let requests_before = mock.request_count();
    for (content, code) in [
        ("   ", "BAD_USER_INPUT"),
        (&"x".repeat(8_001) as &str, "BAD_USER_INPUT"),
    ] {
        let refused = ask(&p, &recruiter, &conversation, content).await;
        assert_eq!(error_code(&refused), code, "{refused}");
    }
    let unknown = ask(&p, &recruiter, "00000000-0000-0000-0000-000000000000", "hi").await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    assert_eq!(
        mock.request_count(),
        requests_before,
        "refused input never reaches the model"
    );

    // Every provider down: LLM_UNAVAILABLE; the question is kept, the answer saved FAILED.
    mock.enqueue(Reply::status(
        503,
        r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
    ));
    let down = ask(&p, &recruiter, &conversation, "Is anyone there?").await;
    assert_eq!(error_code(&down), "LLM_UNAVAILABLE", "{down}");
    // Out of quota: its own code.
    mock.enqueue(Reply::status(
        429,
        r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
    ));
    let quota = ask(&p, &recruiter, &conversation, "And now?").await;
    assert_eq!(error_code(&quota), "QUOTA_EXCEEDED", "{quota}");
    let history = p
        .gql_router(&recruiter, query, json!({"id": conversation}))
        .await;
    let statuses: Vec<(String, String)> = data(&history)["conversation"]["messages"]["nodes"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_owned(),
                m["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        &statuses[4..],
        &[
            ("USER".to_owned(), "COMPLETE".to_owned()),
            ("ASSISTANT".to_owned(), "FAILED".to_owned()),
            ("USER".to_owned(), "COMPLETE".to_owned()),
            ("ASSISTANT".to_owned(), "FAILED".to_owned()),
        ],
        "{history}"
    );

    // Streaming through the router (graphql-sse): STARTED with the sources, the deltas, then
    // COMPLETED with the saved answer.
    mock.enqueue(Reply::text(&["Fifteen ", "days ", "[1]."]));
    let mut response = open_stream(
        &p,
        &recruiter,
        &conversation,
        "How much annual leave do new employees get?",
    )
    .await;
    let events = read_events(&mut response, |_| false).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| {
            e["data"]["messageStream"]["type"]
                .as_str()
                .unwrap_or("error")
        })
        .collect();
    assert_eq!(
        kinds,
        ["STARTED", "DELTA", "DELTA", "DELTA", "COMPLETED"],
        "{events:?}"
    );
    let started = &events[0]["data"]["messageStream"];
    assert_eq!(started["message"]["role"], "USER");
    assert!(
        started["sources"].as_array().is_some_and(|s| !s.is_empty()),
        "{started}"
    );
    let deltas: String = events
        .iter()
        .filter_map(|e| e["data"]["messageStream"]["delta"].as_str())
        .collect();
    assert_eq!(deltas, "Fifteen days [1].");
    let completed = &events[4]["data"]["messageStream"]["message"];
    assert_eq!(completed["status"], "COMPLETE");
    assert_eq!(completed["content"], "Fifteen days [1].");
    assert_eq!(
        completed["citations"][0]["chunk"]["heading"], "Annual leave",
        "{completed}"
    );

    // A client that goes away mid-answer: the model stops and the partial answer is saved
    // INCOMPLETE (the mock would otherwise hold the stream open for a minute).
    mock.enqueue(Reply::stall_after(&["Partial ", "answer"]));
    let mut response = open_stream(
        &p,
        &recruiter,
        &conversation,
        "Tell me everything about probation.",
    )
    .await;
    let events = read_events(&mut response, |events| {
        events
            .iter()
            .filter(|e| e["data"]["messageStream"]["type"] == "DELTA")
            .count()
            == 2
    })
    .await;
    assert_eq!(events.len(), 3, "{events:?}");
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let history = p
            .gql_router(&recruiter, query, json!({"id": conversation}))
            .await;
        let nodes = data(&history)["conversation"]["messages"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let last = nodes.last().cloned().unwrap_or(Value::Null);
        if last["role"] == "ASSISTANT" && last["status"] == "INCOMPLETE" {
            let id = last["position"].clone();
            let full = p
                .gql_router(&recruiter, "query($id: ID!) { conversation(id: $id) { messages(first: 100) { nodes { position content error } } } }", json!({"id": conversation}))
                .await;
            let saved = data(&full)["conversation"]["messages"]["nodes"]
                .as_array()
                .and_then(|n| n.iter().find(|m| m["position"] == id).cloned())
                .expect("the saved message");
            assert_eq!(saved["content"], "Partial answer", "{saved}");
            assert!(
                saved["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("disconnected"),
                "{saved}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the partial answer was not saved INCOMPLETE: {history}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Tools: the recruiter is offered every tool; the model calls one; the call runs as the
    // recruiter through the router (so a search hit's job comes joined from matching), its
    // result goes back to the model, and all of it is saved.
    let admin = p.admin().await;
    let created = p
        .gql_router(
            &admin,
            "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
            json!({"i": {"title": "Rust Platform Engineer", "company": "Acme Robotics",
                "description": "Build the Rust services behind our robots.",
                "requiredSkills": ["Rust"], "city": "Berlin"}}),
        )
        .await;
    let job = data(&created)["createJob"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = p
            .gql_router(
                &recruiter,
                "{ textSearch(query: \"rust platform\", options: {collection: JOBS}) { total } }",
                json!({}),
            )
            .await;
        if data(&found)["textSearch"]["total"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job was never indexed: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    mock.enqueue(Reply::tool_call(
        "search_jobs",
        &["{\"query\": ", "\"rust platform engineer\"}"],
    ));
    mock.enqueue(Reply::text(&["Acme Robotics ", "is hiring."]));
    let before = mock.request_count();
    let answered = ask(&p, &recruiter, &conversation, "Find me Rust engineers").await;
    let answer = &data(&answered)["sendMessage"]["assistantMessage"];
    assert_eq!(answer["content"], "Acme Robotics is hiring.", "{answered}");
    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        before + 2,
        "one round of tools, then the answer"
    );
    let offered: Vec<&str> = requests[before].body["tools"]
        .as_array()
        .expect("tools offered")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(
        offered,
        [
            "search_candidates",
            "search_jobs",
            "match_candidates",
            "resume_summary",
            "get_job"
        ]
    );
    let second = &requests[before + 1].body["messages"];
    let tool_message = second
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "tool"))
        .expect("the tool result went back to the model");
    let result: Value = serde_json::from_str(tool_message["content"].as_str().unwrap_or_default())
        .expect("JSON result");
    let hit = &result["hybridSearch"][0];
    assert_eq!(
        hit["id"],
        job.as_str(),
        "the search ran as the recruiter: {result}"
    );
    assert_eq!(
        hit["job"]["company"], "Acme Robotics",
        "the router joined the job from matching: {result}"
    );
    assert_eq!(hit["job"]["status"], "OPEN", "{result}");
    let metrics = p
        .http
        .get(format!(
            "{}/metrics",
            p.router_url.as_deref().expect("router")
        ))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "looma_graphql_requests_total{component=\"router\",operation=\"ChatToolSearchJobs\",outcome=\"ok\"}"
        ),
        "the tool's call went through the router"
    );
    let full = p
        .gql_router(&recruiter, "query($id: ID!) { conversation(id: $id) { messages(first: 100) { nodes { role content toolCalls { id name arguments } toolCallId } } } }", json!({"id": conversation}))
        .await;
    let nodes = data(&full)["conversation"]["messages"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tail = &nodes[nodes.len() - 3..];
    assert_eq!(tail[0]["role"], "ASSISTANT");
    assert_eq!(tail[0]["toolCalls"][0]["name"], "search_jobs");
    assert_eq!(
        tail[0]["toolCalls"][0]["arguments"],
        "{\"query\": \"rust platform engineer\"}"
    );
    assert_eq!(tail[1]["role"], "TOOL");
    assert_eq!(tail[1]["toolCallId"], tail[0]["toolCalls"][0]["id"]);
    assert_eq!(tail[2]["content"], "Acme Robotics is hiring.");

    // A caller with fewer permissions is offered only the tools it may use.
    let key = p
        .api_key("chat-jobs", &["chat:use", "search:read", "job:read"])
        .await;
    let created = p
        .gql_router(&key, "mutation { createConversation { id } }", json!({}))
        .await;
    let keys_conversation = data(&created)["createConversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let before = mock.request_count();
    let answered = ask(&p, &key, &keys_conversation, "Any open jobs?").await;
    assert_eq!(
        data(&answered)["sendMessage"]["assistantMessage"]["status"],
        "COMPLETE",
        "{answered}"
    );
    let offered: Vec<String> = mock.requests()[before].body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(offered, ["search_jobs", "get_job"]);

    // Rename, archive (an archived conversation takes no new messages), delete.
    let renamed = p
        .gql_router(
            &recruiter,
            "mutation($id: ID!) { renameConversation(id: $id, title: \"HR\") { title } }",
            json!({"id": conversation}),
        )
        .await;
    assert_eq!(data(&renamed)["renameConversation"]["title"], "HR");
    let long_title = p
        .gql_router(
            &recruiter,
            "mutation($id: ID!, $t: String!) { renameConversation(id: $id, title: $t) { title } }",
            json!({"id": conversation, "t": "t".repeat(201)}),
        )
        .await;
    assert_eq!(error_code(&long_title), "BAD_USER_INPUT", "{long_title}");
    p.gql_router(
        &recruiter,
        "mutation($id: ID!) { archiveConversation(id: $id) { archived } }",
        json!({"id": conversation}),
    )
    .await;
    let archived = ask(&p, &recruiter, &conversation, "still there?").await;
    assert_eq!(error_code(&archived), "BAD_USER_INPUT", "{archived}");
    let not_yours = p
        .gql_router(
            &other,
            "mutation($id: ID!) { deleteConversation(id: $id) }",
            json!({"id": conversation}),
        )
        .await;
    assert_eq!(error_code(&not_yours), "NOT_FOUND", "{not_yours}");
    let deleted = p
        .gql_router(
            &recruiter,
            "mutation($id: ID!) { deleteConversation(id: $id) }",
            json!({"id": conversation}),
        )
        .await;
    assert_eq!(data(&deleted)["deleteConversation"], true);
    let gone = p
        .gql_router(&recruiter, query, json!({"id": conversation}))
        .await;
    assert!(data(&gone)["conversation"].is_null(), "{gone}");

    // The `ai_chat` feature flag off: FEATURE_DISABLED, nothing saved; on again, it answers.
    let flag = |enabled: bool| json!({"q": format!("mutation {{ setFeatureFlag(name: \"ai_chat\", enabled: {enabled}) {{ enabled }} }}")});
    let off = p
        .gql_router(
            &admin,
            flag(false)["q"].as_str().unwrap_or_default(),
            json!({}),
        )
        .await;
    assert_eq!(data(&off)["setFeatureFlag"]["enabled"], false, "{off}");
    let created = p
        .gql_router(
            &recruiter,
            "mutation { createConversation { id } }",
            json!({}),
        )
        .await;
    let fresh = data(&created)["createConversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let refused = ask(&p, &recruiter, &fresh, "hello?").await;
        if refused["errors"][0]["extensions"]["code"] == "FEATURE_DISABLED" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flag did not take effect: {refused}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let on = p
        .gql_router(
            &admin,
            flag(true)["q"].as_str().unwrap_or_default(),
            json!({}),
        )
        .await;
    assert_eq!(data(&on)["setFeatureFlag"]["enabled"], true, "{on}");

    // Deleting the document removes its chunks from search.
    let removed = p
        .gql_router(
            &admin,
            "mutation($id: ID!) { deleteKnowledgeDocument(id: $id) }",
            json!({"id": document_id}),
        )
        .await;
    assert_eq!(data(&removed)["deleteKnowledgeDocument"], true, "{removed}");
    wait_for_knowledge(&p, &admin, "probation period", &document_id, false).await;
    let listed = p
        .gql_router(&admin, "{ knowledgeDocuments { nodes { id } } }", json!({}))
        .await;
    assert_eq!(data(&listed)["knowledgeDocuments"]["nodes"], json!([]));

    // `/ready` (and so the monitor's `systemHealth`) names each language model; one that
    // cannot answer is reported without making chat unready.
    let ready = p
        .http
        .get(format!("{}/ready", p.url(Component::Chat)))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["llm:mock (mock-model)"], "ok", "{ready}");
    assert!(
        ready["checks"]["llm:primary (gpt-test)"].is_string(),
        "{ready}"
    );
    p
}

/// SmolLM2 answers for real (short, greedy) through the router; skipped when the model is
/// not installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_model_answers_through_the_router() {
    let models = std::env::var("LOOMA_EMBED__MODELS_DIR").unwrap_or_else(|_| "data/models".into());
    let path = looma_llm::embedded::model_path(std::path::Path::new(&models));
    if !path.exists() {
        crate::harness::report_skipped(&format!(
            "the embedded chat model is not installed at {}",
            path.display()
        ));
        return;
    }
    crate::harness::run_configured(
        |p| async move {
            // The tenant's system prompt comes from identity's versioned config. SmolLM2-135M
            // is small: with a plain prompt it answers this question reliably.
            let admin = p.admin().await;
            let set = p
                .gql_router(
                    &admin,
                    "mutation($input: SetConfigInput!) { setConfig(input: $input) { version } }",
                    json!({"input": {"key": "chat.system_prompt", "value": "You are a helpful assistant."}}),
                )
                .await;
            assert_eq!(data(&set)["setConfig"]["version"], 1, "{set}");
            let (_, recruiter) = p.user_with_roles("smol@chat.test", &["recruiter"]).await;
            let created = p.gql_router(&recruiter, "mutation { createConversation { id } }", json!({})).await;
            let conversation = data(&created)["createConversation"]["id"].as_str().expect("id").to_owned();
            let answered = ask(&p, &recruiter, &conversation, "What is the capital of France?").await;
            let answer = &data(&answered)["sendMessage"]["assistantMessage"];
            assert_eq!(answer["provider"], "embedded", "{answer}");
            assert_eq!(answer["status"], "COMPLETE", "{answer}");
            assert!(answer["content"].as_str().unwrap_or_default().contains("Paris"), "{answer}");
            assert!(answer["usage"]["completionTokens"].as_i64().unwrap_or(0) > 0, "{answer}");
            // The prompt is that short system prompt and the question, nothing else.
            assert!(answer["usage"]["promptTokens"].as_i64().unwrap_or(0) < 40, "{answer}");

            // Streamed through the router: the deltas make up the saved answer.
            let mut response = open_stream(&p, &recruiter, &conversation, "Name a primary colour.").await;
            let events = read_events(&mut response, |_| false).await;
            let deltas: String = events
                .iter()
                .filter_map(|e| e["data"]["messageStream"]["delta"].as_str())
                .collect();
            let last = &events.last().expect("events")["data"]["messageStream"];
            assert_eq!(last["type"], "COMPLETED", "{events:?}");
            assert!(events.len() > 3, "the answer arrived in pieces: {events:?}");
            assert_eq!(last["message"]["content"].as_str(), Some(deltas.as_str()));
            assert!(!deltas.trim().is_empty());
            p
        },
        Backend::Sqlite,
        COMPONENTS,
        |config: &mut looma::LoomaConfig| {
            config.chat.temperature = 0.0;
            config.chat.answer_tokens = 32;
        },
    )
    .await;
}

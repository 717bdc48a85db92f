//! A turn of the assistant against a scripted model, on a real SQLite store: the answer is
//! saved whatever happens — whole (`COMPLETE`), cut by the client leaving (`INCOMPLETE`, the
//! model stopped at once), or failed (`FAILED` with the reason) — and the question is always
//! kept.

use async_trait::async_trait;
use futures::StreamExt;
use looma_auth::{Principal, PrincipalKind, permission};
use looma_chat::service::TurnEvent;
use looma_chat::store::{ChatStore, status};
use looma_chat::{ChatConfig, ChatService};
use looma_llm::{
    ChatModel, ChatRequest, Completion, EventStream, FinishReason, LlmError, StreamEvent, Usage,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Streams `tokens` one every 20 ms (forever when `endless`), noting when its stream is
/// dropped; or fails before the first token.
struct Scripted {
    tokens: Vec<&'static str>,
    endless: bool,
    fail: Option<LlmError>,
    dropped: Arc<AtomicBool>,
    produced: Arc<AtomicUsize>,
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl ChatModel for Scripted {
    fn provider(&self) -> &str {
        "scripted"
    }
    fn model(&self) -> &str {
        "scripted-1"
    }
    fn supports_tools(&self) -> bool {
        false
    }
    fn context_window(&self) -> usize {
        4096
    }
    fn count_tokens(&self, text: &str) -> usize {
        looma_llm::estimate_tokens(text)
    }
    async fn stream(&self, _request: ChatRequest) -> Result<EventStream, LlmError> {
        if let Some(error) = &self.fail {
            return Err(error.clone());
        }
        let tokens = self.tokens.clone();
        let endless = self.endless;
        let flag = DropFlag(self.dropped.clone());
        let produced = self.produced.clone();
        let stream = futures::stream::unfold(0usize, move |i| {
            let tokens = tokens.clone();
            let produced = produced.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if i < tokens.len() || endless {
                    produced.fetch_add(1, Ordering::SeqCst);
                    let token = tokens.get(i % tokens.len()).copied().unwrap_or("x");
                    return Some((Ok(StreamEvent::Delta(token.to_owned())), i + 1));
                }
                if i == tokens.len() {
                    let done = Completion {
                        provider: "scripted".into(),
                        model: "scripted-1".into(),
                        usage: Usage {
                            prompt_tokens: 10,
                            completion_tokens: tokens.len() as u32,
                        },
                        finish: FinishReason::Stop,
                    };
                    return Some((Ok(StreamEvent::Done(done)), i + 1));
                }
                None
            }
        })
        .map(move |event| {
            let _keep = &flag;
            event
        });
        Ok(Box::pin(stream))
    }
}

fn scripted(
    tokens: Vec<&'static str>,
    endless: bool,
    fail: Option<LlmError>,
) -> (Scripted, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicUsize::new(0));
    (
        Scripted {
            tokens,
            endless,
            fail,
            dropped: dropped.clone(),
            produced: produced.clone(),
        },
        dropped,
        produced,
    )
}

async fn service(model: Scripted) -> (ChatService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = looma_db::DatabaseConfig {
        url: format!("sqlite://{}?mode=rwc", dir.path().join("chat.db").display()),
        ..Default::default()
    };
    let db = looma_db::connect(&config).await.expect("sqlite");
    looma_db::migrate(&db).await.expect("migrations");
    let embedder = looma_embed::EmbeddingService::new(looma_embed::EmbedConfig {
        models_dir: dir.path().join("no-models"),
        ..Default::default()
    });
    let service = ChatService::new(
        ChatStore::new(db),
        ChatConfig::default(),
        Arc::new(model),
        embedder,
        None,
        looma_server::FeatureFlags::always_on(),
    );
    (service, dir)
}

fn recruiter() -> Principal {
    Principal {
        subject: "user-1".into(),
        kind: PrincipalKind::User,
        email: None,
        roles: vec!["recruiter".into()],
        permissions: [permission::CHAT_USE.to_owned()].into_iter().collect(),
    }
}

#[tokio::test]
async fn a_whole_answer_is_saved_complete() {
    let (model, _, _) = scripted(vec!["Fifteen ", "days."], false, None);
    let (service, _dir) = service(model).await;
    let user = recruiter();
    let conversation = service
        .create_conversation(&user, None)
        .await
        .expect("created");
    let mut events = service
        .start_turn(&user, &conversation.id, "How much leave?")
        .await
        .expect("started");
    let mut deltas = String::new();
    let mut finished = None;
    while let Some(event) = events.recv().await {
        match event {
            TurnEvent::Delta(text) => deltas.push_str(&text),
            TurnEvent::Finished(message) => finished = Some(message),
            TurnEvent::Failed(error) => panic!("failed: {error}"),
            TurnEvent::Started { .. } | TurnEvent::Tool(_) => {}
        }
    }
    let finished = finished.expect("a final message");
    assert_eq!(deltas, "Fifteen days.");
    assert_eq!(finished.content, "Fifteen days.");
    assert_eq!(finished.status, status::COMPLETE);
    assert_eq!(finished.completion_tokens, Some(2));
    let saved = service
        .store()
        .messages(&conversation.id, 0, 10)
        .await
        .expect("messages");
    assert_eq!(saved.len(), 2);
    assert_eq!(
        (saved[0].role.as_str(), saved[0].content.as_str()),
        ("user", "How much leave?")
    );
}

#[tokio::test]
async fn a_client_that_leaves_stops_the_model_and_keeps_the_partial_answer() {
    let (model, dropped, produced) = scripted(vec!["word "], true, None);
    let (service, _dir) = service(model).await;
    let user = recruiter();
    let conversation = service
        .create_conversation(&user, None)
        .await
        .expect("created");
    let mut events = service
        .start_turn(&user, &conversation.id, "Talk forever")
        .await
        .expect("started");
    let mut received = 0;
    while let Some(event) = events.recv().await {
        if matches!(event, TurnEvent::Delta(_)) {
            received += 1;
            if received == 3 {
                break;
            }
        }
    }
    drop(events);
    // The model's stream is dropped promptly and produces nothing more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the model was not stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_stop = produced.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        produced.load(Ordering::SeqCst),
        at_stop,
        "generation went on after the client left"
    );
    // The partial answer is saved INCOMPLETE.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let saved = loop {
        let saved = service
            .store()
            .messages(&conversation.id, 0, 10)
            .await
            .expect("messages");
        if saved.len() == 2 {
            break saved;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the partial answer was not saved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(saved[1].status, status::INCOMPLETE);
    assert!(
        saved[1].content.starts_with("word word word"),
        "{:?}",
        saved[1].content
    );
    assert!(
        saved[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("disconnected")
    );
}

#[tokio::test]
async fn a_model_failure_is_saved_failed_and_reported_with_its_code() {
    let quota = LlmError::QuotaExceeded {
        provider: "scripted".into(),
        reason: "billing".into(),
    };
    let (model, _, _) = scripted(vec![], false, Some(quota));
    let (service, _dir) = service(model).await;
    let user = recruiter();
    let conversation = service
        .create_conversation(&user, None)
        .await
        .expect("created");
    let mut events = service
        .start_turn(&user, &conversation.id, "Hello?")
        .await
        .expect("started");
    let mut failure = None;
    while let Some(event) = events.recv().await {
        if let TurnEvent::Failed(error) = event {
            failure = Some(error);
        }
    }
    let failure = failure.expect("a failure event");
    assert_eq!(
        looma_core::CodedError::code(failure.as_ref()),
        looma_core::ErrorCode::QuotaExceeded
    );
    let saved = service
        .store()
        .messages(&conversation.id, 0, 10)
        .await
        .expect("messages");
    assert_eq!(saved.len(), 2, "the question is kept");
    assert_eq!(saved[1].status, status::FAILED);
    assert!(
        saved[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("quota")
    );
}

#[tokio::test]
async fn another_users_conversation_is_not_found() {
    let (model, _, _) = scripted(vec!["hi"], false, None);
    let (service, _dir) = service(model).await;
    let owner = recruiter();
    let conversation = service
        .create_conversation(&owner, Some("Mine"))
        .await
        .expect("created");
    let mut stranger = recruiter();
    stranger.subject = "user-2".into();
    let error = service
        .start_turn(&stranger, &conversation.id, "hi")
        .await
        .expect_err("refused");
    assert_eq!(
        looma_core::CodedError::code(&error),
        looma_core::ErrorCode::NotFound
    );
    let mut admin = stranger.clone();
    admin.permissions.insert(permission::CHAT_ADMIN.to_owned());
    assert!(
        service
            .readable_conversation(&admin, &conversation.id)
            .await
            .is_ok()
    );
    assert_eq!(
        service
            .store()
            .message_count(&conversation.id)
            .await
            .expect("count"),
        0
    );
}

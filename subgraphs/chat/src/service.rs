//! Chat's use cases: conversations, a turn of the assistant (retrieve, build the prompt,
//! stream the model's answer, save it whatever happens), and the knowledge base (upload,
//! chunk, embed, index through the outbox, delete, reindex).
//!
//! A turn runs in its own task that owns the saving: the client's stream only receives
//! events. When the client goes away (the receiver is dropped) the task stops the model at
//! once and saves what was generated as `INCOMPLETE`; a model failure saves `FAILED` with the
//! reason. The user's message is saved before anything can fail.

use crate::ChatError;
use crate::clients::Clients;
use crate::config::ChatConfig;
use crate::domain::chunking::{ChunkOptions, chunk};
use crate::domain::citations::cited;
use crate::domain::prompt::{self, Budget, PromptError, Source};
use crate::store::{
    self, ChatStore, NewChunk, NewMessage, chunk_id, conversation, document, message, status,
};
use chrono::Utc;
use futures::StreamExt;
use looma_auth::{Principal, permission};
use looma_embed::{EmbeddingService, TextKind};
use looma_extract::{DocumentFormat, ExtractLimits, FormatError, detect_format, extract_text};
use looma_llm::{ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, Role, StreamEvent};
use looma_outbox::{Action, Deliver, DeliveryError, Outbox, OutboxRow};
use looma_search_client::{Collection, SearchClientError, SearchDocument};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest conversation title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Characters of a chunk shown as a citation's snippet.
const SNIPPET_CHARS: usize = 240;
/// Events buffered between the generating task and a slow client.
const EVENT_BUFFER: usize = 64;
/// Chunks embedded per call at upload.
const EMBED_BATCH: usize = 16;

/// A source as stored on an assistant message and returned as a citation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCitation {
    pub number: usize,
    pub document_id: String,
    pub chunk_id: String,
    pub title: String,
    pub heading: Option<String>,
    pub snippet: String,
    pub score: f64,
    /// The answer refers to it as `[number]`.
    pub cited: bool,
}

/// A tool call as stored on the message that made it (and on its `tool` result).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl From<&looma_llm::ToolCall> for StoredToolCall {
    fn from(call: &looma_llm::ToolCall) -> Self {
        StoredToolCall {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        }
    }
}

/// Rounds of tool calls one answer may make before it must answer.
const MAX_TOOL_ROUNDS: usize = 3;

/// What a turn streams to its client.
#[derive(Clone, Debug)]
pub enum TurnEvent {
    /// The user's message is saved; these are the sources the prompt holds.
    Started {
        user_message: Arc<message::Model>,
        sources: Vec<StoredCitation>,
    },
    /// The next piece of the answer.
    Delta(String),
    /// A tool the assistant called, with its result (a saved `tool` message).
    Tool(Arc<message::Model>),
    /// The saved assistant message (`COMPLETE`, or `FAILED` with its error).
    Finished(Arc<message::Model>),
    /// The turn failed; the assistant message was saved `FAILED` (code and message for the
    /// client).
    Failed(Arc<ChatError>),
}

#[derive(Clone)]
pub struct ChatService {
    inner: Arc<Inner>,
}

struct Inner {
    store: ChatStore,
    config: ChatConfig,
    model: Arc<dyn ChatModel>,
    embedder: EmbeddingService,
    clients: Option<Clients>,
    flags: looma_server::FeatureFlags,
    outbox: Option<Outbox<KnowledgeDelivery>>,
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl ChatService {
    pub fn new(
        store: ChatStore,
        config: ChatConfig,
        model: Arc<dyn ChatModel>,
        embedder: EmbeddingService,
        clients: Option<Clients>,
        flags: looma_server::FeatureFlags,
    ) -> Self {
        let outbox = clients.as_ref().map(|clients| {
            Outbox::new(
                store.connection().clone(),
                store::OUTBOX,
                KnowledgeDelivery {
                    store: store.clone(),
                    clients: clients.clone(),
                    embedder: embedder.clone(),
                },
            )
        });
        ChatService {
            inner: Arc::new(Inner {
                store,
                config,
                model,
                embedder,
                clients,
                flags,
                outbox,
            }),
        }
    }

    pub fn store(&self) -> &ChatStore {
        &self.inner.store
    }

    pub fn config(&self) -> &ChatConfig {
        &self.inner.config
    }

    pub fn model(&self) -> &Arc<dyn ChatModel> {
        &self.inner.model
    }

    /// Starts the knowledge outbox dispatcher (until `stop`).
    pub fn spawn_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        if let Some(outbox) = &self.inner.outbox {
            outbox.spawn(
                Duration::from_millis(self.inner.config.poll_interval_ms),
                stop,
            );
        }
    }

    /// Refreshes what `/metrics` reads from the knowledge outbox.
    pub async fn record_metrics(&self) {
        if let Some(outbox) = &self.inner.outbox {
            match outbox.metrics().await {
                Ok(counters) => counters.record(crate::COMPONENT),
                Err(error) => tracing::debug!(%error, "outbox counters not read for /metrics"),
            }
        }
    }

    /// Delivers due knowledge index updates now (tests, and after an upload).
    pub async fn dispatch_outbox(&self) -> Result<usize, ChatError> {
        match &self.inner.outbox {
            Some(outbox) => Ok(outbox.dispatch_due().await?),
            None => Ok(0),
        }
    }

    async fn ensure_enabled(&self) -> Result<(), ChatError> {
        if self.inner.flags.enabled("ai_chat").await {
            Ok(())
        } else {
            Err(ChatError::FeatureDisabled)
        }
    }

    // ---- conversations --------------------------------------------------------------------

    pub async fn create_conversation(
        &self,
        principal: &Principal,
        title: Option<&str>,
    ) -> Result<conversation::Model, ChatError> {
        let title = match title {
            Some(title) => check_title(title)?,
            None => "New conversation".to_owned(),
        };
        self.inner
            .store
            .insert_conversation(&new_id(), &principal.subject, &title, Utc::now())
            .await
    }

    /// The conversation when `principal` may read it: its owner, or `chat:admin`. Another
    /// user's conversation is `NOT_FOUND`, so ids do not reveal that it exists.
    pub async fn readable_conversation(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<conversation::Model, ChatError> {
        let found = self.inner.store.conversation(id).await?;
        match found {
            Some(c) if c.owner == principal.subject || principal.has(permission::CHAT_ADMIN) => {
                Ok(c)
            }
            _ => Err(ChatError::not_found("conversation", id)),
        }
    }

    /// Only the owner changes a conversation (an admin reads, but does not write, others').
    async fn owned_conversation(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<conversation::Model, ChatError> {
        match self.inner.store.conversation(id).await? {
            Some(c) if c.owner == principal.subject => Ok(c),
            _ => Err(ChatError::not_found("conversation", id)),
        }
    }

    pub async fn rename_conversation(
        &self,
        principal: &Principal,
        id: &str,
        title: &str,
    ) -> Result<conversation::Model, ChatError> {
        let title = check_title(title)?;
        self.owned_conversation(principal, id).await?;
        self.inner
            .store
            .update_conversation(id, Some(&title), None, Utc::now())
            .await?;
        self.owned_conversation(principal, id).await
    }

    pub async fn archive_conversation(
        &self,
        principal: &Principal,
        id: &str,
        archived: bool,
    ) -> Result<conversation::Model, ChatError> {
        self.owned_conversation(principal, id).await?;
        self.inner
            .store
            .update_conversation(id, None, Some(archived), Utc::now())
            .await?;
        self.owned_conversation(principal, id).await
    }

    pub async fn delete_conversation(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(), ChatError> {
        self.owned_conversation(principal, id).await?;
        self.inner.store.delete_conversation(id).await?;
        Ok(())
    }

    // ---- a turn ---------------------------------------------------------------------------

    /// Saves the user's message and starts the assistant's answer; the events arrive on the
    /// returned receiver. Dropping the receiver stops generation (the partial answer is
    /// saved `INCOMPLETE`). Errors returned here happen before anything is saved.
    pub async fn start_turn(
        &self,
        principal: &Principal,
        conversation_id: &str,
        content: &str,
    ) -> Result<mpsc::Receiver<TurnEvent>, ChatError> {
        self.ensure_enabled().await?;
        let content = content.trim();
        if content.is_empty() {
            return Err(ChatError::invalid("content", "the message is empty"));
        }
        let chars = content.chars().count();
        if chars > self.inner.config.max_message_chars {
            return Err(ChatError::invalid(
                "content",
                format!(
                    "the message has {chars} characters; the limit is {}",
                    self.inner.config.max_message_chars
                ),
            ));
        }
        let conversation = self.owned_conversation(principal, conversation_id).await?;
        if conversation.archived {
            return Err(ChatError::invalid(
                "conversationId",
                "the conversation is archived; unarchive it to continue",
            ));
        }
        let history = self
            .inner
            .store
            .recent_messages(conversation_id, self.inner.config.history_messages)
            .await?;
        let user_message = self
            .inner
            .store
            .append_message(
                conversation_id,
                NewMessage::new(new_id(), "user", content.to_owned(), status::COMPLETE),
                Utc::now(),
            )
            .await?;
        let (sender, receiver) = mpsc::channel(EVENT_BUFFER);
        let service = self.clone();
        let question = content.to_owned();
        let principal = principal.clone();
        tokio::spawn(async move {
            service
                .run_turn(
                    principal,
                    conversation,
                    history,
                    user_message,
                    question,
                    sender,
                )
                .await;
        });
        Ok(receiver)
    }

    async fn run_turn(
        &self,
        principal: Principal,
        conversation: conversation::Model,
        history: Vec<message::Model>,
        user_message: message::Model,
        question: String,
        events: mpsc::Sender<TurnEvent>,
    ) {
        let started = Instant::now();
        let sources = self.retrieve(&question).await;
        let system = self.system_prompt().await;
        let model = &self.inner.model;
        let window = model.context_window().min(self.inner.config.context_tokens);
        let history: Vec<ChatMessage> = history
            .iter()
            .filter(|m| m.status != status::FAILED)
            .filter_map(to_chat_message)
            .collect();
        let built = prompt::build(
            &system,
            &sources
                .iter()
                .map(|(source, _)| source.clone())
                .collect::<Vec<_>>(),
            &history,
            &question,
            Budget {
                window,
                answer_tokens: self.inner.config.answer_tokens as usize,
            },
            &|text| model.count_tokens(text),
        );
        let (prompt, mut citations) = match built {
            Ok(prompt) => {
                let citations: Vec<StoredCitation> = sources
                    .into_iter()
                    .take(prompt.sources.len())
                    .map(|(_, citation)| citation)
                    .collect();
                (prompt, citations)
            }
            Err(PromptError::TooLong { needed, available }) => {
                let error = ChatError::invalid(
                    "content",
                    format!(
                        "the message is too long for the model: {needed} tokens with the system prompt, {available} available"
                    ),
                );
                self.finish_failed(&conversation.id, error, &events, started)
                    .await;
                return;
            }
        };
        let _ = events
            .send(TurnEvent::Started {
                user_message: Arc::new(user_message),
                sources: citations.clone(),
            })
            .await;

        let tools = match (&self.inner.clients, model.supports_tools()) {
            (Some(clients), true) => clients.tool_runner(&principal),
            _ => None,
        };
        let mut request = ChatRequest {
            messages: prompt.messages,
            tools: if tools.is_some() {
                crate::tools::offered(&principal)
            } else {
                Vec::new()
            },
            max_tokens: self.inner.config.answer_tokens,
            temperature: self.inner.config.temperature,
        };
        let budget = Duration::from_millis(self.inner.config.generation_timeout_ms);
        let deadline = tokio::time::Instant::now() + budget;
        let mut answer = String::new();
        let mut round = 0;
        let outcome = loop {
            let mut calls = Vec::new();
            let outcome = tokio::time::timeout_at(
                deadline,
                self.generate(request.clone(), &events, &mut answer, &mut calls),
            )
            .await
            .unwrap_or_else(|_| {
                Err(Generation::Failed(LlmError::Interrupted {
                    provider: model.provider().to_owned(),
                    reason: format!("no complete answer within {} ms", budget.as_millis()),
                }))
            });
            let Some(runner) = &tools else { break outcome };
            let asked_for_tools = matches!(&outcome, Ok(c) if c.finish == FinishReason::ToolCalls);
            if !asked_for_tools || calls.is_empty() || round >= MAX_TOOL_ROUNDS {
                break outcome;
            }
            round += 1;
            // The assistant's request for tools and each result are messages of the
            // conversation, saved as they happen and shown to the client.
            let Ok(completion) = outcome else {
                break outcome;
            };
            let mut asking = NewMessage::new(
                new_id(),
                "assistant",
                std::mem::take(&mut answer),
                status::COMPLETE,
            );
            asking.tool_calls =
                serde_json::to_string(&calls.iter().map(StoredToolCall::from).collect::<Vec<_>>())
                    .unwrap_or_else(|_| "[]".into());
            asking.provider = Some(completion.provider.clone());
            asking.model = Some(completion.model.clone());
            asking.prompt_tokens = i32::try_from(completion.usage.prompt_tokens).ok();
            asking.completion_tokens = i32::try_from(completion.usage.completion_tokens).ok();
            let mut assistant = ChatMessage::assistant(asking.content.clone());
            assistant.tool_calls = calls.clone();
            self.save(&conversation.id, asking).await;
            request.messages.push(assistant);
            for call in &calls {
                let result = runner.run(call).await;
                let mut record =
                    NewMessage::new(new_id(), "tool", result.clone(), status::COMPLETE);
                record.tool_call_id = Some(call.id.clone());
                record.tool_calls = serde_json::to_string(&[StoredToolCall::from(call)])
                    .unwrap_or_else(|_| "[]".into());
                if let Some(saved) = self.save(&conversation.id, record).await
                    && events.send(TurnEvent::Tool(Arc::new(saved))).await.is_err()
                {
                    break;
                }
                request
                    .messages
                    .push(ChatMessage::tool_result(call.id.clone(), result));
            }
            if events.is_closed() {
                break Err(Generation::ClientGone);
            }
        };

        let numbers = cited(&answer, citations.len());
        for citation in &mut citations {
            citation.cited = numbers.contains(&citation.number);
        }
        let mut record = NewMessage::new(new_id(), "assistant", answer, status::COMPLETE);
        record.citations = serde_json::to_string(&citations).unwrap_or_else(|_| "[]".into());
        record.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        match outcome {
            Ok(completion) => {
                record.model = Some(completion.model);
                record.provider = Some(completion.provider);
                record.prompt_tokens = i32::try_from(completion.usage.prompt_tokens).ok();
                record.completion_tokens = i32::try_from(completion.usage.completion_tokens).ok();
                if completion.finish == FinishReason::Length {
                    record.error = Some("the answer reached its token limit".into());
                }
                if completion.finish == FinishReason::ToolCalls {
                    record.error = Some(format!(
                        "the model still asked for tools after {MAX_TOOL_ROUNDS} rounds"
                    ));
                }
            }
            Err(Generation::ClientGone) => {
                record.status = status::INCOMPLETE;
                record.error = Some("the client disconnected before the answer finished".into());
                record.provider = Some(model.provider().to_owned());
                record.model = Some(model.model().to_owned());
            }
            Err(Generation::Failed(error)) => {
                let partial = !record.content.is_empty();
                record.status = if partial {
                    status::INCOMPLETE
                } else {
                    status::FAILED
                };
                record.error = Some(error.to_string());
                record.provider = Some(error.provider().to_owned());
                let saved = self.save(&conversation.id, record).await;
                if saved.is_some() {
                    let _ = events
                        .send(TurnEvent::Failed(Arc::new(ChatError::Llm(error))))
                        .await;
                }
                return;
            }
        }
        if let Some(saved) = self.save(&conversation.id, record).await {
            let _ = events.send(TurnEvent::Finished(Arc::new(saved))).await;
        }
    }

    async fn save(&self, conversation_id: &str, record: NewMessage) -> Option<message::Model> {
        match self
            .inner
            .store
            .append_message(conversation_id, record, Utc::now())
            .await
        {
            Ok(saved) => Some(saved),
            Err(error) => {
                tracing::error!(%error, conversation = conversation_id, "could not save the assistant's message");
                None
            }
        }
    }

    async fn finish_failed(
        &self,
        conversation_id: &str,
        error: ChatError,
        events: &mpsc::Sender<TurnEvent>,
        started: Instant,
    ) {
        let mut record = NewMessage::new(new_id(), "assistant", String::new(), status::FAILED);
        record.error = Some(error.to_string());
        record.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        self.save(conversation_id, record).await;
        let _ = events.send(TurnEvent::Failed(Arc::new(error))).await;
    }

    /// Streams the model's answer into `answer`, forwarding deltas; stops as soon as the
    /// client is gone.
    async fn generate(
        &self,
        request: ChatRequest,
        events: &mpsc::Sender<TurnEvent>,
        answer: &mut String,
        calls: &mut Vec<looma_llm::ToolCall>,
    ) -> Result<looma_llm::Completion, Generation> {
        let started = Instant::now();
        let mut first_token = true;
        let mut stream = tokio::select! {
            opened = self.inner.model.stream(request) => opened.map_err(|error| {
                llm_failed(&error, started);
                Generation::Failed(error)
            })?,
            _ = events.closed() => return Err(Generation::ClientGone),
        };
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = events.closed() => return Err(Generation::ClientGone),
            };
            match next {
                Some(Ok(StreamEvent::Delta(text))) => {
                    if first_token {
                        first_token = false;
                        metrics::histogram!(
                            "looma_llm_time_to_first_token_seconds",
                            "component" => crate::COMPONENT,
                            "provider" => self.inner.model.provider().to_owned()
                        )
                        .record(started.elapsed().as_secs_f64());
                    }
                    answer.push_str(&text);
                    if events.send(TurnEvent::Delta(text)).await.is_err() {
                        return Err(Generation::ClientGone);
                    }
                }
                Some(Ok(StreamEvent::ToolCall(call))) => calls.push(call),
                Some(Ok(StreamEvent::Done(completion))) => {
                    llm_answered(&completion, started);
                    return Ok(completion);
                }
                Some(Err(error)) => {
                    llm_failed(&error, started);
                    return Err(Generation::Failed(error));
                }
                None => {
                    return Err(Generation::Failed(LlmError::Interrupted {
                        provider: self.inner.model.provider().to_owned(),
                        reason: "the stream ended without a final event".into(),
                    }));
                }
            }
        }
    }

    /// The knowledge chunks for `question`, best first, numbered from 1. Search being down
    /// or empty leaves the answer without sources rather than failing it.
    async fn retrieve(&self, question: &str) -> Vec<(Source, StoredCitation)> {
        let top_k = self.inner.config.retrieval_top_k;
        let Some(clients) = &self.inner.clients else {
            return Vec::new();
        };
        if top_k == 0 {
            return Vec::new();
        }
        let hits = match clients.knowledge_search(question, top_k).await {
            Ok(hits) => hits,
            Err(error) => {
                tracing::warn!(%error, "knowledge retrieval failed; answering without sources");
                return Vec::new();
            }
        };
        let ids: Vec<String> = hits.iter().map(|hit| hit.id.clone()).collect();
        let chunks = match self.inner.store.chunks(&ids).await {
            Ok(chunks) => chunks,
            Err(error) => {
                tracing::warn!(%error, "knowledge chunks unreadable; answering without sources");
                return Vec::new();
            }
        };
        let document_ids: Vec<String> = chunks.iter().map(|c| c.document_id.clone()).collect();
        let documents = self
            .inner
            .store
            .documents(&document_ids)
            .await
            .unwrap_or_default();
        let mut sources = Vec::new();
        for hit in hits {
            let Some(chunk) = chunks.iter().find(|c| c.id == hit.id) else {
                continue; // deleted since it was indexed
            };
            let Some(document) = documents.iter().find(|d| d.id == chunk.document_id) else {
                continue;
            };
            let number = sources.len() + 1;
            sources.push((
                Source {
                    number,
                    title: document.title.clone(),
                    heading: chunk.heading.clone(),
                    text: chunk.content.clone(),
                },
                StoredCitation {
                    number,
                    document_id: document.id.clone(),
                    chunk_id: chunk.id.clone(),
                    title: document.title.clone(),
                    heading: chunk.heading.clone(),
                    snippet: snippet(&chunk.content),
                    score: hit.score,
                    cited: false,
                },
            ));
        }
        sources
    }

    /// The tenant's system prompt from identity's versioned config (`chat.system_prompt`),
    /// else the configured default.
    async fn system_prompt(&self) -> String {
        if let Some(clients) = &self.inner.clients
            && let Some(prompt) = clients.system_prompt().await
        {
            return prompt;
        }
        self.inner.config.system_prompt.clone()
    }

    // ---- knowledge ------------------------------------------------------------------------

    /// Stores a knowledge document: detects the format, extracts its text, chunks it, embeds
    /// the chunks (when the model is installed) and queues them for search.
    pub async fn upload_document(
        &self,
        principal: &Principal,
        filename: &str,
        title: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<document::Model, ChatError> {
        let config = &self.inner.config;
        if bytes.len() as u64 > config.max_document_bytes {
            return Err(ChatError::invalid(
                "file",
                format!(
                    "the file has {} bytes; the limit is {}",
                    bytes.len(),
                    config.max_document_bytes
                ),
            ));
        }
        let filename = clean_filename(filename);
        let format = detect_format(&bytes, &filename).map_err(|error| match error {
            FormatError::Empty => ChatError::invalid("file", "the file is empty"),
            FormatError::Unsupported(_) => ChatError::UnsupportedDocument(error.to_string()),
        })?;
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(existing) = self.inner.store.document_by_hash(&sha256).await? {
            return Err(ChatError::invalid(
                "file",
                format!(
                    "the same file is already in the knowledge base as `{}`",
                    existing.id
                ),
            ));
        }
        let size = bytes.len() as i64;
        let limits = ExtractLimits::new(config.max_document_bytes.saturating_mul(10), true);
        let extraction = tokio::task::spawn_blocking(move || -> Result<String, String> {
            match format {
                // Markdown and plain text keep their headings for chunking.
                DocumentFormat::Markdown | DocumentFormat::Txt => {
                    extract_text(&bytes, DocumentFormat::Txt, limits)
                        .map(|e| e.text)
                        .map_err(|e| e.to_string())
                }
                _ => extract_text(&bytes, format, limits)
                    .map(|e| e.text)
                    .map_err(|e| e.to_string()),
            }
        });
        let text = match tokio::time::timeout(
            Duration::from_millis(config.extract_timeout_ms),
            extraction,
        )
        .await
        {
            Err(_) => {
                return Err(ChatError::UnsupportedDocument(format!(
                    "text extraction took longer than {} ms",
                    config.extract_timeout_ms
                )));
            }
            Ok(Err(join)) => return Err(ChatError::Internal(join.to_string())),
            Ok(Ok(Err(reason))) => return Err(ChatError::UnsupportedDocument(reason)),
            Ok(Ok(Ok(text))) => text,
        };
        let chunks = chunk(
            &text,
            ChunkOptions {
                size: config.chunk_chars,
                overlap: config.chunk_overlap,
            },
        );
        if chunks.is_empty() {
            return Err(ChatError::UnsupportedDocument(
                "the document has no text".into(),
            ));
        }
        if chunks.len() > config.max_document_chunks {
            return Err(ChatError::invalid(
                "file",
                format!(
                    "the document makes {} chunks; the limit is {}",
                    chunks.len(),
                    config.max_document_chunks
                ),
            ));
        }
        let title = match title.map(str::trim).filter(|t| !t.is_empty()) {
            Some(title) => check_title(title)?,
            None => default_title(&filename, &text, &chunks),
        };
        let embedded = self.embed_chunks(&chunks).await?;
        let model_id = self.inner.embedder.model_id();
        let new_chunks: Vec<NewChunk> = chunks
            .iter()
            .zip(embedded)
            .map(|(c, vector)| NewChunk {
                heading: c.heading.clone(),
                content: c.text.clone(),
                embedding_model: vector.as_ref().map(|_| model_id.clone()),
                embedding: vector.map(|v| looma_embed::vector_to_bytes(&v)),
            })
            .collect();
        let now = Utc::now();
        let model = document::Model {
            id: new_id(),
            title,
            filename,
            format: format.as_str().to_owned(),
            size_bytes: size,
            sha256,
            language: language_of(&text).to_owned(),
            chunk_count: i32::try_from(new_chunks.len()).unwrap_or(i32::MAX),
            created_by: principal.subject.clone(),
            created_at: now,
            deleted_at: None,
        };
        let stored = self
            .inner
            .store
            .insert_document(model, new_chunks, now)
            .await?;
        if let Some(outbox) = &self.inner.outbox {
            outbox.wake();
        }
        Ok(stored)
    }

    /// Passage vectors for the chunks; `None` each when the model is not installed (the
    /// chunks are then found by text only, and a reindex embeds them later).
    async fn embed_chunks(
        &self,
        chunks: &[crate::domain::chunking::Chunk],
    ) -> Result<Vec<Option<Vec<f32>>>, ChatError> {
        if !self.inner.embedder.is_available() {
            return Ok(vec![None; chunks.len()]);
        }
        let mut vectors = Vec::with_capacity(chunks.len());
        for batch in chunks.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(passage_text).collect();
            let embedded = self.inner.embedder.embed(texts, TextKind::Passage).await?;
            vectors.extend(embedded.into_iter().map(Some));
        }
        Ok(vectors)
    }

    pub async fn delete_document(&self, id: &str) -> Result<(), ChatError> {
        if !self.inner.store.delete_document(id, Utc::now()).await? {
            return Err(ChatError::not_found("knowledge document", id));
        }
        if let Some(outbox) = &self.inner.outbox {
            outbox.wake();
        }
        Ok(())
    }
}

/// Rebuilds search's KNOWLEDGE collection from every live knowledge document's chunks:
/// `looma search reindex knowledge`. The chunks fill a staged version, committed once all are
/// sent (searches switch at once; a failure aborts it and leaves the live version as it was).
/// Chunks without a vector of the current model are embedded again first (when the model is
/// installed). Returns the chunks sent.
pub async fn reindex_knowledge(
    store: &ChatStore,
    embedder: &EmbeddingService,
    search: &looma_search_client::SearchClient,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, ChatError> {
    // Begun before the tables are read: whatever changes after reaches both versions.
    let reindex = search.begin_reindex(Collection::Knowledge).await?;
    let sent = async {
        let ids = store.live_document_ids().await?;
        let total = ids.len() as u64;
        progress(0, total);
        let model_id = embedder.model_id();
        let mut sent = 0u64;
        for (done, id) in ids.iter().enumerate() {
            let Some(document) = store.document(id).await? else {
                continue;
            };
            let mut chunks = store.chunks_of(id).await?;
            if embedder.is_available() {
                for chunk in chunks.iter_mut() {
                    if chunk.embedding.is_some()
                        && chunk.embedding_model.as_deref() == Some(&model_id)
                    {
                        continue;
                    }
                    let text = passage_text(&crate::domain::chunking::Chunk {
                        heading: chunk.heading.clone(),
                        text: chunk.content.clone(),
                    });
                    let vector = embedder.embed_one(&text, TextKind::Passage).await?;
                    let bytes = looma_embed::vector_to_bytes(&vector);
                    store
                        .set_chunk_embedding(&chunk.id, bytes.clone(), &model_id)
                        .await?;
                    chunk.embedding = Some(bytes);
                    chunk.embedding_model = Some(model_id.clone());
                }
            }
            let documents: Vec<SearchDocument> = chunks
                .iter()
                .map(|c| search_document(&document, c, &model_id))
                .collect();
            if !documents.is_empty() {
                search.index_into(&reindex, &documents).await?;
            }
            sent += documents.len() as u64;
            progress(done as u64 + 1, total);
        }
        Ok::<u64, ChatError>(sent)
    }
    .await;
    match sent {
        Ok(sent) => {
            search.commit_reindex(&reindex).await?;
            Ok(sent)
        }
        Err(error) => {
            if let Err(abort) = search.abort_reindex(&reindex).await {
                tracing::warn!(%abort, "the failed reindex was not aborted; search drops it at its next reindex or start");
            }
            Err(error)
        }
    }
}

/// Why a generation ended without its final event.
enum Generation {
    ClientGone,
    Failed(LlmError),
}

fn to_chat_message(message: &message::Model) -> Option<ChatMessage> {
    let role = match message.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        _ => return None,
    };
    let tool_calls: Vec<StoredToolCall> = if role == Role::Assistant {
        serde_json::from_str(&message.tool_calls).unwrap_or_default()
    } else {
        Vec::new()
    };
    if message.content.is_empty() && tool_calls.is_empty() {
        return None;
    }
    let mut chat = ChatMessage::new(role, message.content.clone());
    chat.tool_call_id = message.tool_call_id.clone();
    chat.tool_calls = tool_calls
        .into_iter()
        .map(|call| looma_llm::ToolCall {
            id: call.id,
            name: call.name,
            arguments: call.arguments,
        })
        .collect();
    Some(chat)
}

/// What a chunk is embedded and indexed as: its heading, then its text.
pub fn passage_text(chunk: &crate::domain::chunking::Chunk) -> String {
    match &chunk.heading {
        Some(heading) => format!("{heading}\n{}", chunk.text),
        None => chunk.text.clone(),
    }
}

/// A chunk as search's KNOWLEDGE collection holds it.
pub fn search_document(
    document: &document::Model,
    chunk: &store::chunk::Model,
    current_model: &str,
) -> SearchDocument {
    let mut title = document.title.clone();
    if let Some(heading) = &chunk.heading {
        title.push_str(" — ");
        title.push_str(heading);
    }
    let mut search = SearchDocument::new(
        chunk.id.clone(),
        Collection::Knowledge,
        title,
        chunk.content.clone(),
    );
    search.metadata = serde_json::json!({
        "documentId": document.id,
        "position": chunk.position,
        "heading": chunk.heading,
    });
    if chunk.embedding_model.as_deref() == Some(current_model)
        && let Some(bytes) = &chunk.embedding
    {
        search.vector = Some(looma_embed::vector_from_bytes(bytes));
        search.vector_model = Some(current_model.to_owned());
    }
    search
}

fn check_title(title: &str) -> Result<String, ChatError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(ChatError::invalid("title", "the title is empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ChatError::invalid(
            "title",
            format!("at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(ChatError::invalid(
            "title",
            "control characters are not allowed",
        ));
    }
    Ok(title.to_owned())
}

fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "document".into()
    } else {
        cleaned.trim().to_owned()
    }
}

/// The document's first top-level Markdown heading, else its first section's heading, else
/// the file name without its extension.
fn default_title(filename: &str, text: &str, chunks: &[crate::domain::chunking::Chunk]) -> String {
    let top = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("# "))
        .map(str::trim)
        .filter(|title| !title.is_empty());
    if let Some(heading) = top.or_else(|| chunks.first().and_then(|c| c.heading.as_deref())) {
        return heading.chars().take(MAX_TITLE_CHARS).collect();
    }
    let stem = filename.rsplit_once('.').map_or(filename, |(stem, _)| stem);
    stem.chars().take(MAX_TITLE_CHARS).collect()
}

fn snippet(text: &str) -> String {
    let mut snippet: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        snippet.push('…');
    }
    snippet
}

/// `zh` when most letters are CJK, `en` when almost none are, else `mixed`.
fn language_of(text: &str) -> &'static str {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF) {
            cjk += 1;
        }
    }
    match (cjk, letters) {
        (_, 0) => "en",
        (cjk, letters) if cjk * 2 > letters => "zh",
        (cjk, letters) if cjk * 20 < letters => "en",
        _ => "mixed",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Delivers knowledge documents to search: upsert sends every chunk, delete removes them by
/// id and then purges the deleted document's row.
struct KnowledgeDelivery {
    store: ChatStore,
    clients: Clients,
    embedder: EmbeddingService,
}

#[async_trait::async_trait]
impl Deliver for KnowledgeDelivery {
    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        let failed = |error: SearchClientError| {
            if error.is_unavailable() {
                DeliveryError::Unavailable(error.to_string())
            } else {
                DeliveryError::Rejected(error.to_string())
            }
        };
        let stored = |error: ChatError| DeliveryError::Rejected(error.to_string());
        let Some(document) = self
            .store
            .document_row(&row.subject_id)
            .await
            .map_err(stored)?
        else {
            return Ok(());
        };
        match row.action {
            Action::Delete => {
                let ids: Vec<String> = (0..usize::try_from(document.chunk_count).unwrap_or(0))
                    .map(|position| chunk_id(&document.id, position))
                    .collect();
                self.clients
                    .search_index()
                    .remove(Collection::Knowledge, &ids)
                    .await
                    .map(drop)
                    .map_err(failed)
            }
            Action::Upsert => {
                if document.deleted_at.is_some() {
                    return Ok(()); // its delete row follows
                }
                let chunks = self.store.chunks_of(&document.id).await.map_err(stored)?;
                let model = self.embedder.model_id();
                let documents: Vec<SearchDocument> = chunks
                    .iter()
                    .map(|c| search_document(&document, c, &model))
                    .collect();
                self.clients
                    .search_index()
                    .index(&documents)
                    .await
                    .map(drop)
                    .map_err(failed)
            }
        }
    }

    async fn delivered(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        row: &OutboxRow,
        _now: chrono::DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        if row.action == Action::Delete {
            ChatStore::purge_document(tx, &row.subject_id).await?;
        }
        Ok(())
    }
}

/// `looma_llm_tokens_total{provider, kind}` and `looma_llm_request_duration_seconds` for an
/// answer the model finished.
fn llm_answered(completion: &looma_llm::Completion, started: Instant) {
    let provider = completion.provider.clone();
    for (kind, tokens) in [
        ("prompt", completion.usage.prompt_tokens),
        ("completion", completion.usage.completion_tokens),
    ] {
        metrics::counter!(
            "looma_llm_tokens_total",
            "component" => crate::COMPONENT,
            "provider" => provider.clone(),
            "kind" => kind
        )
        .increment(u64::from(tokens));
    }
    metrics::histogram!(
        "looma_llm_request_duration_seconds",
        "component" => crate::COMPONENT,
        "provider" => provider,
        "outcome" => "ok"
    )
    .record(started.elapsed().as_secs_f64());
}

fn llm_failed(error: &LlmError, started: Instant) {
    metrics::histogram!(
        "looma_llm_request_duration_seconds",
        "component" => crate::COMPONENT,
        "provider" => error.provider().to_owned(),
        "outcome" => "error"
    )
    .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_by_share_of_cjk() {
        assert_eq!(language_of("年假十五天"), "zh");
        assert_eq!(language_of("Annual leave is fifteen days"), "en");
        assert_eq!(language_of("Annual leave 年假 is 十五天"), "mixed");
    }

    #[test]
    fn filenames_lose_paths_and_controls() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\docs\\hand\u{0}book.md"), "handbook.md");
        assert_eq!(clean_filename(""), "document");
    }

    #[test]
    fn snippets_are_cut_on_characters() {
        let text = "字".repeat(300);
        let s = snippet(&text);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}

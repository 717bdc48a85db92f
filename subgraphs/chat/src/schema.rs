//! The chat subgraph's GraphQL surface: conversations and messages (owned by their user),
//! the assistant's turn as a mutation (`sendMessage`) or a stream (`messageStream`), and the
//! knowledge base the answers cite.

use crate::ChatError;
use crate::service::{ChatService, StoredCitation, TurnEvent};
use crate::store::{conversation, document, message};
use async_graphql::{
    ComplexObject, Context, Enum, ID, Object, Result, Schema, SimpleObject, Subscription, Upload,
};
use chrono::{DateTime, Utc};
use futures::Stream;
use looma_auth::{Principal, permission};
use looma_core::GraphqlResultExt;
use looma_core::page::{CursorKind, PageError, PageInfo, page_size};
use looma_extract::DocumentFormat;
use looma_server::require;
use std::io::Read;
use std::sync::Arc;

pub type ChatSchema = Schema<Query, Mutation, SubscriptionRoot>;

pub fn build_schema(service: ChatService) -> ChatSchema {
    looma_server::subgraph_schema(Query, Mutation, SubscriptionRoot)
        .enable_subscription_in_federation()
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a ChatService {
    ctx.data_unchecked::<ChatService>()
}

const CONVERSATION_CURSOR: CursorKind = CursorKind::new("conversation");
const MESSAGE_CURSOR: CursorKind = CursorKind::new("message");
const DOCUMENT_CURSOR: CursorKind = CursorKind::new("knowledge_document");

fn paging(error: PageError) -> ChatError {
    ChatError::invalid(error.argument(), error.problem())
}

fn require_chat<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    require(ctx, permission::CHAT_USE)
}

/// An answer's language model tokens (prompt and completion), as the asker's usage.
fn answer_tokens(answer: &crate::store::message::Model) -> f64 {
    let tokens = answer
        .prompt_tokens
        .unwrap_or(0)
        .saturating_add(answer.completion_tokens.unwrap_or(0));
    f64::from(tokens.max(0))
}

// ---- types ---------------------------------------------------------------------------

/// A conversation between one user and the assistant.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Conversation {
    pub id: ID,
    pub title: String,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    /// When the last message was added (or the conversation changed).
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub owner: String,
}

impl From<conversation::Model> for Conversation {
    fn from(model: conversation::Model) -> Self {
        Conversation {
            id: ID(model.id),
            title: model.title,
            archived: model.archived,
            created_at: model.created_at,
            updated_at: model.updated_at,
            owner: model.owner,
        }
    }
}

#[ComplexObject]
impl Conversation {
    /// The messages, oldest first.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<MessageConnection> {
        let size = page_size(first).map_err(paging).gql()?;
        let from = match after {
            Some(cursor) => {
                let key = MESSAGE_CURSOR.decode(&cursor).map_err(paging).gql()?;
                key.parse::<i32>()
                    .map_err(|_| paging(PageError::Cursor))
                    .gql()?
                    + 1
            }
            None => 0,
        };
        let rows = service(ctx)
            .store()
            .messages(self.id.as_str(), from, size + 1)
            .await
            .gql()?;
        let keyed: Vec<(String, message::Model)> = rows
            .into_iter()
            .map(|m| (m.position.to_string(), m))
            .collect();
        let (rows, page_info) = MESSAGE_CURSOR.page(keyed, size, |(key, _)| key);
        Ok(MessageConnection {
            nodes: rows
                .into_iter()
                .map(|(_, m)| Message::new(Arc::new(m)))
                .collect(),
            page_info,
        })
    }

    async fn message_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let count = service(ctx)
            .store()
            .message_count(self.id.as_str())
            .await
            .gql()?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

#[derive(SimpleObject)]
pub struct ConversationConnection {
    pub nodes: Vec<Conversation>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct MessageConnection {
    pub nodes: Vec<Message>,
    pub page_info: PageInfo,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MessageRole {
    User,
    Assistant,
    System,
    Tool,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MessageStatus {
    /// The message is whole.
    Complete,
    /// The answer was cut (the client disconnected, or the provider's stream broke); what
    /// was generated is kept.
    Incomplete,
    /// No answer: `error` says why.
    Failed,
}

/// Tokens a reply cost, as the provider counted them.
#[derive(SimpleObject)]
pub struct TokenUsage {
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub total_tokens: i32,
}

/// One message of a conversation.
pub struct Message(Arc<message::Model>);

impl Message {
    pub fn new(model: Arc<message::Model>) -> Self {
        Message(model)
    }

    fn stored_citations(&self) -> Vec<StoredCitation> {
        serde_json::from_str(&self.0.citations).unwrap_or_default()
    }
}

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.clone())
    }
    /// 0, 1, 2, … within the conversation.
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn role(&self) -> MessageRole {
        match self.0.role.as_str() {
            "user" => MessageRole::User,
            "system" => MessageRole::System,
            "tool" => MessageRole::Tool,
            _ => MessageRole::Assistant,
        }
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn status(&self) -> MessageStatus {
        match self.0.status.as_str() {
            crate::store::status::INCOMPLETE => MessageStatus::Incomplete,
            crate::store::status::FAILED => MessageStatus::Failed,
            _ => MessageStatus::Complete,
        }
    }
    /// Why the message is `FAILED` or `INCOMPLETE` (or that it reached its token limit).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The model that wrote an assistant message.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// The provider that answered (after any fallback).
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }
    async fn usage(&self) -> Option<TokenUsage> {
        let prompt = self.0.prompt_tokens?;
        let completion = self.0.completion_tokens?;
        Some(TokenUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
        })
    }
    /// From the question to the last token, in milliseconds.
    async fn latency_ms(&self) -> Option<f64> {
        self.0.latency_ms
    }
    /// The tools an assistant message called (its `TOOL` results follow it), or, on a `TOOL`
    /// message, the call it answers.
    async fn tool_calls(&self) -> Vec<ToolCallRecord> {
        serde_json::from_str::<Vec<crate::service::StoredToolCall>>(&self.0.tool_calls)
            .unwrap_or_default()
            .into_iter()
            .map(|call| ToolCallRecord {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
            .collect()
    }
    /// On a `TOOL` message: the id of the call it answers.
    async fn tool_call_id(&self) -> Option<&str> {
        self.0.tool_call_id.as_deref()
    }
    /// The sources the answer cites as `[n]`, by number.
    async fn citations(&self) -> Vec<Citation> {
        self.stored_citations()
            .into_iter()
            .filter(|c| c.cited)
            .map(Citation)
            .collect()
    }
    /// Every knowledge chunk the prompt held, numbered as the answer may cite them.
    async fn sources(&self) -> Vec<Citation> {
        self.stored_citations().into_iter().map(Citation).collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A tool call the assistant made.
#[derive(SimpleObject)]
pub struct ToolCallRecord {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (a JSON object text).
    pub arguments: String,
}

/// A knowledge chunk an answer drew on.
pub struct Citation(StoredCitation);

#[Object]
impl Citation {
    /// The `[n]` the answer uses.
    async fn number(&self) -> i32 {
        i32::try_from(self.0.number).unwrap_or(i32::MAX)
    }
    /// The document (null once it was deleted).
    async fn document(&self, ctx: &Context<'_>) -> Result<Option<KnowledgeDocument>> {
        let found = service(ctx)
            .store()
            .document(&self.0.document_id)
            .await
            .gql()?;
        Ok(found.map(KnowledgeDocument::from))
    }
    async fn document_id(&self) -> ID {
        ID(self.0.document_id.clone())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The chunk, as stored when the answer was written.
    async fn chunk(&self, ctx: &Context<'_>) -> Result<Option<KnowledgeChunk>> {
        let found = service(ctx)
            .store()
            .chunks(std::slice::from_ref(&self.0.chunk_id))
            .await
            .gql()?;
        Ok(found.into_iter().next().map(KnowledgeChunk::from))
    }
    async fn chunk_id(&self) -> ID {
        ID(self.0.chunk_id.clone())
    }
    async fn heading(&self) -> Option<&str> {
        self.0.heading.as_deref()
    }
    async fn snippet(&self) -> &str {
        &self.0.snippet
    }
    /// The retrieval score (fused rank score of hybrid search).
    async fn score(&self) -> f64 {
        self.0.score
    }
}

/// A document of the assistant's knowledge base.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct KnowledgeDocument {
    pub id: ID,
    pub title: String,
    pub filename: String,
    pub format: DocumentFormat,
    pub size_bytes: i64,
    /// `zh`, `en` or `mixed`.
    pub language: String,
    pub chunk_count: i32,
    pub created_at: DateTime<Utc>,
}

impl From<document::Model> for KnowledgeDocument {
    fn from(model: document::Model) -> Self {
        KnowledgeDocument {
            id: ID(model.id),
            title: model.title,
            filename: model.filename,
            format: DocumentFormat::parse(&model.format).unwrap_or(DocumentFormat::Txt),
            size_bytes: model.size_bytes,
            language: model.language,
            chunk_count: model.chunk_count,
            created_at: model.created_at,
        }
    }
}

#[ComplexObject]
impl KnowledgeDocument {
    /// The chunks retrieval works on, in document order.
    async fn chunks(&self, ctx: &Context<'_>) -> Result<Vec<KnowledgeChunk>> {
        let chunks = service(ctx)
            .store()
            .chunks_of(self.id.as_str())
            .await
            .gql()?;
        Ok(chunks.into_iter().map(KnowledgeChunk::from).collect())
    }
}

#[derive(SimpleObject)]
pub struct KnowledgeChunk {
    pub id: ID,
    pub position: i32,
    pub heading: Option<String>,
    pub content: String,
}

impl From<crate::store::chunk::Model> for KnowledgeChunk {
    fn from(model: crate::store::chunk::Model) -> Self {
        KnowledgeChunk {
            id: ID(model.id),
            position: model.position,
            heading: model.heading,
            content: model.content,
        }
    }
}

#[derive(SimpleObject)]
pub struct KnowledgeDocumentConnection {
    pub nodes: Vec<KnowledgeDocument>,
    pub page_info: PageInfo,
}

/// The language model answering (the first of the fallback chain).
#[derive(SimpleObject)]
pub struct ChatModelInfo {
    pub provider: String,
    pub model: String,
    /// Tokens of prompt and answer this deployment uses (at most the model's window).
    pub context_tokens: i32,
    pub supports_tools: bool,
}

/// A finished turn: the question as saved and the assistant's answer.
#[derive(SimpleObject)]
pub struct SendMessageResult {
    pub user_message: Message,
    pub assistant_message: Message,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MessageStreamEventType {
    /// First event: the saved question and the sources the prompt holds.
    Started,
    /// The next piece of the answer in `delta`.
    Delta,
    /// The assistant called a tool: `message` is the saved `TOOL` message with its result.
    Tool,
    /// Last event: the saved answer in `message`, with its citations and usage.
    Completed,
}

/// One event of an answer as it is written.
#[derive(SimpleObject)]
pub struct MessageStreamEvent {
    #[graphql(name = "type")]
    pub kind: MessageStreamEventType,
    pub delta: Option<String>,
    /// `STARTED`: the sources, numbered as the answer cites them.
    pub sources: Option<Vec<Citation>>,
    /// `STARTED`: the user's message; `COMPLETED`: the assistant's.
    pub message: Option<Message>,
}

// ---- operations ----------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    /// A conversation of the caller (any user's with `chat:admin`).
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Conversation>> {
        let principal = require_chat(ctx)?;
        match service(ctx)
            .readable_conversation(principal, id.as_str())
            .await
        {
            Ok(found) => Ok(Some(found.into())),
            Err(ChatError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error).gql(),
        }
    }

    /// The caller's conversations, newest first. `allUsers` (with `chat:admin`) lists
    /// everyone's.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        archived: Option<bool>,
        #[graphql(default = false)] all_users: bool,
    ) -> Result<ConversationConnection> {
        let principal = require_chat(ctx)?;
        if all_users {
            require(ctx, permission::CHAT_ADMIN)?;
        }
        let size = page_size(first).map_err(paging).gql()?;
        let after = after
            .as_deref()
            .map(|cursor| CONVERSATION_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let owner = (!all_users).then_some(principal.subject.as_str());
        let rows = service(ctx)
            .store()
            .conversations(owner, archived, after.as_deref(), size + 1)
            .await
            .gql()?;
        let (rows, page_info) = CONVERSATION_CURSOR.page(rows, size, |c| &c.id);
        Ok(ConversationConnection {
            nodes: rows.into_iter().map(Conversation::from).collect(),
            page_info,
        })
    }

    async fn knowledge_document(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<KnowledgeDocument>> {
        require_chat(ctx)?;
        let found = service(ctx).store().document(id.as_str()).await.gql()?;
        Ok(found.map(KnowledgeDocument::from))
    }

    /// The knowledge base, newest first.
    async fn knowledge_documents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<KnowledgeDocumentConnection> {
        require_chat(ctx)?;
        let size = page_size(first).map_err(paging).gql()?;
        let after = after
            .as_deref()
            .map(|cursor| DOCUMENT_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let rows = service(ctx)
            .store()
            .list_documents(after.as_deref(), size + 1)
            .await
            .gql()?;
        let (rows, page_info) = DOCUMENT_CURSOR.page(rows, size, |d| &d.id);
        Ok(KnowledgeDocumentConnection {
            nodes: rows.into_iter().map(KnowledgeDocument::from).collect(),
            page_info,
        })
    }

    /// Which model answers.
    async fn chat_model(&self, ctx: &Context<'_>) -> Result<ChatModelInfo> {
        require_chat(ctx)?;
        let service = service(ctx);
        let model = service.model();
        let context = model.context_window().min(service.config().context_tokens);
        Ok(ChatModelInfo {
            provider: model.provider().to_owned(),
            model: model.model().to_owned(),
            context_tokens: i32::try_from(context).unwrap_or(i32::MAX),
            supports_tools: model.supports_tools(),
        })
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn create_conversation(
        &self,
        ctx: &Context<'_>,
        title: Option<String>,
    ) -> Result<Conversation> {
        let principal = require_chat(ctx)?;
        let created = service(ctx)
            .create_conversation(principal, title.as_deref())
            .await
            .gql()?;
        Ok(created.into())
    }

    async fn rename_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
    ) -> Result<Conversation> {
        let principal = require_chat(ctx)?;
        let renamed = service(ctx)
            .rename_conversation(principal, id.as_str(), &title)
            .await
            .gql()?;
        Ok(renamed.into())
    }

    async fn archive_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] archived: bool,
    ) -> Result<Conversation> {
        let principal = require_chat(ctx)?;
        let changed = service(ctx)
            .archive_conversation(principal, id.as_str(), archived)
            .await
            .gql()?;
        Ok(changed.into())
    }

    /// Deletes the conversation and its messages.
    async fn delete_conversation(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = require_chat(ctx)?;
        service(ctx)
            .delete_conversation(principal, id.as_str())
            .await
            .gql()?;
        Ok(true)
    }

    /// Asks the assistant and waits for the whole answer (`messageStream` streams it).
    /// The question is saved even when the answer fails (`LLM_UNAVAILABLE`,
    /// `QUOTA_EXCEEDED`); the failed answer is saved `FAILED` with its reason.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        content: String,
    ) -> Result<SendMessageResult> {
        let principal = require_chat(ctx)?;
        let mut events = service(ctx)
            .start_turn(principal, conversation_id.as_str(), &content)
            .await
            .gql()?;
        looma_server::usage::record(ctx, "chat.messages", 1.0);
        let mut user_message = None;
        while let Some(event) = events.recv().await {
            match event {
                TurnEvent::Started {
                    user_message: saved,
                    ..
                } => user_message = Some(saved),
                TurnEvent::Delta(_) | TurnEvent::Tool(_) => {}
                TurnEvent::Finished(answer) => {
                    looma_server::usage::record(ctx, "chat.tokens", answer_tokens(&answer));
                    let user_message = user_message.ok_or_else(|| {
                        async_graphql::Error::new("internal error: the question was not saved")
                    })?;
                    return Ok(SendMessageResult {
                        user_message: Message::new(user_message),
                        assistant_message: Message::new(answer),
                    });
                }
                TurnEvent::Failed(error) => {
                    return Err(looma_core::error::to_graphql_error(error.as_ref()));
                }
            }
        }
        Err(ChatError::Internal(
            "the answer ended without a result".into(),
        ))
        .gql()
    }

    /// Adds a document to the knowledge base (GraphQL multipart request): PDF, DOCX, TXT,
    /// HTML or Markdown. It is chunked and embedded now and searchable within seconds.
    async fn upload_knowledge_document(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        title: Option<String>,
    ) -> Result<KnowledgeDocument> {
        let principal = require(ctx, permission::CHAT_ADMIN)?;
        let value = file
            .value(ctx)
            .map_err(|_| ChatError::invalid("file", "no file was attached under this variable"))
            .gql()?;
        let filename = value.filename.clone();
        let mut bytes = Vec::new();
        value
            .into_read()
            .read_to_end(&mut bytes)
            .map_err(|e| ChatError::invalid("file", format!("could not read the upload: {e}")))
            .gql()?;
        let stored = service(ctx)
            .upload_document(principal, &filename, title.as_deref(), bytes)
            .await
            .gql()?;
        Ok(stored.into())
    }

    /// Removes a document and its chunks from the knowledge base and from search.
    async fn delete_knowledge_document(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        require(ctx, permission::CHAT_ADMIN)?;
        service(ctx).delete_document(id.as_str()).await.gql()?;
        Ok(true)
    }
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Asks the assistant and streams the answer: `STARTED` (the saved question and the
    /// sources), `DELTA`s, then `COMPLETED` with the saved answer. Unsubscribing stops the
    /// model; the partial answer is saved `INCOMPLETE`.
    async fn message_stream(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        content: String,
    ) -> Result<impl Stream<Item = Result<MessageStreamEvent>>> {
        let principal = require_chat(ctx)?;
        let events = service(ctx)
            .start_turn(principal, conversation_id.as_str(), &content)
            .await
            .gql()?;
        looma_server::usage::record(ctx, "chat.messages", 1.0);
        // The answer finishes after this resolver returned: its tokens are counted with the
        // request's ledger when it does.
        let usage = looma_server::usage::ledger(ctx).map(|ledger| (ledger, principal.clone()));
        Ok(futures::stream::unfold(Some(events), move |state| {
            let usage = usage.clone();
            async move {
                let mut events = state?;
                let event = events.recv().await?;
                if let (TurnEvent::Finished(answer), Some((ledger, principal))) = (&event, &usage) {
                    ledger.record(principal, "chat.tokens", answer_tokens(answer), Utc::now());
                }
                let item = match event {
                    TurnEvent::Started {
                        user_message,
                        sources,
                    } => Ok(MessageStreamEvent {
                        kind: MessageStreamEventType::Started,
                        delta: None,
                        sources: Some(sources.into_iter().map(Citation).collect()),
                        message: Some(Message::new(user_message)),
                    }),
                    TurnEvent::Delta(text) => Ok(MessageStreamEvent {
                        kind: MessageStreamEventType::Delta,
                        delta: Some(text),
                        sources: None,
                        message: None,
                    }),
                    TurnEvent::Tool(message) => Ok(MessageStreamEvent {
                        kind: MessageStreamEventType::Tool,
                        delta: None,
                        sources: None,
                        message: Some(Message::new(message)),
                    }),
                    TurnEvent::Finished(answer) => Ok(MessageStreamEvent {
                        kind: MessageStreamEventType::Completed,
                        delta: None,
                        sources: None,
                        message: Some(Message::new(answer)),
                    }),
                    TurnEvent::Failed(error) => {
                        Err(looma_core::error::to_graphql_error(error.as_ref()))
                    }
                };
                Some((item, Some(events)))
            }
        }))
    }
}

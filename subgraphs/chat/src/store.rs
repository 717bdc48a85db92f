//! Chat's tables (`chat_*`) and every query against them: conversations and messages,
//! knowledge documents with their chunks, and the outbox of knowledge index updates
//! (committed with the document write, so search never misses one).

use crate::ChatError;
use chrono::{DateTime, Utc};
use looma_outbox::{Action, OutboxTable};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

pub mod conversation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "chat_conversations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The subject of the principal who created it: the only one (with `chat:admin`)
        /// who may read it.
        pub owner: String,
        pub title: String,
        pub archived: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "chat_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub conversation_id: String,
        /// 0, 1, 2, … within the conversation.
        pub position: i32,
        /// `user`, `assistant`, `system` or `tool`.
        pub role: String,
        pub content: String,
        /// `COMPLETE`, `INCOMPLETE` (the stream was cut) or `FAILED`.
        pub status: String,
        /// Why a message `FAILED` (or was cut).
        pub error: Option<String>,
        pub model: Option<String>,
        pub provider: Option<String>,
        pub prompt_tokens: Option<i32>,
        pub completion_tokens: Option<i32>,
        pub latency_ms: Option<f64>,
        /// JSON array of citations (`crate::service::StoredCitation`).
        pub citations: String,
        /// JSON array of `{id, name, arguments}` the assistant asked for.
        pub tool_calls: String,
        pub tool_call_id: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "chat_documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub title: String,
        pub filename: String,
        /// `looma_extract::DocumentFormat` as stored (`PDF`, `MARKDOWN`, …).
        pub format: String,
        pub size_bytes: i64,
        pub sha256: String,
        /// `zh`, `en` or `mixed`, by the share of CJK characters.
        pub language: String,
        pub chunk_count: i32,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        /// Set when deleted; the row goes once search has dropped its chunks.
        pub deleted_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod chunk {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "chat_chunks")]
    pub struct Model {
        /// `<document id>:<position>`, also the chunk's id in search's KNOWLEDGE collection.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub document_id: String,
        pub position: i32,
        pub heading: Option<String>,
        pub content: String,
        /// Little-endian f32s.
        pub embedding: Option<Vec<u8>>,
        pub embedding_model: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod status {
    pub const COMPLETE: &str = "COMPLETE";
    pub const INCOMPLETE: &str = "INCOMPLETE";
    pub const FAILED: &str = "FAILED";
}

/// Chat's outbox: one row per knowledge document to index or drop.
pub const OUTBOX: OutboxTable = OutboxTable {
    table: "chat_outbox",
    subject_column: "document_id",
};

/// The id of chunk `position` of `document`.
pub fn chunk_id(document: &str, position: usize) -> String {
    format!("{document}:{position}")
}

/// A message to append (the store assigns its position).
#[derive(Clone)]
pub struct NewMessage {
    pub id: String,
    pub role: &'static str,
    pub content: String,
    pub status: &'static str,
    pub error: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub latency_ms: Option<f64>,
    pub citations: String,
    pub tool_calls: String,
    pub tool_call_id: Option<String>,
}

impl NewMessage {
    pub fn new(id: String, role: &'static str, content: String, status: &'static str) -> Self {
        NewMessage {
            id,
            role,
            content,
            status,
            error: None,
            model: None,
            provider: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            citations: "[]".into(),
            tool_calls: "[]".into(),
            tool_call_id: None,
        }
    }
}

/// A chunk to store with its document.
pub struct NewChunk {
    pub heading: Option<String>,
    pub content: String,
    pub embedding: Option<Vec<u8>>,
    pub embedding_model: Option<String>,
}

#[derive(Clone)]
pub struct ChatStore {
    db: DatabaseConnection,
}

impl ChatStore {
    pub fn new(db: DatabaseConnection) -> Self {
        ChatStore { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    // ---- conversations --------------------------------------------------------------------

    pub async fn insert_conversation(
        &self,
        id: &str,
        owner: &str,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<conversation::Model, ChatError> {
        let model = conversation::ActiveModel {
            id: Set(id.to_owned()),
            owner: Set(owner.to_owned()),
            title: Set(title.to_owned()),
            archived: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        };
        Ok(model.insert(&self.db).await?)
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<conversation::Model>, ChatError> {
        Ok(conversation::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Newest first (ids are time-ordered), keyset after `after`; `owner` `None` lists all.
    pub async fn conversations(
        &self,
        owner: Option<&str>,
        archived: Option<bool>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<conversation::Model>, ChatError> {
        let mut query = conversation::Entity::find().order_by_desc(conversation::Column::Id);
        if let Some(owner) = owner {
            query = query.filter(conversation::Column::Owner.eq(owner));
        }
        if let Some(archived) = archived {
            query = query.filter(conversation::Column::Archived.eq(archived));
        }
        if let Some(after) = after {
            query = query.filter(conversation::Column::Id.lt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    pub async fn update_conversation(
        &self,
        id: &str,
        title: Option<&str>,
        archived: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<(), ChatError> {
        let mut update = conversation::Entity::update_many()
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(id));
        if let Some(title) = title {
            update = update.col_expr(conversation::Column::Title, Expr::value(title));
        }
        if let Some(archived) = archived {
            update = update.col_expr(conversation::Column::Archived, Expr::value(archived));
        }
        update.exec(&self.db).await?;
        Ok(())
    }

    /// Deletes the conversation and its messages.
    pub async fn delete_conversation(&self, id: &str) -> Result<bool, ChatError> {
        let tx = self.db.begin().await?;
        message::Entity::delete_many()
            .filter(message::Column::ConversationId.eq(id))
            .exec(&tx)
            .await?;
        let deleted = conversation::Entity::delete_by_id(id.to_owned())
            .exec(&tx)
            .await?
            .rows_affected;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    // ---- messages -------------------------------------------------------------------------

    /// Appends `message` at the conversation's next position and touches the conversation.
    /// Two writers taking the same position (two tabs answering at once) collide on the
    /// unique (conversation, position) index; the loser takes the next one.
    pub async fn append_message(
        &self,
        conversation_id: &str,
        message: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<message::Model, ChatError> {
        let mut attempt = 0;
        loop {
            match self.try_append(conversation_id, &message, now).await {
                Err(ChatError::Storage(error))
                    if attempt < 5 && looma_db::is_unique_violation(&error) =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_append(
        &self,
        conversation_id: &str,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<message::Model, ChatError> {
        let message = message.clone();
        let tx = self.db.begin().await?;
        let last: Option<i32> = message::Entity::find()
            .select_only()
            .column_as(message::Column::Position.max(), "max")
            .filter(message::Column::ConversationId.eq(conversation_id))
            .into_tuple::<Option<i32>>()
            .one(&tx)
            .await?
            .flatten();
        let model = message::ActiveModel {
            id: Set(message.id),
            conversation_id: Set(conversation_id.to_owned()),
            position: Set(last.map_or(0, |p| p + 1)),
            role: Set(message.role.to_owned()),
            content: Set(message.content),
            status: Set(message.status.to_owned()),
            error: Set(message.error),
            model: Set(message.model),
            provider: Set(message.provider),
            prompt_tokens: Set(message.prompt_tokens),
            completion_tokens: Set(message.completion_tokens),
            latency_ms: Set(message.latency_ms),
            citations: Set(message.citations),
            tool_calls: Set(message.tool_calls),
            tool_call_id: Set(message.tool_call_id),
            created_at: Set(now),
        }
        .insert(&tx)
        .await?;
        conversation::Entity::update_many()
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(conversation_id))
            .exec(&tx)
            .await?;
        tx.commit().await?;
        Ok(model)
    }

    /// Messages in order, from position `from` on, at most `limit`.
    pub async fn messages(
        &self,
        conversation_id: &str,
        from: i32,
        limit: u64,
    ) -> Result<Vec<message::Model>, ChatError> {
        Ok(message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .filter(message::Column::Position.gte(from))
            .order_by_asc(message::Column::Position)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// The newest `limit` messages, oldest first (the history a prompt is built from).
    pub async fn recent_messages(
        &self,
        conversation_id: &str,
        limit: u64,
    ) -> Result<Vec<message::Model>, ChatError> {
        let mut rows = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .order_by_desc(message::Column::Position)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn message_count(&self, conversation_id: &str) -> Result<u64, ChatError> {
        Ok(message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation_id))
            .count(&self.db)
            .await?)
    }

    // ---- knowledge ------------------------------------------------------------------------

    /// Stores a document with its chunks and queues it for indexing, in one transaction.
    pub async fn insert_document(
        &self,
        document: document::Model,
        chunks: Vec<NewChunk>,
        now: DateTime<Utc>,
    ) -> Result<document::Model, ChatError> {
        let tx = self.db.begin().await?;
        let id = document.id.clone();
        let stored = document::ActiveModel::from(document).insert(&tx).await?;
        for (position, chunk) in chunks.into_iter().enumerate() {
            chunk::ActiveModel {
                id: Set(chunk_id(&id, position)),
                document_id: Set(id.clone()),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                heading: Set(chunk.heading),
                content: Set(chunk.content),
                embedding: Set(chunk.embedding),
                embedding_model: Set(chunk.embedding_model),
            }
            .insert(&tx)
            .await?;
        }
        OUTBOX.enqueue(&tx, &id, Action::Upsert, now).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// A document that is not deleted.
    pub async fn document(&self, id: &str) -> Result<Option<document::Model>, ChatError> {
        Ok(document::Entity::find_by_id(id.to_owned())
            .filter(document::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// Documents by id (deleted ones left out), for citations.
    pub async fn documents(&self, ids: &[String]) -> Result<Vec<document::Model>, ChatError> {
        Ok(document::Entity::find()
            .filter(document::Column::Id.is_in(ids.iter().cloned()))
            .filter(document::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?)
    }

    /// Newest first, keyset after `after`.
    pub async fn list_documents(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<document::Model>, ChatError> {
        let mut query = document::Entity::find()
            .filter(document::Column::DeletedAt.is_null())
            .order_by_desc(document::Column::Id);
        if let Some(after) = after {
            query = query.filter(document::Column::Id.lt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    /// A live document with the same content, if one was uploaded before.
    pub async fn document_by_hash(
        &self,
        sha256: &str,
    ) -> Result<Option<document::Model>, ChatError> {
        Ok(document::Entity::find()
            .filter(document::Column::Sha256.eq(sha256))
            .filter(document::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?)
    }

    pub async fn chunks_of(&self, document_id: &str) -> Result<Vec<chunk::Model>, ChatError> {
        Ok(chunk::Entity::find()
            .filter(chunk::Column::DocumentId.eq(document_id))
            .order_by_asc(chunk::Column::Position)
            .all(&self.db)
            .await?)
    }

    pub async fn chunks(&self, ids: &[String]) -> Result<Vec<chunk::Model>, ChatError> {
        Ok(chunk::Entity::find()
            .filter(chunk::Column::Id.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?)
    }

    /// Marks the document deleted, drops its chunks and queues the index removal.
    pub async fn delete_document(&self, id: &str, now: DateTime<Utc>) -> Result<bool, ChatError> {
        let tx = self.db.begin().await?;
        let marked = document::Entity::update_many()
            .col_expr(document::Column::DeletedAt, Expr::value(now))
            .filter(document::Column::Id.eq(id))
            .filter(document::Column::DeletedAt.is_null())
            .exec(&tx)
            .await?
            .rows_affected;
        if marked == 0 {
            return Ok(false);
        }
        chunk::Entity::delete_many()
            .filter(chunk::Column::DocumentId.eq(id))
            .exec(&tx)
            .await?;
        OUTBOX.enqueue(&tx, id, Action::Delete, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A document row whether or not it is deleted (the outbox needs the chunk count).
    pub async fn document_row(&self, id: &str) -> Result<Option<document::Model>, ChatError> {
        Ok(document::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Removes a deleted document's row once search dropped its chunks.
    pub async fn purge_document<C: ConnectionTrait>(
        db: &C,
        id: &str,
    ) -> Result<(), sea_orm::DbErr> {
        document::Entity::delete_many()
            .filter(document::Column::Id.eq(id))
            .filter(document::Column::DeletedAt.is_not_null())
            .exec(db)
            .await?;
        Ok(())
    }

    /// Live documents' ids, for `looma search reindex knowledge`.
    pub async fn live_document_ids(&self) -> Result<Vec<String>, ChatError> {
        Ok(document::Entity::find()
            .select_only()
            .column(document::Column::Id)
            .filter(document::Column::DeletedAt.is_null())
            .order_by_asc(document::Column::Id)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    pub async fn set_chunk_embedding(
        &self,
        id: &str,
        embedding: Vec<u8>,
        model: &str,
    ) -> Result<(), ChatError> {
        chunk::Entity::update_many()
            .col_expr(chunk::Column::Embedding, Expr::value(embedding))
            .col_expr(chunk::Column::EmbeddingModel, Expr::value(model))
            .filter(chunk::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

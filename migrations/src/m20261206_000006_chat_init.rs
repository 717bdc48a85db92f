//! Chat: conversations and their messages, knowledge documents and their chunks (with
//! embeddings), and the outbox of knowledge index updates for the search subgraph.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChatConversations {
    Table,
    Id,
    Owner,
    Title,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChatMessages {
    Table,
    Id,
    ConversationId,
    Position,
    Role,
    Content,
    Status,
    Error,
    Model,
    Provider,
    PromptTokens,
    CompletionTokens,
    LatencyMs,
    Citations,
    ToolCalls,
    ToolCallId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ChatDocuments {
    Table,
    Id,
    Title,
    Filename,
    Format,
    SizeBytes,
    Sha256,
    Language,
    ChunkCount,
    CreatedBy,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ChatChunks {
    Table,
    Id,
    DocumentId,
    Position,
    Heading,
    Content,
    Embedding,
    EmbeddingModel,
}

#[derive(DeriveIden)]
enum ChatOutbox {
    Table,
    Id,
    DocumentId,
    Action,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(64)
        .not_null()
        .primary_key()
        .to_owned()
}

fn string<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatConversations::Table)
                    .col(id(ChatConversations::Id))
                    .col(string(ChatConversations::Owner, 128))
                    .col(string(ChatConversations::Title, 200))
                    .col(
                        ColumnDef::new(ChatConversations::Archived)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamp(ChatConversations::CreatedAt))
                    .col(timestamp(ChatConversations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("chat_conversations_owner")
                    .table(ChatConversations::Table)
                    .col(ChatConversations::Owner)
                    .col(ChatConversations::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatMessages::Table)
                    .col(id(ChatMessages::Id))
                    .col(string(ChatMessages::ConversationId, 64))
                    .col(ColumnDef::new(ChatMessages::Position).integer().not_null())
                    .col(string(ChatMessages::Role, 16))
                    .col(ColumnDef::new(ChatMessages::Content).text().not_null())
                    .col(string(ChatMessages::Status, 16))
                    .col(ColumnDef::new(ChatMessages::Error).text().null())
                    .col(ColumnDef::new(ChatMessages::Model).string_len(128).null())
                    .col(ColumnDef::new(ChatMessages::Provider).string_len(64).null())
                    .col(ColumnDef::new(ChatMessages::PromptTokens).integer().null())
                    .col(
                        ColumnDef::new(ChatMessages::CompletionTokens)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(ChatMessages::LatencyMs).double().null())
                    .col(ColumnDef::new(ChatMessages::Citations).text().not_null())
                    .col(ColumnDef::new(ChatMessages::ToolCalls).text().not_null())
                    .col(
                        ColumnDef::new(ChatMessages::ToolCallId)
                            .string_len(128)
                            .null(),
                    )
                    .col(timestamp(ChatMessages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("chat_messages_conversation")
                            .from(ChatMessages::Table, ChatMessages::ConversationId)
                            .to(ChatConversations::Table, ChatConversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("chat_messages_position")
                    .table(ChatMessages::Table)
                    .col(ChatMessages::ConversationId)
                    .col(ChatMessages::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatDocuments::Table)
                    .col(id(ChatDocuments::Id))
                    .col(string(ChatDocuments::Title, 300))
                    .col(string(ChatDocuments::Filename, 300))
                    .col(string(ChatDocuments::Format, 16))
                    .col(
                        ColumnDef::new(ChatDocuments::SizeBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(string(ChatDocuments::Sha256, 64))
                    .col(string(ChatDocuments::Language, 8))
                    .col(
                        ColumnDef::new(ChatDocuments::ChunkCount)
                            .integer()
                            .not_null(),
                    )
                    .col(string(ChatDocuments::CreatedBy, 128))
                    .col(timestamp(ChatDocuments::CreatedAt))
                    .col(
                        ColumnDef::new(ChatDocuments::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatChunks::Table)
                    .col(id(ChatChunks::Id))
                    .col(string(ChatChunks::DocumentId, 64))
                    .col(ColumnDef::new(ChatChunks::Position).integer().not_null())
                    .col(ColumnDef::new(ChatChunks::Heading).text().null())
                    .col(ColumnDef::new(ChatChunks::Content).text().not_null())
                    .col(ColumnDef::new(ChatChunks::Embedding).binary().null())
                    .col(
                        ColumnDef::new(ChatChunks::EmbeddingModel)
                            .string_len(64)
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("chat_chunks_document")
                            .from(ChatChunks::Table, ChatChunks::DocumentId)
                            .to(ChatDocuments::Table, ChatDocuments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("chat_chunks_document")
                    .table(ChatChunks::Table)
                    .col(ChatChunks::DocumentId)
                    .col(ChatChunks::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatOutbox::Table)
                    .col(
                        ColumnDef::new(ChatOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(ChatOutbox::DocumentId, 64))
                    .col(string(ChatOutbox::Action, 16))
                    .col(
                        ColumnDef::new(ChatOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamp(ChatOutbox::NextAttemptAt))
                    .col(ColumnDef::new(ChatOutbox::LastError).text().null())
                    .col(timestamp(ChatOutbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChatOutbox::Table.into_iden(),
            ChatChunks::Table.into_iden(),
            ChatDocuments::Table.into_iden(),
            ChatMessages::Table.into_iden(),
            ChatConversations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

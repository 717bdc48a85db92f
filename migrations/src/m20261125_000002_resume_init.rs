//! Resume: uploaded files (bytes committed with their metadata), parsed profiles with
//! processing status and leases, and the outbox of index updates for the search subgraph.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ResumeResumes {
    Table,
    Id,
    ContentHash,
    Filename,
    ContentType,
    Format,
    SizeBytes,
    Status,
    FailureReason,
    Attempts,
    LeaseUntil,
    Profile,
    Text,
    Skills,
    City,
    Degree,
    TotalYears,
    Embedding,
    UploadedBy,
    CreatedAt,
    UpdatedAt,
    ParsedAt,
    IndexedAt,
}

#[derive(DeriveIden)]
enum ResumeFiles {
    Table,
    ResumeId,
    Bytes,
}

#[derive(DeriveIden)]
enum ResumeOutbox {
    Table,
    Id,
    ResumeId,
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

fn optional_timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ResumeResumes::Table)
                    .col(
                        ColumnDef::new(ResumeResumes::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::ContentHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::Filename)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::ContentType)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::Format)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::SizeBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeResumes::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ResumeResumes::FailureReason).text().null())
                    .col(
                        ColumnDef::new(ResumeResumes::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(optional_timestamp(ResumeResumes::LeaseUntil))
                    .col(ColumnDef::new(ResumeResumes::Profile).text().null())
                    .col(ColumnDef::new(ResumeResumes::Text).text().null())
                    .col(ColumnDef::new(ResumeResumes::Skills).text().null())
                    .col(ColumnDef::new(ResumeResumes::City).string_len(100).null())
                    .col(ColumnDef::new(ResumeResumes::Degree).string_len(16).null())
                    .col(ColumnDef::new(ResumeResumes::TotalYears).double().null())
                    .col(ColumnDef::new(ResumeResumes::Embedding).binary().null())
                    .col(
                        ColumnDef::new(ResumeResumes::UploadedBy)
                            .string_len(64)
                            .null(),
                    )
                    .col(timestamp(ResumeResumes::CreatedAt))
                    .col(timestamp(ResumeResumes::UpdatedAt))
                    .col(optional_timestamp(ResumeResumes::ParsedAt))
                    .col(optional_timestamp(ResumeResumes::IndexedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("resume_resumes_status")
                    .table(ResumeResumes::Table)
                    .col(ResumeResumes::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResumeFiles::Table)
                    .col(
                        ColumnDef::new(ResumeFiles::ResumeId)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ResumeFiles::Bytes).binary().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ResumeFiles::Table, ResumeFiles::ResumeId)
                            .to(ResumeResumes::Table, ResumeResumes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResumeOutbox::Table)
                    .col(
                        ColumnDef::new(ResumeOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ResumeOutbox::ResumeId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeOutbox::Action)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResumeOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamp(ResumeOutbox::NextAttemptAt))
                    .col(ColumnDef::new(ResumeOutbox::LastError).text().null())
                    .col(timestamp(ResumeOutbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ResumeOutbox::Table.into_iden(),
            ResumeFiles::Table.into_iden(),
            ResumeResumes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

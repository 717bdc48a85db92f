//! Resume and matching: the embedding model that made each stored vector, so a model change
//! re-embeds (on `looma search reindex`) instead of mixing two models' vectors. Rows embedded
//! before this was recorded are NULL: all-MiniLM-L6-v2, the only model there was.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ResumeResumes {
    Table,
    EmbeddingModel,
}

#[derive(DeriveIden)]
enum MatchingJobs {
    Table,
    EmbeddingModel,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ResumeResumes::Table)
                    .add_column(
                        ColumnDef::new(ResumeResumes::EmbeddingModel)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MatchingJobs::Table)
                    .add_column(
                        ColumnDef::new(MatchingJobs::EmbeddingModel)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ResumeResumes::Table)
                    .drop_column(ResumeResumes::EmbeddingModel)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MatchingJobs::Table)
                    .drop_column(MatchingJobs::EmbeddingModel)
                    .to_owned(),
            )
            .await
    }
}

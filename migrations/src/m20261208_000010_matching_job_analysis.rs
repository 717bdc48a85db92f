//! Matching: each job's job family (a CSCO 2022 middle group code, `2-02`) and keywords, from
//! text analytics when the job is saved; both become search filters and facets. Jobs saved
//! before this have none until they are next updated.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MatchingJobs {
    Table,
    JobFamily,
    Keywords,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(MatchingJobs::Table)
                    .add_column(
                        ColumnDef::new(MatchingJobs::JobFamily)
                            .string_len(16)
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
                        ColumnDef::new(MatchingJobs::Keywords)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [MatchingJobs::JobFamily, MatchingJobs::Keywords] {
            manager
                .alter_table(
                    Table::alter()
                        .table(MatchingJobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

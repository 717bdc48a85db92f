//! Identity: revocations of access tokens (a user disabled or re-enabled) and API keys, which
//! identity publishes to every verifier. Append-only; the newest row per subject wins, and a
//! row stops being published once every token it could concern has expired (`expires_at`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdentityRevocations {
    Table,
    Seq,
    Kind,
    Subject,
    IssuedBefore,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdentityRevocations::Table)
                    .col(
                        ColumnDef::new(IdentityRevocations::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(IdentityRevocations::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityRevocations::Subject)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityRevocations::IssuedBefore)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IdentityRevocations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityRevocations::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("identity_revocations_expires_at")
                    .table(IdentityRevocations::Table)
                    .col(IdentityRevocations::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("identity_revocations_subject")
                    .table(IdentityRevocations::Table)
                    .col(IdentityRevocations::Subject)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(IdentityRevocations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

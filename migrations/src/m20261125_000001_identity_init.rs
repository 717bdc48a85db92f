//! Identity: users, roles, signing keys, refresh tokens, API keys, versioned configuration.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdentityUsers {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdentityRoles {
    Table,
    Name,
    Description,
    Permissions,
    Builtin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdentityUserRoles {
    Table,
    UserId,
    RoleName,
}

#[derive(DeriveIden)]
enum IdentitySigningKeys {
    Table,
    Kid,
    Algorithm,
    PrivateKeyPem,
    Status,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum IdentityRefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdentityApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    Permissions,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdentityConfigVersions {
    Table,
    Key,
    Version,
    Value,
    Author,
    Comment,
    CreatedAt,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().to_owned()
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
                    .table(IdentityUsers::Table)
                    .col(id_column(IdentityUsers::Id).primary_key())
                    .col(
                        ColumnDef::new(IdentityUsers::Email)
                            .string_len(320)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(IdentityUsers::DisplayName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityUsers::PasswordHash)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityUsers::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(timestamp(IdentityUsers::CreatedAt))
                    .col(timestamp(IdentityUsers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityRoles::Table)
                    .col(
                        ColumnDef::new(IdentityRoles::Name)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(IdentityRoles::Description).text().not_null())
                    .col(ColumnDef::new(IdentityRoles::Permissions).text().not_null())
                    .col(ColumnDef::new(IdentityRoles::Builtin).boolean().not_null())
                    .col(timestamp(IdentityRoles::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityUserRoles::Table)
                    .col(id_column(IdentityUserRoles::UserId))
                    .col(
                        ColumnDef::new(IdentityUserRoles::RoleName)
                            .string_len(64)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdentityUserRoles::UserId)
                            .col(IdentityUserRoles::RoleName),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdentityUserRoles::Table, IdentityUserRoles::UserId)
                            .to(IdentityUsers::Table, IdentityUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdentityUserRoles::Table, IdentityUserRoles::RoleName)
                            .to(IdentityRoles::Table, IdentityRoles::Name)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentitySigningKeys::Table)
                    .col(id_column(IdentitySigningKeys::Kid).primary_key())
                    .col(
                        ColumnDef::new(IdentitySigningKeys::Algorithm)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentitySigningKeys::PrivateKeyPem)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentitySigningKeys::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(timestamp(IdentitySigningKeys::CreatedAt))
                    .col(optional_timestamp(IdentitySigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityRefreshTokens::Table)
                    .col(id_column(IdentityRefreshTokens::Id).primary_key())
                    .col(
                        ColumnDef::new(IdentityRefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(id_column(IdentityRefreshTokens::FamilyId))
                    .col(id_column(IdentityRefreshTokens::UserId))
                    .col(timestamp(IdentityRefreshTokens::CreatedAt))
                    .col(timestamp(IdentityRefreshTokens::ExpiresAt))
                    .col(optional_timestamp(IdentityRefreshTokens::UsedAt))
                    .col(optional_timestamp(IdentityRefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdentityRefreshTokens::Table, IdentityRefreshTokens::UserId)
                            .to(IdentityUsers::Table, IdentityUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("identity_refresh_tokens_family")
                    .table(IdentityRefreshTokens::Table)
                    .col(IdentityRefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityApiKeys::Table)
                    .col(id_column(IdentityApiKeys::Id).primary_key())
                    .col(
                        ColumnDef::new(IdentityApiKeys::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityApiKeys::Prefix)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(IdentityApiKeys::KeyHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityApiKeys::Permissions)
                            .text()
                            .not_null(),
                    )
                    .col(id_column(IdentityApiKeys::CreatedBy))
                    .col(timestamp(IdentityApiKeys::CreatedAt))
                    .col(optional_timestamp(IdentityApiKeys::ExpiresAt))
                    .col(optional_timestamp(IdentityApiKeys::LastUsedAt))
                    .col(optional_timestamp(IdentityApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityConfigVersions::Table)
                    .col(
                        ColumnDef::new(IdentityConfigVersions::Key)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityConfigVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityConfigVersions::Value)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityConfigVersions::Author)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdentityConfigVersions::Comment)
                            .text()
                            .null(),
                    )
                    .col(timestamp(IdentityConfigVersions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdentityConfigVersions::Key)
                            .col(IdentityConfigVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdentityConfigVersions::Table.into_iden(),
            IdentityApiKeys::Table.into_iden(),
            IdentityRefreshTokens::Table.into_iden(),
            IdentitySigningKeys::Table.into_iden(),
            IdentityUserRoles::Table.into_iden(),
            IdentityRoles::Table.into_iden(),
            IdentityUsers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

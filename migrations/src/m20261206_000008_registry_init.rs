//! Registry: every published version of each subgraph's SDL (who, when, commit), the subgraphs
//! in the current composition, live instances and their heartbeats, every composed supergraph,
//! which version each router serves, and the operations routers saw (their schema coordinates,
//! counted per client and hour) for usage-aware checks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RegistrySchemas {
    Table,
    Id,
    Subgraph,
    Sdl,
    SdlSha256,
    Url,
    PublishedBy,
    PublishedAt,
    CommitSha,
    Metadata,
}

#[derive(DeriveIden)]
enum RegistrySubgraphs {
    Table,
    Name,
    SchemaId,
    RoutingUrl,
    Live,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RegistryInstances {
    Table,
    Id,
    Subgraph,
    Url,
    SdlSha256,
    RegisteredAt,
    LastHeartbeatAt,
}

#[derive(DeriveIden)]
enum RegistrySupergraphs {
    Table,
    Version,
    Sdl,
    SdlSha256,
    CreatedAt,
    CreatedBy,
    Reason,
    SchemaIds,
}

#[derive(DeriveIden)]
enum RegistryRouters {
    Table,
    Id,
    SupergraphVersion,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum RegistryOperations {
    Table,
    Signature,
    Name,
    Coordinates,
    FirstSeenAt,
}

#[derive(DeriveIden)]
enum RegistryOperationUsage {
    Table,
    Signature,
    ClientName,
    ClientVersion,
    BucketStart,
    Count,
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn string<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RegistrySchemas::Table)
                    .col(string(RegistrySchemas::Id, 36).primary_key())
                    .col(string(RegistrySchemas::Subgraph, 100))
                    .col(text(RegistrySchemas::Sdl))
                    .col(string(RegistrySchemas::SdlSha256, 64))
                    .col(ColumnDef::new(RegistrySchemas::Url).string_len(500).null())
                    .col(string(RegistrySchemas::PublishedBy, 200))
                    .col(timestamp(RegistrySchemas::PublishedAt))
                    .col(
                        ColumnDef::new(RegistrySchemas::CommitSha)
                            .string_len(100)
                            .null(),
                    )
                    .col(ColumnDef::new(RegistrySchemas::Metadata).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("registry_schemas_subgraph")
                    .table(RegistrySchemas::Table)
                    .col(RegistrySchemas::Subgraph)
                    .col(RegistrySchemas::PublishedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistrySubgraphs::Table)
                    .col(string(RegistrySubgraphs::Name, 100).primary_key())
                    .col(string(RegistrySubgraphs::SchemaId, 36))
                    .col(
                        ColumnDef::new(RegistrySubgraphs::RoutingUrl)
                            .string_len(500)
                            .null(),
                    )
                    .col(ColumnDef::new(RegistrySubgraphs::Live).boolean().not_null())
                    .col(timestamp(RegistrySubgraphs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistryInstances::Table)
                    .col(string(RegistryInstances::Id, 100).primary_key())
                    .col(string(RegistryInstances::Subgraph, 100))
                    .col(string(RegistryInstances::Url, 500))
                    .col(string(RegistryInstances::SdlSha256, 64))
                    .col(timestamp(RegistryInstances::RegisteredAt))
                    .col(timestamp(RegistryInstances::LastHeartbeatAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("registry_instances_subgraph")
                    .table(RegistryInstances::Table)
                    .col(RegistryInstances::Subgraph)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistrySupergraphs::Table)
                    .col(
                        ColumnDef::new(RegistrySupergraphs::Version)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(RegistrySupergraphs::Sdl))
                    .col(string(RegistrySupergraphs::SdlSha256, 64))
                    .col(timestamp(RegistrySupergraphs::CreatedAt))
                    .col(string(RegistrySupergraphs::CreatedBy, 200))
                    .col(text(RegistrySupergraphs::Reason))
                    .col(text(RegistrySupergraphs::SchemaIds))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistryRouters::Table)
                    .col(string(RegistryRouters::Id, 100).primary_key())
                    .col(
                        ColumnDef::new(RegistryRouters::SupergraphVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp(RegistryRouters::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistryOperations::Table)
                    .col(string(RegistryOperations::Signature, 64).primary_key())
                    .col(
                        ColumnDef::new(RegistryOperations::Name)
                            .string_len(200)
                            .null(),
                    )
                    .col(text(RegistryOperations::Coordinates))
                    .col(timestamp(RegistryOperations::FirstSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistryOperationUsage::Table)
                    .col(string(RegistryOperationUsage::Signature, 64))
                    .col(string(RegistryOperationUsage::ClientName, 100))
                    .col(string(RegistryOperationUsage::ClientVersion, 100))
                    .col(timestamp(RegistryOperationUsage::BucketStart))
                    .col(
                        ColumnDef::new(RegistryOperationUsage::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RegistryOperationUsage::Signature)
                            .col(RegistryOperationUsage::ClientName)
                            .col(RegistryOperationUsage::ClientVersion)
                            .col(RegistryOperationUsage::BucketStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("registry_operation_usage_bucket")
                    .table(RegistryOperationUsage::Table)
                    .col(RegistryOperationUsage::BucketStart)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RegistryOperationUsage::Table.into_iden(),
            RegistryOperations::Table.into_iden(),
            RegistryRouters::Table.into_iden(),
            RegistrySupergraphs::Table.into_iden(),
            RegistryInstances::Table.into_iden(),
            RegistrySubgraphs::Table.into_iden(),
            RegistrySchemas::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

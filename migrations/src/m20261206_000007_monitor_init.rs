//! Monitor: alert history (every firing with its value and when it resolved) and per-feature
//! usage downsampled to hourly buckets, so a year per feature is 8,760 rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MonitorAlerts {
    Table,
    Id,
    Rule,
    Subject,
    Severity,
    State,
    Summary,
    Value,
    Threshold,
    StartedAt,
    ResolvedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MonitorUsage {
    Table,
    Feature,
    BucketStart,
    Value,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MonitorAlerts::Table)
                    .col(
                        ColumnDef::new(MonitorAlerts::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(string(MonitorAlerts::Rule, 100))
                    .col(string(MonitorAlerts::Subject, 100))
                    .col(string(MonitorAlerts::Severity, 16))
                    .col(string(MonitorAlerts::State, 16))
                    .col(ColumnDef::new(MonitorAlerts::Summary).text().not_null())
                    .col(ColumnDef::new(MonitorAlerts::Value).double().not_null())
                    .col(ColumnDef::new(MonitorAlerts::Threshold).double().not_null())
                    .col(timestamp(MonitorAlerts::StartedAt))
                    .col(
                        ColumnDef::new(MonitorAlerts::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(timestamp(MonitorAlerts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("monitor_alerts_state")
                    .table(MonitorAlerts::Table)
                    .col(MonitorAlerts::State)
                    .col(MonitorAlerts::StartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MonitorUsage::Table)
                    .col(string(MonitorUsage::Feature, 64))
                    .col(timestamp(MonitorUsage::BucketStart))
                    .col(ColumnDef::new(MonitorUsage::Value).double().not_null())
                    .primary_key(
                        Index::create()
                            .col(MonitorUsage::Feature)
                            .col(MonitorUsage::BucketStart),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MonitorUsage::Table.into_iden(),
            MonitorAlerts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

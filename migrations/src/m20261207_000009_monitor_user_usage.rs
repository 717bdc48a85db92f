//! Monitor: per-user usage (`monitor_user_usage`), reported by the components that serve each
//! feature. Hourly rows (`hours` = 1) are folded into one row per day (`hours` = 24, at
//! midnight UTC) once older than `monitor.user_usage_hourly_days`, so a year per user and
//! feature is at most that many days of 24 rows plus one row per older day.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MonitorUserUsage {
    Table,
    Feature,
    UserId,
    BucketStart,
    Hours,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MonitorUserUsage::Table)
                    .col(
                        ColumnDef::new(MonitorUserUsage::Feature)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MonitorUserUsage::UserId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MonitorUserUsage::BucketStart)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MonitorUserUsage::Hours).integer().not_null())
                    .col(ColumnDef::new(MonitorUserUsage::Value).double().not_null())
                    .primary_key(
                        Index::create()
                            .col(MonitorUserUsage::Feature)
                            .col(MonitorUserUsage::UserId)
                            .col(MonitorUserUsage::BucketStart),
                    )
                    .to_owned(),
            )
            .await?;
        // A feature over a period (every user's total, the top users, the folding).
        manager
            .create_index(
                Index::create()
                    .name("monitor_user_usage_feature_time")
                    .table(MonitorUserUsage::Table)
                    .col(MonitorUserUsage::Feature)
                    .col(MonitorUserUsage::BucketStart)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(MonitorUserUsage::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

//! Monitor's tables (`monitor_*`) and every query against them: the alert history and the
//! hourly usage buckets.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub mod alert {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitor_alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub rule: String,
        /// The component, or the collection for the index rules.
        pub subject: String,
        /// `critical` or `warning`.
        pub severity: String,
        /// `FIRING` or `RESOLVED`.
        pub state: String,
        pub summary: String,
        /// The value that breached (kept current while firing).
        pub value: f64,
        pub threshold: f64,
        /// When the breach was first seen (before the rule's `for` elapsed).
        pub started_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod usage {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitor_usage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub feature: String,
        /// The start of the hour the value was counted in.
        #[sea_orm(primary_key, auto_increment = false)]
        pub bucket_start: DateTimeUtc,
        pub value: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const FIRING: &str = "FIRING";
pub const RESOLVED: &str = "RESOLVED";

/// A newly firing alert.
pub struct NewAlert<'a> {
    pub rule: &'a str,
    pub subject: &'a str,
    pub severity: &'a str,
    pub summary: &'a str,
    pub value: f64,
    pub threshold: f64,
    pub started_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct MonitorStore {
    db: DatabaseConnection,
}

impl MonitorStore {
    pub fn new(db: DatabaseConnection) -> Self {
        MonitorStore { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Alerts firing now (to restore the alert book after a restart).
    pub async fn firing(&self) -> Result<Vec<alert::Model>, DbErr> {
        alert::Entity::find()
            .filter(alert::Column::State.eq(FIRING))
            .order_by_asc(alert::Column::StartedAt)
            .all(&self.db)
            .await
    }

    pub async fn insert_firing(&self, new: NewAlert<'_>, now: DateTime<Utc>) -> Result<(), DbErr> {
        alert::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            rule: Set(new.rule.to_owned()),
            subject: Set(new.subject.to_owned()),
            severity: Set(new.severity.to_owned()),
            state: Set(FIRING.to_owned()),
            summary: Set(new.summary.to_owned()),
            value: Set(new.value),
            threshold: Set(new.threshold),
            started_at: Set(new.started_at),
            resolved_at: Set(None),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Marks the firing alert of `rule` on `subject` resolved.
    pub async fn resolve(
        &self,
        rule: &str,
        subject: &str,
        value: f64,
        now: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        let result = alert::Entity::update_many()
            .col_expr(alert::Column::State, Expr::value(RESOLVED))
            .col_expr(alert::Column::ResolvedAt, Expr::value(now))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .col_expr(alert::Column::Value, Expr::value(value))
            .filter(alert::Column::Rule.eq(rule))
            .filter(alert::Column::Subject.eq(subject))
            .filter(alert::Column::State.eq(FIRING))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Alert history, newest first: `state` (`FIRING`/`RESOLVED`) when given, started at or
    /// after `since` when given.
    pub async fn alerts(
        &self,
        state: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: u64,
    ) -> Result<Vec<alert::Model>, DbErr> {
        let mut query = alert::Entity::find();
        if let Some(state) = state {
            query = query.filter(alert::Column::State.eq(state));
        }
        if let Some(since) = since {
            query = query.filter(alert::Column::StartedAt.gte(since));
        }
        query
            .order_by_desc(alert::Column::StartedAt)
            .limit(limit)
            .all(&self.db)
            .await
    }

    /// Adds `delta` to `feature`'s bucket starting at `bucket_start`.
    pub async fn add_usage(
        &self,
        feature: &str,
        bucket_start: DateTime<Utc>,
        delta: f64,
    ) -> Result<(), DbErr> {
        for _ in 0..2 {
            let updated = usage::Entity::update_many()
                .col_expr(
                    usage::Column::Value,
                    Expr::col(usage::Column::Value).add(delta),
                )
                .filter(usage::Column::Feature.eq(feature))
                .filter(usage::Column::BucketStart.eq(bucket_start))
                .exec(&self.db)
                .await?;
            if updated.rows_affected > 0 {
                return Ok(());
            }
            let inserted = usage::ActiveModel {
                feature: Set(feature.to_owned()),
                bucket_start: Set(bucket_start),
                value: Set(delta),
            }
            .insert(&self.db)
            .await;
            match inserted {
                Ok(_) => return Ok(()),
                // Another replica created the bucket in between: add to it.
                Err(error) if looma_db::is_unique_violation(&error) => continue,
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// `feature`'s hourly buckets in `[from, to)`, oldest first.
    pub async fn usage(
        &self,
        feature: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<usage::Model>, DbErr> {
        usage::Entity::find()
            .filter(usage::Column::Feature.eq(feature))
            .filter(usage::Column::BucketStart.gte(from))
            .filter(usage::Column::BucketStart.lt(to))
            .order_by_asc(usage::Column::BucketStart)
            .all(&self.db)
            .await
    }
}

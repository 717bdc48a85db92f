//! Monitor's tables (`monitor_*`) and every query against them: the alert history, the
//! platform's hourly usage buckets and the per-user usage (hourly, folded into days).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use std::collections::HashMap;

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

pub mod user_usage {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitor_user_usage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub feature: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        /// The start of the hour (or, once folded, of the UTC day) counted in.
        #[sea_orm(primary_key, auto_increment = false)]
        pub bucket_start: DateTimeUtc,
        /// 1 for an hour's row, 24 for a day's.
        pub hours: i32,
        pub value: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Hourly rows folded into days in one transaction, at most.
pub const FOLD_BATCH: u64 = 10_000;

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

    /// Adds `delta` to `user_id`'s use of `feature` in the hour starting at `hour`.
    pub async fn add_user_usage(
        &self,
        feature: &str,
        user_id: &str,
        hour: DateTime<Utc>,
        delta: f64,
    ) -> Result<(), DbErr> {
        add_user_usage(&self.db, feature, user_id, hour, 1, delta).await
    }

    /// `user_id`'s rows of `feature` in `[from, to)`, as (start, value), oldest first.
    pub async fn user_usage(
        &self,
        feature: &str,
        user_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, f64)>, DbErr> {
        user_usage::Entity::find()
            .select_only()
            .column(user_usage::Column::BucketStart)
            .column(user_usage::Column::Value)
            .filter(user_usage::Column::Feature.eq(feature))
            .filter(user_usage::Column::UserId.eq(user_id))
            .filter(user_usage::Column::BucketStart.gte(from))
            .filter(user_usage::Column::BucketStart.lt(to))
            .order_by_asc(user_usage::Column::BucketStart)
            .into_tuple()
            .all(&self.db)
            .await
    }

    /// Every user's use of `feature` in `[from, to)`, summed per row start, oldest first.
    pub async fn user_usage_summed(
        &self,
        feature: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, f64)>, DbErr> {
        user_usage::Entity::find()
            .select_only()
            .column(user_usage::Column::BucketStart)
            .column_as(Expr::col(user_usage::Column::Value).sum(), "value")
            .filter(user_usage::Column::Feature.eq(feature))
            .filter(user_usage::Column::BucketStart.gte(from))
            .filter(user_usage::Column::BucketStart.lt(to))
            .group_by(user_usage::Column::BucketStart)
            .order_by_asc(user_usage::Column::BucketStart)
            .into_tuple()
            .all(&self.db)
            .await
    }

    /// The `limit` users who used `feature` most in `[from, to)`, with their totals, most
    /// first (ties by user id).
    pub async fn top_users(
        &self,
        feature: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(String, f64)>, DbErr> {
        user_usage::Entity::find()
            .select_only()
            .column(user_usage::Column::UserId)
            .column_as(Expr::col(user_usage::Column::Value).sum(), "value")
            .filter(user_usage::Column::Feature.eq(feature))
            .filter(user_usage::Column::BucketStart.gte(from))
            .filter(user_usage::Column::BucketStart.lt(to))
            .group_by(user_usage::Column::UserId)
            .order_by(Expr::col(user_usage::Column::Value).sum(), Order::Desc)
            .order_by_asc(user_usage::Column::UserId)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
    }

    /// Folds `feature`'s hourly rows that started before `before` into one row per UTC day
    /// (at midnight, `hours` = 24), at most [`FOLD_BATCH`] rows per call, in one
    /// transaction. Returns how many hourly rows were folded (call again while it is the
    /// whole batch).
    pub async fn fold_user_usage(
        &self,
        feature: &str,
        before: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        let txn = self.db.begin().await?;
        let hourly = user_usage::Entity::find()
            .filter(user_usage::Column::Feature.eq(feature))
            .filter(user_usage::Column::Hours.eq(1))
            .filter(user_usage::Column::BucketStart.lt(before))
            .order_by_asc(user_usage::Column::BucketStart)
            .limit(FOLD_BATCH)
            .all(&txn)
            .await?;
        let mut days: HashMap<(String, DateTime<Utc>), f64> = HashMap::new();
        for row in &hourly {
            user_usage::Entity::delete_many()
                .filter(user_usage::Column::Feature.eq(feature))
                .filter(user_usage::Column::UserId.eq(row.user_id.as_str()))
                .filter(user_usage::Column::BucketStart.eq(row.bucket_start))
                .exec(&txn)
                .await?;
            *days
                .entry((row.user_id.clone(), day_of(row.bucket_start)))
                .or_default() += row.value;
        }
        for ((user_id, day), value) in days {
            add_user_usage(&txn, feature, &user_id, day, 24, value).await?;
        }
        txn.commit().await?;
        Ok(hourly.len() as u64)
    }
}

fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::days(1)).unwrap_or(at)
}

/// Adds `delta` to a per-user row, creating it (`hours` wide) when missing. A row that exists
/// keeps its width: a late hourly report for a day already folded lands in the day's row.
async fn add_user_usage(
    db: &impl ConnectionTrait,
    feature: &str,
    user_id: &str,
    bucket_start: DateTime<Utc>,
    hours: i32,
    delta: f64,
) -> Result<(), DbErr> {
    // A late report for an hour whose day is already folded adds to the day's row.
    let day = day_of(bucket_start);
    let folded = user_usage::Entity::update_many()
        .col_expr(
            user_usage::Column::Value,
            Expr::col(user_usage::Column::Value).add(delta),
        )
        .filter(user_usage::Column::Feature.eq(feature))
        .filter(user_usage::Column::UserId.eq(user_id))
        .filter(user_usage::Column::BucketStart.eq(day))
        .filter(user_usage::Column::Hours.eq(24))
        .exec(db)
        .await?;
    if folded.rows_affected > 0 {
        return Ok(());
    }
    for _ in 0..2 {
        let updated = user_usage::Entity::update_many()
            .col_expr(
                user_usage::Column::Value,
                Expr::col(user_usage::Column::Value).add(delta),
            )
            .filter(user_usage::Column::Feature.eq(feature))
            .filter(user_usage::Column::UserId.eq(user_id))
            .filter(user_usage::Column::BucketStart.eq(bucket_start))
            .exec(db)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(());
        }
        let inserted = user_usage::ActiveModel {
            feature: Set(feature.to_owned()),
            user_id: Set(user_id.to_owned()),
            bucket_start: Set(bucket_start),
            hours: Set(hours),
            value: Set(delta),
        }
        .insert(db)
        .await;
        match inserted {
            Ok(_) => return Ok(()),
            // Another replica created the row in between: add to it.
            Err(error) if looma_db::is_unique_violation(&error) => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

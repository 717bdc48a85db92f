//! The transactional outbox the subgraphs share: a row is committed in the same transaction as
//! the business change it announces (a parsed resume, a saved job), and a dispatcher delivers
//! due rows to their destination (today: search), retrying with `looma_core::retry::backoff`
//! until the destination accepts them. A row is only removed once delivered.
//!
//! Each component keeps its own table (`resume_outbox`, `matching_outbox`: a component never
//! reads another's tables); [`OutboxTable`] names it and the column holding the entity id. The
//! tables share one shape: `id` (auto-increment), `<subject>`, `action`, `attempts`,
//! `next_attempt_at`, `last_error`, `created_at`.
//!
//! Failure policy, one for every outbox: a row the destination rejects is rescheduled and the
//! batch **continues**, so a poison row never blocks the rows behind it; when the destination
//! is unavailable the row is rescheduled and the batch **stops**, since every following row
//! would fail the same way (each after a connection timeout). The untried rows stay due for
//! the next pass.
//!
//! This crate knows no entity and no destination: what a row means is the [`Deliver`]
//! implementation's business.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Rows claimed per dispatch pass.
pub const BATCH: u64 = 100;

/// What a row asks of the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Upsert,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Upsert => "upsert",
            Action::Delete => "delete",
        }
    }

    /// Anything but `delete` is an upsert (re-sending the current state is always safe).
    pub fn from_stored(value: &str) -> Action {
        if value == "delete" {
            Action::Delete
        } else {
            Action::Upsert
        }
    }
}

/// One outbox row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// The entity the row is about (a resume id, a job id).
    pub subject_id: String,
    pub action: Action,
    /// Failed deliveries so far.
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A component's outbox table: its name and the column holding the entity id.
#[derive(Clone, Copy, Debug)]
pub struct OutboxTable {
    pub table: &'static str,
    pub subject_column: &'static str,
}

const ID: &str = "id";
const ACTION: &str = "action";
const ATTEMPTS: &str = "attempts";
const NEXT_ATTEMPT_AT: &str = "next_attempt_at";
const LAST_ERROR: &str = "last_error";
const CREATED_AT: &str = "created_at";

fn col(name: &str) -> Alias {
    Alias::new(name)
}

impl OutboxTable {
    fn name(&self) -> Alias {
        Alias::new(self.table)
    }

    /// Queues `action` for `subject_id`, due now. Pass the transaction of the business change.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        db: &C,
        subject_id: &str,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let insert = Query::insert()
            .into_table(self.name())
            .columns([
                col(self.subject_column),
                col(ACTION),
                col(ATTEMPTS),
                col(NEXT_ATTEMPT_AT),
                col(LAST_ERROR),
                col(CREATED_AT),
            ])
            .values_panic([
                subject_id.into(),
                action.as_str().into(),
                0i32.into(),
                now.into(),
                Option::<String>::None.into(),
                now.into(),
            ])
            .to_owned();
        db.execute(&insert).await?;
        Ok(())
    }

    /// Rows due at `now`, oldest first.
    pub async fn due<C: ConnectionTrait>(
        &self,
        db: &C,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, DbErr> {
        let select = Query::select()
            .columns([
                col(ID),
                col(self.subject_column),
                col(ACTION),
                col(ATTEMPTS),
                col(NEXT_ATTEMPT_AT),
                col(LAST_ERROR),
                col(CREATED_AT),
            ])
            .from(self.name())
            .and_where(Expr::col(col(NEXT_ATTEMPT_AT)).lte(now))
            .order_by(col(ID), Order::Asc)
            .limit(limit)
            .to_owned();
        db.query_all(&select)
            .await?
            .into_iter()
            .map(|row| {
                Ok(OutboxRow {
                    id: row.try_get("", ID)?,
                    subject_id: row.try_get("", self.subject_column)?,
                    action: Action::from_stored(&row.try_get::<String>("", ACTION)?),
                    attempts: row.try_get("", ATTEMPTS)?,
                    next_attempt_at: row.try_get("", NEXT_ATTEMPT_AT)?,
                    last_error: row.try_get("", LAST_ERROR)?,
                    created_at: row.try_get("", CREATED_AT)?,
                })
            })
            .collect()
    }

    /// Drops a delivered row.
    pub async fn remove<C: ConnectionTrait>(&self, db: &C, id: i64) -> Result<(), DbErr> {
        let delete = Query::delete()
            .from_table(self.name())
            .and_where(Expr::col(col(ID)).eq(id))
            .to_owned();
        db.execute(&delete).await?;
        Ok(())
    }

    /// Records a failed delivery and when to try again.
    pub async fn reschedule<C: ConnectionTrait>(
        &self,
        db: &C,
        row: &OutboxRow,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), DbErr> {
        let update = Query::update()
            .table(self.name())
            .value(col(ATTEMPTS), row.attempts + 1)
            .value(col(NEXT_ATTEMPT_AT), next_attempt_at)
            .value(col(LAST_ERROR), error)
            .and_where(Expr::col(col(ID)).eq(row.id))
            .to_owned();
        db.execute(&update).await?;
        Ok(())
    }

    /// How many rows wait (due or not).
    pub async fn pending<C: ConnectionTrait>(&self, db: &C) -> Result<u64, DbErr> {
        let count = Query::select()
            .expr_as(Func::count(Expr::col(col(ID))), col("n"))
            .from(self.name())
            .to_owned();
        let n: i64 = match db.query_one(&count).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// When the oldest waiting row was queued.
    pub async fn oldest<C: ConnectionTrait>(&self, db: &C) -> Result<Option<DateTime<Utc>>, DbErr> {
        let select = Query::select()
            .column(col(CREATED_AT))
            .from(self.name())
            .order_by(col(ID), Order::Asc)
            .limit(1)
            .to_owned();
        match db.query_one(&select).await? {
            Some(row) => Ok(Some(row.try_get("", CREATED_AT)?)),
            None => Ok(None),
        }
    }
}

/// Why a delivery failed; decides whether the rest of the batch is attempted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// The destination refused this row (or preparing it failed): retry it later, go on with
    /// the others.
    Rejected(String),
    /// The destination is unreachable: retry later, and stop this pass.
    Unavailable(String),
}

impl DeliveryError {
    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Rejected(message) | DeliveryError::Unavailable(message) => message,
        }
    }
}

/// Delivers a component's rows.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Sends what `row` announces to the destination.
    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError>;

    /// Runs in the transaction that removes a delivered row, for state that must change with
    /// it (resume marks the resume `INDEXED`). Nothing by default.
    async fn delivered(
        &self,
        _tx: &DatabaseTransaction,
        _row: &OutboxRow,
        _now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        Ok(())
    }

    /// Runs once that transaction has committed, for what must see the change made (resume
    /// tells the router's entity cache). Nothing by default.
    async fn committed(&self, _row: &OutboxRow) {}
}

/// The outbox's counters, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxMetrics {
    /// Rows delivered since start.
    pub delivered: u64,
    /// Failed delivery attempts since start.
    pub failed: u64,
    /// Rows waiting now.
    pub pending: u64,
    /// Age of the oldest waiting row, in seconds (0 when none waits).
    pub lag_seconds: u64,
}

impl OutboxMetrics {
    /// Records the counters as `looma_outbox_{pending,lag_seconds,delivered_total,
    /// failed_total}{component}` (for the component's `/metrics` collector).
    pub fn record(&self, component: &'static str) {
        metrics::gauge!("looma_outbox_pending", "component" => component).set(self.pending as f64);
        metrics::gauge!("looma_outbox_lag_seconds", "component" => component)
            .set(self.lag_seconds as f64);
        // Totals read from this outbox, set as they are (a counter's `absolute` keeps the
        // largest value ever set, which mixes outboxes when a process holds several).
        metrics::gauge!("looma_outbox_delivered_total", "component" => component)
            .set(self.delivered as f64);
        metrics::gauge!("looma_outbox_failed_total", "component" => component)
            .set(self.failed as f64);
    }
}

/// A component's outbox: its table, its delivery, the dispatcher and its counters. Cheap to
/// clone.
pub struct Outbox<D> {
    inner: Arc<Inner<D>>,
}

impl<D> Clone for Outbox<D> {
    fn clone(&self) -> Self {
        Outbox {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<D> {
    db: DatabaseConnection,
    table: OutboxTable,
    deliver: D,
    wake: Notify,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl<D: Deliver> Outbox<D> {
    pub fn new(db: DatabaseConnection, table: OutboxTable, deliver: D) -> Self {
        Outbox {
            inner: Arc::new(Inner {
                db,
                table,
                deliver,
                wake: Notify::new(),
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            }),
        }
    }

    pub fn table(&self) -> &OutboxTable {
        &self.inner.table
    }

    /// Tells a waiting dispatcher that rows were committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// One pass: delivers the due rows (at most [`BATCH`]) under the failure policy in the
    /// module docs. Returns how many were delivered.
    pub async fn dispatch_due(&self) -> Result<usize, DbErr> {
        let inner = &*self.inner;
        let rows = inner.table.due(&inner.db, Utc::now(), BATCH).await?;
        let mut delivered = 0;
        for row in rows {
            match inner.deliver.deliver(&row).await {
                Ok(()) => {
                    let tx = inner.db.begin().await?;
                    inner.table.remove(&tx, row.id).await?;
                    inner.deliver.delivered(&tx, &row, Utc::now()).await?;
                    tx.commit().await?;
                    inner.deliver.committed(&row).await;
                    inner.delivered.fetch_add(1, Ordering::Relaxed);
                    delivered += 1;
                }
                Err(error) => {
                    inner.failed.fetch_add(1, Ordering::Relaxed);
                    let backoff = looma_core::retry::backoff(row.attempts);
                    tracing::debug!(
                        outbox = inner.table.table,
                        subject = %row.subject_id,
                        error = error.message(),
                        ?backoff,
                        "delivery deferred"
                    );
                    let next = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                    inner
                        .table
                        .reschedule(&inner.db, &row, next, error.message())
                        .await?;
                    if matches!(error, DeliveryError::Unavailable(_)) {
                        break;
                    }
                }
            }
        }
        Ok(delivered)
    }

    /// Dispatches every `poll`, or sooner when woken, until `stop` turns true.
    pub fn spawn(&self, poll: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let outbox = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = outbox.dispatch_due().await {
                    tracing::warn!(outbox = outbox.inner.table.table, %error, "outbox dispatch failed; retrying");
                }
                tokio::select! {
                    _ = outbox.inner.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });
    }

    /// Rows waiting now.
    pub async fn pending(&self) -> Result<u64, DbErr> {
        self.inner.table.pending(&self.inner.db).await
    }

    pub async fn metrics(&self) -> Result<OutboxMetrics, DbErr> {
        let pending = self.pending().await?;
        let lag_seconds = match self.inner.table.oldest(&self.inner.db).await? {
            Some(oldest) => u64::try_from((Utc::now() - oldest).num_seconds()).unwrap_or(0),
            None => 0,
        };
        Ok(OutboxMetrics {
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
            pending,
            lag_seconds,
        })
    }
}

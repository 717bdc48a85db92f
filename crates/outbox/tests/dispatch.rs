//! The dispatcher against a real outbox table (`matching_outbox`, migrated into a temporary
//! SQLite database): delivery, the failure policy, the counters.

use chrono::Utc;
use looma_outbox::{Action, Deliver, DeliveryError, Outbox, OutboxRow, OutboxTable};
use std::collections::HashMap;
use std::sync::Mutex;

const TABLE: OutboxTable = OutboxTable {
    table: "matching_outbox",
    subject_column: "job_id",
};

/// Answers per subject id: missing means accepted.
#[derive(Default)]
struct Scripted {
    answers: HashMap<String, DeliveryError>,
    seen: Mutex<Vec<(String, Action)>>,
}

#[async_trait::async_trait]
impl Deliver for Scripted {
    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        self.seen
            .lock()
            .unwrap()
            .push((row.subject_id.clone(), row.action));
        match self.answers.get(&row.subject_id) {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

async fn database() -> (tempfile::TempDir, sea_orm::DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let config = looma_db::DatabaseConfig {
        url: format!("sqlite://{}/outbox.db?mode=rwc", dir.path().display()),
        ..Default::default()
    };
    let db = looma_db::connect(&config).await.unwrap();
    looma_db::migrate(&db).await.unwrap();
    (dir, db)
}

async fn enqueue(db: &sea_orm::DatabaseConnection, ids: &[&str]) {
    for id in ids {
        TABLE
            .enqueue(db, id, Action::Upsert, Utc::now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn rows_round_trip_and_are_removed_once_delivered() {
    let (_dir, db) = database().await;
    TABLE
        .enqueue(&db, "a", Action::Delete, Utc::now())
        .await
        .unwrap();
    let rows = TABLE.due(&db, Utc::now(), 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject_id, "a");
    assert_eq!(rows[0].action, Action::Delete);
    assert_eq!(rows[0].attempts, 0);
    let outbox = Outbox::new(db.clone(), TABLE, Scripted::default());
    assert_eq!(outbox.dispatch_due().await.unwrap(), 1);
    let metrics = outbox.metrics().await.unwrap();
    assert_eq!(
        (metrics.delivered, metrics.failed, metrics.pending),
        (1, 0, 0)
    );
    assert_eq!(metrics.lag_seconds, 0);
}

#[tokio::test]
async fn a_rejected_row_does_not_block_the_rows_behind_it() {
    let (_dir, db) = database().await;
    enqueue(&db, &["poison", "b", "c"]).await;
    let mut deliver = Scripted::default();
    deliver.answers.insert(
        "poison".into(),
        DeliveryError::Rejected("bad document".into()),
    );
    let outbox = Outbox::new(db.clone(), TABLE, deliver);
    assert_eq!(outbox.dispatch_due().await.unwrap(), 2);
    let metrics = outbox.metrics().await.unwrap();
    assert_eq!(
        (metrics.delivered, metrics.failed, metrics.pending),
        (2, 1, 1)
    );
    // Rescheduled with backoff: not due now, due later, with the error kept.
    assert!(TABLE.due(&db, Utc::now(), 10).await.unwrap().is_empty());
    let later = TABLE
        .due(&db, Utc::now() + chrono::Duration::seconds(5), 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 1);
    assert_eq!(later[0].last_error.as_deref(), Some("bad document"));
}

#[tokio::test]
async fn an_unavailable_destination_stops_the_pass() {
    let (_dir, db) = database().await;
    enqueue(&db, &["a", "b"]).await;
    let mut deliver = Scripted::default();
    deliver.answers.insert(
        "a".into(),
        DeliveryError::Unavailable("search unreachable".into()),
    );
    let outbox = Outbox::new(db.clone(), TABLE, deliver);
    assert_eq!(outbox.dispatch_due().await.unwrap(), 0);
    // `b` was not attempted and is still due now; `a` waits for its backoff.
    let due = TABLE.due(&db, Utc::now(), 10).await.unwrap();
    assert_eq!(
        due.iter()
            .map(|r| r.subject_id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(due[0].attempts, 0);
    assert_eq!(outbox.metrics().await.unwrap().failed, 1);
}

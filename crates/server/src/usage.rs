//! Per-user usage: what each user did with a feature (searches by mode, match runs, uploads,
//! chat messages and tokens), counted in memory per (feature, user, hour) and reported to the
//! monitor (`reportUserUsage`, a service-signed mutation) every `server.usage_report_ms` and
//! when the process stops.
//!
//! Prometheus cannot carry this (a label per user is unbounded), so it travels apart from
//! `/metrics`. Memory is bounded: at most [`MAX_ENTRIES`] distinct entries between reports;
//! more are dropped and counted in `looma_usage_dropped_total`. Only people are counted
//! (principals of kind `User`): services calling each other on a user's behalf would count the
//! same work twice.
//!
//! A subgraph gets its process's ledger through [`SubgraphShell::usage`](crate::SubgraphShell)
//! and its resolvers call [`record`]; work done outside a request (chat's answer) takes the
//! ledger from the request that started it ([`ledger`]).

use crate::ServiceClient;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use looma_auth::{Principal, PrincipalKind};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Distinct (feature, user, hour) entries kept between two reports.
pub const MAX_ENTRIES: usize = 20_000;
/// Entries per report: the monitor accepts at most this many in one mutation.
pub const REPORT_CHUNK: usize = 500;
/// The longest user id reported (longer ones are not counted: ids are UUIDs).
pub const MAX_SUBJECT_BYTES: usize = 64;
/// How long the report sent while stopping may take.
const FINAL_REPORT_TIMEOUT: Duration = Duration::from_secs(5);

const REPORT: &str = "mutation ReportUserUsage($entries: [UserUsageInput!]!) {
  reportUserUsage(entries: $entries)
}";

/// One counted entry: `value` of `feature` by `user_id` in the hour starting at `hour`.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageEntry {
    pub feature: &'static str,
    pub user_id: String,
    pub hour: DateTime<Utc>,
    pub value: f64,
}

type Key = (&'static str, String, DateTime<Utc>);

/// The process's per-user counts between two reports. Cloning shares them.
#[derive(Clone, Default)]
pub struct UsageLedger {
    counts: Arc<Mutex<HashMap<Key, f64>>>,
}

impl UsageLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` of `feature` (a name the monitor knows, `search.text`) to `principal`'s
    /// count for the hour of `at`. Services and non-positive amounts are not counted.
    pub fn record(
        &self,
        principal: &Principal,
        feature: &'static str,
        amount: f64,
        at: DateTime<Utc>,
    ) {
        if principal.kind != PrincipalKind::User
            || !(amount.is_finite() && amount > 0.0)
            || principal.subject.is_empty()
            || principal.subject.len() > MAX_SUBJECT_BYTES
        {
            return;
        }
        let hour = hour_of(at);
        let mut counts = self.lock();
        if let Some(value) = counts.get_mut(&(feature, principal.subject.clone(), hour)) {
            *value += amount;
            return;
        }
        if counts.len() >= MAX_ENTRIES {
            dropped(feature, "full");
            return;
        }
        counts.insert((feature, principal.subject.clone(), hour), amount);
    }

    /// Everything counted since the last call.
    pub fn drain(&self) -> Vec<UsageEntry> {
        self.lock()
            .drain()
            .map(|((feature, user_id, hour), value)| UsageEntry {
                feature,
                user_id,
                hour,
                value,
            })
            .collect()
    }

    /// Puts entries back (their report did not arrive), merged with what was counted
    /// meanwhile; new keys beyond [`MAX_ENTRIES`] are dropped and counted.
    pub fn restore(&self, entries: Vec<UsageEntry>) {
        let mut counts = self.lock();
        for entry in entries {
            let key = (entry.feature, entry.user_id, entry.hour);
            let full = counts.len() >= MAX_ENTRIES;
            match counts.get_mut(&key) {
                Some(value) => *value += entry.value,
                None if !full => {
                    counts.insert(key, entry.value);
                }
                None => dropped(entry.feature, "full"),
            }
        }
    }

    /// Distinct entries waiting for the next report.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, f64>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// Counts entries lost: `reason` is `full` (the ledger's cap) or `refused` (the monitor
/// refused the report). Labelled by the feature's component (`search` of `search.text`), so
/// the series stay few.
fn dropped(feature: &str, reason: &'static str) {
    let component = feature.split('.').next().unwrap_or(feature).to_owned();
    metrics::counter!("looma_usage_dropped_total", "component" => component, "reason" => reason)
        .increment(1);
}

/// Counts `amount` of `feature` for the caller of this request, when the component reports
/// usage (its shell was given a ledger) and the caller is a user.
pub fn record(ctx: &async_graphql::Context<'_>, feature: &'static str, amount: f64) {
    if let (Some(ledger), Some(principal)) = (ledger(ctx), crate::caller(ctx).principal()) {
        ledger.record(principal, feature, amount, Utc::now());
    }
}

/// The ledger of this request's component, for work that outlives the request.
pub fn ledger(ctx: &async_graphql::Context<'_>) -> Option<UsageLedger> {
    ctx.data_opt::<UsageLedger>().cloned()
}

/// Sends a ledger's entries to the monitor.
#[derive(Clone)]
pub struct UsageReporter {
    ledger: UsageLedger,
    monitor: ServiceClient,
}

impl UsageReporter {
    /// Reports `ledger` to `monitor` (a client signed with `usage:report`).
    pub fn new(ledger: UsageLedger, monitor: ServiceClient) -> Self {
        UsageReporter { ledger, monitor }
    }

    /// Sends everything counted so far, in chunks. Entries the monitor could not be reached
    /// for are put back for the next report; entries it refused are dropped (they would be
    /// refused again) and counted.
    pub async fn report(&self) {
        let batch = self.ledger.drain();
        let mut chunks = batch.chunks(REPORT_CHUNK);
        while let Some(chunk) = chunks.next() {
            let entries: Vec<serde_json::Value> = chunk
                .iter()
                .map(|entry| {
                    json!({
                        "feature": entry.feature,
                        "userId": entry.user_id,
                        "hour": entry.hour.to_rfc3339(),
                        "value": entry.value,
                    })
                })
                .collect();
            match self
                .monitor
                .query(REPORT, json!({ "entries": entries }))
                .await
            {
                Ok(_) => {}
                Err(error @ crate::ServiceCallError::Unreachable { .. }) => {
                    tracing::warn!(%error, "reporting per-user usage to the monitor; kept for the next report");
                    self.ledger.restore(chunk.to_vec());
                    for rest in chunks.by_ref() {
                        self.ledger.restore(rest.to_vec());
                    }
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, entries = chunk.len(), "the monitor refused a per-user usage report; dropped");
                    for entry in chunk {
                        dropped(entry.feature, "refused");
                    }
                }
            }
        }
    }

    /// Reports every `every` until `stop` turns true, then once more (within a few seconds)
    /// so what was counted last is not lost.
    pub fn spawn(
        self,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
                self.report().await;
            }
            if tokio::time::timeout(FINAL_REPORT_TIMEOUT, self.report())
                .await
                .is_err()
            {
                tracing::warn!("the last per-user usage report did not finish in time");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            kind: PrincipalKind::User,
            email: None,
            roles: Vec::new(),
            permissions: Default::default(),
        }
    }

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        format!("2026-12-07T{hour:02}:{minute:02}:00Z")
            .parse()
            .unwrap()
    }

    fn sorted(mut entries: Vec<UsageEntry>) -> Vec<(String, String, DateTime<Utc>, f64)> {
        entries
            .sort_by(|a, b| (a.feature, &a.user_id, a.hour).cmp(&(b.feature, &b.user_id, b.hour)));
        entries
            .into_iter()
            .map(|e| (e.feature.to_owned(), e.user_id, e.hour, e.value))
            .collect()
    }

    #[test]
    fn counts_are_kept_per_feature_user_and_hour() {
        let ledger = UsageLedger::new();
        ledger.record(&person("ann"), "search.text", 1.0, at(9, 5));
        ledger.record(&person("ann"), "search.text", 1.0, at(9, 55));
        ledger.record(&person("ann"), "search.text", 1.0, at(10, 0));
        ledger.record(&person("bob"), "search.text", 1.0, at(9, 30));
        ledger.record(&person("ann"), "chat.tokens", 120.0, at(9, 30));
        assert_eq!(
            sorted(ledger.drain()),
            vec![
                ("chat.tokens".into(), "ann".into(), at(9, 0), 120.0),
                ("search.text".into(), "ann".into(), at(9, 0), 2.0),
                ("search.text".into(), "ann".into(), at(10, 0), 1.0),
                ("search.text".into(), "bob".into(), at(9, 0), 1.0),
            ]
        );
        assert!(ledger.drain().is_empty(), "drained once");
    }

    #[test]
    fn services_and_empty_amounts_are_not_counted() {
        let ledger = UsageLedger::new();
        let mut service = person("matching");
        service.kind = PrincipalKind::Service;
        ledger.record(&service, "search.text", 1.0, at(9, 0));
        ledger.record(&person("ann"), "chat.tokens", 0.0, at(9, 0));
        ledger.record(&person("ann"), "chat.tokens", f64::NAN, at(9, 0));
        ledger.record(&person(&"x".repeat(65)), "search.text", 1.0, at(9, 0));
        assert!(ledger.is_empty());
    }

    #[test]
    fn distinct_entries_are_capped_and_existing_ones_still_count() {
        let ledger = UsageLedger::new();
        for i in 0..MAX_ENTRIES {
            ledger.record(&person(&format!("u{i}")), "search.text", 1.0, at(9, 0));
        }
        ledger.record(&person("one-too-many"), "search.text", 1.0, at(9, 0));
        ledger.record(&person("u0"), "search.text", 1.0, at(9, 0));
        assert_eq!(ledger.len(), MAX_ENTRIES);
        let drained = ledger.drain();
        assert!(!drained.iter().any(|e| e.user_id == "one-too-many"));
        assert_eq!(
            drained.iter().find(|e| e.user_id == "u0").unwrap().value,
            2.0
        );
    }

    #[test]
    fn a_restored_batch_merges_with_new_counts() {
        let ledger = UsageLedger::new();
        ledger.record(&person("ann"), "search.text", 3.0, at(9, 0));
        let batch = ledger.drain();
        ledger.record(&person("ann"), "search.text", 1.0, at(9, 10));
        ledger.restore(batch);
        assert_eq!(
            sorted(ledger.drain()),
            vec![("search.text".into(), "ann".into(), at(9, 0), 4.0)]
        );
    }
}

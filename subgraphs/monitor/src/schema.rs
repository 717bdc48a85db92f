//! The monitor subgraph's GraphQL surface: the platform's health now, the alert history and
//! rules, and per-feature usage for the CRM's dashboard, in total and per user. Everything
//! needs `monitor:read`, except a user's own usage (`usage(userId:)` with their own id) and
//! the components' per-user reports (`reportUserUsage`: services holding `usage:report`).

use crate::MonitorError;
use crate::domain::rules::{self, RuleKind, Severity};
use crate::service::{self, Bucket, MonitorService, ReportedUsage};
use crate::store::{self, alert};
use async_graphql::Context;
use async_graphql::{
    EmptySubscription, Enum, ID, InputObject, Object, Result, Schema, SimpleObject,
};
use chrono::{DateTime, Utc};
use looma_auth::{PrincipalKind, permission};
use looma_core::GraphqlResultExt;
use looma_server::require;

pub type MonitorSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: MonitorService) -> MonitorSchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a MonitorService {
    ctx.data_unchecked::<MonitorService>()
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum HealthStatus {
    /// Ready: every dependency answered.
    Up,
    /// Some components (or dependencies) are not ready.
    Degraded,
    /// Not ready, or not reachable at all.
    Down,
}

/// The platform as probed now.
#[derive(SimpleObject)]
pub struct SystemHealth {
    /// `UP` when every component is ready, `DOWN` when none is, `DEGRADED` otherwise.
    pub status: HealthStatus,
    pub checked_at: DateTime<Utc>,
    pub components: Vec<ComponentHealth>,
}

/// One component: its `/ready` and `/health` answers.
#[derive(SimpleObject)]
pub struct ComponentHealth {
    /// `router`, `identity`, `resume`, `search`, `matching`, `chat` or `monitor`.
    pub name: String,
    pub status: HealthStatus,
    pub version: Option<String>,
    pub uptime_seconds: Option<f64>,
    /// How long its `/ready` took to answer.
    pub ready_latency_ms: Option<f64>,
    /// Why it is not `UP`.
    pub error: Option<String>,
    /// What its `/ready` checked: database, cache, search indexes, subgraphs.
    pub dependencies: Vec<DependencyHealth>,
}

#[derive(SimpleObject)]
pub struct DependencyHealth {
    pub name: String,
    pub status: HealthStatus,
    /// The failure, when not `UP`.
    pub detail: Option<String>,
}

impl From<service::ComponentHealth> for ComponentHealth {
    fn from(health: service::ComponentHealth) -> Self {
        let status = if health.ready {
            HealthStatus::Up
        } else if health.alive {
            HealthStatus::Degraded
        } else {
            HealthStatus::Down
        };
        ComponentHealth {
            name: health.component,
            status,
            version: health.version,
            uptime_seconds: health.uptime_seconds,
            ready_latency_ms: health.ready_latency_ms,
            error: health.error,
            dependencies: health
                .dependencies
                .into_iter()
                .map(|(name, outcome)| {
                    let up = outcome == "ok";
                    DependencyHealth {
                        name,
                        status: if up {
                            HealthStatus::Up
                        } else {
                            HealthStatus::Down
                        },
                        detail: (!up).then_some(outcome),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    fn stored(self) -> &'static str {
        match self {
            AlertState::Firing => store::FIRING,
            AlertState::Resolved => store::RESOLVED,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertSeverity {
    Critical,
    Warning,
}

impl From<Severity> for AlertSeverity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Critical => AlertSeverity::Critical,
            Severity::Warning => AlertSeverity::Warning,
        }
    }
}

/// One alert episode: from the first breach to its resolution.
#[derive(SimpleObject)]
pub struct Alert {
    pub id: ID,
    /// The rule's name (`LoomaComponentDown`, ...).
    pub rule: String,
    /// The component, or the collection for the index rules.
    pub subject: String,
    pub severity: AlertSeverity,
    pub state: AlertState,
    pub summary: String,
    /// The value that breached (the last seen, once resolved).
    pub value: f64,
    pub threshold: f64,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<alert::Model> for Alert {
    fn from(model: alert::Model) -> Self {
        Alert {
            id: ID(model.id),
            rule: model.rule,
            subject: model.subject,
            severity: if model.severity == Severity::Critical.as_str() {
                AlertSeverity::Critical
            } else {
                AlertSeverity::Warning
            },
            state: if model.state == store::FIRING {
                AlertState::Firing
            } else {
                AlertState::Resolved
            },
            summary: model.summary,
            value: model.value,
            threshold: model.threshold,
            started_at: model.started_at,
            resolved_at: model.resolved_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlertRuleKind {
    /// A component's `/ready` does not answer 200.
    ComponentDown,
    /// p95 GraphQL latency over the last 5 minutes, in seconds.
    HighLatency,
    /// Share of GraphQL operations answered with errors over the last 5 minutes.
    HighErrorRate,
    /// Resident memory, in bytes.
    HighMemory,
    /// Resumes parsed in the last 15 minutes while the resume index did not grow.
    SearchIndexStalled,
    /// Text and vector document counts of a collection differ.
    IndexMismatch,
}

impl From<RuleKind> for AlertRuleKind {
    fn from(kind: RuleKind) -> Self {
        match kind {
            RuleKind::ComponentDown => AlertRuleKind::ComponentDown,
            RuleKind::HighLatency => AlertRuleKind::HighLatency,
            RuleKind::HighErrorRate => AlertRuleKind::HighErrorRate,
            RuleKind::HighMemory => AlertRuleKind::HighMemory,
            RuleKind::SearchIndexStalled => AlertRuleKind::SearchIndexStalled,
            RuleKind::IndexMismatch => AlertRuleKind::IndexMismatch,
        }
    }
}

#[derive(SimpleObject)]
pub struct AlertRule {
    pub name: String,
    pub kind: AlertRuleKind,
    /// Breached above this value.
    pub threshold: f64,
    /// How long a breach must last before the alert fires.
    pub for_seconds: i64,
    pub severity: AlertSeverity,
    pub summary: String,
    /// Only this component, when set.
    pub component: Option<String>,
}

impl From<rules::AlertRule> for AlertRule {
    fn from(rule: rules::AlertRule) -> Self {
        AlertRule {
            name: rule.name,
            kind: rule.kind.into(),
            threshold: rule.threshold,
            for_seconds: i64::try_from(rule.for_seconds).unwrap_or(i64::MAX),
            severity: rule.severity.into(),
            summary: rule.summary,
            component: rule.component,
        }
    }
}

/// The rules in force.
#[derive(SimpleObject)]
pub struct AlertRules {
    /// `defaults`, or `identity config v<N>` (the key `monitor.alert_rules`).
    pub source: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum UsageBucket {
    Hour,
    Day,
    Week,
}

#[derive(SimpleObject)]
pub struct UsagePoint {
    pub start: DateTime<Utc>,
    pub value: f64,
}

/// A feature's use over time, for the whole platform or one user.
#[derive(SimpleObject)]
pub struct FeatureUsage {
    pub feature: String,
    /// The user counted, when asked for one.
    pub user_id: Option<ID>,
    pub bucket: UsageBucket,
    pub points: Vec<UsagePoint>,
    pub total: f64,
}

#[derive(SimpleObject)]
pub struct UsageFeature {
    pub name: String,
    pub description: String,
    /// Counted per user too (`usage(userId:)`, `usageByUser`).
    pub per_user: bool,
}

/// One user's total use of a feature over a period.
#[derive(SimpleObject)]
pub struct UserUsage {
    pub user_id: ID,
    pub total: f64,
}

/// What one user did with a feature in one hour, as a component counted it.
#[derive(InputObject)]
pub struct UserUsageInput {
    pub feature: String,
    pub user_id: String,
    /// The start of the hour (later instants are truncated to it).
    pub hour: DateTime<Utc>,
    pub value: f64,
}

/// `monitor:read` sees anyone's usage; a user without it sees only their own.
fn require_usage_of(ctx: &Context<'_>, user_id: Option<&str>) -> Result<()> {
    let own = looma_server::caller(ctx)
        .principal()
        .is_some_and(|principal| {
            principal.kind == PrincipalKind::User && Some(principal.subject.as_str()) == user_id
        });
    if own {
        return Ok(());
    }
    match require(ctx, permission::MONITOR_READ) {
        Ok(_) => Ok(()),
        // Signed in, asking for someone else's: say what they may see instead.
        Err(_) if user_id.is_some() && looma_server::caller(ctx).principal().is_some() => {
            Err(MonitorError::OthersUsage).gql()
        }
        Err(error) => Err(error),
    }
}

pub struct Query;

#[Object]
impl Query {
    /// Every component's readiness, version, uptime and dependencies, probed now.
    async fn system_health(&self, ctx: &Context<'_>) -> Result<SystemHealth> {
        require(ctx, permission::MONITOR_READ)?;
        let components: Vec<ComponentHealth> = service(ctx)
            .system_health()
            .await
            .into_iter()
            .map(ComponentHealth::from)
            .collect();
        let up = components
            .iter()
            .filter(|c| c.status == HealthStatus::Up)
            .count();
        let status = if up == components.len() {
            HealthStatus::Up
        } else if up == 0 {
            HealthStatus::Down
        } else {
            HealthStatus::Degraded
        };
        Ok(SystemHealth {
            status,
            checked_at: Utc::now(),
            components,
        })
    }

    /// Alert history, newest first.
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        state: Option<AlertState>,
        since: Option<DateTime<Utc>>,
        #[graphql(default = 100)] first: i32,
    ) -> Result<Vec<Alert>> {
        require(ctx, permission::MONITOR_READ)?;
        if !(1..=service::MAX_ALERTS as i32).contains(&first) {
            return Err(MonitorError::invalid(
                "first",
                format!("between 1 and {}", service::MAX_ALERTS),
            ))
            .gql();
        }
        let alerts = service(ctx)
            .alerts(state.map(AlertState::stored), since, first as u64)
            .await
            .gql()?;
        Ok(alerts.into_iter().map(Alert::from).collect())
    }

    /// The alert rules in force (identity's `monitor.alert_rules`, else the defaults).
    async fn alert_rules(&self, ctx: &Context<'_>) -> Result<AlertRules> {
        require(ctx, permission::MONITOR_READ)?;
        let set = service(ctx).rules();
        Ok(AlertRules {
            source: set.source,
            rules: set.rules.into_iter().map(AlertRule::from).collect(),
        })
    }

    /// How much `feature` was used in `[from, to)`, in buckets (at most 1000): by the whole
    /// platform, or by `userId` (per-user features only; see `usageFeatures`). Needs
    /// `monitor:read`, except for a user's own usage. Per-user rows older than the monitor's
    /// `user_usage_hourly_days` are daily: they fall in the bucket of their day's midnight.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        feature: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "UsageBucket::Hour")] bucket: UsageBucket,
        user_id: Option<ID>,
    ) -> Result<FeatureUsage> {
        let user = user_id.as_ref().map(|id| id.as_str());
        require_usage_of(ctx, user)?;
        let width = match bucket {
            UsageBucket::Hour => Bucket::Hour,
            UsageBucket::Day => Bucket::Day,
            UsageBucket::Week => Bucket::Week,
        };
        let points = service(ctx)
            .usage(&feature, user, from, to, width)
            .await
            .gql()?;
        Ok(FeatureUsage {
            feature,
            user_id,
            bucket,
            total: points.iter().map(|(_, value)| value).sum(),
            points: points
                .into_iter()
                .map(|(start, value)| UsagePoint { start, value })
                .collect(),
        })
    }

    /// The features `usage` knows.
    async fn usage_features(&self, ctx: &Context<'_>) -> Result<Vec<UsageFeature>> {
        require(ctx, permission::MONITOR_READ)?;
        Ok(service::FEATURES
            .iter()
            .map(|feature| UsageFeature {
                name: feature.name.to_owned(),
                description: feature.description.to_owned(),
                per_user: feature.per_user,
            })
            .collect())
    }

    /// The users who used `feature` most in `[from, to)`, most first (at most 100). Needs
    /// `monitor:read`.
    async fn usage_by_user(
        &self,
        ctx: &Context<'_>,
        feature: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<UserUsage>> {
        require(ctx, permission::MONITOR_READ)?;
        let first = u64::try_from(first).unwrap_or(0);
        let users = service(ctx)
            .usage_by_user(&feature, from, to, first)
            .await
            .gql()?;
        Ok(users
            .into_iter()
            .map(|(user_id, total)| UserUsage {
                user_id: ID(user_id),
                total,
            })
            .collect())
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Per-user usage counted by a component since its last report (at most 500 entries);
    /// returns how many were stored. Services holding `usage:report` only: the components
    /// send it, people never do.
    async fn report_user_usage(
        &self,
        ctx: &Context<'_>,
        entries: Vec<UserUsageInput>,
    ) -> Result<usize> {
        let principal = require(ctx, permission::USAGE_REPORT)?;
        if principal.kind != PrincipalKind::Service {
            return Err(MonitorError::ServiceOnly).gql();
        }
        let entries: Vec<ReportedUsage> = entries
            .into_iter()
            .map(|entry| ReportedUsage {
                feature: entry.feature,
                user_id: entry.user_id,
                hour: entry.hour,
                value: entry.value,
            })
            .collect();
        service(ctx).report_user_usage(&entries).await.gql()
    }
}

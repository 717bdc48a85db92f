//! The registry's GraphQL surface: subgraphs with their live instances, schema and supergraph
//! history, diffs, checks, and the service mutations (publish, register, heartbeat, usage).
//! Reading needs `schema:read`; writing `schema:publish`.

use crate::RegistryError;
use crate::domain::CheckedChange;
use crate::service::{self, PublishInput, RegistryService, ReportedOperation};
use crate::store::{self, instance, schema_version, supergraph};
use async_graphql::{
    Context, EmptySubscription, Enum, ID, InputObject, Json, Object, Result, Schema, SimpleObject,
};
use chrono::{DateTime, Utc};
use looma_auth::permission;
use looma_core::GraphqlResultExt;
use looma_router::schema_diff::{self, Severity};
use looma_server::require;
use std::time::Duration;

pub type RegistrySchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: RegistryService) -> RegistrySchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a RegistryService {
    ctx.data_unchecked::<RegistryService>()
}

const MAX_LIST: i32 = 500;

fn limit(name: &str, value: i32) -> Result<u64> {
    if !(1..=MAX_LIST).contains(&value) {
        return Err(RegistryError::invalid(
            name,
            format!("between 1 and {MAX_LIST}"),
        ))
        .gql();
    }
    Ok(value as u64)
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "SchemaChangeSeverity")]
pub enum ChangeSeverity {
    /// Additions clients must ask for.
    Safe,
    /// Valid operations keep validating but may behave differently.
    Dangerous,
    /// A valid operation may fail or change meaning.
    Breaking,
}

impl From<Severity> for ChangeSeverity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Safe => ChangeSeverity::Safe,
            Severity::Dangerous => ChangeSeverity::Dangerous,
            Severity::Breaking => ChangeSeverity::Breaking,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SchemaCheckVerdict {
    Safe,
    Dangerous,
    Breaking,
    CompositionError,
}

impl From<service::Verdict> for SchemaCheckVerdict {
    fn from(verdict: service::Verdict) -> Self {
        match verdict {
            service::Verdict::Safe => SchemaCheckVerdict::Safe,
            service::Verdict::Dangerous => SchemaCheckVerdict::Dangerous,
            service::Verdict::Breaking => SchemaCheckVerdict::Breaking,
            service::Verdict::CompositionError => SchemaCheckVerdict::CompositionError,
        }
    }
}

/// One change between two versions of a subgraph's SDL.
#[derive(SimpleObject)]
pub struct SchemaChange {
    pub severity: ChangeSeverity,
    /// `Type`, `Type.field`, `Type.field(argument)` or `Enum.VALUE`.
    pub path: String,
    pub message: String,
}

impl From<schema_diff::Change> for SchemaChange {
    fn from(change: schema_diff::Change) -> Self {
        SchemaChange {
            severity: change.severity.into(),
            path: change.path,
            message: change.message,
        }
    }
}

#[derive(SimpleObject)]
pub struct SchemaClient {
    pub name: String,
    pub version: String,
}

/// A change judged against the operations routers saw.
#[derive(SimpleObject)]
pub struct CheckedSchemaChange {
    /// `SAFE` for a breaking change nothing used within the window.
    pub severity: ChangeSeverity,
    /// What the change alone would be.
    pub original_severity: ChangeSeverity,
    pub path: String,
    pub message: String,
    /// Operations (by name, else signature) that used it within the window.
    pub affected_operations: Vec<String>,
    pub affected_clients: Vec<SchemaClient>,
    pub usage_count: i64,
}

impl From<CheckedChange> for CheckedSchemaChange {
    fn from(checked: CheckedChange) -> Self {
        CheckedSchemaChange {
            severity: checked.change.severity.into(),
            original_severity: checked.original_severity.into(),
            path: checked.change.path,
            message: checked.change.message,
            affected_operations: checked.affected_operations,
            affected_clients: checked
                .affected_clients
                .into_iter()
                .map(|c| SchemaClient {
                    name: c.name,
                    version: c.version,
                })
                .collect(),
            usage_count: checked.usage_count,
        }
    }
}

#[derive(SimpleObject)]
pub struct SchemaCheck {
    pub verdict: SchemaCheckVerdict,
    /// Every composition error (subgraph, type, field), when it does not compose.
    pub composition_errors: Vec<String>,
    pub changes: Vec<CheckedSchemaChange>,
    pub usage_window_days: u32,
}

/// One published version of a subgraph's SDL.
#[derive(SimpleObject)]
pub struct SchemaVersion {
    pub id: ID,
    pub subgraph: String,
    pub sdl: String,
    pub url: Option<String>,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    pub commit: Option<String>,
    pub metadata: Option<Json<serde_json::Value>>,
}

impl From<schema_version::Model> for SchemaVersion {
    fn from(model: schema_version::Model) -> Self {
        SchemaVersion {
            id: ID(model.id),
            subgraph: model.subgraph,
            sdl: model.sdl,
            url: model.url,
            published_by: model.published_by,
            published_at: model.published_at,
            commit: model.commit_sha,
            metadata: model
                .metadata
                .and_then(|m| serde_json::from_str(&m).ok())
                .map(Json),
        }
    }
}

/// A registered instance of a subgraph.
#[derive(SimpleObject)]
pub struct SubgraphInstance {
    pub id: ID,
    pub url: String,
    pub registered_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    /// Heard from within `registry.unhealthy_after_ms`.
    pub healthy: bool,
    /// Serves the SDL of the current composition; routers send requests only to healthy
    /// instances that do.
    pub serves_current_schema: bool,
}

fn instance_view(
    model: instance::Model,
    healthy_since: DateTime<Utc>,
    current_sha: Option<&str>,
) -> SubgraphInstance {
    SubgraphInstance {
        serves_current_schema: current_sha == Some(model.sdl_sha256.as_str()),
        id: ID(model.id),
        url: model.url,
        registered_at: model.registered_at,
        healthy: model.last_heartbeat_at >= healthy_since,
        last_heartbeat_at: model.last_heartbeat_at,
    }
}

/// A subgraph of the current composition.
#[derive(SimpleObject)]
pub struct RegisteredSubgraph {
    pub name: String,
    pub routing_url: Option<String>,
    /// Joined by registering: it leaves the supergraph when its last instance is removed.
    pub live: bool,
    pub updated_at: DateTime<Utc>,
    pub schema: Option<SchemaVersion>,
    pub instances: Vec<SubgraphInstance>,
}

#[derive(SimpleObject)]
pub struct SupergraphSubgraph {
    pub subgraph: String,
    pub schema_version_id: ID,
}

/// A router and the supergraph version it serves.
#[derive(SimpleObject, Clone)]
pub struct RouterStatus {
    pub id: String,
    pub supergraph_version: i64,
    pub last_seen_at: DateTime<Utc>,
}

/// One composed supergraph.
pub struct SupergraphVersion(supergraph::Model);

#[Object]
impl SupergraphVersion {
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who published (or registered) the change that made it.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn sdl(&self) -> &str {
        &self.0.sdl
    }
    /// The schema version of each subgraph it was composed from.
    async fn subgraphs(&self) -> Vec<SupergraphSubgraph> {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.0.schema_ids)
            .unwrap_or_default()
            .into_iter()
            .map(|(subgraph, id)| SupergraphSubgraph {
                subgraph,
                schema_version_id: ID(id.as_str().unwrap_or_default().to_owned()),
            })
            .collect()
    }
    /// Routers serving this version now.
    async fn served_by(&self, ctx: &Context<'_>) -> Result<Vec<RouterStatus>> {
        let routers = service(ctx)
            .store()
            .routers()
            .await
            .map_err(RegistryError::from)
            .gql()?;
        Ok(routers
            .into_iter()
            .filter(|r| r.supergraph_version == self.0.version)
            .map(router_view)
            .collect())
    }
}

fn router_view(model: store::router::Model) -> RouterStatus {
    RouterStatus {
        id: model.id,
        supergraph_version: model.supergraph_version,
        last_seen_at: model.last_seen_at,
    }
}

#[derive(SimpleObject)]
pub struct SubgraphRoute {
    pub subgraph: String,
    /// Healthy URLs; empty when every registered instance is silent.
    pub urls: Vec<String>,
}

/// What a router follows: the supergraph in force and where each subgraph is served.
#[derive(SimpleObject)]
pub struct RegistryRouterConfig {
    /// Send it back as `known` to wait for the next change.
    pub etag: String,
    /// `false`: nothing changed since `known` within the wait.
    pub changed: bool,
    pub supergraph_version: i64,
    /// Only when `changed`.
    pub supergraph_sdl: Option<String>,
    pub routes: Vec<SubgraphRoute>,
}

#[derive(SimpleObject)]
pub struct PublishSchemaResult {
    pub schema_version: SchemaVersion,
    pub supergraph_version: i64,
    /// Against the version it replaced.
    pub changes: Vec<SchemaChange>,
    /// The same SDL and URL were already current; nothing was stored.
    pub unchanged: bool,
}

#[derive(SimpleObject)]
pub struct InstanceRegistration {
    pub instance_id: ID,
    pub supergraph_version: i64,
    /// Heartbeat at least this often.
    pub heartbeat_interval_ms: u64,
}

#[derive(InputObject)]
pub struct PublishSchemaInput {
    pub subgraph: String,
    pub sdl: String,
    /// Where routers reach it; kept from the previous version when absent.
    pub url: Option<String>,
    /// The commit the SDL comes from (CI).
    pub commit: Option<String>,
    /// Free JSON object (CI run, branch, author).
    pub metadata: Option<Json<serde_json::Value>>,
    /// Publish even a breaking change that client operations used within the usage window
    /// (refused otherwise: `CONFLICT`, reason `BREAKING_CHANGE`, naming the clients).
    #[graphql(default = false)]
    pub force: bool,
}

#[derive(InputObject)]
pub struct RegisterInstanceInput {
    pub subgraph: String,
    pub url: String,
    pub sdl: String,
    /// Chosen by the instance; registering again with it refreshes the instance.
    pub instance_id: ID,
}

#[derive(InputObject)]
pub struct OperationUsageInput {
    /// SHA-256 (hex) identifying the operation.
    pub signature: String,
    pub name: Option<String>,
    /// Schema coordinates it used: `Type.field`, `Type.field(argument)`, `Type`.
    pub coordinates: Vec<String>,
    pub client_name: String,
    pub client_version: String,
    pub count: i64,
}

pub struct Query;

#[Object]
impl Query {
    /// The subgraphs of the current composition, with their schema and instances.
    async fn registered_subgraphs(&self, ctx: &Context<'_>) -> Result<Vec<RegisteredSubgraph>> {
        require(ctx, permission::SCHEMA_READ)?;
        let service = service(ctx);
        let store = service.store();
        let subgraphs = store.subgraphs().await.map_err(RegistryError::from).gql()?;
        let instances = store.instances().await.map_err(RegistryError::from).gql()?;
        let ids: Vec<String> = subgraphs.iter().map(|s| s.schema_id.clone()).collect();
        let mut schemas = store
            .schemas_by_id(&ids)
            .await
            .map_err(RegistryError::from)
            .gql()?;
        let healthy_since =
            Utc::now() - chrono::Duration::milliseconds(service.config().unhealthy_after_ms as i64);
        Ok(subgraphs
            .into_iter()
            .map(|s| {
                let schema = schemas
                    .iter()
                    .position(|v| v.id == s.schema_id)
                    .map(|i| schemas.swap_remove(i));
                let current_sha = schema.as_ref().map(|v| v.sdl_sha256.clone());
                RegisteredSubgraph {
                    instances: instances
                        .iter()
                        .filter(|i| i.subgraph == s.name)
                        .cloned()
                        .map(|i| instance_view(i, healthy_since, current_sha.as_deref()))
                        .collect(),
                    name: s.name,
                    routing_url: s.routing_url,
                    live: s.live,
                    updated_at: s.updated_at,
                    schema: schema.map(SchemaVersion::from),
                }
            })
            .collect())
    }

    /// A subgraph's published versions, newest first.
    async fn schema_history(
        &self,
        ctx: &Context<'_>,
        subgraph: String,
        #[graphql(default = 50)] limit: i32,
    ) -> Result<Vec<SchemaVersion>> {
        require(ctx, permission::SCHEMA_READ)?;
        let limit = self::limit("limit", limit)?;
        let history = service(ctx)
            .store()
            .history(&subgraph, limit)
            .await
            .map_err(RegistryError::from)
            .gql()?;
        Ok(history.into_iter().map(SchemaVersion::from).collect())
    }

    async fn schema_version(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SchemaVersion>> {
        require(ctx, permission::SCHEMA_READ)?;
        let version = service(ctx)
            .store()
            .schema(&id)
            .await
            .map_err(RegistryError::from)
            .gql()?;
        Ok(version.map(SchemaVersion::from))
    }

    /// The changes from one schema version to another.
    async fn schema_diff(&self, ctx: &Context<'_>, from: ID, to: ID) -> Result<Vec<SchemaChange>> {
        require(ctx, permission::SCHEMA_READ)?;
        let changes = service(ctx).diff(&from, &to).await.gql()?;
        Ok(changes.into_iter().map(SchemaChange::from).collect())
    }

    /// Whether `sdl` for `subgraph` composes and what it changes, without publishing; a
    /// breaking change no operation used within `usageWindowDays` is reported safe.
    async fn schema_check(
        &self,
        ctx: &Context<'_>,
        subgraph: String,
        sdl: String,
        usage_window_days: Option<u32>,
    ) -> Result<SchemaCheck> {
        require(ctx, permission::SCHEMA_READ)?;
        let report = service(ctx)
            .check(&subgraph, &sdl, usage_window_days)
            .await
            .gql()?;
        Ok(SchemaCheck {
            verdict: report.verdict.into(),
            composition_errors: report.composition_errors,
            changes: report.changes.into_iter().map(Into::into).collect(),
            usage_window_days: report.usage_window_days,
        })
    }

    /// Composed supergraphs, newest first.
    async fn supergraph_versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] limit: i32,
    ) -> Result<Vec<SupergraphVersion>> {
        require(ctx, permission::SCHEMA_READ)?;
        let limit = self::limit("limit", limit)?;
        let versions = service(ctx)
            .store()
            .supergraphs(limit)
            .await
            .map_err(RegistryError::from)
            .gql()?;
        Ok(versions.into_iter().map(SupergraphVersion).collect())
    }

    /// One supergraph version; the newest when `version` is absent.
    async fn supergraph_version(
        &self,
        ctx: &Context<'_>,
        version: Option<i64>,
    ) -> Result<Option<SupergraphVersion>> {
        require(ctx, permission::SCHEMA_READ)?;
        let store = service(ctx).store();
        let found = match version {
            Some(version) => store.supergraph(version).await,
            None => store.latest_supergraph().await,
        }
        .map_err(RegistryError::from)
        .gql()?;
        Ok(found.map(SupergraphVersion))
    }

    /// Routers that polled the registry and the version each serves.
    async fn schema_routers(&self, ctx: &Context<'_>) -> Result<Vec<RouterStatus>> {
        require(ctx, permission::SCHEMA_READ)?;
        let routers = service(ctx)
            .store()
            .routers()
            .await
            .map_err(RegistryError::from)
            .gql()?;
        Ok(routers.into_iter().map(router_view).collect())
    }

    /// A router's long poll: answers at once when the supergraph or a route differs from
    /// `known`, else after up to `waitMs` with `changed: false`. `serving` (the version the
    /// router has loaded) is recorded under `routerId`.
    async fn router_config(
        &self,
        ctx: &Context<'_>,
        router_id: Option<String>,
        serving: Option<i64>,
        known: Option<String>,
        #[graphql(default = 0)] wait_ms: u64,
    ) -> Result<RegistryRouterConfig> {
        let principal = require(ctx, permission::SCHEMA_READ)?;
        // Which version a router serves is recorded for routers (they hold `schema:publish`
        // to report usage), not for any reader.
        let router_id = router_id.filter(|_| principal.has(permission::SCHEMA_PUBLISH));
        let view = service(ctx)
            .router_view(
                router_id.as_deref(),
                serving,
                known.as_deref(),
                Duration::from_millis(wait_ms),
            )
            .await
            .gql()?;
        Ok(RegistryRouterConfig {
            etag: view.etag,
            changed: view.changed,
            supergraph_version: view.version,
            supergraph_sdl: view.sdl,
            routes: view
                .routes
                .into_iter()
                .map(|r| SubgraphRoute {
                    subgraph: r.subgraph,
                    urls: r.urls,
                })
                .collect(),
        })
    }
}

fn actor(principal: &looma_auth::Principal) -> String {
    principal.subject.clone()
}

/// A service principal registers, heartbeats and deregisters only the subgraph it is named
/// after (`looma serve <subgraph> --register` signs as the subgraph); users and API keys
/// holding `schema:publish` may act for any.
fn acting_for(principal: &looma_auth::Principal) -> Option<&str> {
    (principal.kind == looma_auth::PrincipalKind::Service).then_some(principal.subject.as_str())
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Publishes a subgraph's SDL, composed with the latest of the others. A composition
    /// error is refused (`COMPOSITION_FAILED`, every error in the message), and so is a
    /// breaking change that client operations used (`CONFLICT`, reason `BREAKING_CHANGE`)
    /// unless `force`; nothing changes then.
    async fn publish_schema(
        &self,
        ctx: &Context<'_>,
        input: PublishSchemaInput,
    ) -> Result<PublishSchemaResult> {
        let principal = require(ctx, permission::SCHEMA_PUBLISH)?;
        let outcome = service(ctx)
            .publish(
                &actor(principal),
                PublishInput {
                    subgraph: input.subgraph,
                    sdl: input.sdl,
                    url: input.url,
                    commit: input.commit,
                    metadata: input.metadata.map(|m| m.0),
                    force: input.force,
                },
            )
            .await
            .gql()?;
        Ok(PublishSchemaResult {
            schema_version: outcome.schema.into(),
            supergraph_version: outcome.supergraph_version,
            changes: outcome.changes.into_iter().map(Into::into).collect(),
            unchanged: outcome.unchanged,
        })
    }

    /// A live instance joins (its SDL published and composed, its URL routed to); heartbeat
    /// every `heartbeatIntervalMs` after.
    async fn register_instance(
        &self,
        ctx: &Context<'_>,
        input: RegisterInstanceInput,
    ) -> Result<InstanceRegistration> {
        let principal = require(ctx, permission::SCHEMA_PUBLISH)?;
        let service = service(ctx);
        let outcome = service
            .register(
                acting_for(principal),
                &actor(principal),
                &input.subgraph,
                &input.url,
                &input.sdl,
                &input.instance_id,
            )
            .await
            .gql()?;
        Ok(InstanceRegistration {
            instance_id: input.instance_id,
            supergraph_version: outcome.supergraph_version,
            heartbeat_interval_ms: service.config().heartbeat_interval_ms,
        })
    }

    /// Takes a subgraph out of the composition (its history stays); refused with
    /// `COMPOSITION_FAILED` when the others do not compose without it. Returns the new
    /// supergraph version.
    async fn delete_subgraph(&self, ctx: &Context<'_>, subgraph: String) -> Result<i64> {
        let principal = require(ctx, permission::SCHEMA_PUBLISH)?;
        service(ctx)
            .delete_subgraph(&actor(principal), &subgraph)
            .await
            .gql()
    }

    /// `false`: the instance is unknown (it was removed) and must register again.
    async fn heartbeat(&self, ctx: &Context<'_>, instance_id: ID) -> Result<bool> {
        let principal = require(ctx, permission::SCHEMA_PUBLISH)?;
        service(ctx)
            .heartbeat(acting_for(principal), &instance_id)
            .await
            .gql()
    }

    /// A planned stop: the instance stops receiving requests now.
    async fn deregister_instance(&self, ctx: &Context<'_>, instance_id: ID) -> Result<bool> {
        let principal = require(ctx, permission::SCHEMA_PUBLISH)?;
        service(ctx)
            .deregister(acting_for(principal), &instance_id)
            .await
            .gql()
    }

    /// A router's report of the operations it ran (counted in the current hour); returns how
    /// many rows were added.
    async fn report_schema_usage(
        &self,
        ctx: &Context<'_>,
        operations: Vec<OperationUsageInput>,
    ) -> Result<usize> {
        require(ctx, permission::SCHEMA_PUBLISH)?;
        let operations: Vec<ReportedOperation> = operations
            .into_iter()
            .map(|op| ReportedOperation {
                signature: op.signature,
                name: op.name,
                coordinates: op.coordinates,
                client_name: op.client_name,
                client_version: op.client_version,
                count: op.count,
            })
            .collect();
        service(ctx).report_usage(&operations).await.gql()
    }
}

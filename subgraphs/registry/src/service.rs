//! The registry's use cases: publish (compose with the latest of the others, refuse what does
//! not compose), check (composition, classified changes, usage), live instances (register,
//! heartbeat, sweep), the long poll routers follow, and usage reports.
//!
//! Every change to the composition runs under one lock, so two publishes never compose from
//! the same base; run one registry replica with `registry.worker_enabled` (the others may
//! serve reads and polls).

use crate::config::RegistryConfig;
use crate::domain::{self, CheckedChange, ClientRef, UsedOperation};
use crate::error::RegistryError;
use crate::store::{
    self, Composition, NewSchemaRow, RegistryStore, SubgraphChange, UsageRow, instance, subgraph,
};
use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use looma_router::compose::{self, SubgraphSource};
use looma_router::schema_diff::{self, Change, Severity};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Largest count one usage entry adds (a router reports every few seconds).
const MAX_REPORTED_COUNT: i64 = 1_000_000_000;

#[derive(Clone)]
pub struct RegistryService {
    inner: Arc<Inner>,
}

struct Inner {
    store: RegistryStore,
    config: RegistryConfig,
    /// Held while a composition is computed and stored.
    compose_lock: tokio::sync::Mutex<()>,
    /// Woken on every change routers follow (supergraph or instances).
    changed: tokio::sync::Notify,
    /// Orphaned live subgraphs the sweeper could not remove, with the supergraph version it
    /// tried at: not tried again until the supergraph changes.
    failed_removals: tokio::sync::Mutex<std::collections::HashSet<(String, Option<i64>)>>,
    /// The hour (since the epoch) of the last prune.
    pruned_hour: std::sync::atomic::AtomicI64,
}

/// A publish: the subgraph's new SDL and where it is served.
pub struct PublishInput {
    pub subgraph: String,
    pub sdl: String,
    pub url: Option<String>,
    pub commit: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// Publish even when a breaking change touches what clients used (refused otherwise,
    /// `CONFLICT` with reason `BREAKING_CHANGE`).
    pub force: bool,
}

/// What [`RegistryService::apply`] stores: a publish or a registration.
struct Publication<'a> {
    name: &'a str,
    sdl: &'a str,
    url: Option<&'a str>,
    /// Joined by registering instances (leaves when the last is gone).
    live: bool,
    commit: Option<String>,
    metadata: Option<String>,
    /// Store even a breaking change that operations used.
    force: bool,
}

pub struct PublishOutcome {
    pub schema: store::schema_version::Model,
    pub supergraph_version: i64,
    /// Against the version it replaced (everything is an addition for a new subgraph).
    pub changes: Vec<Change>,
    /// The same SDL and URL were already current: nothing was stored.
    pub unchanged: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Safe,
    Dangerous,
    Breaking,
    CompositionError,
}

pub struct CheckReport {
    pub verdict: Verdict,
    pub composition_errors: Vec<String>,
    pub changes: Vec<CheckedChange>,
    pub usage_window_days: u32,
}

/// One subgraph's URLs as routers should use them now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    pub subgraph: String,
    /// Healthy instances; empty when every registered instance is silent (routers answer
    /// `SUBGRAPH_UNAVAILABLE` for its fields).
    pub urls: Vec<String>,
}

/// What a router polls for.
pub struct RouterView {
    /// Changes whenever the supergraph or a route does.
    pub etag: String,
    pub changed: bool,
    pub version: i64,
    /// Only when `changed`.
    pub sdl: Option<String>,
    pub routes: Vec<Route>,
}

/// One operation as a router reports it.
pub struct ReportedOperation {
    pub signature: String,
    pub name: Option<String>,
    pub coordinates: Vec<String>,
    pub client_name: String,
    pub client_version: String,
    pub count: i64,
}

impl RegistryService {
    pub fn new(store: RegistryStore, config: RegistryConfig) -> Self {
        RegistryService {
            inner: Arc::new(Inner {
                store,
                config,
                compose_lock: tokio::sync::Mutex::new(()),
                changed: tokio::sync::Notify::new(),
                failed_removals: Default::default(),
                pruned_hour: std::sync::atomic::AtomicI64::new(-1),
            }),
        }
    }

    pub fn store(&self) -> &RegistryStore {
        &self.inner.store
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    fn validate(subgraph: &str, sdl: &str, url: Option<&str>) -> Result<(), RegistryError> {
        domain::check_subgraph_name(subgraph)
            .map_err(|reason| RegistryError::invalid("subgraph", reason))?;
        domain::check_sdl(sdl).map_err(|reason| RegistryError::invalid("sdl", reason))?;
        if let Some(url) = url {
            domain::check_url(url).map_err(|reason| RegistryError::invalid("url", reason))?;
        }
        Ok(())
    }

    /// The subgraphs of the current composition with their SDL, the one named `replace`
    /// swapped for `with` (or added), the one named `without` left out.
    async fn sources(
        &self,
        replace: Option<(&str, &str, &str)>,
        without: Option<&str>,
    ) -> Result<(Vec<SubgraphSource>, Vec<subgraph::Model>), RegistryError> {
        let subgraphs = self.inner.store.subgraphs().await?;
        let ids: Vec<String> = subgraphs.iter().map(|s| s.schema_id.clone()).collect();
        let schemas: HashMap<String, store::schema_version::Model> = self
            .inner
            .store
            .schemas_by_id(&ids)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut sources = Vec::new();
        for subgraph in &subgraphs {
            if Some(subgraph.name.as_str()) == without
                || replace.is_some_and(|(name, _, _)| name == subgraph.name)
            {
                continue;
            }
            let Some(schema) = schemas.get(&subgraph.schema_id) else {
                continue;
            };
            sources.push(SubgraphSource {
                name: subgraph.name.clone(),
                url: composition_url(subgraph, schema),
                sdl: schema.sdl.clone(),
            });
        }
        if let Some((name, sdl, url)) = replace {
            sources.push(SubgraphSource {
                name: name.to_owned(),
                url: url.to_owned(),
                sdl: sdl.to_owned(),
            });
        }
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((sources, subgraphs))
    }

    /// Composes `sources` and checks the router can load the result.
    fn compose(sources: &[SubgraphSource]) -> Result<String, Vec<String>> {
        if sources.is_empty() {
            return Err(vec!["no subgraph left to compose".into()]);
        }
        let supergraph = compose::compose(sources).map_err(|errors| errors.0)?;
        looma_router::supergraph::Supergraph::parse(&supergraph)
            .map_err(|error| vec![format!("the composed supergraph does not load: {error}")])?;
        Ok(supergraph)
    }

    fn schema_ids(sources: &[SubgraphSource], ids: &BTreeMap<String, String>) -> serde_json::Value {
        serde_json::Value::Object(
            sources
                .iter()
                .filter_map(|s| {
                    ids.get(&s.name)
                        .map(|id| (s.name.clone(), serde_json::Value::String(id.clone())))
                })
                .collect(),
        )
    }

    /// Publishes a subgraph's SDL: composed with the latest of the others; a composition error
    /// is refused with every error and nothing changes.
    pub async fn publish(
        &self,
        actor: &str,
        input: PublishInput,
    ) -> Result<PublishOutcome, RegistryError> {
        Self::validate(&input.subgraph, &input.sdl, input.url.as_deref())?;
        let metadata = match &input.metadata {
            None => None,
            Some(value) if !value.is_object() => {
                return Err(RegistryError::invalid("metadata", "a JSON object"));
            }
            Some(value) => {
                let text = value.to_string();
                if text.len() > 16 * 1024 {
                    return Err(RegistryError::invalid("metadata", "at most 16 KiB of JSON"));
                }
                Some(text)
            }
        };
        if input.commit.as_ref().is_some_and(|c| c.len() > 100) {
            return Err(RegistryError::invalid("commit", "at most 100 bytes"));
        }
        self.apply(
            actor,
            Publication {
                name: &input.subgraph,
                sdl: &input.sdl,
                url: input.url.as_deref(),
                live: false,
                commit: input.commit,
                metadata,
                force: input.force,
            },
        )
        .await
    }

    /// Stores the publication's SDL when it (or its URL) changed, recomposing.
    async fn apply(
        &self,
        actor: &str,
        publication: Publication<'_>,
    ) -> Result<PublishOutcome, RegistryError> {
        let Publication {
            name,
            sdl,
            url,
            live,
            commit,
            metadata,
            force,
        } = publication;
        let _guard = self.inner.compose_lock.lock().await;
        let store = &self.inner.store;
        let (current, current_schema) = self.current(name).await?;
        let routing_url = match (&current, url) {
            (_, Some(url)) if !live => Some(url.to_owned()),
            (Some(current), _) => current.routing_url.clone(),
            (None, _) => None,
        };
        let same_sdl = current_schema.as_ref().is_some_and(|s| s.sdl == sdl);
        if let (Some(current), Some(schema)) = (&current, &current_schema)
            && same_sdl
            && current.routing_url == routing_url
            && let Some(version) = store.latest_supergraph_version().await?
        {
            return Ok(PublishOutcome {
                schema: schema.clone(),
                supergraph_version: version,
                changes: Vec::new(),
                unchanged: true,
            });
        }
        let compose_url = url
            .map(str::to_owned)
            .or_else(|| routing_url.clone())
            .or_else(|| current_schema.as_ref().and_then(|s| s.url.clone()))
            .unwrap_or_else(|| format!("http://{name}.invalid/graphql"));
        let (sources, subgraphs) = self.sources(Some((name, sdl, &compose_url)), None).await?;
        let supergraph = Self::compose(&sources).map_err(RegistryError::Composition)?;
        let changes =
            schema_diff::diff(current_schema.as_ref().map_or("", |s| s.sdl.as_str()), sdl)
                .map_err(|reason| RegistryError::invalid("sdl", reason))?;
        if !force && changes.iter().any(|c| c.severity == Severity::Breaking) {
            let window = self.inner.config.usage_window_days;
            let blocking: Vec<String> = self
                .judged(changes.clone(), window)
                .await?
                .into_iter()
                .filter(|c| c.change.severity == Severity::Breaking)
                .map(|c| {
                    let clients: Vec<String> = c
                        .affected_clients
                        .iter()
                        .map(|client| format!("{} {}", client.name, client.version))
                        .collect();
                    format!(
                        "{} (used by {} in {})",
                        c.change.message,
                        clients.join(", "),
                        c.affected_operations.join(", ")
                    )
                })
                .collect();
            if !blocking.is_empty() {
                return Err(RegistryError::Breaking(blocking));
            }
        }
        let new_schema = (!same_sdl).then(|| NewSchemaRow {
            id: uuid::Uuid::now_v7().to_string(),
            subgraph: name.to_owned(),
            sdl: sdl.to_owned(),
            url: url.map(str::to_owned),
            published_by: actor.to_owned(),
            commit_sha: commit,
            metadata,
        });
        let schema_id = match (&new_schema, &current_schema) {
            (Some(new), _) => new.id.clone(),
            (None, Some(schema)) => schema.id.clone(),
            (None, None) => unreachable!("an unchanged SDL has a current schema"),
        };
        let row = subgraph::Model {
            name: name.to_owned(),
            schema_id: schema_id.clone(),
            routing_url,
            live: current.as_ref().map_or(live, |c| c.live && live),
            updated_at: Utc::now(),
        };
        let mut ids: BTreeMap<String, String> = subgraphs
            .iter()
            .map(|s| (s.name.clone(), s.schema_id.clone()))
            .collect();
        ids.insert(name.to_owned(), schema_id.clone());
        let reason = match &current {
            None => format!("{name} added"),
            Some(_) if same_sdl => format!("{name} moved"),
            Some(_) => format!("{name} changed"),
        };
        let now = Utc::now();
        let version = store
            .commit_composition(
                Composition {
                    new_schema: new_schema.as_ref(),
                    subgraphs: vec![SubgraphChange::Upsert(&row)],
                    supergraph_sdl: &supergraph,
                    schema_ids: Self::schema_ids(&sources, &ids),
                    actor,
                    reason: &reason,
                },
                now,
            )
            .await?;
        self.inner.changed.notify_waiters();
        tracing::info!(subgraph = name, version, %reason, "supergraph composed");
        let schema = store
            .schema(&schema_id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("schema version {schema_id}")))?;
        Ok(PublishOutcome {
            schema,
            supergraph_version: version,
            changes,
            unchanged: false,
        })
    }

    /// Reports, without publishing, whether `sdl` for `subgraph` composes and what it changes;
    /// a breaking change no operation used within the usage window is reported safe.
    pub async fn check(
        &self,
        subgraph: &str,
        sdl: &str,
        window_days: Option<u32>,
    ) -> Result<CheckReport, RegistryError> {
        Self::validate(subgraph, sdl, None)?;
        let window_days = window_days.unwrap_or(self.inner.config.usage_window_days);
        if !(1..=366).contains(&window_days) {
            return Err(RegistryError::invalid(
                "usageWindowDays",
                "between 1 and 366",
            ));
        }
        let (_, current_schema) = self.current(subgraph).await?;
        let url = format!("http://{subgraph}.invalid/graphql");
        let (sources, _) = self.sources(Some((subgraph, sdl, &url)), None).await?;
        let composition = Self::compose(&sources);
        let diff = schema_diff::diff(current_schema.as_ref().map_or("", |s| s.sdl.as_str()), sdl);
        let (changes, errors) = match (composition, diff) {
            (Err(errors), _) => (Vec::new(), errors),
            (Ok(_), Err(error)) => (Vec::new(), vec![error]),
            (Ok(_), Ok(changes)) => (changes, Vec::new()),
        };
        let changes = self.judged(changes, window_days).await?;
        let verdict = if !errors.is_empty() {
            Verdict::CompositionError
        } else {
            match changes.iter().map(|c| c.change.severity).max() {
                Some(Severity::Breaking) => Verdict::Breaking,
                Some(Severity::Dangerous) => Verdict::Dangerous,
                _ => Verdict::Safe,
            }
        };
        Ok(CheckReport {
            verdict,
            composition_errors: errors,
            changes,
            usage_window_days: window_days,
        })
    }

    /// The subgraph in the current composition and its schema version.
    async fn current(
        &self,
        name: &str,
    ) -> Result<
        (
            Option<subgraph::Model>,
            Option<store::schema_version::Model>,
        ),
        RegistryError,
    > {
        let store = &self.inner.store;
        let current = store.subgraph(name).await?;
        let schema = match &current {
            Some(current) => store.schema(&current.schema_id).await?,
            None => None,
        };
        Ok((current, schema))
    }

    /// `changes` judged against the operations used in the last `window_days`.
    async fn judged(
        &self,
        changes: Vec<Change>,
        window_days: u32,
    ) -> Result<Vec<CheckedChange>, RegistryError> {
        let used = self
            .used_operations(Utc::now() - ChronoDuration::days(i64::from(window_days)))
            .await?;
        Ok(domain::judge(changes, &used, window_days))
    }

    async fn used_operations(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<UsedOperation>, RegistryError> {
        let used = self.inner.store.used_since(since).await?;
        Ok(used
            .into_iter()
            .map(|(operation, usage)| {
                let mut clients: Vec<ClientRef> = usage
                    .iter()
                    .map(|u| ClientRef {
                        name: u.client_name.clone(),
                        version: u.client_version.clone(),
                    })
                    .collect();
                clients.sort();
                clients.dedup();
                UsedOperation {
                    coordinates: serde_json::from_str::<BTreeSet<String>>(&operation.coordinates)
                        .unwrap_or_default(),
                    name: operation.name,
                    signature: operation.signature,
                    clients,
                    count: usage
                        .iter()
                        .fold(0i64, |sum, u| sum.saturating_add(u.count)),
                }
            })
            .collect())
    }

    /// A live instance joins: its SDL is published (composed; refused when it does not
    /// compose) and its URL routed to.
    pub async fn register(
        &self,
        acting_for: Option<&str>,
        actor: &str,
        subgraph: &str,
        url: &str,
        sdl: &str,
        instance_id: &str,
    ) -> Result<PublishOutcome, RegistryError> {
        Self::validate(subgraph, sdl, Some(url))?;
        Self::check_acting_for(acting_for, subgraph)?;
        if instance_id.is_empty() || instance_id.len() > 100 {
            return Err(RegistryError::invalid("instanceId", "1 to 100 bytes"));
        }
        // The instance first: the sweeper must never see the live subgraph without it.
        self.inner
            .store
            .upsert_instance(instance_id, subgraph, url, sdl, Utc::now())
            .await?;
        let outcome = match self
            .apply(
                actor,
                Publication {
                    name: subgraph,
                    sdl,
                    url: Some(url),
                    live: true,
                    commit: None,
                    metadata: None,
                    // The instance is already deployed: refusing it would only hide it.
                    force: true,
                },
            )
            .await
        {
            Ok(outcome) => outcome,
            Err(error) => {
                self.inner.store.remove_instance(instance_id).await?;
                return Err(error);
            }
        };
        self.inner.changed.notify_waiters();
        tracing::info!(subgraph, url, instance_id, "instance registered");
        Ok(outcome)
    }

    fn check_acting_for(acting_for: Option<&str>, subgraph: &str) -> Result<(), RegistryError> {
        match acting_for {
            Some(service) if service != subgraph => Err(RegistryError::Forbidden(format!(
                "the service `{service}` may register only the subgraph `{service}`"
            ))),
            _ => Ok(()),
        }
    }

    /// The instance, when the caller may act for its subgraph; `None` when it is unknown.
    async fn own_instance(
        &self,
        acting_for: Option<&str>,
        instance_id: &str,
    ) -> Result<Option<instance::Model>, RegistryError> {
        let Some(instance) = self.inner.store.instance(instance_id).await? else {
            return Ok(None);
        };
        Self::check_acting_for(acting_for, &instance.subgraph)?;
        Ok(Some(instance))
    }

    /// `false`: the instance is unknown (it was removed) and must register again.
    pub async fn heartbeat(
        &self,
        acting_for: Option<&str>,
        instance_id: &str,
    ) -> Result<bool, RegistryError> {
        if self.own_instance(acting_for, instance_id).await?.is_none() {
            return Ok(false);
        }
        let known = self.inner.store.heartbeat(instance_id, Utc::now()).await?;
        Ok(known)
    }

    /// A planned stop: the instance stops receiving requests now.
    /// The instance stops receiving requests now; like a silent one, it is removed (and its
    /// subgraph, when none is left, leaves the supergraph) after `remove_after_ms`, so a
    /// restart within that time keeps the subgraph's fields in the supergraph.
    pub async fn deregister(
        &self,
        acting_for: Option<&str>,
        instance_id: &str,
    ) -> Result<bool, RegistryError> {
        if self.own_instance(acting_for, instance_id).await?.is_none() {
            return Ok(false);
        }
        let silent_since = Utc::now()
            - ChronoDuration::milliseconds(self.inner.config.unhealthy_after_ms as i64 + 1);
        let known = self
            .inner
            .store
            .heartbeat(instance_id, silent_since)
            .await?;
        if known {
            self.inner.changed.notify_waiters();
        }
        Ok(known)
    }

    /// Removes instances silent for `remove_after_ms`, and live subgraphs left with no
    /// instance leave the composition (kept when the rest would not compose without them).
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<(), RegistryError> {
        let cutoff = now - ChronoDuration::milliseconds(self.inner.config.remove_after_ms as i64);
        let removed = self.inner.store.remove_silent(cutoff).await?;
        for instance in &removed {
            tracing::warn!(subgraph = %instance.subgraph, url = %instance.url, "silent instance removed");
        }
        let instances = self.inner.store.instances().await?;
        let orphans: Vec<subgraph::Model> = self
            .inner
            .store
            .subgraphs()
            .await?
            .into_iter()
            .filter(|s| s.live && !instances.iter().any(|i| i.subgraph == s.name))
            .collect();
        self.prune_hourly(now).await?;
        let version = self.inner.store.latest_supergraph_version().await?;
        for orphan in orphans {
            // Tried at this version already: the rest did not compose without it.
            let attempt = (orphan.name.clone(), version);
            if self.inner.failed_removals.lock().await.contains(&attempt) {
                continue;
            }
            match self
                .remove_subgraph(&orphan.name, "registry", "no live instance left", true)
                .await
            {
                Err(RegistryError::Composition(errors)) => {
                    tracing::error!(subgraph = %orphan.name, errors = %errors.join("; "), "cannot remove the subgraph: the rest does not compose without it (tried again when the supergraph changes)");
                    self.inner.failed_removals.lock().await.insert(attempt);
                }
                other => {
                    other?;
                }
            }
        }
        if !removed.is_empty() {
            self.inner.changed.notify_waiters();
        }
        Ok(())
    }

    /// Once an hour: usage older than the longest window a check may ask for (366 days) and
    /// routers silent for a week are forgotten.
    async fn prune_hourly(&self, now: DateTime<Utc>) -> Result<(), RegistryError> {
        let hour = now.timestamp() / 3_600;
        if self
            .inner
            .pruned_hour
            .swap(hour, std::sync::atomic::Ordering::SeqCst)
            == hour
        {
            return Ok(());
        }
        let removed = self
            .inner
            .store
            .prune(
                now - ChronoDuration::days(366),
                now - ChronoDuration::days(7),
            )
            .await?;
        if removed > 0 {
            tracing::info!(removed, "old usage and silent routers forgotten");
        }
        Ok(())
    }

    /// Takes a subgraph out of the composition (its schema history stays); refused when the
    /// rest does not compose without it.
    pub async fn delete_subgraph(&self, actor: &str, name: &str) -> Result<i64, RegistryError> {
        domain::check_subgraph_name(name)
            .map_err(|reason| RegistryError::invalid("subgraph", reason))?;
        self.remove_subgraph(name, actor, "deleted", false)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("subgraph `{name}`")))
    }

    /// `Ok(None)`: not in the composition (or, with `only_orphan`, no longer an orphan: an
    /// instance registered, or a publish made it static, since the sweeper looked).
    async fn remove_subgraph(
        &self,
        name: &str,
        actor: &str,
        why: &str,
        only_orphan: bool,
    ) -> Result<Option<i64>, RegistryError> {
        let _guard = self.inner.compose_lock.lock().await;
        let (sources, subgraphs) = self.sources(None, Some(name)).await?;
        let Some(current) = subgraphs.iter().find(|s| s.name == name) else {
            return Ok(None);
        };
        if only_orphan {
            let instances = self.inner.store.instances().await?;
            if !current.live || instances.iter().any(|i| i.subgraph == name) {
                return Ok(None);
            }
        }
        let supergraph = Self::compose(&sources).map_err(RegistryError::Composition)?;
        let ids: BTreeMap<String, String> = subgraphs
            .iter()
            .map(|s| (s.name.clone(), s.schema_id.clone()))
            .collect();
        let reason = format!("{name} removed: {why}");
        let version = self
            .inner
            .store
            .commit_composition(
                Composition {
                    new_schema: None,
                    subgraphs: vec![SubgraphChange::Remove(name)],
                    supergraph_sdl: &supergraph,
                    schema_ids: Self::schema_ids(&sources, &ids),
                    actor,
                    reason: &reason,
                },
                Utc::now(),
            )
            .await?;
        // Its instances go with it.
        for instance in self.inner.store.instances().await? {
            if instance.subgraph == name {
                self.inner.store.remove_instance(&instance.id).await?;
            }
        }
        self.inner.changed.notify_waiters();
        tracing::info!(subgraph = name, version, %reason, "subgraph left the supergraph");
        Ok(Some(version))
    }

    /// Sweeps every `sweep_interval_ms` until `stop`.
    pub fn spawn_sweeper(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let service = self.clone();
        let every = Duration::from_millis(self.inner.config.sweep_interval_ms);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
                if let Err(error) = service.sweep(Utc::now()).await {
                    tracing::error!(%error, "registry sweep failed");
                }
            }
        });
    }

    /// The routes now: each subgraph's published routing URL (if any) and its healthy
    /// instances serving the SDL of the current composition (during a rolling deploy the others
    /// get no requests for fields they may not have).
    pub async fn routes(&self, now: DateTime<Utc>) -> Result<Vec<Route>, RegistryError> {
        let healthy_since =
            now - ChronoDuration::milliseconds(self.inner.config.unhealthy_after_ms as i64);
        let instances = self.inner.store.instances().await?;
        let subgraphs = self.inner.store.subgraphs().await?;
        let ids: Vec<String> = subgraphs.iter().map(|s| s.schema_id.clone()).collect();
        let current_sdl: HashMap<String, String> = self
            .inner
            .store
            .schemas_by_id(&ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s.sdl_sha256))
            .collect();
        Ok(subgraphs
            .into_iter()
            .map(|subgraph| {
                let serving = current_sdl.get(&subgraph.schema_id);
                let mine: Vec<&instance::Model> = instances
                    .iter()
                    .filter(|i| i.subgraph == subgraph.name)
                    .collect();
                // A published routing URL, plus the instances that registered beside it.
                let mut urls: Vec<String> = subgraph.routing_url.into_iter().collect();
                urls.extend(
                    mine.iter()
                        .filter(|i| i.last_heartbeat_at >= healthy_since)
                        .filter(|i| serving == Some(&i.sdl_sha256))
                        .map(|i| i.url.clone()),
                );
                let mut seen = BTreeSet::new();
                urls.retain(|url| seen.insert(url.clone()));
                Route {
                    subgraph: subgraph.name,
                    urls,
                }
            })
            .collect())
    }

    /// A router's long poll: answers at once when the supergraph or a route differs from
    /// `known` (an etag from an earlier answer), else waits up to `wait` for a change.
    /// `serving` (the version the router has loaded) is recorded under `router_id`.
    pub async fn router_view(
        &self,
        router_id: Option<&str>,
        serving: Option<i64>,
        known: Option<&str>,
        wait: Duration,
    ) -> Result<RouterView, RegistryError> {
        if let (Some(id), Some(version)) = (router_id, serving) {
            if id.is_empty() || id.len() > 100 {
                return Err(RegistryError::invalid("routerId", "1 to 100 bytes"));
            }
            self.inner
                .store
                .record_router(id, version, Utc::now())
                .await?;
        }
        let wait = wait.min(Duration::from_millis(self.inner.config.max_poll_wait_ms));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before reading, so a change between the read and the wait wakes it.
            let notified = self.inner.changed.notified();
            let version = self.inner.store.latest_supergraph_version().await?;
            let routes = self.routes(Utc::now()).await?;
            let etag = etag(version, &routes);
            let now = tokio::time::Instant::now();
            if known != Some(etag.as_str()) || now >= deadline {
                let changed = known != Some(etag.as_str());
                let sdl = match (changed, version) {
                    (true, Some(version)) => {
                        self.inner.store.supergraph(version).await?.map(|s| s.sdl)
                    }
                    _ => None,
                };
                return Ok(RouterView {
                    etag,
                    changed,
                    version: version.unwrap_or(0),
                    sdl,
                    routes,
                });
            }
            // Instances turn unhealthy by the clock, and other replicas change the
            // tables: look again at least this often.
            let recheck = Duration::from_millis(500).min(deadline - now);
            let _ = tokio::time::timeout(recheck, notified).await;
        }
    }

    /// Adds a router's usage report to the current hour.
    pub async fn report_usage(
        &self,
        operations: &[ReportedOperation],
    ) -> Result<usize, RegistryError> {
        if operations.len() > 10_000 {
            return Err(RegistryError::invalid(
                "operations",
                "at most 10000 per report",
            ));
        }
        // An entry out of bounds is skipped (and counted), never the whole report: a router
        // resending a refused batch would otherwise lose every later report too.
        let valid = |op: &&ReportedOperation| {
            !op.signature.is_empty()
                && op.signature.len() <= 64
                && op.count >= 1
                && op.coordinates.len() <= 5_000
                && op.coordinates.iter().all(|c| c.len() <= 300)
                && op.client_name.len() <= 100
                && op.client_version.len() <= 100
                && op.name.as_ref().is_none_or(|n| n.len() <= 200)
        };
        let rows: Vec<UsageRow<'_>> = operations
            .iter()
            .filter(valid)
            .map(|op| UsageRow {
                signature: &op.signature,
                name: op.name.as_deref(),
                coordinates: &op.coordinates,
                client_name: &op.client_name,
                client_version: &op.client_version,
                count: op.count.min(MAX_REPORTED_COUNT),
            })
            .collect();
        if rows.len() < operations.len() {
            tracing::warn!(
                skipped = operations.len() - rows.len(),
                "usage report entries out of bounds skipped"
            );
        }
        let bucket = Utc::now()
            .duration_trunc(ChronoDuration::hours(1))
            .unwrap_or_else(|_| Utc::now());
        self.inner.store.add_usage(&rows, bucket).await?;
        Ok(rows.len())
    }

    /// Gauges read at scrape time: instances per subgraph and health, the newest supergraph.
    pub async fn record_metrics(&self) {
        let Ok(routes) = self.routes(Utc::now()).await else {
            return;
        };
        let Ok(instances) = self.inner.store.instances().await else {
            return;
        };
        for route in &routes {
            let registered = instances
                .iter()
                .filter(|i| i.subgraph == route.subgraph)
                .count();
            let healthy = if registered == 0 { 0 } else { route.urls.len() };
            for (state, value) in [
                ("healthy", healthy),
                ("unhealthy", registered - healthy.min(registered)),
            ] {
                metrics::gauge!(
                    "looma_registry_instances",
                    "component" => crate::COMPONENT,
                    "subgraph" => route.subgraph.clone(),
                    "state" => state
                )
                .set(value as f64);
            }
        }
        if let Ok(Some(version)) = self.inner.store.latest_supergraph_version().await {
            metrics::gauge!("looma_registry_supergraph_version", "component" => crate::COMPONENT)
                .set(version as f64);
        }
    }

    /// Changes from schema version `from` to `to` (of the same subgraph, or not).
    pub async fn diff(&self, from: &str, to: &str) -> Result<Vec<Change>, RegistryError> {
        let load = |id: &str| {
            let id = id.to_owned();
            async move {
                self.inner
                    .store
                    .schema(&id)
                    .await?
                    .ok_or(RegistryError::NotFound(format!("schema version {id}")))
            }
        };
        let (from, to) = (load(from).await?, load(to).await?);
        schema_diff::diff(&from.sdl, &to.sdl)
            .map_err(|reason| RegistryError::invalid("sdl", reason))
    }
}

/// The URL written into the supergraph for a subgraph: routers use the live routes, so this
/// only has to be stable (a new instance must not make a new supergraph version).
fn composition_url(subgraph: &subgraph::Model, schema: &store::schema_version::Model) -> String {
    subgraph
        .routing_url
        .clone()
        .or_else(|| schema.url.clone())
        .unwrap_or_else(|| format!("http://{}.invalid/graphql", subgraph.name))
}

fn etag(version: Option<i64>, routes: &[Route]) -> String {
    let routes = serde_json::to_string(routes).unwrap_or_default();
    format!(
        "{}-{}",
        version.unwrap_or(0),
        &store::sha256_hex(&routes)[..16]
    )
}

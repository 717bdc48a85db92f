//! The entity cache: answers to `_entities` fetches kept per entity in the shared cache
//! (Redis when configured, so every router replica reads what one fetched; in-process
//! otherwise), for the subgraphs and types `[[router.entity_cache.entities]]` names, each with
//! its time to live.
//!
//! One cached value is one entity as one subgraph answered it for one fetch: the key is a
//! digest of the subgraph, the fetch's operation and other variables (so a different selection
//! is a different entry), the representation, the caller's scope and the entity's generation
//! (see `looma_cache::entities`: a subgraph that changes an entity moves its generation on,
//! and nothing cached before is read again). The scope is what the subgraph's answer may
//! depend on: `caller` (the whole forwarded principal: one caller never reads what another
//! fetched) or `permissions` (callers holding the same permissions share answers — for types
//! whose fields depend on permissions only). Anonymous callers share the anonymous scope.
//!
//! A fetch asks the subgraph only for the representations it missed, and the answer is put
//! back together in the order the executor asked. Only entities that came back without an
//! error, and not `null`, are stored. When the cache fails the fetch goes out whole, as if
//! nothing were cached. Mutations and uploads are never cached.

use super::{EntityBatch, SubgraphEvents, SubgraphRequest, SubgraphTransport, UploadedFile};
use crate::supergraph::Subgraph;
use bytes::Bytes;
use looma_auth::{ForwardedPrincipalCodec, Principal};
use looma_cache::Cache;
use looma_cache::entities::{GENERATION_TTL, MAX_ENTRY_TTL, generation_key, new_generation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// `[router.entity_cache]`: which entities are cached; nothing by default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntityCacheConfig {
    pub entities: Vec<CachedEntity>,
}

/// One subgraph's answers about one entity type, kept for `ttl_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedEntity {
    pub subgraph: String,
    #[serde(rename = "type")]
    pub typename: String,
    pub ttl_ms: u64,
    #[serde(default)]
    pub scope: CacheScope,
}

/// Who may read an answer another caller's fetch stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Only the same caller (user or API key, with the same roles and permissions).
    #[default]
    Caller,
    /// Any caller holding exactly the same permissions.
    Permissions,
}

impl EntityCacheConfig {
    pub fn validate(&self) -> Result<(), String> {
        for entity in &self.entities {
            if entity.ttl_ms == 0 || entity.ttl_ms > MAX_ENTRY_TTL.as_millis() as u64 {
                return Err(format!(
                    "router.entity_cache: ttl_ms of {}.{} must be between 1 and {} (a day)",
                    entity.subgraph,
                    entity.typename,
                    MAX_ENTRY_TTL.as_millis()
                ));
            }
        }
        Ok(())
    }
}

/// Keys and values to store with one time to live.
type Entries = Vec<(String, Vec<u8>)>;

#[derive(Clone, Copy)]
struct Rule {
    ttl: Duration,
    scope: CacheScope,
}

/// Wraps a transport so configured entity fetches are answered from the cache where they can.
pub struct EntityCacheTransport {
    inner: Arc<dyn SubgraphTransport>,
    cache: Arc<dyn Cache>,
    /// Subgraph → type → rule.
    rules: HashMap<String, HashMap<String, Rule>>,
    /// Reads the forwarded principal back, to scope entries (none: every caller is anonymous
    /// to the subgraphs, and so here).
    principals: Option<ForwardedPrincipalCodec>,
}

impl EntityCacheTransport {
    /// `None` when the config caches nothing.
    pub fn wrap(
        inner: Arc<dyn SubgraphTransport>,
        cache: Arc<dyn Cache>,
        config: &EntityCacheConfig,
        principals: Option<ForwardedPrincipalCodec>,
    ) -> Option<Self> {
        let mut rules: HashMap<String, HashMap<String, Rule>> = HashMap::new();
        for entity in &config.entities {
            rules.entry(entity.subgraph.clone()).or_default().insert(
                entity.typename.clone(),
                Rule {
                    ttl: Duration::from_millis(entity.ttl_ms),
                    scope: entity.scope,
                },
            );
        }
        (!rules.is_empty()).then_some(EntityCacheTransport {
            inner,
            cache,
            rules,
            principals,
        })
    }

    /// The caller as the subgraph will see them; `Err` when the forwarded principal cannot be
    /// read back (the fetch is then not cached).
    fn caller(&self, headers: &http::HeaderMap) -> Result<Option<Principal>, ()> {
        let Some(value) = headers.get(looma_auth::FORWARDED_PRINCIPAL_HEADER) else {
            return Ok(None);
        };
        let codec = self.principals.as_ref().ok_or(())?;
        let value = value.to_str().map_err(|_| ())?;
        codec.decode(value).map(Some).map_err(|_| ())
    }
}

/// What an entry's reader must share with its writer.
fn scope_of(scope: CacheScope, caller: Option<&Principal>) -> String {
    match (caller, scope) {
        (None, _) => "anonymous".to_owned(),
        (Some(principal), CacheScope::Caller) => {
            format!(
                "caller:{}",
                serde_json::to_string(principal).unwrap_or_default()
            )
        }
        (Some(principal), CacheScope::Permissions) => {
            let permissions: Vec<&str> = principal.permissions.iter().map(String::as_str).collect();
            format!("permissions:{}", permissions.join(","))
        }
    }
}

fn entry_key(
    subgraph: &str,
    body: &[u8],
    batch: &EntityBatch,
    index: usize,
    scope: &str,
    generation: &[u8],
) -> String {
    let representation = &batch.representations[index];
    let mut hash = Sha256::new();
    for part in [
        subgraph.as_bytes(),
        &body[..batch.list.start],
        &body[representation.span.clone()],
        scope.as_bytes(),
        generation,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    format!(
        "entity:{}:{}",
        representation.typename,
        hex::encode(&digest[..20])
    )
}

fn count(subgraph: &str, typename: &str, result: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(
            "looma_router_entity_cache_total",
            "component" => crate::http::COMPONENT,
            "subgraph" => subgraph.to_owned(),
            "type" => typename.to_owned(),
            "result" => result
        )
        .increment(n);
    }
}

/// The parts of an `_entities` answer the cache needs; the entities stay raw bytes.
#[derive(Deserialize)]
struct EntitiesAnswer<'a> {
    #[serde(borrow, default)]
    data: Option<EntitiesData<'a>>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct EntitiesData<'a> {
    #[serde(borrow, rename = "_entities", default)]
    entities: Option<Vec<&'a RawValue>>,
}

/// The `_entities` index an error's path names, if it names one.
fn entity_index(error: &Value) -> Option<usize> {
    let path = error.get("path")?.as_array()?;
    if path.first()?.as_str()? != "_entities" {
        return None;
    }
    path.get(1)?.as_u64().map(|i| i as usize)
}

/// The answer the executor expects for all `n` representations: cached ones from `hits`,
/// the others from the subgraph's answer to the fetch of `misses` (in that order), errors
/// re-pointed at the representations they are about.
fn assemble(hits: &[Option<Vec<u8>>], misses: &[usize], answer: Option<&EntitiesAnswer>) -> Bytes {
    let fetched = answer
        .and_then(|a| a.data.as_ref())
        .and_then(|d| d.entities.as_ref());
    let mut out = Vec::with_capacity(
        hits.iter().flatten().map(Vec::len).sum::<usize>()
            + fetched.map_or(0, |f| f.iter().map(|e| e.get().len()).sum())
            + 64,
    );
    out.extend_from_slice(b"{\"data\":{\"_entities\":[");
    let mut next_miss = 0;
    for (i, hit) in hits.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match hit {
            Some(bytes) => out.extend_from_slice(bytes),
            None => {
                match fetched.and_then(|f| f.get(next_miss)) {
                    Some(entity) => out.extend_from_slice(entity.get().as_bytes()),
                    None => out.extend_from_slice(b"null"),
                }
                next_miss += 1;
            }
        }
    }
    out.extend_from_slice(b"]}");
    let errors = answer
        .and_then(|a| a.errors.as_ref())
        .filter(|e| !e.is_empty());
    if let Some(errors) = errors {
        let errors: Vec<Value> = errors
            .iter()
            .map(|error| {
                let mut error = error.clone();
                if let Some(j) = entity_index(&error)
                    && let Some(&i) = misses.get(j)
                    && let Some(slot) = error.pointer_mut("/path/1")
                {
                    *slot = Value::from(i);
                }
                error
            })
            .collect();
        out.extend_from_slice(b",\"errors\":");
        // Values read from JSON always serialize.
        let _ = serde_json::to_writer(&mut out, &errors);
    }
    out.push(b'}');
    Bytes::from(out)
}

#[async_trait::async_trait]
impl SubgraphTransport for EntityCacheTransport {
    fn caches_entities(&self, subgraph: &str) -> bool {
        self.rules.contains_key(subgraph)
    }

    async fn send(
        &self,
        subgraph: &Subgraph,
        mut request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let batch = match request.entities.take() {
            Some(batch) if request.idempotent => batch,
            _ => return self.inner.send(subgraph, request, headers).await,
        };
        let Some(types) = self.rules.get(&subgraph.name) else {
            return self.inner.send(subgraph, request, headers).await;
        };
        let rules: Vec<Option<Rule>> = batch
            .representations
            .iter()
            .map(|r| r.key.as_ref().and(types.get(&r.typename).copied()))
            .collect();
        let cached: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].is_some()).collect();
        if cached.is_empty() {
            return self.inner.send(subgraph, request, headers).await;
        }
        let Ok(caller) = self.caller(headers) else {
            return self.inner.send(subgraph, request, headers).await;
        };
        let representations = &batch.representations;
        let generation_keys: Vec<String> = cached
            .iter()
            .map(|&i| {
                let r = &representations[i];
                generation_key(&r.typename, r.key.as_ref().unwrap_or(&Value::Null))
            })
            .collect();
        let fresh: Vec<Vec<u8>> = cached.iter().map(|_| new_generation()).collect();
        let looked_up = match self
            .cache
            .get_or_insert_many(&generation_keys, &fresh, GENERATION_TTL)
            .await
        {
            Ok(generations) => {
                // Worked out once per fetch: a fetch holds one or two scopes.
                let mut scopes: Vec<(CacheScope, String)> = Vec::with_capacity(2);
                let keys: Vec<String> = cached
                    .iter()
                    .zip(&generations)
                    .map(|(&i, generation)| {
                        let scope = rules[i].map_or(CacheScope::Caller, |r| r.scope);
                        let position = match scopes.iter().position(|(s, _)| *s == scope) {
                            Some(position) => position,
                            None => {
                                scopes.push((scope, scope_of(scope, caller.as_ref())));
                                scopes.len() - 1
                            }
                        };
                        entry_key(
                            &subgraph.name,
                            &request.body,
                            &batch,
                            i,
                            &scopes[position].1,
                            generation,
                        )
                    })
                    .collect();
                self.cache
                    .get_many(&keys)
                    .await
                    .map(|values| (keys, values))
            }
            Err(error) => Err(error),
        };
        let (keys, values) = match looked_up {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, subgraph = %subgraph.name, "entity cache unavailable; fetching");
                count(&subgraph.name, "", "error", 1);
                return self.inner.send(subgraph, request, headers).await;
            }
        };

        let n = representations.len();
        let mut hits: Vec<Option<Vec<u8>>> = vec![None; n];
        let mut entry_keys: Vec<Option<String>> = vec![None; n];
        let mut tally: HashMap<&str, (u64, u64)> = HashMap::new();
        for ((&i, key), value) in cached.iter().zip(keys).zip(values) {
            let counts = tally.entry(&representations[i].typename).or_default();
            if value.is_some() {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
            hits[i] = value;
            entry_keys[i] = Some(key);
        }
        for (typename, (hit, miss)) in tally {
            count(&subgraph.name, typename, "hit", hit);
            count(&subgraph.name, typename, "miss", miss);
        }

        let misses: Vec<usize> = (0..n).filter(|&i| hits[i].is_none()).collect();
        if misses.is_empty() {
            return Ok(assemble(&hits, &misses, None));
        }
        let body = if misses.len() == n {
            request.body.clone()
        } else {
            batch.body_with(&request.body, &misses)
        };
        let fetch = SubgraphRequest {
            body,
            idempotent: true,
            entities: None,
        };
        let answer = self.inner.send(subgraph, fetch, headers).await?;
        let parsed: Option<EntitiesAnswer> = serde_json::from_slice(&answer).ok();

        if let Some(parsed) = &parsed {
            self.store(parsed, &misses, &rules, &mut entry_keys);
        }
        if misses.len() == n {
            return Ok(answer);
        }
        Ok(assemble(&hits, &misses, parsed.as_ref()))
    }

    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Bytes, String> {
        self.inner
            .send_with_files(subgraph, body, headers, files)
            .await
    }

    async fn subscribe(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<SubgraphEvents, String> {
        self.inner.subscribe(subgraph, body, headers).await
    }
}

impl EntityCacheTransport {
    /// Stores the fetched entities that may be kept, in the background (the answer does not
    /// wait for the cache).
    fn store(
        &self,
        answer: &EntitiesAnswer,
        misses: &[usize],
        rules: &[Option<Rule>],
        entry_keys: &mut [Option<String>],
    ) {
        let errors = answer.errors.as_deref().unwrap_or_default();
        // An error about the whole fetch may have touched any entity: keep none.
        if errors.iter().any(|e| entity_index(e).is_none()) {
            return;
        }
        let Some(entities) = answer.data.as_ref().and_then(|d| d.entities.as_ref()) else {
            return;
        };
        if entities.len() != misses.len() {
            return;
        }
        let mut by_ttl: Vec<(Duration, Entries)> = Vec::new();
        for (j, entity) in entities.iter().enumerate() {
            let i = misses[j];
            let (Some(rule), Some(key)) = (rules[i], entry_keys[i].take()) else {
                continue;
            };
            if entity.get() == "null" || errors.iter().any(|e| entity_index(e) == Some(j)) {
                continue;
            }
            let value = (key, entity.get().as_bytes().to_vec());
            match by_ttl.iter_mut().find(|(ttl, _)| *ttl == rule.ttl) {
                Some((_, entries)) => entries.push(value),
                None => by_ttl.push((rule.ttl, vec![value])),
            }
        }
        if by_ttl.is_empty() {
            return;
        }
        let cache = self.cache.clone();
        tokio::spawn(async move {
            for (ttl, entries) in by_ttl {
                if let Err(error) = cache.set_many(&entries, ttl).await {
                    tracing::warn!(%error, "entity cache: could not store fetched entities");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assembling_puts_cached_and_fetched_entities_back_in_order() {
        let hits = vec![
            Some(br#"{"id":"a"}"#.to_vec()),
            None,
            Some(br#"{"id":"c"}"#.to_vec()),
            None,
        ];
        let misses = [1, 3];
        let raw = r#"{"data":{"_entities":[{"id":"b"},null]},
            "errors":[{"message":"gone","path":["_entities",1,"name"]}]}"#;
        let answer: EntitiesAnswer = serde_json::from_str(raw).unwrap();
        let out: Value = serde_json::from_slice(&assemble(&hits, &misses, Some(&answer))).unwrap();
        assert_eq!(
            out,
            json!({
                "data": {"_entities": [{"id":"a"}, {"id":"b"}, {"id":"c"}, null]},
                "errors": [{"message":"gone","path":["_entities",3,"name"]}]
            })
        );
        let all_cached = [Some(b"1".to_vec()), Some(b"2".to_vec())];
        assert_eq!(
            &assemble(&all_cached, &[], None)[..],
            br#"{"data":{"_entities":[1,2]}}"#
        );
    }

    #[test]
    fn scopes_separate_what_callers_may_see() {
        let principal = |subject: &str, permissions: &[&str]| Principal {
            subject: subject.into(),
            kind: looma_auth::PrincipalKind::User,
            email: None,
            roles: vec![],
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        };
        let kim = principal("kim", &["resume:read", "resume:pii"]);
        let lee = principal("lee", &["resume:read", "resume:pii"]);
        let viewer = principal("ann", &["resume:read"]);
        let scope = CacheScope::Permissions;
        assert_eq!(scope_of(scope, Some(&kim)), scope_of(scope, Some(&lee)));
        assert_ne!(scope_of(scope, Some(&kim)), scope_of(scope, Some(&viewer)));
        assert_ne!(scope_of(scope, Some(&kim)), scope_of(scope, None));
        let scope = CacheScope::Caller;
        assert_ne!(scope_of(scope, Some(&kim)), scope_of(scope, Some(&lee)));
        assert_eq!(
            scope_of(scope, Some(&kim)),
            scope_of(scope, Some(&kim.clone()))
        );
    }

    #[test]
    fn a_ttl_longer_than_a_day_is_refused() {
        let config = |ttl_ms| EntityCacheConfig {
            entities: vec![CachedEntity {
                subgraph: "resume".into(),
                typename: "Resume".into(),
                ttl_ms,
                scope: CacheScope::Permissions,
            }],
        };
        assert!(config(60_000).validate().is_ok());
        assert!(config(0).validate().is_err());
        assert!(
            config(MAX_ENTRY_TTL.as_millis() as u64 + 1)
                .validate()
                .is_err()
        );
    }
}

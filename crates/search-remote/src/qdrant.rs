//! [`QdrantVectorIndex`]: the `VectorIndex` trait over Qdrant's gRPC API (`qdrant-client`), one
//! Qdrant collection `<prefix>-<collection>` per collection, created on first use with Cosine
//! distance and payload indexes on the filterable fields.
//!
//! Point ids: Qdrant accepts only u64 or UUID ids, so a caller's string id maps to a UUIDv5
//! ([`point_uuid`]) and the string itself is kept in the payload (`id`) and returned from it.
//!
//! Metrics: the collection is Cosine. Dot and Euclidean scores are recovered exactly for every
//! candidate from the cosine, the stored vector norm (`vector_norm` payload) and the query norm;
//! candidates are the cosine top `max(4 × top_k, 40)`, re-ranked. For normalized embeddings (what
//! the platform's embedder produces) all three metrics order points identically, so this is exact;
//! for unnormalized vectors the candidate set is an approximation.
//!
//! Versions (reindex without downtime): `<prefix>-<collection>` is what every search and
//! ordinary write names. A reindex fills collection `<prefix>-<collection>_v<N>`; the commit
//! moves the name with one `UpdateAliases` request (delete the alias, create it on the new
//! collection), which Qdrant applies atomically, then deletes the old collection. A collection
//! created before versions is a concrete collection, not an alias: Qdrant cannot replace a
//! collection by an alias in one step, so that first commit deletes it just before creating
//! the alias, and searches in that moment fail as unavailable; none of them re-creates the
//! deleted collection meanwhile (that raced the alias and failed the commit on a real server).
//! `begin_version` first deletes every `_v<N>` collection the alias does not name (a reindex
//! that crashed or was abandoned).

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use looma_search_engine::{
    Collection, EngineError, Metric, VectorHit, VectorIndex, VectorPoint, VectorQuery,
};
use qdrant_client::qdrant::collections_client::CollectionsClient;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::with_payload_selector::SelectorOptions;
use qdrant_client::qdrant::{
    AliasOperations, ChangeAliases, Condition, CountPointsBuilder, CreateAlias,
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeleteAlias, DeletePointsBuilder,
    Distance, FieldType, Filter, PayloadIncludeSelector, PointId, PointStruct, PointsIdsList,
    Query, QueryPointsBuilder, ScoredPoint, UpsertPointsBuilder, VectorParamsBuilder,
    alias_operations,
};
use qdrant_client::{Qdrant, QdrantError};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::qdrant_filter::{ID_KEY, INDEXED_FIELDS, NORM_KEY, filter_of, payload_of};

/// Per-request timeout; a slower server counts as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Candidates fetched per wanted hit when re-ranking for Dot/Euclidean.
const OVERSAMPLE_FACTOR: usize = 4;
const OVERSAMPLE_MIN: usize = 40;

/// The point id a caller's string id is stored under: UUIDv5 of the id in Looma's namespace
/// (itself UUIDv5 of `urn:looma:search:point-id` in the URL namespace). Stable across processes
/// and versions; the same id in two collections maps to the same UUID (collections are separate).
pub fn point_uuid(id: &str) -> Uuid {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:looma:search:point-id");
    Uuid::new_v5(&namespace, id.as_bytes())
}

fn point_id(id: &str) -> PointId {
    PointId::from(point_uuid(id).to_string())
}

pub struct QdrantVectorIndex {
    client: Qdrant,
    /// For the one call qdrant-client does not offer: several alias actions in one request.
    url: String,
    collection_prefix: String,
    dimension: usize,
    /// Collections known to exist (created by us or found existing).
    ready_collections: Mutex<HashSet<Collection>>,
}

impl QdrantVectorIndex {
    /// Prepares a gRPC client for the server at `url` (Qdrant's gRPC port, e.g.
    /// `http://localhost:6334`). Nothing is sent until the first operation (no version check).
    pub fn connect(
        url: &str,
        collection_prefix: &str,
        dimension: usize,
    ) -> Result<Self, EngineError> {
        if dimension == 0 {
            return Err(EngineError::Internal(
                "vector dimension must be positive".into(),
            ));
        }
        let valid_prefix = !collection_prefix.is_empty()
            && collection_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !valid_prefix {
            return Err(EngineError::Internal(format!(
                "invalid Qdrant collection prefix {collection_prefix:?}: use letters, digits, '-' and '_'"
            )));
        }
        let client = Qdrant::from_url(url)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .map_err(|e| EngineError::Internal(format!("Qdrant client for {url:?}: {e}")))?;
        Ok(QdrantVectorIndex {
            client,
            url: url.to_string(),
            collection_prefix: collection_prefix.to_string(),
            dimension,
            ready_collections: Mutex::new(HashSet::new()),
        })
    }

    pub fn collection_name(&self, collection: Collection) -> String {
        format!("{}-{}", self.collection_prefix, collection.as_str())
    }

    fn check_dimension(&self, vector: &[f32]) -> Result<(), EngineError> {
        if vector.len() == self.dimension {
            Ok(())
        } else {
            Err(EngineError::DimensionMismatch {
                expected: self.dimension,
                got: vector.len(),
            })
        }
    }

    /// Creates the collection (Cosine, this index's dimension) and its payload indexes unless
    /// it exists.
    async fn ensure_collection(&self, collection: Collection) -> Result<String, EngineError> {
        let name = self.collection_name(collection);
        let mut ready = self.ready_collections.lock().await;
        if ready.contains(&collection) {
            return Ok(name);
        }
        let exists = self
            .client
            .collection_exists(&name)
            .await
            .map_err(|e| qdrant_error(e, "collection_exists"))?;
        if !exists {
            self.create_collection_named(&name).await?;
        }
        ready.insert(collection);
        Ok(name)
    }

    /// Creates collection `name` (Cosine, this index's dimension) with its payload indexes;
    /// one that already exists is kept.
    async fn create_collection_named(&self, name: &str) -> Result<(), EngineError> {
        let create = CreateCollectionBuilder::new(name).vectors_config(VectorParamsBuilder::new(
            self.dimension as u64,
            Distance::Cosine,
        ));
        if let Err(error) = self.client.create_collection(create).await {
            // Another process may have created it between our check and our create.
            let raced = matches!(&error, QdrantError::ResponseError { status }
                if status.message().contains("already exists"));
            if !raced {
                return Err(qdrant_error(error, "create_collection"));
            }
        }
        for (field, keyword) in INDEXED_FIELDS {
            let field_type = if keyword {
                FieldType::Keyword
            } else {
                FieldType::Float
            };
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name, field, field_type).wait(true),
                )
                .await
                .map_err(|e| qdrant_error(e, "create_field_index"))?;
        }
        Ok(())
    }

    /// The collection holding staged `version` of a Looma collection.
    pub fn version_name(&self, collection: Collection, version: u64) -> String {
        format!("{}_v{version}", self.collection_name(collection))
    }

    /// The collection alias `name` points at, if it is an alias.
    async fn alias_target(&self, name: &str) -> Result<Option<String>, EngineError> {
        let aliases = self
            .client
            .list_aliases()
            .await
            .map_err(|e| qdrant_error(e, "list_aliases"))?;
        Ok(aliases
            .aliases
            .into_iter()
            .find(|alias| alias.alias_name == name)
            .map(|alias| alias.collection_name))
    }

    async fn delete_collection_named(&self, name: &str) -> Result<(), EngineError> {
        match self.client.delete_collection(name).await {
            Ok(_) => Ok(()),
            Err(QdrantError::ResponseError { status })
                if status.code() == tonic::Code::NotFound =>
            {
                Ok(())
            }
            Err(error) => Err(qdrant_error(error, "delete_collection")),
        }
    }

    async fn begin(&self, collection: Collection) -> Result<u64, EngineError> {
        let name = self.collection_name(collection);
        let live = self.alias_target(&name).await?;
        let collections = self
            .client
            .list_collections()
            .await
            .map_err(|e| qdrant_error(e, "list_collections"))?;
        let prefix = format!("{name}_v");
        let mut highest = 0u64;
        for existing in collections.collections {
            let Some(version) = existing
                .name
                .strip_prefix(&prefix)
                .and_then(|digits| digits.parse::<u64>().ok())
            else {
                continue;
            };
            highest = highest.max(version);
            if live.as_deref() != Some(existing.name.as_str()) {
                tracing::info!(
                    collection = %existing.name,
                    "deleting a version the alias does not name (an unfinished reindex)"
                );
                self.delete_collection_named(&existing.name).await?;
            }
        }
        let version = highest + 1;
        self.create_collection_named(&self.version_name(collection, version))
            .await?;
        Ok(version)
    }

    async fn commit(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        let name = self.collection_name(collection);
        let staged = self.version_name(collection, version);
        let exists = self
            .client
            .collection_exists(&staged)
            .await
            .map_err(|e| qdrant_error(e, "collection_exists"))?;
        if !exists {
            return Err(EngineError::unknown_version(collection, version));
        }
        let live = self.alias_target(&name).await?;
        // Replacing a collection from before versions: no search or write may re-create it
        // (`ensure_collection`, which takes this lock) between its deletion and the alias.
        let mut replacing = match live {
            None => Some(self.ready_collections.lock().await),
            Some(_) => None,
        };
        let mut actions = Vec::new();
        match &live {
            Some(_) => actions.push(AliasOperations {
                action: Some(alias_operations::Action::DeleteAlias(DeleteAlias {
                    alias_name: name.clone(),
                })),
            }),
            None => {
                // A collection from before versions holds the name: it must go first (see the
                // module docs). Deleting a missing one is not an error.
                self.delete_collection_named(&name).await?;
            }
        }
        actions.push(AliasOperations {
            action: Some(alias_operations::Action::CreateAlias(CreateAlias {
                collection_name: staged.clone(),
                alias_name: name.clone(),
            })),
        });
        let mut aliases = CollectionsClient::connect(self.url.clone())
            .await
            .map_err(|e| EngineError::Unavailable(format!("Qdrant unreachable: {e}")))?;
        aliases
            .update_aliases(ChangeAliases {
                actions,
                timeout: None,
            })
            .await
            .map_err(|status| {
                qdrant_error(QdrantError::ResponseError { status }, "update_aliases")
            })?;
        match replacing.as_mut() {
            Some(ready) => ready.insert(collection),
            None => self.ready_collections.lock().await.insert(collection),
        };
        drop(replacing);
        if let Some(old) = live.filter(|old| *old != staged)
            && let Err(error) = self.delete_collection_named(&old).await
        {
            tracing::warn!(collection = %old, %error, "the retired version was not deleted; the next reindex deletes it");
        }
        Ok(())
    }

    async fn forget_if_missing(&self, collection: Collection, error: &QdrantError) {
        if let QdrantError::ResponseError { status } = error
            && status.code() == tonic::Code::NotFound
        {
            self.ready_collections.lock().await.remove(&collection);
        }
    }
}

#[async_trait]
impl VectorIndex for QdrantVectorIndex {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn upsert(
        &self,
        collection: Collection,
        points: &[VectorPoint],
    ) -> Result<(), EngineError> {
        for point in points {
            self.check_dimension(&point.vector)?;
        }
        if points.is_empty() {
            return Ok(());
        }
        let name = self.ensure_collection(collection).await?;
        let structs: Vec<PointStruct> = points
            .iter()
            .map(|point| {
                let payload = payload_of(&point.id, norm(&point.vector), &point.fields);
                PointStruct::new(point_id(&point.id), point.vector.clone(), payload)
            })
            .collect();
        let result = self
            .client
            .upsert_points(UpsertPointsBuilder::new(&name, structs).wait(true))
            .await;
        self.finish(collection, result, "upsert").await
    }

    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let name = self.ensure_collection(collection).await?;
        let ids = PointsIdsList {
            ids: ids.iter().map(|id| point_id(id)).collect(),
        };
        let result = self
            .client
            .delete_points(DeletePointsBuilder::new(&name).points(ids).wait(true))
            .await;
        self.finish(collection, result, "delete").await
    }

    async fn clear(&self, collection: Collection) -> Result<(), EngineError> {
        let name = self.ensure_collection(collection).await?;
        // Every point this adapter writes carries its id in the payload.
        let everything = Filter::must_not([Condition::is_empty(ID_KEY)]);
        let result = self
            .client
            .delete_points(
                DeletePointsBuilder::new(&name)
                    .points(everything)
                    .wait(true),
            )
            .await;
        self.finish(collection, result, "clear").await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>, EngineError> {
        self.check_dimension(&query.vector)?;
        if query.top_k == 0 {
            return Ok(Vec::new());
        }
        let name = self.ensure_collection(query.collection).await?;
        let candidates = match query.metric {
            Metric::Cosine => query.top_k,
            Metric::Dot | Metric::Euclidean => query
                .top_k
                .saturating_mul(OVERSAMPLE_FACTOR)
                .max(OVERSAMPLE_MIN),
        };
        let mut request = QueryPointsBuilder::new(&name)
            .query(Query::new_nearest(query.vector.clone()))
            .limit(candidates as u64)
            .with_payload(SelectorOptions::Include(PayloadIncludeSelector {
                fields: vec![ID_KEY.to_string(), NORM_KEY.to_string()],
            }));
        if let Some(filter) = filter_of(&query.filters) {
            request = request.filter(filter);
        }
        let response = match self.client.query(request).await {
            Ok(response) => response,
            Err(error) => {
                self.forget_if_missing(query.collection, &error).await;
                return Err(qdrant_error(error, "query"));
            }
        };
        Ok(rank(
            response.result,
            query.metric,
            norm(&query.vector),
            query.top_k,
        ))
    }

    async fn count(&self, collection: Collection) -> Result<u64, EngineError> {
        let name = self.ensure_collection(collection).await?;
        match self
            .client
            .count(CountPointsBuilder::new(&name).exact(true))
            .await
        {
            Ok(response) => Ok(response.result.map(|r| r.count).unwrap_or(0)),
            Err(error) => {
                self.forget_if_missing(collection, &error).await;
                Err(qdrant_error(error, "count"))
            }
        }
    }

    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError> {
        self.begin(collection).await
    }

    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        points: &[VectorPoint],
    ) -> Result<(), EngineError> {
        for point in points {
            self.check_dimension(&point.vector)?;
        }
        if points.is_empty() {
            return Ok(());
        }
        let structs: Vec<PointStruct> = points
            .iter()
            .map(|point| {
                let payload = payload_of(&point.id, norm(&point.vector), &point.fields);
                PointStruct::new(point_id(&point.id), point.vector.clone(), payload)
            })
            .collect();
        self.client
            .upsert_points(
                UpsertPointsBuilder::new(self.version_name(collection, version), structs)
                    .wait(true),
            )
            .await
            .map_err(|e| staged_error(e, collection, version, "upsert"))?;
        Ok(())
    }

    async fn delete_version(
        &self,
        collection: Collection,
        version: u64,
        ids: &[String],
    ) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = PointsIdsList {
            ids: ids.iter().map(|id| point_id(id)).collect(),
        };
        self.client
            .delete_points(
                DeletePointsBuilder::new(self.version_name(collection, version))
                    .points(ids)
                    .wait(true),
            )
            .await
            .map_err(|e| staged_error(e, collection, version, "delete"))?;
        Ok(())
    }

    async fn commit_version(
        &self,
        collection: Collection,
        version: u64,
    ) -> Result<(), EngineError> {
        self.commit(collection, version).await
    }

    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        self.delete_collection_named(&self.version_name(collection, version))
            .await
    }
}

/// A staged collection that is missing is an unknown version, not an outage.
fn staged_error(
    error: QdrantError,
    collection: Collection,
    version: u64,
    what: &str,
) -> EngineError {
    match &error {
        QdrantError::ResponseError { status } if status.code() == tonic::Code::NotFound => {
            EngineError::unknown_version(collection, version)
        }
        _ => qdrant_error(error, what),
    }
}

impl QdrantVectorIndex {
    async fn finish<T>(
        &self,
        collection: Collection,
        result: Result<T, QdrantError>,
        what: &str,
    ) -> Result<(), EngineError> {
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                self.forget_if_missing(collection, &error).await;
                Err(qdrant_error(error, what))
            }
        }
    }
}

fn norm(vector: &[f32]) -> f64 {
    vector
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Turns cosine-scored candidates into the wanted metric's hits, best first, `top_k` of them.
fn rank(points: Vec<ScoredPoint>, metric: Metric, query_norm: f64, top_k: usize) -> Vec<VectorHit> {
    let mut hits: Vec<VectorHit> = points
        .into_iter()
        .filter_map(|point| {
            let id = match point.payload.get(ID_KEY)?.kind.as_ref()? {
                Kind::StringValue(id) => id.clone(),
                _ => return None,
            };
            let cosine = f64::from(point.score);
            let point_norm = match point.payload.get(NORM_KEY).and_then(|v| v.kind.as_ref()) {
                Some(Kind::DoubleValue(norm)) => *norm,
                Some(Kind::IntegerValue(norm)) => *norm as f64,
                _ => 1.0,
            };
            let dot = cosine * point_norm * query_norm;
            Some(match metric {
                Metric::Cosine => VectorHit {
                    id,
                    score: point.score,
                    distance: None,
                },
                Metric::Dot => VectorHit {
                    id,
                    score: dot as f32,
                    distance: None,
                },
                Metric::Euclidean => {
                    let squared = point_norm * point_norm + query_norm * query_norm - 2.0 * dot;
                    let distance = squared.max(0.0).sqrt();
                    VectorHit {
                        id,
                        score: (1.0 / (1.0 + distance)) as f32,
                        distance: Some(distance as f32),
                    }
                }
            })
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    hits.truncate(top_k);
    hits
}

fn qdrant_error(error: QdrantError, what: &str) -> EngineError {
    use tonic::Code;
    match error {
        QdrantError::ResponseError { status } => {
            let message = format!("Qdrant {what}: {} {}", status.code(), status.message());
            // qdrant-client reports a refused or failed connection as `INTERNAL`.
            let connect_failed = status.code() == Code::Internal
                && status.message().starts_with("Failed to connect");
            if connect_failed {
                return EngineError::Unavailable(message);
            }
            match status.code() {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Cancelled
                | Code::Unknown
                | Code::ResourceExhausted
                | Code::Unauthenticated
                | Code::PermissionDenied
                | Code::Aborted => EngineError::Unavailable(message),
                Code::InvalidArgument => EngineError::InvalidQuery(message),
                _ => EngineError::Internal(message),
            }
        }
        QdrantError::ResourceExhaustedError { status, .. } => {
            EngineError::Unavailable(format!("Qdrant {what}: {}", status.message()))
        }
        QdrantError::Io(error) => EngineError::Unavailable(format!("Qdrant {what}: {error}")),
        other => EngineError::Internal(format!("Qdrant {what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::Value;

    fn scored(id: &str, cosine: f32, norm: f64) -> ScoredPoint {
        ScoredPoint {
            payload: [
                (ID_KEY.to_string(), Value::from(id)),
                (NORM_KEY.to_string(), Value::from(norm)),
            ]
            .into_iter()
            .collect(),
            score: cosine,
            ..ScoredPoint::default()
        }
    }

    #[test]
    fn point_ids_are_stable_uuid_v5() {
        assert_eq!(point_uuid("r-1"), point_uuid("r-1"));
        assert_ne!(point_uuid("r-1"), point_uuid("r-2"));
        assert_eq!(point_uuid("r-1").get_version_num(), 5);
    }

    #[test]
    fn dot_and_euclidean_are_recovered_from_cosine_and_norms() {
        // Query (1, 0). Points: a = (2, 0) cosine 1; b = (0, 3) cosine 0; c = (0.6, 0.8) cosine 0.6.
        let points = || {
            vec![
                scored("a", 1.0, 2.0),
                scored("b", 0.0, 3.0),
                scored("c", 0.6, 1.0),
            ]
        };
        let dot = rank(points(), Metric::Dot, 1.0, 3);
        assert_eq!(
            dot.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["a", "c", "b"]
        );
        assert!((dot[0].score - 2.0).abs() < 1e-6);
        let euclid = rank(points(), Metric::Euclidean, 1.0, 2);
        // |a - q| = 1, |c - q| = sqrt(0.16 + 0.64) ≈ 0.894, |b - q| = sqrt(10)
        assert_eq!(
            euclid.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["c", "a"]
        );
        assert!((euclid[1].distance.unwrap_or_default() - 1.0).abs() < 1e-6);
        assert!((euclid[1].score - 0.5).abs() < 1e-6);
    }

    #[test]
    fn connect_validates_without_network() {
        assert!(QdrantVectorIndex::connect("http://127.0.0.1:9", "looma", 0).is_err());
        assert!(QdrantVectorIndex::connect("http://127.0.0.1:9", "bad prefix", 4).is_err());
        let index = QdrantVectorIndex::connect("http://127.0.0.1:9", "looma", 4);
        assert!(index.is_ok_and(|i| i.collection_name(Collection::Resumes) == "looma-resumes"));
    }
}

//! The search use cases: index and remove documents, and the five query kinds. Validation
//! and fusion rules live in `domain/`; the engines behind `Engines` do the searching.

use crate::domain::fusion::{self, Fusion, Ranked};
use crate::domain::{cursor, validate};
use crate::engines::Engines;
use crate::{SearchConfig, SearchError};
use looma_analytics::{Analysis, TextAnalyzer};
use looma_core::page::page_size_up_to;
use looma_embed::{EmbeddingService, TextKind};
use looma_search_engine::{
    Collection, Document, Facet, FacetField, Filters, Highlight, Metric, StoredDocument,
    SuggestQuery, Suggestion, SuggestionKind, TextQuery, VectorHit, VectorPoint, VectorQuery,
};
use looma_server::FeatureFlags;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Characters of content shown as the snippet of a hit found by meaning only.
const SNIPPET_CHARS: usize = 160;

#[derive(Clone)]
pub struct SearchService {
    inner: Arc<Inner>,
}

struct Inner {
    engines: Engines,
    embedder: EmbeddingService,
    analyzer: TextAnalyzer,
    config: SearchConfig,
    flags: FeatureFlags,
    /// The reindex in progress per collection. Ordinary writes hold the read side while they
    /// write (so they reach the staged version too); begin, commit and abort take the write
    /// side, so they happen between ordinary writes.
    reindexes: HashMap<Collection, tokio::sync::RwLock<Option<Arc<ActiveReindex>>>>,
}

/// A reindex in progress: the staged versions it fills beside the live ones.
struct ActiveReindex {
    id: String,
    collection: Collection,
    text_version: u64,
    vector_version: u64,
    /// Serialises writes into the staged versions and holds the ids the owners' ordinary
    /// writes (their outboxes) touched since the reindex began: those are at least as new as
    /// anything the reindex read, so the reindex's own writes of them are skipped.
    touched: tokio::sync::Mutex<HashSet<String>>,
}

/// A reindex as its caller sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reindex {
    /// Opaque; names the collection (`<collection>-<uuid>`).
    pub id: String,
    pub collection: Collection,
    pub text_version: u64,
    pub vector_version: u64,
}

impl From<&ActiveReindex> for Reindex {
    fn from(active: &ActiveReindex) -> Self {
        Reindex {
            id: active.id.clone(),
            collection: active.collection,
            text_version: active.text_version,
            vector_version: active.vector_version,
        }
    }
}

/// Which version a write goes to.
#[derive(Clone, Copy)]
enum Target {
    Live,
    Staged { text: u64, vector: u64 },
}

const TEXT_SEARCH: &str = "text_search";
const VECTOR_SEARCH: &str = "vector_search";

/// A text search as the API receives it.
#[derive(Clone, Debug)]
pub struct TextRequest {
    pub collection: Collection,
    pub query: String,
    pub filters: Filters,
    pub facets: Vec<FacetField>,
    pub first: usize,
    pub after: Option<String>,
    pub fuzzy: bool,
    pub highlight: bool,
    /// The caller may see names: match and highlight the `name` field too.
    pub names: bool,
}

/// One result, whichever way it was found. Rank fields are set by the searches that ranked it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: String,
    pub collection: Collection,
    pub title: String,
    pub snippet: String,
    pub score: f64,
    pub metadata: serde_json::Value,
    pub highlights: Vec<Highlight>,
    pub text_rank: Option<usize>,
    pub text_score: Option<f32>,
    pub vector_rank: Option<usize>,
    pub vector_score: Option<f32>,
    /// Euclidean distance, for vector searches with that metric.
    pub distance: Option<f32>,
}

pub struct TextPage {
    pub hits: Vec<Hit>,
    pub total: u64,
    pub facets: Vec<Facet>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// A vector-ranked search (vector, semantic or hybrid) without paging.
#[derive(Clone, Debug)]
pub struct RankedRequest {
    pub collection: Collection,
    pub top_k: usize,
    pub filters: Filters,
    /// The caller may see names (hybrid's text side matches the `name` field too).
    pub names: bool,
}

/// Per-collection document counts, for operators and reindex checks.
pub struct CollectionStats {
    pub collection: Collection,
    pub documents: u64,
    pub vectors: u64,
}

/// Times one search as `looma_search_duration_seconds{mode}`, recorded when dropped (so
/// refusals and failures are timed too).
struct Timed {
    mode: &'static str,
    started: std::time::Instant,
}

impl Timed {
    fn new(mode: &'static str) -> Self {
        Timed {
            mode,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        metrics::histogram!(
            "looma_search_duration_seconds",
            "component" => crate::COMPONENT,
            "mode" => self.mode
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

impl SearchService {
    /// The most documents one `index` call takes (`search.max_batch`).
    pub fn max_batch(&self) -> usize {
        self.inner.config.max_batch
    }

    /// A service with every feature on (see [`with_flags`](Self::with_flags)).
    pub fn new(engines: Engines, embedder: EmbeddingService, config: SearchConfig) -> Self {
        Self::with_flags(engines, embedder, config, FeatureFlags::always_on())
    }

    /// A service that honours identity's `text_search` and `vector_search` flags.
    pub fn with_flags(
        engines: Engines,
        embedder: EmbeddingService,
        config: SearchConfig,
        flags: FeatureFlags,
    ) -> Self {
        SearchService {
            inner: Arc::new(Inner {
                engines,
                analyzer: TextAnalyzer::new(embedder.clone()),
                embedder,
                config,
                flags,
                reindexes: Collection::ALL
                    .into_iter()
                    .map(|collection| (collection, tokio::sync::RwLock::new(None)))
                    .collect(),
            }),
        }
    }

    async fn require_feature(&self, flag: &'static str) -> Result<(), SearchError> {
        if self.inner.flags.enabled(flag).await {
            return Ok(());
        }
        let what = if flag == TEXT_SEARCH {
            "full-text search"
        } else {
            "vector search"
        };
        Err(SearchError::FeatureDisabled(what, flag))
    }

    pub fn config(&self) -> &SearchConfig {
        &self.inner.config
    }

    pub fn engines(&self) -> &Engines {
        &self.inner.engines
    }

    pub fn dimension(&self) -> usize {
        self.inner.engines.vector.dimension()
    }

    /// The embedding model of every vector in the index and of every query vector.
    pub fn vector_model(&self) -> String {
        self.inner.embedder.model_id()
    }

    /// A vector must say which model made it, and be of this index's model: vectors of two
    /// models are never compared (they would rank at random).
    pub fn check_vector_model(&self, field: &str, model: Option<&str>) -> Result<(), SearchError> {
        let expected = self.vector_model();
        match model {
            Some(model) if model == expected => Ok(()),
            Some(model) => Err(SearchError::invalid(
                field,
                format!(
                    "the vector comes from `{model}`, this index holds `{expected}` vectors; \
                     embed with `{expected}` (owners re-embed on `looma search reindex`)"
                ),
            )),
            None => Err(SearchError::invalid(
                field,
                format!("required with a vector (this index holds `{expected}` vectors)"),
            )),
        }
    }

    // ---- writes ----------------------------------------------------------------------

    /// Inserts or replaces documents (text and, when present, vectors). A document sent
    /// without a vector loses any vector it had. Idempotent: owners retry freely. During a
    /// reindex of the collection the documents also go to the staged version (see
    /// [`begin_reindex`](Self::begin_reindex)).
    pub async fn index(&self, documents: Vec<Document>) -> Result<usize, SearchError> {
        self.check_documents(&documents)?;
        let mut written = 0;
        for (collection, docs) in by_collection(documents) {
            let reindex = self.reindex_slot(collection)?.read().await;
            self.write_documents(collection, &docs, Target::Live)
                .await?;
            if let Some(active) = reindex.as_ref() {
                let mut touched = active.touched.lock().await;
                touched.extend(docs.iter().map(|doc| doc.id.clone()));
                self.write_documents(collection, &docs, active.target())
                    .await?;
            }
            written += docs.len();
        }
        Ok(written)
    }

    fn check_documents(&self, documents: &[Document]) -> Result<(), SearchError> {
        let max = self.inner.config.max_batch;
        if documents.len() > max {
            return Err(SearchError::invalid(
                "documents",
                format!("at most {max} documents per call"),
            ));
        }
        let dimension = self.dimension();
        for (at, doc) in documents.iter().enumerate() {
            validate::document(at, doc, dimension)?;
        }
        Ok(())
    }

    /// Text and vectors of one collection's documents (last write of an id wins) into `target`.
    async fn write_documents(
        &self,
        collection: Collection,
        docs: &[Document],
        target: Target,
    ) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        let engines = &self.inner.engines;
        let (with, without): (Vec<&Document>, Vec<&Document>) =
            docs.iter().partition(|d| d.vector.is_some());
        let points: Vec<VectorPoint> = with
            .iter()
            .filter_map(|d| {
                d.vector.as_ref().map(|v| VectorPoint {
                    id: d.id.clone(),
                    vector: v.clone(),
                    fields: d.fields.clone(),
                })
            })
            .collect();
        let unvectored: Vec<String> = without.iter().map(|d| d.id.clone()).collect();
        match target {
            Target::Live => {
                engines.text.upsert(docs).await?;
                if !points.is_empty() {
                    engines.vector.upsert(collection, &points).await?;
                }
                if !unvectored.is_empty() {
                    engines.vector.delete(collection, &unvectored).await?;
                }
            }
            Target::Staged { text, vector } => {
                engines.text.upsert_version(collection, text, docs).await?;
                if !points.is_empty() {
                    engines
                        .vector
                        .upsert_version(collection, vector, &points)
                        .await?;
                }
                if !unvectored.is_empty() {
                    engines
                        .vector
                        .delete_version(collection, vector, &unvectored)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn delete_documents(
        &self,
        collection: Collection,
        ids: &[String],
        target: Target,
    ) -> Result<(), SearchError> {
        let engines = &self.inner.engines;
        match target {
            Target::Live => {
                engines.text.delete(collection, ids).await?;
                engines.vector.delete(collection, ids).await?;
            }
            Target::Staged { text, vector } => {
                engines.text.delete_version(collection, text, ids).await?;
                engines
                    .vector
                    .delete_version(collection, vector, ids)
                    .await?;
            }
        }
        Ok(())
    }

    /// Removes documents by id; unknown ids are ignored. Returns how many ids were given.
    /// During a reindex of the collection they are removed from the staged version too.
    pub async fn remove(
        &self,
        collection: Collection,
        ids: Vec<String>,
    ) -> Result<usize, SearchError> {
        self.check_ids(&ids)?;
        let reindex = self.reindex_slot(collection)?.read().await;
        self.delete_documents(collection, &ids, Target::Live)
            .await?;
        if let Some(active) = reindex.as_ref() {
            let mut touched = active.touched.lock().await;
            touched.extend(ids.iter().cloned());
            self.delete_documents(collection, &ids, active.target())
                .await?;
        }
        Ok(ids.len())
    }

    fn check_ids(&self, ids: &[String]) -> Result<(), SearchError> {
        let max = self.inner.config.max_batch;
        if ids.len() > max {
            return Err(SearchError::invalid(
                "ids",
                format!("at most {max} ids per call"),
            ));
        }
        Ok(())
    }

    /// Empties a collection. A reindex of it in progress is aborted (its caller gets
    /// `NOT_FOUND` and starts again): what it staged was read before the collection was
    /// emptied.
    pub async fn clear(&self, collection: Collection) -> Result<(), SearchError> {
        let mut slot = self.reindex_slot(collection)?.write().await;
        self.inner.engines.text.clear(collection).await?;
        self.inner.engines.vector.clear(collection).await?;
        if let Some(active) = slot.take() {
            tracing::warn!(reindex = %active.id, "collection cleared: its reindex is aborted");
            self.abort_versions(&active).await;
        }
        Ok(())
    }

    // ---- reindex: a staged version filled beside the live one, then swapped in ----------

    fn reindex_slot(
        &self,
        collection: Collection,
    ) -> Result<&tokio::sync::RwLock<Option<Arc<ActiveReindex>>>, SearchError> {
        self.inner.reindexes.get(&collection).ok_or_else(|| {
            SearchError::Internal(format!("no reindex slot for {}", collection.as_str()))
        })
    }

    /// Starts a reindex of `collection`: empty staged versions (text and vectors) that
    /// [`index_into`](Self::index_into) fills while searches keep reading the live ones, until
    /// [`commit_reindex`](Self::commit_reindex) swaps them in at once.
    ///
    /// The rule for writes meanwhile: ordinary writes ([`index`](Self::index),
    /// [`remove`](Self::remove)) go to the live version and to the staged one, and mark their
    /// ids; the reindex's own writes of a marked id are skipped, since the owner's ordinary
    /// write (sent after its commit) is at least as new as the reindex's read. So nothing
    /// written during a reindex is lost from the new version, and nothing removed comes back.
    ///
    /// A reindex already in progress for the collection is abandoned (its staged versions are
    /// dropped): the caller that started it gets `NOT_FOUND` on its next call.
    pub async fn begin_reindex(&self, collection: Collection) -> Result<Reindex, SearchError> {
        let mut slot = self.reindex_slot(collection)?.write().await;
        if let Some(abandoned) = slot.take() {
            tracing::warn!(
                collection = collection.as_str(),
                reindex = %abandoned.id,
                "a reindex in progress was abandoned by a new one"
            );
            self.abort_versions(&abandoned).await;
        }
        let engines = &self.inner.engines;
        let text_version = engines.text.begin_version(collection).await?;
        let vector_version = match engines.vector.begin_version(collection).await {
            Ok(version) => version,
            Err(error) => {
                let _ = engines.text.abort_version(collection, text_version).await;
                return Err(error.into());
            }
        };
        let active = Arc::new(ActiveReindex {
            id: format!("{}-{}", collection.as_str(), uuid::Uuid::new_v4().simple()),
            collection,
            text_version,
            vector_version,
            touched: tokio::sync::Mutex::new(HashSet::new()),
        });
        tracing::info!(
            collection = collection.as_str(),
            reindex = %active.id,
            text_version,
            vector_version,
            "reindex begun"
        );
        let reindex = Reindex::from(active.as_ref());
        *slot = Some(active);
        Ok(reindex)
    }

    /// Writes documents into reindex `id`'s staged version (never the live one). Documents an
    /// ordinary write touched since the reindex began are skipped (see
    /// [`begin_reindex`](Self::begin_reindex)). Returns how many documents were accepted.
    pub async fn index_into(
        &self,
        id: &str,
        documents: Vec<Document>,
    ) -> Result<usize, SearchError> {
        self.check_documents(&documents)?;
        let collection = reindex_collection(id)?;
        if let Some(at) = documents.iter().position(|d| d.collection != collection) {
            return Err(SearchError::invalid(
                format!("documents[{at}].collection"),
                format!(
                    "reindex `{id}` rebuilds {}; send other collections' documents to their own \
                     reindex",
                    collection.as_str()
                ),
            ));
        }
        let accepted = documents.len();
        let slot = self.reindex_slot(collection)?.read().await;
        let active = match slot.as_ref() {
            Some(active) if active.id == id => Arc::clone(active),
            _ => return Err(SearchError::ReindexNotFound(id.to_owned())),
        };
        let touched = active.touched.lock().await;
        let fresh: Vec<Document> = by_collection(documents)
            .into_iter()
            .flat_map(|(_, docs)| docs)
            .filter(|doc| !touched.contains(&doc.id))
            .collect();
        self.write_documents(collection, &fresh, active.target())
            .await?;
        drop(touched);
        Ok(accepted)
    }

    /// Swaps reindex `id`'s staged versions in (text, then vectors): searches move from the
    /// old versions to the new ones at once, and the old ones are dropped.
    pub async fn commit_reindex(&self, id: &str) -> Result<CollectionStats, SearchError> {
        let collection = reindex_collection(id)?;
        let mut slot = self.reindex_slot(collection)?.write().await;
        let active = match slot.as_ref() {
            Some(active) if active.id == id => Arc::clone(active),
            _ => return Err(SearchError::ReindexNotFound(id.to_owned())),
        };
        let engines = &self.inner.engines;
        if let Err(error) = engines
            .text
            .commit_version(collection, active.text_version)
            .await
        {
            // Nothing swapped yet: the reindex stays open, the caller may retry or abort.
            return Err(error.into());
        }
        *slot = None;
        if let Err(error) = engines
            .vector
            .commit_version(collection, active.vector_version)
            .await
        {
            // The text version is new; the vectors stay on the live version, which received
            // every ordinary write meanwhile. Running the reindex again brings them level.
            let _ = engines
                .vector
                .abort_version(collection, active.vector_version)
                .await;
            return Err(SearchError::Internal(format!(
                "reindex {id}: the text version was swapped in but the vectors were not \
                 ({error}); run the reindex again"
            )));
        }
        drop(slot);
        tracing::info!(
            collection = collection.as_str(),
            reindex = id,
            "reindex committed"
        );
        Ok(CollectionStats {
            collection,
            documents: engines.text.count(collection).await?,
            vectors: engines.vector.count(collection).await?,
        })
    }

    /// Drops reindex `id`'s staged versions; the live ones are untouched.
    pub async fn abort_reindex(&self, id: &str) -> Result<(), SearchError> {
        let collection = reindex_collection(id)?;
        let mut slot = self.reindex_slot(collection)?.write().await;
        if slot.as_ref().is_none_or(|active| active.id != id) {
            return Err(SearchError::ReindexNotFound(id.to_owned()));
        }
        if let Some(active) = slot.take() {
            self.abort_versions(&active).await;
        }
        tracing::info!(
            collection = collection.as_str(),
            reindex = id,
            "reindex aborted"
        );
        Ok(())
    }

    /// Rebuilds the collection's vector graph without the points removed or replaced since
    /// it was built, while searches and writes go on. `None` when the backend reclaims them
    /// itself (Qdrant) or a compaction of the collection is already running.
    pub async fn compact_vectors(
        &self,
        collection: Collection,
    ) -> Result<Option<looma_search_engine::Compaction>, SearchError> {
        Ok(self.inner.engines.vector.compact(collection).await?)
    }

    /// Drops a reindex's staged versions (failures are logged: the next begin or start drops
    /// them anyway).
    async fn abort_versions(&self, active: &ActiveReindex) {
        let engines = &self.inner.engines;
        if let Err(error) = engines
            .text
            .abort_version(active.collection, active.text_version)
            .await
        {
            tracing::warn!(%error, reindex = %active.id, "staged text version not dropped");
        }
        if let Err(error) = engines
            .vector
            .abort_version(active.collection, active.vector_version)
            .await
        {
            tracing::warn!(%error, reindex = %active.id, "staged vector version not dropped");
        }
    }

    /// Refreshes `looma_search_index_documents{collection, kind}` (text documents and
    /// vectors per collection) for `/metrics`.
    pub async fn record_metrics(&self) {
        match self.stats().await {
            Ok(stats) => {
                for stat in stats {
                    for (kind, count) in [("text", stat.documents), ("vector", stat.vectors)] {
                        metrics::gauge!(
                            "looma_search_index_documents",
                            "component" => crate::COMPONENT,
                            "collection" => stat.collection.as_str(),
                            "kind" => kind
                        )
                        .set(count as f64);
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "index sizes not read for /metrics"),
        }
    }

    pub async fn stats(&self) -> Result<Vec<CollectionStats>, SearchError> {
        let mut stats = Vec::new();
        for collection in Collection::ALL {
            stats.push(CollectionStats {
                collection,
                documents: self.inner.engines.text.count(collection).await?,
                vectors: self.inner.engines.vector.count(collection).await?,
            });
        }
        Ok(stats)
    }

    // ---- queries ---------------------------------------------------------------------

    pub async fn text_search(&self, request: TextRequest) -> Result<TextPage, SearchError> {
        let _timed = Timed::new("text");
        self.require_feature(TEXT_SEARCH).await?;
        let config = &self.inner.config;
        let query = validate::query_text("query", &request.query, validate::MAX_QUERY_CHARS)?;
        let filters = validate::filters("filter", request.filters)?;
        page_size_up_to(
            i64::try_from(request.first).unwrap_or(i64::MAX),
            config.max_page_size as u64,
        )
        .map_err(|error| SearchError::invalid(error.argument(), error.problem()))?;
        let print = cursor::fingerprint(&json!([
            request.collection.as_str(),
            query,
            filters,
            request.fuzzy
        ]));
        let offset = match request.after.as_deref() {
            Some(after) => cursor::decode(after, &print)?,
            None => 0,
        };
        // Cursors are not signed: an edited offset must not overflow (checked_add) or reach
        // past the window.
        if offset
            .checked_add(request.first)
            .is_none_or(|end| end > config.max_result_window)
        {
            return Err(SearchError::invalid(
                "after",
                format!(
                    "results deeper than {} are not served; refine the query or filters",
                    config.max_result_window
                ),
            ));
        }
        let results = self
            .inner
            .engines
            .text
            .search(&TextQuery {
                collection: request.collection,
                query,
                filters,
                facets: request.facets,
                limit: request.first,
                offset,
                fuzzy: request.fuzzy,
                highlight: request.highlight,
                only_ids: Vec::new(),
                names: request.names,
            })
            .await?;
        let next = offset + results.hits.len();
        let has_next_page = (next as u64) < results.total && next < config.max_result_window;
        let hits = results
            .hits
            .into_iter()
            .enumerate()
            .map(|(i, hit)| Hit {
                id: hit.id,
                collection: request.collection,
                title: hit.title,
                snippet: hit.snippet,
                score: f64::from(hit.score),
                metadata: hit.metadata,
                highlights: visible_highlights(hit.highlights, request.names),
                text_rank: Some(offset + i + 1),
                text_score: Some(hit.score),
                vector_rank: None,
                vector_score: None,
                distance: None,
            })
            .collect::<Vec<_>>();
        Ok(TextPage {
            end_cursor: (!hits.is_empty()).then(|| cursor::encode(next, &print)),
            hits,
            total: results.total,
            facets: results.facets,
            has_next_page,
        })
    }

    fn check_ranked(&self, request: &mut RankedRequest) -> Result<(), SearchError> {
        let max = self.inner.config.max_top_k;
        if request.top_k == 0 || request.top_k > max {
            return Err(SearchError::invalid(
                "topK",
                format!("must be between 1 and {max} (got {})", request.top_k),
            ));
        }
        request.filters = validate::filters("filter", std::mem::take(&mut request.filters))?;
        Ok(())
    }

    pub async fn vector_search(
        &self,
        mut request: RankedRequest,
        vector: Vec<f32>,
        metric: Metric,
    ) -> Result<Vec<Hit>, SearchError> {
        let _timed = Timed::new("vector");
        self.require_feature(VECTOR_SEARCH).await?;
        self.check_ranked(&mut request)?;
        validate::vector("vector", &vector, self.dimension())?;
        let hits = self.nearest(&request, vector, metric).await?;
        self.render_vector_hits(request.collection, hits).await
    }

    /// Embeds `query` with the shared model, then searches by cosine similarity.
    pub async fn semantic_search(
        &self,
        mut request: RankedRequest,
        query: &str,
    ) -> Result<Vec<Hit>, SearchError> {
        let _timed = Timed::new("semantic");
        self.require_feature(VECTOR_SEARCH).await?;
        self.check_ranked(&mut request)?;
        let query = validate::query_text("query", query, validate::MAX_QUERY_CHARS)?;
        let vector = self
            .inner
            .embedder
            .embed_one(&query, TextKind::Query)
            .await?;
        let hits = self.nearest(&request, vector, Metric::Cosine).await?;
        self.render_vector_hits(request.collection, hits).await
    }

    /// Text (BM25) and semantic rankings fused by `fusion` (default: the configured rule,
    /// [`fusion`](crate::domain::fusion)); each hit keeps its rank and score in both lists.
    pub async fn hybrid_search(
        &self,
        mut request: RankedRequest,
        query: &str,
        fusion: Option<Fusion>,
        vector_weight: Option<f64>,
    ) -> Result<Vec<Hit>, SearchError> {
        let _timed = Timed::new("hybrid");
        self.require_feature(TEXT_SEARCH).await?;
        self.require_feature(VECTOR_SEARCH).await?;
        self.check_ranked(&mut request)?;
        let query = validate::query_text("query", query, validate::MAX_QUERY_CHARS)?;
        let config = &self.inner.config;
        let fusion = fusion.unwrap_or_else(|| config.fusion());
        if let Fusion::Rrf { k } = fusion
            && !(k.is_finite() && (1.0..=10_000.0).contains(&k))
        {
            return Err(SearchError::invalid("rrfK", "must be between 1 and 10000"));
        }
        let weight = vector_weight.unwrap_or_else(|| {
            fusion::vector_weight_for(
                &query,
                config.hybrid_vector_weight,
                config.hybrid_vector_weight_chinese,
            )
        });
        if !(weight.is_finite() && (0.0..=10.0).contains(&weight)) {
            return Err(SearchError::invalid(
                "vectorWeight",
                "must be between 0 and 10",
            ));
        }
        let candidates = self.inner.config.hybrid_candidates.max(request.top_k);
        let mut text_query = TextQuery {
            collection: request.collection,
            query: query.clone(),
            filters: request.filters.clone(),
            facets: Vec::new(),
            limit: candidates,
            offset: 0,
            fuzzy: true,
            // Highlighting waits until fusion has picked the hits (below).
            highlight: false,
            only_ids: Vec::new(),
            names: request.names,
        };
        let vector_request = RankedRequest {
            top_k: candidates,
            ..request.clone()
        };
        // The query is embedded while the text search runs; a weight of 0 needs no vectors.
        let vector_side = async {
            if weight == 0.0 {
                return Ok(Vec::new());
            }
            let vector = self
                .inner
                .embedder
                .embed_one(&query, TextKind::Query)
                .await?;
            self.nearest(&vector_request, vector, Metric::Cosine).await
        };
        let (text, nearest) =
            tokio::join!(self.inner.engines.text.search(&text_query), vector_side);
        let text = text?;
        let nearest = nearest?;
        let text_ranked: Vec<Ranked> = text
            .hits
            .iter()
            .map(|h| Ranked {
                id: h.id.clone(),
                score: h.score,
            })
            .collect();
        let vector_ranked: Vec<Ranked> = nearest
            .iter()
            .map(|h| Ranked {
                id: h.id.clone(),
                score: h.score,
            })
            .collect();
        let mut fused = fusion::fuse(&text_ranked, &vector_ranked, fusion, weight);
        fused.truncate(request.top_k);
        let mut from_text: HashMap<String, looma_search_engine::TextHit> =
            text.hits.into_iter().map(|h| (h.id.clone(), h)).collect();
        // Only the hits returned are highlighted: the text search again, restricted to them.
        let shown: Vec<String> = fused
            .iter()
            .filter(|f| from_text.contains_key(&f.id))
            .map(|f| f.id.clone())
            .collect();
        if !shown.is_empty() {
            text_query.limit = shown.len();
            text_query.only_ids = shown;
            text_query.highlight = true;
            for hit in self.inner.engines.text.search(&text_query).await?.hits {
                from_text.insert(hit.id.clone(), hit);
            }
        }
        let missing: Vec<String> = fused
            .iter()
            .filter(|f| !from_text.contains_key(&f.id))
            .map(|f| f.id.clone())
            .collect();
        let stored = self.stored(request.collection, &missing).await?;
        let mut hits = Vec::with_capacity(fused.len());
        for entry in fused {
            let (title, snippet, metadata, highlights) = match from_text.remove(&entry.id) {
                Some(hit) => (
                    hit.title,
                    hit.snippet,
                    hit.metadata,
                    visible_highlights(hit.highlights, request.names),
                ),
                None => match stored.get(&entry.id) {
                    Some(doc) => (
                        doc.title.clone(),
                        leading_chars(&doc.content, SNIPPET_CHARS),
                        doc.metadata.clone(),
                        Vec::new(),
                    ),
                    // In the vector index but not (yet) in the text store: skip it.
                    None => continue,
                },
            };
            hits.push(Hit {
                id: entry.id,
                collection: request.collection,
                title,
                snippet,
                score: entry.score,
                metadata,
                highlights,
                text_rank: entry.text_rank,
                text_score: entry.text_score,
                vector_rank: entry.vector_rank,
                vector_score: entry.vector_score,
                distance: None,
            });
        }
        Ok(hits)
    }

    /// `analyzeText`: the text checked (not empty, at most `MAX_ANALYZE_CHARS`, control
    /// characters as spaces) and put under analysis.
    pub fn analyze_text(&self, text: &str) -> Result<Analysis, SearchError> {
        let text = validate::query_text("text", text, validate::MAX_ANALYZE_CHARS)?;
        Ok(self.inner.analyzer.analysis(text))
    }

    pub async fn suggest(
        &self,
        collection: Collection,
        prefix: &str,
        limit: usize,
        kinds: Vec<SuggestionKind>,
    ) -> Result<Vec<Suggestion>, SearchError> {
        let _timed = Timed::new("suggest");
        self.require_feature(TEXT_SEARCH).await?;
        let prefix = validate::query_text("prefix", prefix, validate::MAX_PREFIX_CHARS)?;
        Ok(self
            .inner
            .engines
            .text
            .suggest(&SuggestQuery {
                collection,
                prefix,
                limit,
                kinds,
            })
            .await?)
    }

    // ---- helpers ---------------------------------------------------------------------

    async fn nearest(
        &self,
        request: &RankedRequest,
        vector: Vec<f32>,
        metric: Metric,
    ) -> Result<Vec<VectorHit>, SearchError> {
        Ok(self
            .inner
            .engines
            .vector
            .search(&VectorQuery {
                collection: request.collection,
                vector,
                top_k: request.top_k,
                filters: request.filters.clone(),
                metric,
            })
            .await?)
    }

    async fn stored(
        &self,
        collection: Collection,
        ids: &[String],
    ) -> Result<HashMap<String, StoredDocument>, SearchError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let docs = self.inner.engines.text.get(collection, ids).await?;
        Ok(docs.into_iter().map(|d| (d.id.clone(), d)).collect())
    }

    async fn render_vector_hits(
        &self,
        collection: Collection,
        hits: Vec<VectorHit>,
    ) -> Result<Vec<Hit>, SearchError> {
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let stored = self.stored(collection, &ids).await?;
        Ok(hits
            .into_iter()
            .enumerate()
            .filter_map(|(i, hit)| {
                let doc = stored.get(&hit.id)?;
                Some(Hit {
                    id: hit.id,
                    collection,
                    title: doc.title.clone(),
                    snippet: leading_chars(&doc.content, SNIPPET_CHARS),
                    score: f64::from(hit.score),
                    metadata: doc.metadata.clone(),
                    highlights: Vec::new(),
                    text_rank: None,
                    text_score: None,
                    vector_rank: Some(i + 1),
                    vector_score: Some(hit.score),
                    distance: hit.distance,
                })
            })
            .collect())
    }
}

impl ActiveReindex {
    fn target(&self) -> Target {
        Target::Staged {
            text: self.text_version,
            vector: self.vector_version,
        }
    }
}

/// The collection a reindex id names (`<collection>-<uuid>`), or `NOT_FOUND`.
fn reindex_collection(id: &str) -> Result<Collection, SearchError> {
    id.split_once('-')
        .and_then(|(collection, _)| Collection::parse(collection))
        .ok_or_else(|| SearchError::ReindexNotFound(id.to_owned()))
}

/// Documents grouped by collection; within a collection the last write of an id wins.
fn by_collection(documents: Vec<Document>) -> Vec<(Collection, Vec<Document>)> {
    let mut groups: Vec<(Collection, Vec<Document>)> = Vec::new();
    for doc in documents {
        match groups.iter_mut().find(|(c, _)| *c == doc.collection) {
            Some((_, docs)) => docs.push(doc),
            None => groups.push((doc.collection, vec![doc])),
        }
    }
    for (_, docs) in &mut groups {
        let mut latest: HashMap<String, usize> = HashMap::new();
        for (i, doc) in docs.iter().enumerate() {
            latest.insert(doc.id.clone(), i);
        }
        let all = std::mem::take(docs);
        *docs = all
            .into_iter()
            .enumerate()
            .filter(|(i, doc)| latest.get(&doc.id) == Some(i))
            .map(|(_, doc)| doc)
            .collect();
    }
    groups
}

/// Highlights the caller may see: never the `name` field without permission to see names
/// (whatever a backend returns).
fn visible_highlights(highlights: Vec<Highlight>, names: bool) -> Vec<Highlight> {
    highlights
        .into_iter()
        .filter(|h| names || h.field != "name")
        .collect()
}

fn leading_chars(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", trimmed[..end].trim_end()),
        None => trimmed.to_owned(),
    }
}

//! The search subgraph's index backends, behind two small traits shaped by what search needs:
//! [`TextIndex`] (BM25 full text, filters, facets, highlights, suggestions, and the stored
//! documents hits are rendered from) and [`VectorIndex`] (nearest neighbours with filters).
//!
//! The embedded implementations (the default, no servers) live in [`embedded`]; the production
//! adapters (Elasticsearch, Qdrant) live in `looma-search-remote` and implement the same traits.
//! Ranking fusion, cursors and permissions belong to the subgraph, not here.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod embedded;

/// The collections the platform indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    Resumes,
    Jobs,
    /// Knowledge documents for the chat assistant.
    Knowledge,
}

impl Collection {
    pub const ALL: [Collection; 3] = [Collection::Resumes, Collection::Jobs, Collection::Knowledge];

    /// Stable lowercase name, used for directories, index names and collection names.
    pub const fn as_str(self) -> &'static str {
        match self {
            Collection::Resumes => "resumes",
            Collection::Jobs => "jobs",
            Collection::Knowledge => "knowledge",
        }
    }

    pub fn parse(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Typed fields used for filters and facets. Absent values never match a filter on that field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentFields {
    /// Canonical skill names (from the taxonomy), matched exactly.
    pub skills: Vec<String>,
    pub city: Option<String>,
    /// Education level code: `HIGH_SCHOOL`, `ASSOCIATE`, `BACHELOR`, `MASTER`, `DOCTORATE`.
    pub degree: Option<String>,
    /// Years of experience (resumes) or minimum years required (jobs).
    pub years: Option<f64>,
    /// Salary range, monthly, in the currency unit the owner uses.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
    /// Lifecycle status, e.g. `open`/`closed` for jobs, `INDEXED` for resumes.
    pub status: Option<String>,
    /// A person's or company's name: searchable and suggested, never a facet.
    pub name: Option<String>,
    /// The job family (a CSCO 2022 middle group code, `2-02`), from text analytics.
    #[serde(default)]
    pub job_family: Option<String>,
    /// Keywords of the document (text analytics), matched exactly.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// One document as the owning subgraph sends it to be indexed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The owner's entity id (a resume id, a job id); unique within a collection.
    pub id: String,
    pub collection: Collection,
    pub title: String,
    pub content: String,
    pub fields: DocumentFields,
    /// Returned verbatim with every hit.
    pub metadata: serde_json::Value,
    /// Present when the owner embedded the document; its length must equal the vector index's
    /// dimension.
    pub vector: Option<Vec<f32>>,
}

/// What a filter may require. Empty lists and `None` mean "no constraint". All constraints must
/// hold (AND); values inside one list are alternatives (OR) except `skills_all`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    pub skills_all: Vec<String>,
    pub skills_any: Vec<String>,
    pub cities: Vec<String>,
    pub degrees: Vec<String>,
    pub statuses: Vec<String>,
    /// Job family codes (`2-02`), any of them.
    #[serde(default)]
    pub job_families: Vec<String>,
    /// Keywords, any of them.
    #[serde(default)]
    pub keywords_any: Vec<String>,
    pub min_years: Option<f64>,
    pub max_years: Option<f64>,
    /// The document's salary range must overlap `[salary_min, salary_max]`.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self == &Filters::default()
    }

    /// The same rules every backend implements, for backends that filter in memory and for tests.
    pub fn matches(&self, fields: &DocumentFields) -> bool {
        let has = |wanted: &String| fields.skills.iter().any(|s| s == wanted);
        if !self.skills_all.iter().all(has) {
            return false;
        }
        if !self.skills_any.is_empty() && !self.skills_any.iter().any(has) {
            return false;
        }
        let one_of = |allowed: &[String], value: &Option<String>| {
            allowed.is_empty() || value.as_ref().is_some_and(|v| allowed.contains(v))
        };
        if !one_of(&self.cities, &fields.city)
            || !one_of(&self.degrees, &fields.degree)
            || !one_of(&self.statuses, &fields.status)
            || !one_of(&self.job_families, &fields.job_family)
        {
            return false;
        }
        if !self.keywords_any.is_empty()
            && !self
                .keywords_any
                .iter()
                .any(|k| fields.keywords.contains(k))
        {
            return false;
        }
        if self.min_years.is_some() || self.max_years.is_some() {
            let Some(years) = fields.years else {
                return false;
            };
            if self.min_years.is_some_and(|min| years < min)
                || self.max_years.is_some_and(|max| years > max)
            {
                return false;
            }
        }
        if self.salary_min.is_some() || self.salary_max.is_some() {
            let (Some(low), Some(high)) = (
                fields.salary_min.or(fields.salary_max),
                fields.salary_max.or(fields.salary_min),
            ) else {
                return false;
            };
            if self.salary_min.is_some_and(|min| high < min)
                || self.salary_max.is_some_and(|max| low > max)
            {
                return false;
            }
        }
        true
    }
}

/// Fields that can be faceted (counted per distinct value over all matching documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetField {
    Skills,
    City,
    Degree,
    Status,
    JobFamily,
    Keywords,
}

/// A full-text query. `query` uses the syntax documented on [`TextIndex::search`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextQuery {
    pub collection: Collection,
    pub query: String,
    pub filters: Filters,
    pub facets: Vec<FacetField>,
    pub limit: usize,
    pub offset: usize,
    /// Typo tolerance: terms of 5+ characters match at edit distance 1, 9+ at distance 2.
    pub fuzzy: bool,
    pub highlight: bool,
    /// Only these documents may match (empty: any). Hybrid search uses it to highlight just
    /// the hits it returns, after fusion has picked them.
    #[serde(default)]
    pub only_ids: Vec<String>,
    /// Whether the `name` field is searched and highlighted: only for callers allowed to see
    /// names (a candidate's name must not be findable, or shown, by anyone else).
    pub names: bool,
}

/// One field's matched fragment, HTML-escaped, with matches wrapped in `<em>…</em>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    pub field: String,
    pub fragment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextHit {
    pub id: String,
    pub score: f32,
    pub title: String,
    /// A short plain-text excerpt of the content around the best match (or its beginning).
    pub snippet: String,
    pub highlights: Vec<Highlight>,
    pub metadata: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Facet {
    pub field: FacetField,
    /// Most frequent first, ties by value.
    pub values: Vec<FacetCount>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextResults {
    pub hits: Vec<TextHit>,
    /// Number of matching documents (exact).
    pub total: u64,
    pub facets: Vec<Facet>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    Title,
    Skill,
    Name,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestQuery {
    pub collection: Collection,
    pub prefix: String,
    pub limit: usize,
    /// Which kinds to return (callers without PII permission leave out `Name`).
    pub kinds: Vec<SuggestionKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub text: String,
    pub kind: SuggestionKind,
    /// How many documents carry this title/skill/name.
    pub count: u64,
}

/// A stored document as hits are rendered from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub id: String,
    pub title: String,
    pub content: String,
    pub fields: DocumentFields,
    pub metadata: serde_json::Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Cosine,
    Dot,
    Euclidean,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorPoint {
    pub id: String,
    pub vector: Vec<f32>,
    pub fields: DocumentFields,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorQuery {
    pub collection: Collection,
    pub vector: Vec<f32>,
    pub top_k: usize,
    pub filters: Filters,
    pub metric: Metric,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    pub id: String,
    /// Higher is better: cosine similarity, dot product, or `1 / (1 + distance)` for euclidean.
    pub score: f32,
    /// The raw distance for the euclidean metric.
    pub distance: Option<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The query cannot be run as written (syntax, limits); the message is shown to the user.
    #[error("{0}")]
    InvalidQuery(String),
    #[error("vector has {got} dimensions, the index expects {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    /// The backend (a server) cannot be reached or refused the request.
    #[error("search backend unavailable: {0}")]
    Unavailable(String),
    #[error("search engine failure: {0}")]
    Internal(String),
}

/// Full-text index and document store.
///
/// Query syntax (all backends): words are ORed and ranked by BM25; `"a phrase"`; `+must`,
/// `-mustnot`; `AND`, `OR`, `NOT` and parentheses. Chinese text is segmented into words
/// (punctuation dropped). Writes are visible to searches within one second.
#[async_trait]
pub trait TextIndex: Send + Sync {
    fn backend(&self) -> &'static str;
    /// Insert or replace documents by id.
    async fn upsert(&self, docs: &[Document]) -> Result<(), EngineError>;
    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError>;
    /// Remove every document of a collection.
    async fn clear(&self, collection: Collection) -> Result<(), EngineError>;
    async fn search(&self, query: &TextQuery) -> Result<TextResults, EngineError>;
    /// Completions whose words start with `prefix` (typo tolerant for longer prefixes), most
    /// frequent first.
    async fn suggest(&self, query: &SuggestQuery) -> Result<Vec<Suggestion>, EngineError>;
    /// Stored documents by id, in the order asked; unknown ids are skipped.
    async fn get(
        &self,
        collection: Collection,
        ids: &[String],
    ) -> Result<Vec<StoredDocument>, EngineError>;
    async fn count(&self, collection: Collection) -> Result<u64, EngineError>;

    // ---- versions (a reindex builds a staged version beside the live one) -----------------

    /// Creates an empty staged version of `collection` and returns its number, above every
    /// version before it. Any earlier staged version (an abandoned or crashed reindex) is
    /// dropped first. Searches keep reading the live version.
    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError>;
    /// Inserts or replaces documents in staged `version` (every document of `collection`).
    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        docs: &[Document],
    ) -> Result<(), EngineError>;
    async fn delete_version(
        &self,
        collection: Collection,
        version: u64,
        ids: &[String],
    ) -> Result<(), EngineError>;
    /// Makes staged `version` the live one in one step: a search sees the old version or the
    /// new one, never a mix. The old version is dropped (searches already running on it finish
    /// where the backend allows: see each implementation).
    async fn commit_version(&self, collection: Collection, version: u64)
    -> Result<(), EngineError>;
    /// Drops staged `version`; unknown versions are not an error.
    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError>;
}

/// Nearest-neighbour index over fixed-dimension vectors, with the filterable fields alongside.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    fn backend(&self) -> &'static str;
    fn dimension(&self) -> usize;
    async fn upsert(
        &self,
        collection: Collection,
        points: &[VectorPoint],
    ) -> Result<(), EngineError>;
    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError>;
    async fn clear(&self, collection: Collection) -> Result<(), EngineError>;
    /// The `top_k` best points that pass the filters, best first.
    async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>, EngineError>;
    async fn count(&self, collection: Collection) -> Result<u64, EngineError>;

    // ---- versions: the same contract as `TextIndex`'s --------------------------------------

    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError>;
    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        points: &[VectorPoint],
    ) -> Result<(), EngineError>;
    async fn delete_version(
        &self,
        collection: Collection,
        version: u64,
        ids: &[String],
    ) -> Result<(), EngineError>;
    async fn commit_version(&self, collection: Collection, version: u64)
    -> Result<(), EngineError>;
    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError>;

    /// Rebuilds the collection's graph from its live points, dropping what removed and
    /// replaced points left behind, while searches and writes go on. `None` from backends
    /// that reclaim deleted points themselves (Qdrant's optimizer vacuums segments).
    async fn compact(&self, collection: Collection) -> Result<Option<Compaction>, EngineError> {
        let _ = collection;
        Ok(None)
    }
}

/// What a vector compaction did.
#[derive(Clone, Debug, PartialEq)]
pub struct Compaction {
    /// Live points in the rebuilt graph.
    pub points: u64,
    /// Removed or replaced points the old graph still carried.
    pub removed_tombstones: u64,
    /// Writes that arrived during the rebuild, replayed into the new graph before the swap.
    pub replayed_writes: u64,
    pub seconds: f64,
}

impl EngineError {
    /// A write or commit named a staged version that does not exist (never begun, committed,
    /// aborted, or dropped by a later `begin_version`).
    pub fn unknown_version(collection: Collection, version: u64) -> EngineError {
        EngineError::InvalidQuery(format!(
            "no staged version {version} of collection {}",
            collection.as_str()
        ))
    }
}

//! The search subgraph's GraphQL surface: thin resolvers that check permissions, convert
//! arguments and call the service. Hits carry the owning entity (`Resume` / `Job` by key)
//! so the router fetches details from the subgraph that owns them.

use crate::SearchError;
use crate::domain::fusion::Fusion;
use crate::service::{Hit, RankedRequest, SearchService, TextRequest};
use async_graphql::types::Json;
use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ID, InputObject, Object, Result, Schema,
    SimpleObject,
};
use looma_auth::{Principal, PrincipalKind, permission};
use looma_core::GraphqlResultExt;
use looma_core::page::PageInfo;
use looma_search_engine::{
    Collection, Document, DocumentFields, FacetField, Filters, Metric,
    SuggestionKind as EngineSuggestionKind,
};
use looma_server::require;

pub type SearchSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: SearchService) -> SearchSchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a SearchService {
    ctx.data_unchecked::<SearchService>()
}

// ---- types ---------------------------------------------------------------------------

/// What is searched: candidates' resumes, job postings, or the assistant's knowledge documents.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SearchCollection {
    Resumes,
    Jobs,
    Knowledge,
}

impl From<SearchCollection> for Collection {
    fn from(value: SearchCollection) -> Self {
        match value {
            SearchCollection::Resumes => Collection::Resumes,
            SearchCollection::Jobs => Collection::Jobs,
            SearchCollection::Knowledge => Collection::Knowledge,
        }
    }
}

impl From<Collection> for SearchCollection {
    fn from(value: Collection) -> Self {
        match value {
            Collection::Resumes => SearchCollection::Resumes,
            Collection::Jobs => SearchCollection::Jobs,
            Collection::Knowledge => SearchCollection::Knowledge,
        }
    }
}

/// Reading a collection needs `search:read` plus the owner's read permission.
fn require_read<'a>(ctx: &Context<'a>, collection: SearchCollection) -> Result<&'a Principal> {
    let principal = require(ctx, permission::SEARCH_READ)?;
    match collection {
        SearchCollection::Resumes => require(ctx, permission::RESUME_READ),
        SearchCollection::Jobs => require(ctx, permission::JOB_READ),
        SearchCollection::Knowledge => Ok(principal),
    }
}

/// Index writes: service credentials (API keys, signed service principals) holding
/// `search:index`; people never write indexes directly, whatever their role.
fn require_indexer(ctx: &Context<'_>) -> Result<()> {
    let principal = require(ctx, permission::SEARCH_INDEX)?;
    if principal.kind != PrincipalKind::Service {
        return Err(SearchError::ServiceOnly).gql();
    }
    Ok(())
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SearchFacetField {
    Skills,
    City,
    Degree,
    Status,
    /// CSCO job family codes (`2-02`); `analyzeText` names them.
    JobFamily,
    Keywords,
}

impl From<SearchFacetField> for FacetField {
    fn from(value: SearchFacetField) -> Self {
        match value {
            SearchFacetField::Skills => FacetField::Skills,
            SearchFacetField::City => FacetField::City,
            SearchFacetField::Degree => FacetField::Degree,
            SearchFacetField::Status => FacetField::Status,
            SearchFacetField::JobFamily => FacetField::JobFamily,
            SearchFacetField::Keywords => FacetField::Keywords,
        }
    }
}

impl From<FacetField> for SearchFacetField {
    fn from(value: FacetField) -> Self {
        match value {
            FacetField::Skills => SearchFacetField::Skills,
            FacetField::City => SearchFacetField::City,
            FacetField::Degree => SearchFacetField::Degree,
            FacetField::Status => SearchFacetField::Status,
            FacetField::JobFamily => SearchFacetField::JobFamily,
            FacetField::Keywords => SearchFacetField::Keywords,
        }
    }
}

/// How `hybridSearch` merges the text and semantic rankings.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum HybridFusion {
    /// Each list's scores standardised (z-scores), then `(text + vectorWeight × vector) /
    /// (1 + vectorWeight)`; a list that did not return a hit counts as its lowest score.
    Scores,
    /// Reciprocal rank fusion: `1/(rrfK + textRank) + vectorWeight/(rrfK + vectorRank)`.
    Rrf,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum VectorMetric {
    /// Cosine similarity (score in [-1, 1]).
    Cosine,
    /// Dot product.
    Dot,
    /// Euclidean distance; `score` is `1 / (1 + distance)` and `distance` is set.
    Euclidean,
}

impl From<VectorMetric> for Metric {
    fn from(value: VectorMetric) -> Self {
        match value {
            VectorMetric::Cosine => Metric::Cosine,
            VectorMetric::Dot => Metric::Dot,
            VectorMetric::Euclidean => Metric::Euclidean,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SuggestionKind {
    Title,
    Skill,
    /// A candidate's name (only for callers holding `resume:pii`) or a company's name.
    Name,
}

impl From<EngineSuggestionKind> for SuggestionKind {
    fn from(value: EngineSuggestionKind) -> Self {
        match value {
            EngineSuggestionKind::Title => SuggestionKind::Title,
            EngineSuggestionKind::Skill => SuggestionKind::Skill,
            EngineSuggestionKind::Name => SuggestionKind::Name,
        }
    }
}

/// Constraints every result must meet. Lists are alternatives (any value matches) except
/// `skills`, which must all be present; skill aliases (`k8s`) are accepted.
#[derive(InputObject, Default)]
pub struct SearchFilter {
    /// Every one of these skills.
    pub skills: Option<Vec<String>>,
    /// At least one of these skills.
    pub any_skills: Option<Vec<String>>,
    pub cities: Option<Vec<String>>,
    /// Education level codes: HIGH_SCHOOL, ASSOCIATE, BACHELOR, MASTER, DOCTORATE.
    pub degrees: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    /// CSCO job family codes (`2-02`), any of them.
    pub job_families: Option<Vec<String>>,
    /// Keywords (as `analyzeText` and the owners extract them), any of them.
    pub any_keywords: Option<Vec<String>>,
    pub min_years: Option<f64>,
    pub max_years: Option<f64>,
    /// The document's salary range must overlap `[salaryMin, salaryMax]`.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

impl From<SearchFilter> for Filters {
    fn from(value: SearchFilter) -> Self {
        Filters {
            skills_all: value.skills.unwrap_or_default(),
            skills_any: value.any_skills.unwrap_or_default(),
            cities: value.cities.unwrap_or_default(),
            degrees: value.degrees.unwrap_or_default(),
            statuses: value.statuses.unwrap_or_default(),
            job_families: value.job_families.unwrap_or_default(),
            keywords_any: value.any_keywords.unwrap_or_default(),
            min_years: value.min_years,
            max_years: value.max_years,
            salary_min: value.salary_min,
            salary_max: value.salary_max,
        }
    }
}

#[derive(InputObject)]
pub struct TextSearchOptions {
    #[graphql(default_with = "SearchCollection::Resumes")]
    pub collection: SearchCollection,
    pub filter: Option<SearchFilter>,
    /// Count matching documents per value of these fields.
    #[graphql(default)]
    pub facets: Vec<SearchFacetField>,
    #[graphql(default = 20)]
    pub first: i32,
    pub after: Option<String>,
    /// Typo tolerance: words of 5+ characters match at one edit, 9+ at two.
    #[graphql(default = true)]
    pub fuzzy: bool,
    #[graphql(default = true)]
    pub highlight: bool,
}

impl Default for TextSearchOptions {
    fn default() -> Self {
        TextSearchOptions {
            collection: SearchCollection::Resumes,
            filter: None,
            facets: Vec::new(),
            first: 20,
            after: None,
            fuzzy: true,
            highlight: true,
        }
    }
}

/// A matched fragment of one field; matches are wrapped in `<em>…</em>`, the rest is
/// HTML-escaped.
#[derive(SimpleObject)]
pub struct SearchHighlight {
    pub field: String,
    pub fragment: String,
}

/// A resume, resolved by the resume subgraph.
#[derive(SimpleObject)]
#[graphql(name = "Resume", unresolvable = "id")]
pub struct ResumeRef {
    pub id: ID,
}

/// A job posting, resolved by the subgraph that owns jobs.
#[derive(SimpleObject)]
#[graphql(name = "Job", unresolvable = "id")]
pub struct JobRef {
    pub id: ID,
}

/// One result. `textRank`/`vectorRank` say where each ranking placed it (1-based; null when
/// that ranking did not return it): hybrid search shows both.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SearchHit {
    pub id: ID,
    pub collection: SearchCollection,
    pub title: String,
    /// A plain-text excerpt around the best match (or the beginning).
    pub snippet: String,
    /// Higher is better: BM25 for text, similarity for vectors, the fused RRF score for hybrid.
    pub score: f64,
    /// Returned as the owner indexed it.
    pub metadata: Json<serde_json::Value>,
    pub highlights: Vec<SearchHighlight>,
    pub text_rank: Option<i32>,
    pub text_score: Option<f64>,
    pub vector_rank: Option<i32>,
    pub vector_score: Option<f64>,
    /// Euclidean distance (vector search with `EUCLIDEAN`).
    pub distance: Option<f64>,
}

#[ComplexObject]
impl SearchHit {
    /// The resume this hit is (RESUMES collection), resolved by the resume subgraph.
    async fn resume(&self) -> Option<ResumeRef> {
        (self.collection == SearchCollection::Resumes).then(|| ResumeRef {
            id: self.id.clone(),
        })
    }

    /// The job this hit is (JOBS collection).
    async fn job(&self) -> Option<JobRef> {
        (self.collection == SearchCollection::Jobs).then(|| JobRef {
            id: self.id.clone(),
        })
    }
}

fn rank(value: Option<usize>) -> Option<i32> {
    value.map(|r| i32::try_from(r).unwrap_or(i32::MAX))
}

impl From<Hit> for SearchHit {
    fn from(hit: Hit) -> Self {
        SearchHit {
            id: ID(hit.id),
            collection: hit.collection.into(),
            title: hit.title,
            snippet: hit.snippet,
            score: hit.score,
            metadata: Json(hit.metadata),
            highlights: hit
                .highlights
                .into_iter()
                .map(|h| SearchHighlight {
                    field: h.field,
                    fragment: h.fragment,
                })
                .collect(),
            text_rank: rank(hit.text_rank),
            text_score: hit.text_score.map(f64::from),
            vector_rank: rank(hit.vector_rank),
            vector_score: hit.vector_score.map(f64::from),
            distance: hit.distance.map(f64::from),
        }
    }
}

#[derive(SimpleObject)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct SearchFacet {
    pub field: SearchFacetField,
    /// Most frequent first.
    pub values: Vec<FacetValue>,
}

#[derive(SimpleObject)]
pub struct TextSearchResult {
    pub hits: Vec<SearchHit>,
    /// Documents matching the query and filters (all pages).
    pub total: u64,
    pub facets: Vec<SearchFacet>,
    /// Pass `endCursor` as `options.after` for the next page.
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct Suggestion {
    pub text: String,
    pub kind: SuggestionKind,
    /// How many documents carry it.
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct CollectionStats {
    pub collection: SearchCollection,
    pub documents: u64,
    pub vectors: u64,
}

/// What a vector compaction did.
#[derive(SimpleObject)]
pub struct VectorCompaction {
    /// Points in the rebuilt graph.
    pub points: u64,
    /// Removed or replaced points the old graph still carried.
    pub removed_tombstones: u64,
    /// Writes made during the rebuild, replayed into the new graph before the swap.
    pub replayed_writes: u64,
    pub seconds: f64,
}

/// A reindex in progress: the staged versions `indexDocuments(reindexId:)` fills.
#[derive(SimpleObject)]
pub struct Reindex {
    /// Pass to `indexDocuments`, `commitReindex` or `abortReindex`.
    pub id: ID,
    pub collection: SearchCollection,
    /// The staged text version (`<index>_v<N>` on Elasticsearch).
    pub text_version: u64,
    /// The staged vector version (`<collection>_v<N>` on Qdrant).
    pub vector_version: u64,
}

impl From<crate::service::Reindex> for Reindex {
    fn from(reindex: crate::service::Reindex) -> Self {
        Reindex {
            id: reindex.id.into(),
            collection: reindex.collection.into(),
            text_version: reindex.text_version,
            vector_version: reindex.vector_version,
        }
    }
}

#[derive(SimpleObject)]
pub struct SearchBackends {
    /// `tantivy` or `elasticsearch`.
    pub text: String,
    /// `usearch` or `qdrant`.
    pub vector: String,
    pub dimension: i32,
    /// The embedding model every vector here comes from (queries are embedded with it too).
    /// Documents and vector searches must bring vectors of this model.
    pub vector_model: String,
    pub collections: Vec<CollectionStats>,
}

/// A document as its owner sends it for indexing.
#[derive(InputObject)]
pub struct IndexDocumentInput {
    /// The owner's entity id (resume id, job id), unique within the collection.
    pub id: ID,
    pub collection: SearchCollection,
    pub title: String,
    pub content: String,
    #[graphql(default)]
    pub skills: Vec<String>,
    pub city: Option<String>,
    pub degree: Option<String>,
    pub years: Option<f64>,
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
    pub status: Option<String>,
    /// A person's or company's name: searchable; suggested only to callers allowed to see it.
    pub name: Option<String>,
    /// The CSCO job family code (`2-02`).
    pub job_family: Option<String>,
    #[graphql(default)]
    pub keywords: Vec<String>,
    pub metadata: Option<Json<serde_json::Value>>,
    /// The owner's embedding of the document (the index's dimension).
    pub vector: Option<Vec<f32>>,
    /// The model that made `vector` (required with a vector): an index holds one model's
    /// vectors only, `searchBackends.vectorModel`.
    pub vector_model: Option<String>,
}

impl From<IndexDocumentInput> for Document {
    fn from(input: IndexDocumentInput) -> Self {
        Document {
            id: input.id.to_string(),
            collection: input.collection.into(),
            title: input.title,
            content: input.content,
            fields: DocumentFields {
                skills: input.skills,
                city: input.city,
                degree: input.degree,
                years: input.years,
                salary_min: input.salary_min,
                salary_max: input.salary_max,
                status: input.status,
                name: input.name,
                job_family: input.job_family,
                keywords: input.keywords,
            },
            metadata: input
                .metadata
                .map(|m| m.0)
                .unwrap_or(serde_json::Value::Null),
            vector: input.vector,
        }
    }
}

/// Whether the caller may see (and so find by) names in `collection`: candidates' names need
/// `resume:pii`; companies' names are public.
fn names_visible(principal: &Principal, collection: SearchCollection) -> bool {
    match collection {
        SearchCollection::Resumes => principal.has(permission::RESUME_PII),
        SearchCollection::Jobs | SearchCollection::Knowledge => true,
    }
}

fn ranked(
    principal: &Principal,
    collection: SearchCollection,
    top_k: i32,
    filter: Option<SearchFilter>,
) -> Result<RankedRequest> {
    Ok(RankedRequest {
        names: names_visible(principal, collection),
        collection: collection.into(),
        top_k: usize::try_from(top_k)
            .map_err(|_| SearchError::invalid("topK", format!("must be at least 1 (got {top_k})")))
            .gql()?,
        filters: filter.map(Filters::from).unwrap_or_default(),
    })
}

fn hits(hits: Vec<Hit>) -> Vec<SearchHit> {
    hits.into_iter().map(SearchHit::from).collect()
}

// ---- operations ------------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    /// Full-text search (BM25). Syntax: words (any may match, more matches rank higher),
    /// `"a phrase"`, `+required`, `-excluded`, `AND`/`OR`/`NOT` and parentheses. Chinese is
    /// segmented into words. Typo tolerant unless `fuzzy: false`. Needs `search:read` and
    /// read access to the collection (`resume:read`, `job:read`).
    async fn text_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        options: Option<TextSearchOptions>,
    ) -> Result<TextSearchResult> {
        let options = options.unwrap_or_default();
        let principal = require_read(ctx, options.collection)?;
        // Negative becomes 0, which the service refuses with the page-size rule's message.
        let first = usize::try_from(options.first).unwrap_or(0);
        let page = service(ctx)
            .text_search(TextRequest {
                collection: options.collection.into(),
                query,
                filters: options.filter.map(Filters::from).unwrap_or_default(),
                facets: options.facets.into_iter().map(FacetField::from).collect(),
                first,
                after: options.after,
                fuzzy: options.fuzzy,
                highlight: options.highlight,
                names: names_visible(principal, options.collection),
            })
            .await
            .gql()?;
        looma_server::usage::record(ctx, "search.text", 1.0);
        Ok(TextSearchResult {
            hits: hits(page.hits),
            total: page.total,
            facets: page
                .facets
                .into_iter()
                .map(|facet| SearchFacet {
                    field: facet.field.into(),
                    values: facet
                        .values
                        .into_iter()
                        .map(|v| FacetValue {
                            value: v.value,
                            count: v.count,
                        })
                        .collect(),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor: page.end_cursor,
            },
        })
    }

    /// Nearest neighbours of a vector (the index's dimension and model, see
    /// `searchBackends`). `vectorModel`, when given, must be the index's model.
    #[allow(clippy::too_many_arguments)] // one Rust argument per GraphQL argument
    async fn vector_search(
        &self,
        ctx: &Context<'_>,
        vector: Vec<f32>,
        vector_model: Option<String>,
        #[graphql(default = 10)] top_k: i32,
        filter: Option<SearchFilter>,
        #[graphql(default_with = "VectorMetric::Cosine")] metric: VectorMetric,
        #[graphql(default_with = "SearchCollection::Resumes")] collection: SearchCollection,
    ) -> Result<Vec<SearchHit>> {
        let principal = require_read(ctx, collection)?;
        let request = ranked(principal, collection, top_k, filter)?;
        if vector_model.is_some() {
            service(ctx)
                .check_vector_model("vectorModel", vector_model.as_deref())
                .gql()?;
        }
        let found = service(ctx)
            .vector_search(request, vector, metric.into())
            .await
            .gql()?;
        looma_server::usage::record(ctx, "search.vector", 1.0);
        Ok(hits(found))
    }

    /// Search by meaning: the query is embedded (`searchBackends.vectorModel`, as a query),
    /// then searched by cosine similarity. `MODEL_UNAVAILABLE` when the model is not installed.
    async fn semantic_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 10)] top_k: i32,
        filter: Option<SearchFilter>,
        #[graphql(default_with = "SearchCollection::Resumes")] collection: SearchCollection,
    ) -> Result<Vec<SearchHit>> {
        let principal = require_read(ctx, collection)?;
        let request = ranked(principal, collection, top_k, filter)?;
        let found = service(ctx).semantic_search(request, &query).await.gql()?;
        looma_server::usage::record(ctx, "search.semantic", 1.0);
        Ok(hits(found))
    }

    /// Text and semantic rankings fused into one (`fusion`, by default standardised scores;
    /// see `HybridFusion`); each hit shows its `textRank` and `vectorRank` and their scores.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn hybrid_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 10)] top_k: i32,
        filter: Option<SearchFilter>,
        #[graphql(default_with = "SearchCollection::Resumes")] collection: SearchCollection,
        #[graphql(
            desc = "How the rankings are merged (default: the service's `search.hybrid_fusion`, SCORES unless configured; RRF when only `rrfK` is given)."
        )]
        fusion: Option<HybridFusion>,
        #[graphql(
            desc = "RRF's constant; larger values flatten the advantage of top ranks (default 60). Only with RRF fusion."
        )]
        rrf_k: Option<f64>,
        #[graphql(
            desc = "Weight of the semantic ranking against the text ranking's 1 (default: from config, by the query's language)."
        )]
        vector_weight: Option<f64>,
    ) -> Result<Vec<SearchHit>> {
        let principal = require_read(ctx, collection)?;
        let request = ranked(principal, collection, top_k, filter)?;
        let configured = service(ctx).config().rrf_k;
        let fusion = match (fusion, rrf_k) {
            (Some(HybridFusion::Scores), Some(_)) => {
                return Err(SearchError::invalid("rrfK", "applies only to RRF fusion")).gql();
            }
            (Some(HybridFusion::Scores), None) => Some(Fusion::Scores),
            (Some(HybridFusion::Rrf), k) | (None, k @ Some(_)) => Some(Fusion::Rrf {
                k: k.unwrap_or(configured),
            }),
            (None, None) => None,
        };
        let found = service(ctx)
            .hybrid_search(request, &query, fusion, vector_weight)
            .await
            .gql()?;
        looma_server::usage::record(ctx, "search.hybrid", 1.0);
        Ok(hits(found))
    }

    /// Completions as the user types: titles, skills and names whose words start with
    /// `prefix` (typo tolerant for longer prefixes), most frequent first. Candidate names are
    /// suggested only to callers holding `resume:pii`.
    async fn suggest(
        &self,
        ctx: &Context<'_>,
        prefix: String,
        #[graphql(default_with = "SearchCollection::Resumes")] collection: SearchCollection,
        #[graphql(default = 8)] limit: i32,
    ) -> Result<Vec<Suggestion>> {
        let principal = require_read(ctx, collection)?;
        let limit = crate::domain::validate::count("limit", limit, 20).gql()?;
        let mut kinds = vec![EngineSuggestionKind::Title, EngineSuggestionKind::Skill];
        if names_visible(principal, collection) {
            kinds.push(EngineSuggestionKind::Name);
        }
        let found = service(ctx)
            .suggest(collection.into(), &prefix, limit, kinds)
            .await
            .gql()?;
        Ok(found
            .into_iter()
            .map(|s| Suggestion {
                text: s.text,
                kind: s.kind.into(),
                count: s.count,
            })
            .collect())
    }

    /// What a text says: its language, keywords, sentiment and job family (for candidate
    /// feedback, job posts, chat messages). Language and keywords are read from the text;
    /// sentiment and job family embed it (once, and only when asked for). Needs
    /// `search:read`; the text is at most 20,000 characters.
    async fn analyze_text(&self, ctx: &Context<'_>, text: String) -> Result<TextAnalysis> {
        require(ctx, permission::SEARCH_READ)?;
        let analysis = service(ctx).analyze_text(&text).gql()?;
        looma_server::usage::record(ctx, "search.analyze", 1.0);
        Ok(TextAnalysis(analysis))
    }

    /// Which backends serve search and how many documents each collection holds.
    async fn search_backends(&self, ctx: &Context<'_>) -> Result<SearchBackends> {
        require(ctx, permission::SEARCH_READ)?;
        let service = service(ctx);
        let stats = service.stats().await.gql()?;
        Ok(SearchBackends {
            text: service.engines().text.backend().to_owned(),
            vector: service.engines().vector.backend().to_owned(),
            dimension: i32::try_from(service.dimension()).unwrap_or(i32::MAX),
            vector_model: service.vector_model(),
            collections: stats
                .into_iter()
                .map(|s| CollectionStats {
                    collection: s.collection.into(),
                    documents: s.documents,
                    vectors: s.vectors,
                })
                .collect(),
        })
    }
}

/// A text under analysis (`analyzeText`).
pub struct TextAnalysis(looma_analytics::Analysis);

#[Object]
impl TextAnalysis {
    /// The language, from the text's scripts and function words.
    async fn language(&self) -> DetectedLanguage {
        let language = self.0.language();
        DetectedLanguage {
            code: language.code.to_owned(),
            confidence: f64::from(language.confidence),
        }
    }

    /// Keywords, best first, the best weighing 1: TF-IDF over jieba for Chinese, phrases of
    /// content words for other languages.
    async fn keywords(&self, #[graphql(default = 10)] first: i32) -> Result<Vec<TextKeyword>> {
        let first =
            crate::domain::validate::count("first", first, crate::domain::validate::MAX_KEYWORDS)
                .gql()?;
        Ok(self
            .0
            .keywords(first)
            .into_iter()
            .map(|k| TextKeyword {
                term: k.term,
                weight: f64::from(k.weight),
            })
            .collect())
    }

    /// Positive, neutral or negative, with a score from -1 to 1. `MODEL_UNAVAILABLE` while
    /// the embedding model is missing, or when `embed.model` is not the model the sentiment
    /// classifier was trained on.
    async fn sentiment(&self) -> Result<TextSentiment> {
        let sentiment = self.0.sentiment().await.map_err(SearchError::from).gql()?;
        Ok(TextSentiment {
            label: match sentiment.label {
                looma_analytics::SentimentLabel::Positive => SentimentLabel::Positive,
                looma_analytics::SentimentLabel::Neutral => SentimentLabel::Neutral,
                looma_analytics::SentimentLabel::Negative => SentimentLabel::Negative,
            },
            score: f64::from(sentiment.score),
        })
    }

    /// The job family (a CSCO 2022 middle group) the text speaks of; null when none is
    /// recognised. Read from the embedding; from the CSCO title matcher when `embed.model`
    /// has no trained classifier.
    async fn job_family(&self) -> Result<Option<JobFamily>> {
        let family = self.0.job_family().await.map_err(SearchError::from).gql()?;
        Ok(family.map(|f| JobFamily {
            code: f.code,
            name: f.name,
            major_group: f.major_group,
            major_group_name: f.major_group_name,
            score: f64::from(f.score),
            method: match f.method {
                looma_analytics::FamilyMethod::Embedding => JobFamilyMethod::Embedding,
                looma_analytics::FamilyMethod::Keywords => JobFamilyMethod::Keywords,
            },
        }))
    }
}

#[derive(SimpleObject)]
pub struct DetectedLanguage {
    /// ISO 639-1 (`zh`, `en`, ...), `und` when the text does not tell.
    code: String,
    /// 0 to 1.
    confidence: f64,
}

#[derive(SimpleObject)]
pub struct TextKeyword {
    term: String,
    weight: f64,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SentimentLabel {
    Positive,
    Neutral,
    Negative,
}

#[derive(SimpleObject)]
pub struct TextSentiment {
    label: SentimentLabel,
    /// P(positive) - P(negative): -1 surely negative, 1 surely positive; within ±0.2 neutral.
    score: f64,
}

/// How a job family was found.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum JobFamilyMethod {
    /// A classifier over the text's embedding.
    Embedding,
    /// The CSCO title matcher.
    Keywords,
}

/// A CSCO 2022 middle group (中类), e.g. `2-02` 工程技术人员.
#[derive(SimpleObject)]
pub struct JobFamily {
    code: String,
    name: String,
    /// The CSCO major group (大类), e.g. `2`.
    major_group: String,
    major_group_name: String,
    /// The classifier's probability, or the title matcher's score (0 to 1).
    score: f64,
    method: JobFamilyMethod,
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Inserts or replaces documents (searchable when this returns). Service credentials
    /// holding `search:index` only. Returns the number of documents written.
    ///
    /// With `reindexId` the documents go to that reindex's staged version only (all of its
    /// collection); ids written by ordinary calls since the reindex began are skipped, since
    /// those calls are newer. Without it they go to the live version, and during a reindex of
    /// their collection to the staged version too.
    async fn index_documents(
        &self,
        ctx: &Context<'_>,
        documents: Vec<IndexDocumentInput>,
        reindex_id: Option<ID>,
    ) -> Result<i32> {
        require_indexer(ctx)?;
        let service = service(ctx);
        for (at, document) in documents.iter().enumerate() {
            if document.vector.is_some() {
                service
                    .check_vector_model(
                        &format!("documents[{at}].vectorModel"),
                        document.vector_model.as_deref(),
                    )
                    .gql()?;
            }
        }
        let documents: Vec<Document> = documents.into_iter().map(Document::from).collect();
        let written = match reindex_id {
            Some(id) => service.index_into(&id, documents).await.gql()?,
            None => service.index(documents).await.gql()?,
        };
        Ok(i32::try_from(written).unwrap_or(i32::MAX))
    }

    /// Removes documents by id (unknown ids are ignored). Service credentials only. During a
    /// reindex of the collection they are removed from its staged version too.
    async fn remove_documents(
        &self,
        ctx: &Context<'_>,
        collection: SearchCollection,
        ids: Vec<ID>,
    ) -> Result<i32> {
        require_indexer(ctx)?;
        let ids: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
        let removed = service(ctx).remove(collection.into(), ids).await.gql()?;
        Ok(i32::try_from(removed).unwrap_or(i32::MAX))
    }

    /// Starts rebuilding a collection without downtime: an empty staged version that
    /// `indexDocuments(reindexId:)` fills while searches keep reading the live one, until
    /// `commitReindex` swaps it in at once. A reindex of the same collection already in
    /// progress is abandoned. Service credentials only.
    async fn begin_reindex(
        &self,
        ctx: &Context<'_>,
        collection: SearchCollection,
    ) -> Result<Reindex> {
        require_indexer(ctx)?;
        let reindex = service(ctx).begin_reindex(collection.into()).await.gql()?;
        Ok(Reindex::from(reindex))
    }

    /// Swaps a reindex's staged version in: every search from now on reads it; the old
    /// version is dropped. Returns the collection's new counts. Service credentials only.
    async fn commit_reindex(&self, ctx: &Context<'_>, reindex_id: ID) -> Result<CollectionStats> {
        require_indexer(ctx)?;
        let stats = service(ctx).commit_reindex(&reindex_id).await.gql()?;
        Ok(CollectionStats {
            collection: stats.collection.into(),
            documents: stats.documents,
            vectors: stats.vectors,
        })
    }

    /// Rebuilds a collection's vector graph without the points removed or replaced since it
    /// was built (searches go on meanwhile); the embedded index also does this by itself past
    /// a share of such points. `null` when the backend reclaims them itself (Qdrant) or a
    /// compaction is already running. Service credentials only.
    async fn compact_vectors(
        &self,
        ctx: &Context<'_>,
        collection: SearchCollection,
    ) -> Result<Option<VectorCompaction>> {
        require_indexer(ctx)?;
        let done = service(ctx)
            .compact_vectors(collection.into())
            .await
            .gql()?;
        Ok(done.map(|done| VectorCompaction {
            points: done.points,
            removed_tombstones: done.removed_tombstones,
            replayed_writes: done.replayed_writes,
            seconds: done.seconds,
        }))
    }

    /// Drops a reindex's staged version; the live version is untouched. Service credentials
    /// only.
    async fn abort_reindex(&self, ctx: &Context<'_>, reindex_id: ID) -> Result<bool> {
        require_indexer(ctx)?;
        service(ctx).abort_reindex(&reindex_id).await.gql()?;
        Ok(true)
    }

    /// Empties a collection (a reindex of it in progress is aborted). Service credentials only;
    /// `beginReindex` rebuilds without emptying what searches read.
    async fn clear_collection(
        &self,
        ctx: &Context<'_>,
        collection: SearchCollection,
    ) -> Result<bool> {
        require_indexer(ctx)?;
        service(ctx).clear(collection.into()).await.gql()?;
        Ok(true)
    }
}

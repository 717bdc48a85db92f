//! Elasticsearch request bodies and response parsing, as pure functions over JSON: the index
//! mapping, `Filters` as a `bool.filter`, the search/suggest/bulk/mget bodies, and the
//! translation of responses (and error bodies) back into the trait's types, and the Chinese
//! analysis options the mapping is built from (`elastic` uses this module, never the reverse).
//! No I/O here.

use std::collections::BTreeMap;

use looma_search_engine::{
    Document, DocumentFields, EngineError, Facet, FacetCount, FacetField, Filters, Highlight,
    StoredDocument, SuggestQuery, Suggestion, SuggestionKind, TextHit, TextQuery, TextResults,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::query_syntax::{FUZZINESS, FUZZY_MIN_CHARS, to_lucene};
use crate::suggest_match::value_matches_prefix;

/// Distinct values returned per facet.
pub const FACET_SIZE: usize = 100;
/// Length of the plain-text snippet (and of the content fragment it is cut from).
pub const SNIPPET_CHARS: usize = 160;
/// Terms buckets fetched per suggestion kind before the prefix check narrows them.
pub const SUGGEST_CANDIDATES: usize = 200;

/// How Chinese (and other CJK) text is split into words. English text is tokenized the same way
/// under every option (standard tokenizer rules, lowercased).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChineseAnalysis {
    /// Built into every Elasticsearch: overlapping character bigrams (`cjk_bigram`), indexed with
    /// unigrams so one-character queries match. Works on a stock server; no dictionary.
    #[default]
    CjkBigram,
    /// The `analysis-ik` plugin: `ik_max_word` at index time, `ik_smart` at search time.
    Ik,
    /// The official `analysis-smartcn` plugin (`smartcn` analyzer, simplified Chinese).
    Smartcn,
}

impl ChineseAnalysis {
    /// (index-time analyzer, search-time analyzer)
    pub(crate) fn analyzer_names(self) -> (&'static str, &'static str) {
        match self {
            ChineseAnalysis::CjkBigram => ("looma_cjk_index", "looma_cjk_search"),
            ChineseAnalysis::Ik => ("ik_max_word", "ik_smart"),
            ChineseAnalysis::Smartcn => ("smartcn", "smartcn"),
        }
    }

    /// Custom analyzers to declare in the index settings, if the option needs any.
    pub(crate) fn custom_analysis(self) -> Option<Value> {
        match self {
            ChineseAnalysis::CjkBigram => Some(json!({
                "filter": {
                    "looma_cjk_bigram_with_unigrams": {
                        "type": "cjk_bigram",
                        "output_unigrams": true,
                    },
                },
                "analyzer": {
                    "looma_cjk_index": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["cjk_width", "lowercase", "looma_cjk_bigram_with_unigrams"],
                    },
                    "looma_cjk_search": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["cjk_width", "lowercase", "cjk_bigram"],
                    },
                },
            })),
            ChineseAnalysis::Ik | ChineseAnalysis::Smartcn => None,
        }
    }
}

/// Settings and mappings for a collection's index.
pub fn index_definition(analysis: ChineseAnalysis) -> Value {
    let (index_analyzer, search_analyzer) = analysis.analyzer_names();
    let text = json!({
        "type": "text",
        "analyzer": index_analyzer,
        "search_analyzer": search_analyzer,
    });
    let mut text_with_raw = text.clone();
    text_with_raw["fields"] = json!({ "raw": { "type": "keyword", "ignore_above": 256 } });
    let mut settings = json!({ "index": { "refresh_interval": "1s" } });
    if let Some(analysis_settings) = analysis.custom_analysis() {
        settings["analysis"] = analysis_settings;
    }
    json!({
        "settings": settings,
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": { "type": "keyword" },
                "title": text_with_raw,
                "content": text,
                "name": text_with_raw,
                "skills": { "type": "keyword", "fields": { "text": text } },
                "city": { "type": "keyword" },
                "degree": { "type": "keyword" },
                "status": { "type": "keyword" },
                "job_family": { "type": "keyword" },
                "keywords": { "type": "keyword" },
                "years": { "type": "double" },
                "salary_min": { "type": "double" },
                "salary_max": { "type": "double" },
                "metadata": { "type": "object", "enabled": false },
            }
        }
    })
}

/// The `_source` stored for a document (the vector, if any, belongs to the vector index).
pub fn source_of(doc: &Document) -> Value {
    let f = &doc.fields;
    json!({
        "id": doc.id,
        "title": doc.title,
        "content": doc.content,
        "skills": f.skills,
        "city": f.city,
        "degree": f.degree,
        "status": f.status,
        "job_family": f.job_family,
        "keywords": f.keywords,
        "years": f.years,
        "salary_min": f.salary_min,
        "salary_max": f.salary_max,
        "name": f.name,
        "metadata": doc.metadata,
    })
}

/// `Filters` as `bool.filter` clauses, with exactly `Filters::matches` semantics: missing fields
/// never match, a salary range needs at least one bound stored and must overlap the wanted one.
pub fn filter_clauses(filters: &Filters) -> Vec<Value> {
    let mut clauses: Vec<Value> = filters
        .skills_all
        .iter()
        .map(|skill| json!({ "term": { "skills": skill } }))
        .collect();
    for (field, values) in [
        ("skills", &filters.skills_any),
        ("city", &filters.cities),
        ("degree", &filters.degrees),
        ("status", &filters.statuses),
        ("job_family", &filters.job_families),
        ("keywords", &filters.keywords_any),
    ] {
        if !values.is_empty() {
            clauses.push(json!({ "terms": { field: values } }));
        }
    }
    if filters.min_years.is_some() || filters.max_years.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(min) = filters.min_years {
            range.insert("gte".into(), json!(min));
        }
        if let Some(max) = filters.max_years {
            range.insert("lte".into(), json!(max));
        }
        clauses.push(json!({ "range": { "years": range } }));
    }
    // The stored range is [salary_min or salary_max, salary_max or salary_min].
    if let Some(min) = filters.salary_min {
        clauses.push(bound_with_fallback("salary_max", "salary_min", "gte", min));
    }
    if let Some(max) = filters.salary_max {
        clauses.push(bound_with_fallback("salary_min", "salary_max", "lte", max));
    }
    clauses
}

/// `field <op> value`, or when `field` is missing, `fallback <op> value`.
fn bound_with_fallback(field: &str, fallback: &str, op: &str, value: f64) -> Value {
    json!({
        "bool": {
            "should": [
                { "range": { field: { op: value } } },
                { "bool": {
                    "must_not": [{ "exists": { "field": field } }],
                    "filter": [{ "range": { fallback: { op: value } } }],
                } },
            ],
            "minimum_should_match": 1,
        }
    })
}

fn facet_source_field(field: FacetField) -> &'static str {
    match field {
        FacetField::Skills => "skills",
        FacetField::City => "city",
        FacetField::Degree => "degree",
        FacetField::Status => "status",
        FacetField::JobFamily => "job_family",
        FacetField::Keywords => "keywords",
    }
}

fn facet_agg_name(field: FacetField) -> &'static str {
    match field {
        FacetField::Skills => "facet_skills",
        FacetField::City => "facet_city",
        FacetField::Degree => "facet_degree",
        FacetField::Status => "facet_status",
        FacetField::JobFamily => "facet_job_family",
        FacetField::Keywords => "facet_keywords",
    }
}

/// Fields searched by the text query, with their boosts.
const SEARCH_FIELDS: [&str; 4] = ["title^3", "skills.text^2", "name^2", "content"];
/// The same without `name`, for callers who may not see names.
const SEARCH_FIELDS_WITHOUT_NAMES: [&str; 3] = ["title^3", "skills.text^2", "content"];

/// The `_search` body for a text query.
pub fn search_body(query: &TextQuery) -> Value {
    let text = query.query.trim();
    let must = if text.is_empty() {
        json!({ "match_all": {} })
    } else {
        let mut query_string = json!({
            "query": to_lucene(text, query.fuzzy),
            "fields": if query.names { &SEARCH_FIELDS[..] } else { &SEARCH_FIELDS_WITHOUT_NAMES[..] },
            "default_operator": "OR",
            "allow_leading_wildcard": false,
            "analyze_wildcard": false,
            "auto_generate_synonyms_phrase_query": false,
        });
        if query.fuzzy {
            query_string["fuzziness"] = json!(FUZZINESS);
            query_string["fuzzy_transpositions"] = json!(true);
        }
        json!({ "query_string": query_string })
    };
    let mut aggs = serde_json::Map::new();
    for &field in &query.facets {
        aggs.insert(
            facet_agg_name(field).into(),
            json!({ "terms": {
                "field": facet_source_field(field),
                "size": FACET_SIZE,
                "order": [{ "_count": "desc" }, { "_key": "asc" }],
            } }),
        );
    }
    // The content fragment is always asked for: the snippet is cut from it.
    let mut highlight_fields = serde_json::Map::new();
    if query.highlight {
        highlight_fields.insert("title".into(), json!({ "number_of_fragments": 0 }));
    }
    highlight_fields.insert(
        "content".into(),
        json!({
            "fragment_size": SNIPPET_CHARS,
            "number_of_fragments": 1,
            "no_match_size": SNIPPET_CHARS,
        }),
    );
    if query.highlight {
        highlight_fields.insert("skills.text".into(), json!({ "number_of_fragments": 0 }));
        if query.names {
            highlight_fields.insert("name".into(), json!({ "number_of_fragments": 0 }));
        }
    }
    let mut filters = filter_clauses(&query.filters);
    if !query.only_ids.is_empty() {
        filters.push(json!({ "terms": { "id": query.only_ids } }));
    }
    let mut body = json!({
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": true,
        "query": { "bool": { "must": [must], "filter": filters } },
        "sort": [{ "_score": "desc" }, { "id": "asc" }],
        "highlight": {
            "encoder": "html",
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "require_field_match": false,
            "fields": highlight_fields,
        },
    });
    if !aggs.is_empty() {
        body["aggs"] = Value::Object(aggs);
    }
    body
}

#[derive(Deserialize)]
struct SearchResponse {
    hits: HitsEnvelope,
    #[serde(default)]
    aggregations: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct HitsEnvelope {
    total: TotalHits,
    #[serde(default)]
    hits: Vec<SearchHit>,
}

#[derive(Deserialize)]
struct TotalHits {
    value: u64,
}

#[derive(Deserialize)]
struct SearchHit {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "_score")]
    score: Option<f32>,
    #[serde(rename = "_source")]
    source: StoredSource,
    #[serde(default)]
    highlight: BTreeMap<String, Vec<String>>,
}

/// The `_source` written by [`source_of`]; lenient about missing optional parts.
#[derive(Deserialize)]
struct StoredSource {
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    skills: Vec<String>,
    city: Option<String>,
    degree: Option<String>,
    status: Option<String>,
    years: Option<f64>,
    salary_min: Option<f64>,
    salary_max: Option<f64>,
    name: Option<String>,
    #[serde(default)]
    job_family: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    metadata: Value,
}

impl StoredSource {
    fn into_stored(self, id: String) -> StoredDocument {
        StoredDocument {
            id,
            title: self.title,
            content: self.content,
            fields: DocumentFields {
                skills: self.skills,
                city: self.city,
                degree: self.degree,
                years: self.years,
                salary_min: self.salary_min,
                salary_max: self.salary_max,
                status: self.status,
                name: self.name,
                job_family: self.job_family,
                keywords: self.keywords,
            },
            metadata: self.metadata,
        }
    }
}

#[derive(Deserialize)]
struct TermsAggregation {
    #[serde(default)]
    buckets: Vec<TermsBucket>,
}

#[derive(Deserialize)]
struct TermsBucket {
    key: Value,
    doc_count: u64,
}

fn bucket_key(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn malformed(what: &str, err: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("unexpected Elasticsearch {what} response: {err}"))
}

/// Maps highlight keys back to the trait's field names, in display order.
const HIGHLIGHT_FIELDS: [(&str, &str); 4] = [
    ("title", "title"),
    ("content", "content"),
    ("skills.text", "skills"),
    ("name", "name"),
];

/// Parses a `_search` response produced by [`search_body`].
pub fn parse_search_response(body: Value, query: &TextQuery) -> Result<TextResults, EngineError> {
    let response: SearchResponse =
        serde_json::from_value(body).map_err(|e| malformed("search", e))?;
    let hits = response
        .hits
        .hits
        .into_iter()
        .map(|hit| {
            let snippet = hit
                .highlight
                .get("content")
                .and_then(|fragments| fragments.first())
                .map(|fragment| plain_text(fragment))
                .unwrap_or_else(|| leading_chars(&hit.source.content, SNIPPET_CHARS));
            let highlights = if query.highlight {
                HIGHLIGHT_FIELDS
                    .iter()
                    .flat_map(|(es_field, field)| {
                        hit.highlight
                            .get(*es_field)
                            .into_iter()
                            .flatten()
                            .filter(|fragment| fragment.contains("<em>"))
                            .map(|fragment| Highlight {
                                field: (*field).to_string(),
                                fragment: fragment.clone(),
                            })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            TextHit {
                id: hit.id,
                score: hit.score.unwrap_or(0.0),
                title: hit.source.title,
                snippet,
                highlights,
                metadata: hit.source.metadata,
            }
        })
        .collect();
    let mut facets = Vec::with_capacity(query.facets.len());
    for &field in &query.facets {
        let values = match response.aggregations.get(facet_agg_name(field)) {
            Some(agg) => terms_counts(agg.clone()).map_err(|e| malformed("aggregation", e))?,
            None => Vec::new(),
        };
        facets.push(Facet { field, values });
    }
    Ok(TextResults {
        hits,
        total: response.hits.total.value,
        facets,
    })
}

fn terms_counts(agg: Value) -> Result<Vec<FacetCount>, serde_json::Error> {
    let agg: TermsAggregation = serde_json::from_value(agg)?;
    let mut values: Vec<FacetCount> = agg
        .buckets
        .into_iter()
        .map(|b| FacetCount {
            value: bucket_key(&b.key),
            count: b.doc_count,
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    Ok(values)
}

/// The first `max` characters of `text`, cut at a character boundary.
fn leading_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Removes the highlight tags and undoes the HTML encoder's escaping.
fn plain_text(fragment: &str) -> String {
    fragment
        .replace("<em>", "")
        .replace("</em>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn suggest_source(kind: SuggestionKind) -> (&'static str, &'static str, &'static str) {
    // (aggregation name, text field matched, keyword field counted)
    match kind {
        SuggestionKind::Title => ("suggest_title", "title", "title.raw"),
        SuggestionKind::Skill => ("suggest_skill", "skills.text", "skills"),
        SuggestionKind::Name => ("suggest_name", "name", "name.raw"),
    }
}

fn prefix_clause(text_field: &str, prefix: &str) -> Value {
    let mut should = vec![json!({ "match_phrase_prefix": { text_field: { "query": prefix } } })];
    if prefix.chars().count() >= FUZZY_MIN_CHARS {
        should.push(json!({ "match": { text_field: {
            "query": prefix,
            "fuzziness": FUZZINESS,
            "operator": "and",
        } } }));
    }
    json!({ "bool": { "should": should, "minimum_should_match": 1 } })
}

/// The size-0 `_search` body for suggestions: per kind, a filter aggregation selecting the
/// documents whose field matches the prefix, with a terms aggregation counting the values.
pub fn suggest_body(query: &SuggestQuery) -> Value {
    let prefix = query.prefix.trim();
    let mut aggs = serde_json::Map::new();
    let mut should = Vec::new();
    for kind in unique_kinds(&query.kinds) {
        let (agg_name, text_field, keyword_field) = suggest_source(kind);
        let clause = prefix_clause(text_field, prefix);
        should.push(clause.clone());
        aggs.insert(
            agg_name.into(),
            json!({
                "filter": clause,
                "aggs": { "values": { "terms": {
                    "field": keyword_field,
                    "size": SUGGEST_CANDIDATES.max(query.limit),
                    "order": [{ "_count": "desc" }, { "_key": "asc" }],
                } } },
            }),
        );
    }
    json!({
        "size": 0,
        "track_total_hits": false,
        "query": { "bool": { "should": should, "minimum_should_match": 1 } },
        "aggs": aggs,
    })
}

fn unique_kinds(kinds: &[SuggestionKind]) -> Vec<SuggestionKind> {
    let mut unique = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        if !unique.contains(&kind) {
            unique.push(kind);
        }
    }
    unique
}

/// Keeps the counted values whose words really start with the prefix (a document matching on
/// one skill also carries others), most frequent first, ties by text.
pub fn parse_suggest_response(
    body: Value,
    query: &SuggestQuery,
) -> Result<Vec<Suggestion>, EngineError> {
    let aggregations = body
        .get("aggregations")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut suggestions = Vec::new();
    for kind in unique_kinds(&query.kinds) {
        let (agg_name, _, _) = suggest_source(kind);
        let Some(values) = aggregations.get(agg_name).and_then(|agg| agg.get("values")) else {
            continue;
        };
        let counts = terms_counts(values.clone()).map_err(|e| malformed("suggest", e))?;
        suggestions.extend(
            counts
                .into_iter()
                .filter(|c| value_matches_prefix(&c.value, &query.prefix))
                .map(|c| Suggestion {
                    text: c.value,
                    kind,
                    count: c.count,
                }),
        );
    }
    suggestions.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
    suggestions.truncate(query.limit);
    Ok(suggestions)
}

/// Parses an `_mget` response into stored documents, in the order asked, skipping missing ones.
pub fn parse_mget_response(body: Value) -> Result<Vec<StoredDocument>, EngineError> {
    #[derive(Deserialize)]
    struct MgetResponse {
        docs: Vec<MgetDoc>,
    }
    #[derive(Deserialize)]
    struct MgetDoc {
        #[serde(rename = "_id")]
        id: String,
        #[serde(default)]
        found: bool,
        #[serde(rename = "_source")]
        source: Option<StoredSource>,
    }
    let response: MgetResponse = serde_json::from_value(body).map_err(|e| malformed("mget", e))?;
    Ok(response
        .docs
        .into_iter()
        .filter(|doc| doc.found)
        .filter_map(|doc| doc.source.map(|source| source.into_stored(doc.id)))
        .collect())
}

/// Reads `count` from a `_count` response.
pub fn parse_count_response(body: &Value) -> Result<u64, EngineError> {
    body.get("count")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("count", "no count"))
}

/// Finds the first failed item of a `_bulk` response (`errors: true`), if any. A delete of a
/// missing document (`404`, `not_found`) is not a failure.
pub fn bulk_failure(body: &Value) -> Option<EngineError> {
    if !body.get("errors").and_then(Value::as_bool).unwrap_or(false) {
        return None;
    }
    let items = body.get("items")?.as_array()?;
    items.iter().find_map(|item| {
        let (action, result) = item.as_object()?.iter().next()?;
        let error = result.get("error")?;
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
        let message = format!(
            "bulk {action} of {} failed: {} ({})",
            result.get("_id").and_then(Value::as_str).unwrap_or("?"),
            error.get("reason").and_then(Value::as_str).unwrap_or(""),
            error
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown"),
        );
        Some(if status == 429 || status >= 500 {
            EngineError::Unavailable(message)
        } else {
            EngineError::Internal(message)
        })
    })
}

/// The error type Elasticsearch reports (`error.type`), if the body is an error body.
/// Creating an index under a name an alias holds (after a reindex, the collection's name is
/// an alias of its live version).
pub fn is_alias_name_taken(body: &Value) -> bool {
    error_type(body) == Some("invalid_index_name_exception")
        && body["error"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("already exists as alias"))
}

pub fn error_type(body: &Value) -> Option<&str> {
    body.get("error")?.get("type")?.as_str()
}

/// Maps a non-success HTTP status and its error body to the trait's error.
pub fn error_for_status(status: u16, body: &Value, what: &str) -> EngineError {
    let reason = body
        .get("error")
        .and_then(|e| {
            e.get("root_cause")
                .and_then(|causes| causes.get(0))
                .and_then(|cause| cause.get("reason"))
                .or_else(|| e.get("reason"))
        })
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let kind = error_type(body).unwrap_or("unknown");
    match status {
        400 => EngineError::InvalidQuery(reason),
        401 | 403 | 408 | 429 => {
            EngineError::Unavailable(format!("Elasticsearch {what} refused ({status}): {reason}"))
        }
        500.. => EngineError::Unavailable(format!(
            "Elasticsearch {what} failed ({status} {kind}): {reason}"
        )),
        _ => EngineError::Internal(format!(
            "Elasticsearch {what} failed ({status} {kind}): {reason}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use looma_search_engine::Collection;

    fn query(text: &str) -> TextQuery {
        TextQuery {
            collection: Collection::Resumes,
            query: text.into(),
            filters: Filters::default(),
            facets: vec![],
            limit: 10,
            offset: 0,
            fuzzy: false,
            highlight: false,
            only_ids: Vec::new(),
            names: true,
        }
    }

    #[test]
    fn empty_query_matches_everything_within_the_filters() {
        let mut q = query("  ");
        q.filters.cities = vec!["上海".into()];
        let body = search_body(&q);
        assert_eq!(body["query"]["bool"]["must"][0], json!({ "match_all": {} }));
        assert_eq!(
            body["query"]["bool"]["filter"],
            json!([{ "terms": { "city": ["上海"] } }])
        );
    }

    #[test]
    fn only_ids_restrict_the_matches_beside_the_filters() {
        let mut q = query("rust");
        q.filters.cities = vec!["上海".into()];
        q.only_ids = vec!["r1".into(), "r7".into()];
        assert_eq!(
            search_body(&q)["query"]["bool"]["filter"],
            json!([{ "terms": { "city": ["上海"] } }, { "terms": { "id": ["r1", "r7"] } }])
        );
    }

    #[test]
    fn fuzzy_sets_auto_5_9() {
        let mut q = query("enginer");
        q.fuzzy = true;
        let body = search_body(&q);
        let qs = &body["query"]["bool"]["must"][0]["query_string"];
        assert_eq!(qs["fuzziness"], "AUTO:5,9");
        assert_eq!(qs["query"], "enginer~");
        assert!(
            search_body(&query("x"))["query"]["bool"]["must"][0]["query_string"]
                .get("fuzziness")
                .is_none()
        );
    }

    #[test]
    fn salary_overlap_falls_back_to_the_other_bound() {
        let filters = Filters {
            salary_min: Some(20000.0),
            ..Filters::default()
        };
        let clauses = filter_clauses(&filters);
        assert_eq!(
            clauses,
            vec![json!({ "bool": {
                "should": [
                    { "range": { "salary_max": { "gte": 20000.0 } } },
                    { "bool": {
                        "must_not": [{ "exists": { "field": "salary_max" } }],
                        "filter": [{ "range": { "salary_min": { "gte": 20000.0 } } }],
                    } },
                ],
                "minimum_should_match": 1,
            } })]
        );
    }

    #[test]
    fn plain_text_undoes_the_html_encoder() {
        assert_eq!(
            plain_text("<em>Rust</em> &amp; C&#x2F;C++ &lt;b&gt; &quot;x&quot; it&#x27;s"),
            "Rust & C/C++ <b> \"x\" it's"
        );
    }

    #[test]
    fn status_mapping() {
        let parse_error = json!({ "error": {
            "root_cause": [{ "type": "query_shard_exception", "reason": "Failed to parse query [a AND]" }],
            "type": "search_phase_execution_exception",
        }, "status": 400 });
        assert!(matches!(
            error_for_status(400, &parse_error, "search"),
            EngineError::InvalidQuery(reason) if reason == "Failed to parse query [a AND]"
        ));
        assert!(matches!(
            error_for_status(503, &json!({}), "search"),
            EngineError::Unavailable(_)
        ));
        assert!(matches!(
            error_for_status(404, &json!({}), "search"),
            EngineError::Internal(_)
        ));
    }
}

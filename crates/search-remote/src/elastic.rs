//! [`ElasticsearchTextIndex`]: the `TextIndex` trait over Elasticsearch 8.x/9.x's REST API
//! (through the official `elasticsearch` client), one index `<prefix>-<collection>` per
//! collection, created with an explicit mapping on first use.
//!
//! Writes rely on the index's 1 s refresh interval (no `refresh=wait_for`), which is what the
//! trait promises: visible to searches within one second.
//!
//! ## Versions (reindex without downtime)
//! `<prefix>-<collection>` is what every search and ordinary write names. A reindex creates
//! index `<prefix>-<collection>_v<N>` beside it; the commit refreshes it and moves the name in
//! one `POST /_aliases` request (`add` the alias to the new index, `remove` it from the old
//! one, or `remove_index` the concrete index of a collection created before versions), which
//! Elasticsearch applies atomically; then the old index is deleted. A search already running
//! on the old index when it is deleted may fail (Elasticsearch closes its shards).
//! `begin_version` first deletes every `_v<N>` index the alias does not name (a reindex that
//! crashed or was abandoned).

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesRefreshParts,
};
use elasticsearch::params::Conflicts;
use elasticsearch::{
    BulkParts, CountParts, DeleteByQueryParts, Elasticsearch, MgetParts, SearchParts,
};
use looma_search_engine::{
    Collection, Document, EngineError, StoredDocument, SuggestQuery, Suggestion, TextIndex,
    TextQuery, TextResults,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::elastic_body::{self, ChineseAnalysis};

/// Per-request timeout; a slower server counts as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ElasticsearchTextIndex {
    client: Elasticsearch,
    index_prefix: String,
    analysis: ChineseAnalysis,
    /// Collections whose index is known to exist (created by us or found existing).
    ready_indices: Mutex<HashSet<Collection>>,
}

impl ElasticsearchTextIndex {
    /// Prepares a client for the server at `url` (e.g. `http://localhost:9200`, credentials may
    /// be in the URL). Nothing is sent until the first operation; indices are named
    /// `<index_prefix>-<collection>` and use the built-in CJK bigram analysis (see
    /// [`Self::with_chinese_analysis`]).
    pub fn connect(url: &str, index_prefix: &str) -> Result<Self, EngineError> {
        validate_index_prefix(index_prefix)?;
        let url = Url::parse(url).map_err(|e| {
            EngineError::Internal(format!("invalid Elasticsearch URL {url:?}: {e}"))
        })?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| EngineError::Internal(format!("Elasticsearch client: {e}")))?;
        Ok(ElasticsearchTextIndex {
            client: Elasticsearch::new(transport),
            index_prefix: index_prefix.to_string(),
            analysis: ChineseAnalysis::default(),
            ready_indices: Mutex::new(HashSet::new()),
        })
    }

    /// Chooses the Chinese analysis for indices this client creates (existing indices keep
    /// theirs: changing it needs a reindex into a new prefix).
    pub fn with_chinese_analysis(mut self, analysis: ChineseAnalysis) -> Self {
        self.analysis = analysis;
        self
    }

    pub fn index_name(&self, collection: Collection) -> String {
        format!("{}-{}", self.index_prefix, collection.as_str())
    }

    /// Creates the collection's index with its mapping unless it already exists.
    async fn ensure_index(&self, collection: Collection) -> Result<String, EngineError> {
        let index = self.index_name(collection);
        let mut ready = self.ready_indices.lock().await;
        if ready.contains(&collection) {
            return Ok(index);
        }
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(elastic_body::index_definition(self.analysis))
            .send()
            .await;
        match read_response(response, "create index").await {
            Ok(_) => {}
            Err(ResponseFailure { status, body }) => {
                // After a reindex the name is an alias of the live version.
                let already_exists = status == Some(400)
                    && (elastic_body::error_type(&body)
                        == Some("resource_already_exists_exception")
                        || elastic_body::is_alias_name_taken(&body));
                if !already_exists {
                    return Err(failure_to_error(status, &body, "create index"));
                }
            }
        }
        ready.insert(collection);
        Ok(index)
    }

    /// The index holding staged `version` of a collection.
    pub fn version_index(&self, collection: Collection, version: u64) -> String {
        format!("{}_v{version}", self.index_name(collection))
    }

    /// The indices `name` resolves to (an alias's indices, or a concrete index itself);
    /// empty when nothing has that name.
    async fn holders(&self, name: &str) -> Result<Vec<String>, EngineError> {
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Index(&[name]))
            .send()
            .await;
        match read_response(response, "get alias").await {
            Ok(body) => Ok(body
                .as_object()
                .map(|indices| indices.keys().cloned().collect())
                .unwrap_or_default()),
            Err(failure) if failure.status == Some(404) => Ok(Vec::new()),
            Err(failure) => Err(failure_to_error(failure.status, &failure.body, "get alias")),
        }
    }

    async fn delete_index(&self, index: &str) -> Result<(), EngineError> {
        let response = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[index]))
            .send()
            .await;
        match read_response(response, "delete index").await {
            Ok(_) => Ok(()),
            Err(failure) if failure.status == Some(404) => Ok(()),
            Err(failure) => Err(failure_to_error(
                failure.status,
                &failure.body,
                "delete index",
            )),
        }
    }

    async fn forget_index_if_missing(&self, collection: Collection, failure: &ResponseFailure) {
        if elastic_body::error_type(&failure.body) == Some("index_not_found_exception") {
            self.ready_indices.lock().await.remove(&collection);
        }
    }

    async fn bulk(&self, lines: Vec<Value>) -> Result<(), EngineError> {
        if lines.is_empty() {
            return Ok(());
        }
        let body: Vec<JsonBody<Value>> = lines.into_iter().map(JsonBody::new).collect();
        let response = self.client.bulk(BulkParts::None).body(body).send().await;
        let body = read_response(response, "bulk")
            .await
            .map_err(|f| failure_to_error(f.status, &f.body, "bulk"))?;
        match elastic_body::bulk_failure(&body) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Runs an index-level call, mapping failures and forgetting indices deleted behind our back.
    async fn checked(
        &self,
        collection: Collection,
        response: Result<elasticsearch::http::response::Response, elasticsearch::Error>,
        what: &str,
    ) -> Result<Value, EngineError> {
        match read_response(response, what).await {
            Ok(body) => Ok(body),
            Err(failure) => {
                self.forget_index_if_missing(collection, &failure).await;
                Err(failure_to_error(failure.status, &failure.body, what))
            }
        }
    }
}

#[async_trait]
impl TextIndex for ElasticsearchTextIndex {
    fn backend(&self) -> &'static str {
        "elasticsearch"
    }

    async fn upsert(&self, docs: &[Document]) -> Result<(), EngineError> {
        let mut lines = Vec::with_capacity(docs.len() * 2);
        for doc in docs {
            let index = self.ensure_index(doc.collection).await?;
            lines.push(json!({ "index": { "_index": index, "_id": doc.id } }));
            lines.push(elastic_body::source_of(doc));
        }
        self.bulk(lines).await
    }

    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let index = self.ensure_index(collection).await?;
        let lines = ids
            .iter()
            .map(|id| json!({ "delete": { "_index": index, "_id": id } }))
            .collect();
        self.bulk(lines).await
    }

    async fn clear(&self, collection: Collection) -> Result<(), EngineError> {
        let index = self.ensure_index(collection).await?;
        let response = self
            .client
            .delete_by_query(DeleteByQueryParts::Index(&[&index]))
            .conflicts(Conflicts::Proceed)
            .refresh(true)
            .body(json!({ "query": { "match_all": {} } }))
            .send()
            .await;
        self.checked(collection, response, "delete_by_query")
            .await?;
        Ok(())
    }

    async fn search(&self, query: &TextQuery) -> Result<TextResults, EngineError> {
        let index = self.ensure_index(query.collection).await?;
        let response = self
            .client
            .search(SearchParts::Index(&[&index]))
            .body(elastic_body::search_body(query))
            .send()
            .await;
        let body = self.checked(query.collection, response, "search").await?;
        elastic_body::parse_search_response(body, query)
    }

    async fn suggest(&self, query: &SuggestQuery) -> Result<Vec<Suggestion>, EngineError> {
        if query.prefix.trim().is_empty() || query.kinds.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let index = self.ensure_index(query.collection).await?;
        let response = self
            .client
            .search(SearchParts::Index(&[&index]))
            .body(elastic_body::suggest_body(query))
            .send()
            .await;
        let body = self.checked(query.collection, response, "suggest").await?;
        elastic_body::parse_suggest_response(body, query)
    }

    async fn get(
        &self,
        collection: Collection,
        ids: &[String],
    ) -> Result<Vec<StoredDocument>, EngineError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.ensure_index(collection).await?;
        let response = self
            .client
            .mget(MgetParts::Index(&index))
            .body(json!({ "ids": ids }))
            .send()
            .await;
        let body = self.checked(collection, response, "mget").await?;
        elastic_body::parse_mget_response(body)
    }

    async fn count(&self, collection: Collection) -> Result<u64, EngineError> {
        let index = self.ensure_index(collection).await?;
        let response = self.client.count(CountParts::Index(&[&index])).send().await;
        let body = self.checked(collection, response, "count").await?;
        elastic_body::parse_count_response(&body)
    }

    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError> {
        self.begin(collection).await
    }

    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        docs: &[Document],
    ) -> Result<(), EngineError> {
        let index = self.version_index(collection, version);
        let mut lines = Vec::with_capacity(docs.len() * 2);
        for doc in docs {
            if doc.collection != collection {
                return Err(EngineError::InvalidQuery(format!(
                    "document {:?} belongs to {}, not to {}",
                    doc.id,
                    doc.collection.as_str(),
                    collection.as_str()
                )));
            }
            lines.push(json!({ "index": { "_index": index, "_id": doc.id } }));
            lines.push(elastic_body::source_of(doc));
        }
        self.bulk(lines).await
    }

    async fn delete_version(
        &self,
        collection: Collection,
        version: u64,
        ids: &[String],
    ) -> Result<(), EngineError> {
        let index = self.version_index(collection, version);
        let lines = ids
            .iter()
            .map(|id| json!({ "delete": { "_index": index, "_id": id } }))
            .collect();
        self.bulk(lines).await
    }

    async fn commit_version(
        &self,
        collection: Collection,
        version: u64,
    ) -> Result<(), EngineError> {
        self.commit(collection, version).await
    }

    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        self.delete_index(&self.version_index(collection, version))
            .await
    }
}

impl ElasticsearchTextIndex {
    async fn begin(&self, collection: Collection) -> Result<u64, EngineError> {
        let alias = self.index_name(collection);
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Index(&[&format!("{alias}_v*")]))
            .send()
            .await;
        let body = read_response(response, "get alias")
            .await
            .map_err(|f| failure_to_error(f.status, &f.body, "get alias"))?;
        let prefix = format!("{alias}_v");
        let mut highest = 0u64;
        for (index, entry) in body.as_object().into_iter().flatten() {
            let Some(version) = index
                .strip_prefix(&prefix)
                .and_then(|digits| digits.parse::<u64>().ok())
            else {
                continue;
            };
            highest = highest.max(version);
            let live = entry["aliases"].get(&alias).is_some();
            if !live {
                tracing::info!(
                    index = %index,
                    "deleting a version the alias does not name (an unfinished reindex)"
                );
                self.delete_index(index).await?;
            }
        }
        let version = highest + 1;
        let index = self.version_index(collection, version);
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(elastic_body::index_definition(self.analysis))
            .send()
            .await;
        read_response(response, "create index")
            .await
            .map_err(|f| failure_to_error(f.status, &f.body, "create index"))?;
        Ok(version)
    }

    async fn commit(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        let alias = self.index_name(collection);
        let index = self.version_index(collection, version);
        // Everything written to the new version is searchable at the moment of the swap.
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&index]))
            .send()
            .await;
        match read_response(response, "refresh").await {
            Ok(_) => {}
            Err(failure) if failure.status == Some(404) => {
                return Err(EngineError::unknown_version(collection, version));
            }
            Err(failure) => return Err(failure_to_error(failure.status, &failure.body, "refresh")),
        }
        let holders = self.holders(&alias).await?;
        let mut actions = vec![json!({ "add": { "index": index, "alias": alias } })];
        let mut retired = Vec::new();
        for holder in holders.into_iter().filter(|holder| *holder != index) {
            if holder == alias {
                // A collection created before versions: its concrete index goes in the same
                // atomic request that gives its name to the new version.
                actions.push(json!({ "remove_index": { "index": holder } }));
            } else {
                actions.push(json!({ "remove": { "index": holder, "alias": alias } }));
                retired.push(holder);
            }
        }
        let response = self
            .client
            .indices()
            .update_aliases()
            .body(json!({ "actions": actions }))
            .send()
            .await;
        read_response(response, "update aliases")
            .await
            .map_err(|f| failure_to_error(f.status, &f.body, "update aliases"))?;
        self.ready_indices.lock().await.insert(collection);
        for old in retired {
            if let Err(error) = self.delete_index(&old).await {
                tracing::warn!(index = %old, %error, "the retired version was not deleted; the next reindex deletes it");
            }
        }
        Ok(())
    }
}

/// A request that did not succeed: no HTTP status means the server was not reached.
struct ResponseFailure {
    status: Option<u16>,
    body: Value,
}

async fn read_response(
    response: Result<elasticsearch::http::response::Response, elasticsearch::Error>,
    what: &str,
) -> Result<Value, ResponseFailure> {
    let unreachable = |message: String| ResponseFailure {
        status: None,
        body: json!({ "error": { "type": "transport", "reason": message } }),
    };
    let response = response.map_err(|e| unreachable(format!("{what}: {e}")))?;
    let status: StatusCode = response.status_code();
    let text = response
        .text()
        .await
        .map_err(|e| unreachable(format!("{what}: reading the response: {e}")))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        Ok(body)
    } else {
        Err(ResponseFailure {
            status: Some(status.as_u16()),
            body,
        })
    }
}

fn failure_to_error(status: Option<u16>, body: &Value, what: &str) -> EngineError {
    match status {
        Some(status) => elastic_body::error_for_status(status, body, what),
        None => EngineError::Unavailable(format!(
            "Elasticsearch unreachable: {}",
            body["error"]["reason"].as_str().unwrap_or(what)
        )),
    }
}

/// Elasticsearch index names: lowercase, no separators or wildcards, not starting with `-_+`.
fn validate_index_prefix(prefix: &str) -> Result<(), EngineError> {
    let valid = !prefix.is_empty()
        && prefix.len() <= 200
        && !prefix.starts_with(['-', '_', '+', '.'])
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(EngineError::Internal(format!(
            "invalid Elasticsearch index prefix {prefix:?}: use lowercase letters, digits, '-' and '_'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_prefix_rules() {
        assert!(validate_index_prefix("looma").is_ok());
        assert!(validate_index_prefix("looma_test-1").is_ok());
        for bad in ["", "Looma", "_x", "a b", "a*", "a,b"] {
            assert!(validate_index_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_rejects_bad_urls_without_network() {
        assert!(ElasticsearchTextIndex::connect("not a url", "looma").is_err());
        let index = ElasticsearchTextIndex::connect("http://127.0.0.1:9", "looma");
        assert!(index.is_ok_and(|i| i.index_name(Collection::Jobs) == "looma-jobs"));
    }
}

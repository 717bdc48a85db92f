//! The client side of search indexing, shared by every component that owns searchable
//! entities (resume, matching, chat, `looma search reindex`): typed documents sent to the
//! search subgraph's `indexDocuments` / `removeDocuments` / `clearCollection` mutations as a
//! service holding `search:index`, and the staged rebuild of a collection (`beginReindex`,
//! `indexDocuments(reindexId:)`, `commitReindex`, `abortReindex`).
//!
//! Deliberately light: it depends on `looma-server`'s `ServiceClient`, never on the search
//! subgraph crate, so owners do not pull in its engines. The wire shapes here mirror
//! `IndexDocumentInput` and `SearchCollection` in `subgraphs/search/src/schema.rs`.

use looma_auth::{ForwardedPrincipalCodec, permission};
use looma_server::{ServiceCallError, ServiceClient};
use serde::Serialize;
use serde_json::{Value, json};

/// A search collection, as the `SearchCollection` GraphQL enum spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Collection {
    Resumes,
    Jobs,
    Knowledge,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Resumes => "RESUMES",
            Collection::Jobs => "JOBS",
            Collection::Knowledge => "KNOWLEDGE",
        }
    }
}

/// One document as the search subgraph's `IndexDocumentInput` expects it. `None` fields are
/// sent as `null`: in particular a document without a `vector` loses the one it had.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchDocument {
    /// The owner's entity id, unique within the collection.
    pub id: String,
    pub collection: Collection,
    pub title: String,
    pub content: String,
    pub skills: Vec<String>,
    pub city: Option<String>,
    pub degree: Option<String>,
    pub years: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salary_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salary_max: Option<f64>,
    pub status: Option<String>,
    /// A person's or company's name (search shows candidates' names to `resume:pii` only).
    pub name: Option<String>,
    /// The CSCO job family code (`2-02`, text analytics), a filter and a facet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_family: Option<String>,
    /// Keywords (text analytics), a filter and a facet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Free-form, shaped by the owner (what a hit's `metadata` returns).
    pub metadata: Value,
    /// The owner's embedding (the index's dimension).
    pub vector: Option<Vec<f32>>,
    /// The model that made `vector` (`EmbeddingService::model_id`); search refuses a vector
    /// of another model than its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_model: Option<String>,
}

impl SearchDocument {
    /// A document with only the required fields set.
    pub fn new(id: String, collection: Collection, title: String, content: String) -> Self {
        SearchDocument {
            id,
            collection,
            title,
            content,
            skills: Vec::new(),
            city: None,
            degree: None,
            years: None,
            salary_min: None,
            salary_max: None,
            status: None,
            name: None,
            job_family: None,
            keywords: Vec::new(),
            metadata: Value::Null,
            vector: None,
            vector_model: None,
        }
    }
}

/// A reindex in progress (see [`SearchClient::begin_reindex`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reindex {
    /// Search's opaque reindex id.
    pub id: String,
    pub collection: Collection,
}

/// Why an indexing call failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchClientError {
    /// Search could not be reached or refused the call (see [`ServiceCallError`]).
    #[error(transparent)]
    Call(#[from] ServiceCallError),
    /// Search answered without the field the mutation returns.
    #[error("search answered `{mutation}` without a result: {data}")]
    UnexpectedAnswer { mutation: &'static str, data: Value },
}

impl SearchClientError {
    /// Search was unreachable (not a verdict on the request): every call would fail alike.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SearchClientError::Call(ServiceCallError::Unreachable { .. })
        )
    }
}

/// Calls the search subgraph's indexing mutations.
#[derive(Clone)]
pub struct SearchClient {
    client: ServiceClient,
}

impl SearchClient {
    /// Signs a service principal `subject` holding `search:index` with the router secret the
    /// search subgraph trusts.
    pub fn signed(url: String, codec: ForwardedPrincipalCodec, subject: &str) -> Self {
        SearchClient {
            client: ServiceClient::signed(
                "search",
                url,
                codec,
                subject,
                &[permission::SEARCH_INDEX],
            ),
        }
    }

    /// Calls search through a client the caller configured (an operator command's API key,
    /// or a service principal holding more permissions).
    pub fn from_client(client: ServiceClient) -> Self {
        SearchClient { client }
    }

    pub fn url(&self) -> &str {
        self.client.url()
    }

    async fn count(
        &self,
        mutation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<u64, SearchClientError> {
        let data = self.client.query(query, variables).await?;
        data[mutation]
            .as_u64()
            .ok_or(SearchClientError::UnexpectedAnswer { mutation, data })
    }

    /// Inserts or replaces documents; returns how many search wrote.
    pub async fn index(&self, documents: &[SearchDocument]) -> Result<u64, SearchClientError> {
        self.count(
            "indexDocuments",
            "mutation Index($documents: [IndexDocumentInput!]!) { indexDocuments(documents: $documents) }",
            json!({ "documents": documents }),
        )
        .await
    }

    /// Removes documents by id (unknown ids are ignored); returns how many were removed.
    pub async fn remove(
        &self,
        collection: Collection,
        ids: &[String],
    ) -> Result<u64, SearchClientError> {
        self.count(
            "removeDocuments",
            "mutation Remove($collection: SearchCollection!, $ids: [ID!]!) { removeDocuments(collection: $collection, ids: $ids) }",
            json!({ "collection": collection, "ids": ids }),
        )
        .await
    }

    /// Starts a reindex of `collection`: documents sent with [`index_into`](Self::index_into)
    /// fill a staged version that searches do not see until [`commit_reindex`]
    /// (Self::commit_reindex).
    pub async fn begin_reindex(
        &self,
        collection: Collection,
    ) -> Result<Reindex, SearchClientError> {
        let data = self
            .client
            .query(
                "mutation Begin($collection: SearchCollection!) { beginReindex(collection: $collection) { id } }",
                json!({ "collection": collection }),
            )
            .await?;
        match data["beginReindex"]["id"].as_str() {
            Some(id) => Ok(Reindex {
                id: id.to_owned(),
                collection,
            }),
            None => Err(SearchClientError::UnexpectedAnswer {
                mutation: "beginReindex",
                data,
            }),
        }
    }

    /// Sends documents into the reindex's staged version; returns how many search accepted.
    pub async fn index_into(
        &self,
        reindex: &Reindex,
        documents: &[SearchDocument],
    ) -> Result<u64, SearchClientError> {
        self.count(
            "indexDocuments",
            "mutation Index($documents: [IndexDocumentInput!]!, $reindexId: ID) { indexDocuments(documents: $documents, reindexId: $reindexId) }",
            json!({ "documents": documents, "reindexId": reindex.id }),
        )
        .await
    }

    /// Swaps the staged version in; returns how many documents the collection now holds.
    pub async fn commit_reindex(&self, reindex: &Reindex) -> Result<u64, SearchClientError> {
        let data = self
            .client
            .query(
                "mutation Commit($reindexId: ID!) { commitReindex(reindexId: $reindexId) { documents } }",
                json!({ "reindexId": reindex.id }),
            )
            .await?;
        data["commitReindex"]["documents"]
            .as_u64()
            .ok_or(SearchClientError::UnexpectedAnswer {
                mutation: "commitReindex",
                data,
            })
    }

    /// Drops the staged version; searches keep the live one.
    pub async fn abort_reindex(&self, reindex: &Reindex) -> Result<(), SearchClientError> {
        let data = self
            .client
            .query(
                "mutation Abort($reindexId: ID!) { abortReindex(reindexId: $reindexId) }",
                json!({ "reindexId": reindex.id }),
            )
            .await?;
        match data["abortReindex"] {
            Value::Bool(true) => Ok(()),
            _ => Err(SearchClientError::UnexpectedAnswer {
                mutation: "abortReindex",
                data,
            }),
        }
    }

    /// Empties a collection (searches see it empty: rebuild with a reindex instead).
    pub async fn clear(&self, collection: Collection) -> Result<(), SearchClientError> {
        let data = self
            .client
            .query(
                "mutation Clear($collection: SearchCollection!) { clearCollection(collection: $collection) }",
                json!({ "collection": collection }),
            )
            .await?;
        match data["clearCollection"] {
            Value::Bool(true) => Ok(()),
            _ => Err(SearchClientError::UnexpectedAnswer {
                mutation: "clearCollection",
                data,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_serialise_as_index_document_input() {
        let mut document = SearchDocument::new(
            "j1".into(),
            Collection::Jobs,
            "Rust engineer".into(),
            "Acme\nBuild things".into(),
        );
        document.salary_min = Some(10.0);
        document.vector = Some(vec![0.5]);
        let value = serde_json::to_value(&document).unwrap();
        assert_eq!(value["collection"], "JOBS");
        assert_eq!(value["salaryMin"], 10.0);
        assert!(value.get("salaryMax").is_none());
        assert_eq!(value["city"], Value::Null);
        assert_eq!(value["vector"], json!([0.5]));
        assert_eq!(value["skills"], json!([]));
    }

    #[tokio::test]
    async fn typed_calls_reach_the_mutations() {
        let app = axum::Router::new().route(
            "/graphql",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                let query = body["query"].as_str().unwrap_or_default();
                let data = if query.contains("beginReindex") {
                    assert_eq!(body["variables"]["collection"], "JOBS");
                    json!({ "beginReindex": { "id": "jobs-1" } })
                } else if query.contains("commitReindex") {
                    assert_eq!(body["variables"]["reindexId"], "jobs-1");
                    json!({ "commitReindex": { "documents": 2 } })
                } else if query.contains("abortReindex") {
                    json!({ "abortReindex": true })
                } else if query.contains("indexDocuments") {
                    json!({ "indexDocuments": body["variables"]["documents"].as_array().map_or(0, Vec::len) })
                } else if query.contains("removeDocuments") {
                    assert_eq!(body["variables"]["collection"], "RESUMES");
                    json!({ "removeDocuments": 0 })
                } else {
                    json!({ "clearCollection": true })
                };
                axum::Json(json!({ "data": data }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = SearchClient::from_client(ServiceClient::api_key("search", url, "k".into()));
        let document =
            SearchDocument::new("r1".into(), Collection::Resumes, "t".into(), "c".into());
        assert_eq!(
            client.index(&[document.clone(), document]).await.unwrap(),
            2
        );
        assert_eq!(
            client
                .remove(Collection::Resumes, &["r1".into()])
                .await
                .unwrap(),
            0
        );
        client.clear(Collection::Resumes).await.unwrap();
        let reindex = client.begin_reindex(Collection::Jobs).await.unwrap();
        assert_eq!(reindex.id, "jobs-1");
        let job = SearchDocument::new("j1".into(), Collection::Jobs, "t".into(), "c".into());
        assert_eq!(client.index_into(&reindex, &[job]).await.unwrap(), 1);
        assert_eq!(client.commit_reindex(&reindex).await.unwrap(), 2);
        client.abort_reindex(&reindex).await.unwrap();
        server.abort();
    }

    #[tokio::test]
    async fn an_unreachable_search_is_reported_as_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        drop(listener);
        let client = SearchClient::from_client(ServiceClient::api_key("search", url, "k".into()));
        let error = client.clear(Collection::Jobs).await.unwrap_err();
        assert!(error.is_unavailable(), "{error}");
    }
}

//! The client side of search indexing: sends resume documents to the search subgraph's
//! `indexDocuments` / `removeDocuments` / `clearCollection` mutations as a service holding
//! `search:index` (signed with the router secret, or an API key for operator commands).

use looma_auth::{ForwardedPrincipalCodec, permission};
use looma_server::ServiceClient;
use serde_json::{Value, json};

/// One document as the search subgraph's `IndexDocumentInput` expects it.
pub type IndexDocument = Value;

#[derive(Clone)]
pub struct SearchIndexer {
    client: ServiceClient,
}

impl SearchIndexer {
    /// Signs a service principal with the router secret the search subgraph trusts.
    pub fn new(url: String, codec: ForwardedPrincipalCodec) -> Self {
        SearchIndexer {
            client: ServiceClient::signed(
                "search",
                url,
                codec,
                "resume-indexer",
                &[permission::SEARCH_INDEX],
            ),
        }
    }

    /// Calls search through a client the caller configured (an operator command's API key).
    pub fn from_client(client: ServiceClient) -> Self {
        SearchIndexer { client }
    }

    async fn call(&self, query: &str, variables: Value) -> Result<(), String> {
        self.client
            .query(query, variables)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub async fn index(&self, documents: Vec<IndexDocument>) -> Result<(), String> {
        self.call(
            "mutation Index($documents: [IndexDocumentInput!]!) { indexDocuments(documents: $documents) }",
            json!({ "documents": documents }),
        )
        .await
    }

    pub async fn remove(&self, ids: Vec<String>) -> Result<(), String> {
        self.call(
            "mutation Remove($ids: [ID!]!) { removeDocuments(collection: RESUMES, ids: $ids) }",
            json!({ "ids": ids }),
        )
        .await
    }

    /// Empties the resumes collection (the first step of a full reindex).
    pub async fn clear(&self) -> Result<(), String> {
        self.call(
            "mutation { clearCollection(collection: RESUMES) }",
            json!({}),
        )
        .await
    }
}

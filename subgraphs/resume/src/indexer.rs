//! The client side of search indexing: sends resume documents to the search subgraph's
//! `indexDocuments` / `removeDocuments` / `clearCollection` mutations as a service principal
//! holding `search:index`: signed with the router secret like any forwarded principal, or as
//! an API key (`looma search reindex --api-key`).

use looma_auth::{ForwardedPrincipalCodec, Principal, PrincipalKind, permission};
use serde_json::{Value, json};
use std::time::Duration;

/// One document as the search subgraph's `IndexDocumentInput` expects it.
pub type IndexDocument = Value;

#[derive(Clone)]
enum Credential {
    Forwarded(ForwardedPrincipalCodec),
    ApiKey(String),
}

#[derive(Clone)]
pub struct SearchIndexer {
    url: String,
    credential: Credential,
    http: reqwest::Client,
}

impl SearchIndexer {
    /// Signs a service principal with the router secret the search subgraph trusts.
    pub fn new(url: String, codec: ForwardedPrincipalCodec) -> Self {
        Self::with_credential(url, Credential::Forwarded(codec))
    }

    /// Authenticates with an API key holding `search:index`.
    pub fn with_api_key(url: String, key: String) -> Self {
        Self::with_credential(url, Credential::ApiKey(key))
    }

    fn with_credential(url: String, credential: Credential) -> Self {
        SearchIndexer {
            url,
            credential,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    fn authenticate(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credential {
            Credential::Forwarded(codec) => {
                let principal = Principal {
                    subject: "resume-indexer".into(),
                    kind: PrincipalKind::Service,
                    email: None,
                    roles: Vec::new(),
                    permissions: [permission::SEARCH_INDEX.to_owned()].into_iter().collect(),
                };
                request.header(
                    looma_auth::FORWARDED_PRINCIPAL_HEADER,
                    codec.encode(&principal),
                )
            }
            Credential::ApiKey(key) => request.header("x-api-key", key),
        }
    }

    async fn call(&self, query: &str, variables: Value) -> Result<(), String> {
        let response = self
            .authenticate(self.http.post(&self.url))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| format!("search unreachable: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("search answered {status} with a non-JSON body: {e}"))?;
        if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
            return Err(format!("search refused the update: {errors}"));
        }
        if !status.is_success() {
            return Err(format!("search answered {status}"));
        }
        Ok(())
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

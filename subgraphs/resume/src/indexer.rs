//! The client side of search indexing: sends resume documents to the search subgraph's
//! `indexDocuments` / `removeDocuments` mutations as a service principal holding
//! `search:index`, signed with the router secret like any forwarded principal.

use looma_auth::{ForwardedPrincipalCodec, Principal, PrincipalKind, permission};
use serde_json::{Value, json};
use std::time::Duration;

/// One document as the search subgraph's `IndexDocumentInput` expects it.
pub type IndexDocument = Value;

#[derive(Clone)]
pub struct SearchIndexer {
    url: String,
    codec: ForwardedPrincipalCodec,
    http: reqwest::Client,
}

impl SearchIndexer {
    pub fn new(url: String, codec: ForwardedPrincipalCodec) -> Self {
        SearchIndexer {
            url,
            codec,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    fn principal_header(&self) -> String {
        let principal = Principal {
            subject: "resume-indexer".into(),
            kind: PrincipalKind::Service,
            email: None,
            roles: Vec::new(),
            permissions: [permission::SEARCH_INDEX.to_owned()].into_iter().collect(),
        };
        self.codec.encode(&principal)
    }

    async fn call(&self, query: &str, variables: Value) -> Result<(), String> {
        let response = self
            .http
            .post(&self.url)
            .header(
                looma_auth::FORWARDED_PRINCIPAL_HEADER,
                self.principal_header(),
            )
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
}

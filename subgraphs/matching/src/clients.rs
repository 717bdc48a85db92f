//! What matching asks of other subgraphs, as a signed service principal: identity (weights;
//! the `job_matching` flag comes through `looma_server::FeatureFlags`), resume (a candidate's
//! profile and embedding) and search (candidate generation, job indexing).

use crate::MatchingError;
use crate::domain::weights::Weights;
use looma_auth::{ForwardedPrincipalCodec, permission};
use looma_search_client::SearchClient;
use looma_server::{ServiceCallError, ServiceClient};
use serde_json::{Value, json};
use std::time::Duration;

/// How long a match waits for identity's weights before using the defaults.
const WEIGHTS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Clients {
    identity: ServiceClient,
    resume: ServiceClient,
    search: ServiceClient,
}

/// A candidate as resume profiles it.
#[derive(Clone, Debug, Default)]
pub struct ResumeFacts {
    pub id: String,
    pub parsed: bool,
    pub skills: Vec<String>,
    pub years: Option<f64>,
    pub degree: Option<String>,
    pub city: Option<String>,
    pub headline: Option<String>,
    pub embedding: Option<Vec<f32>>,
    /// The model that made `embedding`.
    pub embedding_model: Option<String>,
}

/// One search hit for candidate generation.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    /// Cosine similarity when vector search returned it.
    pub similarity: Option<f32>,
    pub metadata: Value,
}

/// Candidates from both rankings, and the lowest similarity vector search returned (an upper
/// bound for everything it did not return).
pub struct Shortlist {
    pub candidates: Vec<Candidate>,
    pub similarity_floor: Option<f32>,
}

/// What candidate generation searches with.
pub struct ShortlistQuery<'a> {
    pub collection: &'static str,
    pub vector: Option<&'a [f32]>,
    /// The model that made `vector` (search refuses another model's vectors).
    pub vector_model: String,
    pub text: String,
    pub filter: Value,
    pub vector_candidates: usize,
    pub text_candidates: usize,
}

impl Clients {
    pub fn new(
        codec: ForwardedPrincipalCodec,
        identity_url: String,
        resume_url: String,
        search_url: String,
    ) -> Self {
        let client = |service: &str, url: String| {
            ServiceClient::signed(
                service,
                url,
                codec.clone(),
                "matching",
                &[
                    permission::CONFIG_READ,
                    permission::RESUME_READ,
                    permission::JOB_READ,
                    permission::SEARCH_READ,
                    permission::SEARCH_INDEX,
                ],
            )
        };
        Clients {
            identity: client("identity", identity_url),
            resume: client("resume", resume_url),
            search: client("search", search_url),
        }
    }

    /// Identity's `matching.weights`; the defaults when identity has none, or cannot be
    /// reached within [`WEIGHTS_TIMEOUT`] (an identity outage must not stop matching; the run
    /// records version 0).
    pub async fn weights(&self) -> Result<Weights, MatchingError> {
        let fetched = tokio::time::timeout(
            WEIGHTS_TIMEOUT,
            self.identity.query(
                "{ config(key: \"matching.weights\") { version value } }",
                json!({}),
            ),
        )
        .await;
        let data = match fetched {
            Ok(Ok(data)) => data,
            Ok(Err(error @ ServiceCallError::Unreachable { .. })) => {
                tracing::warn!(%error, "matching weights unavailable; using the defaults");
                return Ok(Weights::defaults());
            }
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {
                tracing::warn!(
                    "identity did not answer in time; matching with the default weights"
                );
                return Ok(Weights::defaults());
            }
        };
        let version = data["config"]["version"].as_i64().unwrap_or(0) as i32;
        Ok(Weights::from_json(version, &data["config"]["value"]).unwrap_or_else(Weights::defaults))
    }

    pub async fn resume(&self, id: &str) -> Result<Option<ResumeFacts>, MatchingError> {
        let data = self
            .resume
            .query(
                "query($id: ID!) { resume(id: $id) { id skills embedding embeddingModel
                   profile { totalYears highestDegree city headline } } }",
                json!({ "id": id }),
            )
            .await?;
        let resume = &data["resume"];
        if resume.is_null() {
            return Ok(None);
        }
        let profile = &resume["profile"];
        Ok(Some(ResumeFacts {
            id: id.to_owned(),
            parsed: !profile.is_null(),
            skills: strings(&resume["skills"]),
            years: profile["totalYears"].as_f64(),
            degree: profile["highestDegree"].as_str().map(str::to_owned),
            city: profile["city"].as_str().map(str::to_owned),
            headline: profile["headline"].as_str().map(str::to_owned),
            embedding_model: resume["embeddingModel"].as_str().map(str::to_owned),
            embedding: resume["embedding"].as_array().map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_f64)
                    .map(|v| v as f32)
                    .collect()
            }),
        }))
    }

    /// Vector and text candidates in one request to search.
    pub async fn shortlist(&self, query: ShortlistQuery<'_>) -> Result<Shortlist, MatchingError> {
        let use_vector = query.vector.is_some();
        let use_text = !query.text.trim().is_empty();
        if !use_vector && !use_text {
            return Ok(Shortlist {
                candidates: Vec::new(),
                similarity_floor: None,
            });
        }
        let data = self
            .search
            .query(
                "query($v: [Float!]!, $vm: String!, $useVector: Boolean!, $q: String!,
                       $useText: Boolean!, $k: Int!, $t: Int!, $f: SearchFilter,
                       $c: SearchCollection!) {
                   near: vectorSearch(vector: $v, vectorModel: $vm, topK: $k, filter: $f,
                     collection: $c)
                     @include(if: $useVector) { id score metadata }
                   words: textSearch(query: $q, options: {collection: $c, first: $t, filter: $f,
                     highlight: false}) @include(if: $useText) { hits { id score metadata } }
                 }",
                json!({
                    "v": query.vector.unwrap_or(&[0.0]),
                    "vm": query.vector_model,
                    "useVector": use_vector,
                    "q": if use_text { query.text.as_str() } else { "-" },
                    "useText": use_text,
                    "k": query.vector_candidates,
                    "t": query.text_candidates,
                    "f": query.filter,
                    "c": query.collection,
                }),
            )
            .await?;
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut floor: Option<f32> = None;
        for hit in data["near"].as_array().into_iter().flatten() {
            let similarity = hit["score"].as_f64().map(|s| s as f32);
            if let Some(s) = similarity {
                floor = Some(floor.map_or(s, |f: f32| f.min(s)));
            }
            candidates.push(Candidate {
                id: hit["id"].as_str().unwrap_or_default().to_owned(),
                similarity,
                metadata: hit["metadata"].clone(),
            });
        }
        let near = candidates.len();
        let mut seen: std::collections::HashSet<String> =
            candidates.iter().map(|c| c.id.clone()).collect();
        for hit in data["words"]["hits"].as_array().into_iter().flatten() {
            let id = hit["id"].as_str().unwrap_or_default();
            if !seen.insert(id.to_owned()) {
                continue;
            }
            candidates.push(Candidate {
                id: id.to_owned(),
                similarity: None,
                metadata: hit["metadata"].clone(),
            });
        }
        // When vector search returned fewer than asked, it returned everything that passed the
        // filters: a missing candidate has no vector, not a low similarity.
        let similarity_floor = if near >= query.vector_candidates {
            floor
        } else {
            None
        };
        candidates.retain(|c| !c.id.is_empty());
        Ok(Shortlist {
            candidates,
            similarity_floor,
        })
    }

    /// Search's indexing mutations, as the same service principal (it holds `search:index`).
    pub fn search_index(&self) -> SearchClient {
        SearchClient::from_client(self.search.clone())
    }
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

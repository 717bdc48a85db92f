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
    /// When the resume subgraph last changed it (upload, parse, indexing).
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
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
        Ok(self
            .resumes(&[id.to_owned()], true)
            .await?
            .into_iter()
            .next())
    }

    /// Several resumes in one request (resume's `_entities`, batched there into one SQL
    /// statement), in no particular order; unknown ids are left out. Vectors travel only when
    /// asked for (384 floats each).
    pub async fn resumes(
        &self,
        ids: &[String],
        with_vector: bool,
    ) -> Result<Vec<ResumeFacts>, MatchingError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let representations: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "__typename": "Resume", "id": id }))
            .collect();
        let data = self
            .resume
            .query(
                "query($r: [_Any!]!, $v: Boolean!) { _entities(representations: $r) {
                   ... on Resume { id skills updatedAt embedding @include(if: $v)
                     embeddingModel @include(if: $v)
                     profile { totalYears highestDegree city headline } } } }",
                json!({ "r": representations, "v": with_vector }),
            )
            .await?;
        Ok(data["_entities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|resume| resume["id"].is_string())
            .map(resume_facts)
            .collect())
    }

    /// Vector and text candidates in one request to search.
    pub async fn shortlist(&self, query: ShortlistQuery<'_>) -> Result<Shortlist, MatchingError> {
        Ok(self
            .shortlists(std::slice::from_ref(&query))
            .await?
            .pop()
            .unwrap_or(Shortlist {
                candidates: Vec::new(),
                similarity_floor: None,
            }))
    }

    /// The shortlists of several queries in one request to search (each query's searches
    /// under its own aliases), in the order of `queries`.
    pub async fn shortlists(
        &self,
        queries: &[ShortlistQuery<'_>],
    ) -> Result<Vec<Shortlist>, MatchingError> {
        let mut parameters: Vec<String> = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        let mut variables = serde_json::Map::new();
        for (i, query) in queries.iter().enumerate() {
            let collection = query.collection;
            let filter = format!("$f{i}");
            if query.vector.is_some() || !query.text.trim().is_empty() {
                parameters.push(format!("{filter}: SearchFilter"));
                variables.insert(format!("f{i}"), query.filter.clone());
            }
            if let Some(vector) = query.vector {
                parameters.push(format!("$v{i}: [Float!]!, $vm{i}: String!"));
                variables.insert(format!("v{i}"), json!(vector));
                variables.insert(format!("vm{i}"), json!(query.vector_model));
                fields.push(format!(
                    "near{i}: vectorSearch(vector: $v{i}, vectorModel: $vm{i}, topK: {k}, \
                     filter: {filter}, collection: {collection}) {{ id score metadata }}",
                    k = query.vector_candidates,
                ));
            }
            if !query.text.trim().is_empty() {
                parameters.push(format!("$q{i}: String!"));
                variables.insert(format!("q{i}"), json!(query.text));
                fields.push(format!(
                    "words{i}: textSearch(query: $q{i}, options: {{collection: {collection}, \
                     first: {t}, filter: {filter}, highlight: false}}) \
                     {{ hits {{ id score metadata }} }}",
                    t = query.text_candidates,
                ));
            }
        }
        let data = if fields.is_empty() {
            Value::Null
        } else {
            let operation = format!(
                "query({}) {{ {} }}",
                parameters.join(", "),
                fields.join("\n")
            );
            self.search
                .query(&operation, Value::Object(variables))
                .await?
        };
        Ok(queries
            .iter()
            .enumerate()
            .map(|(i, query)| {
                shortlist_of(
                    &data[format!("near{i}").as_str()],
                    &data[format!("words{i}").as_str()]["hits"],
                    query.vector_candidates,
                )
            })
            .collect())
    }

    /// Search's indexing mutations, as the same service principal (it holds `search:index`).
    pub fn search_index(&self) -> SearchClient {
        SearchClient::from_client(self.search.clone())
    }
}

/// One query's shortlist from its vector hits and text hits (either may be missing).
fn shortlist_of(near: &Value, words: &Value, vector_candidates: usize) -> Shortlist {
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut floor: Option<f32> = None;
    for hit in near.as_array().into_iter().flatten() {
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
    for hit in words.as_array().into_iter().flatten() {
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
    let similarity_floor = if near >= vector_candidates {
        floor
    } else {
        None
    };
    candidates.retain(|c| !c.id.is_empty());
    Shortlist {
        candidates,
        similarity_floor,
    }
}

fn resume_facts(resume: &Value) -> ResumeFacts {
    let profile = &resume["profile"];
    ResumeFacts {
        id: resume["id"].as_str().unwrap_or_default().to_owned(),
        parsed: !profile.is_null(),
        skills: strings(&resume["skills"]),
        years: profile["totalYears"].as_f64(),
        degree: profile["highestDegree"].as_str().map(str::to_owned),
        city: profile["city"].as_str().map(str::to_owned),
        headline: profile["headline"].as_str().map(str::to_owned),
        updated_at: resume["updatedAt"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        embedding_model: resume["embeddingModel"].as_str().map(str::to_owned),
        embedding: resume["embedding"].as_array().map(|values| {
            values
                .iter()
                .filter_map(Value::as_f64)
                .map(|v| v as f32)
                .collect()
        }),
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

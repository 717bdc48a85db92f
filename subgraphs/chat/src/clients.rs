//! What chat asks of other subgraphs, as a signed service principal: search (knowledge
//! retrieval through `hybridSearch`, indexing through `looma-search-client`) and identity
//! (the tenant's system prompt, `chat.system_prompt` in its versioned config).

use looma_auth::{ForwardedPrincipalCodec, Principal, permission};
use looma_search_client::SearchClient;
use looma_server::{ServiceCallError, ServiceClient};
use serde_json::json;
use std::time::Duration;

/// How long a question waits for identity's system prompt before using the configured one.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a question waits for retrieval before answering without sources.
const RETRIEVAL_TIMEOUT: Duration = Duration::from_secs(10);

/// One retrieved knowledge chunk.
#[derive(Clone, Debug)]
pub struct KnowledgeHit {
    /// The chunk id (`<document>:<position>`).
    pub id: String,
    pub score: f64,
}

#[derive(Clone)]
pub struct Clients {
    identity: ServiceClient,
    search: ServiceClient,
    index: SearchClient,
    codec: ForwardedPrincipalCodec,
    /// The router's GraphQL URL, for the assistant's tools.
    router_url: String,
}

impl Clients {
    pub fn new(
        codec: ForwardedPrincipalCodec,
        identity_url: String,
        search_url: String,
        router_url: String,
    ) -> Self {
        let client = |service: &str, url: String| {
            ServiceClient::signed(
                service,
                url,
                codec.clone(),
                "chat",
                &[
                    permission::CONFIG_READ,
                    permission::SEARCH_READ,
                    permission::SEARCH_INDEX,
                ],
            )
        };
        let search = client("search", search_url);
        Clients {
            identity: client("identity", identity_url),
            index: SearchClient::from_client(search.clone()),
            search,
            codec,
            router_url,
        }
    }

    /// Runs the assistant's tool calls as `principal`.
    pub fn tool_runner(&self, principal: &Principal) -> Option<crate::tools::ToolRunner> {
        Some(crate::tools::ToolRunner::new(
            self.router_url.clone(),
            self.codec.clone(),
            principal.clone(),
        ))
    }

    pub fn search_index(&self) -> &SearchClient {
        &self.index
    }

    /// Hybrid (text + meaning) search over the KNOWLEDGE collection, best first.
    pub async fn knowledge_search(
        &self,
        question: &str,
        top_k: usize,
    ) -> Result<Vec<KnowledgeHit>, ServiceCallError> {
        let call = self.search.query(
            "query($q: String!, $k: Int!) { hybridSearch(query: $q, topK: $k, collection: KNOWLEDGE) { id score } }",
            json!({ "q": question, "k": top_k }),
        );
        let data = tokio::time::timeout(RETRIEVAL_TIMEOUT, call)
            .await
            .map_err(|_| ServiceCallError::Unreachable {
                service: "search".into(),
                message: format!("no answer within {} s", RETRIEVAL_TIMEOUT.as_secs()),
            })??;
        Ok(data["hybridSearch"]
            .as_array()
            .map(|hits| {
                hits.iter()
                    .filter_map(|hit| {
                        Some(KnowledgeHit {
                            id: hit["id"].as_str()?.to_owned(),
                            score: hit["score"].as_f64().unwrap_or(0.0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Identity's `chat.system_prompt` (a JSON string, or `{ "text": … }`), when set.
    pub async fn system_prompt(&self) -> Option<String> {
        let call = self.identity.query(
            "{ config(key: \"chat.system_prompt\") { value } }",
            json!({}),
        );
        let data = match tokio::time::timeout(PROMPT_TIMEOUT, call).await {
            Ok(Ok(data)) => data,
            Ok(Err(error)) => {
                tracing::debug!(%error, "no system prompt from identity; using the configured one");
                return None;
            }
            Err(_) => {
                tracing::warn!(
                    "identity did not answer in time; using the configured system prompt"
                );
                return None;
            }
        };
        let value = &data["config"]["value"];
        value
            .as_str()
            .or_else(|| value["text"].as_str())
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    }
}

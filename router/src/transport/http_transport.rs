//! [`HttpTransport`]: subgraph requests over pooled keep-alive HTTP, JSON or (with files)
//! GraphQL multipart; subscriptions over WebSocket (`super::ws_client`).

use super::{SubgraphTransport, UploadedFile};
use crate::supergraph::Subgraph;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Pooled keep-alive HTTP to subgraphs, with a timeout per subgraph.
pub struct HttpTransport {
    client: reqwest::Client,
    default_timeout: std::time::Duration,
    timeouts: HashMap<String, std::time::Duration>,
}

impl HttpTransport {
    fn timeout_for(&self, subgraph: &Subgraph) -> std::time::Duration {
        self.timeouts
            .get(&subgraph.name)
            .copied()
            .unwrap_or(self.default_timeout)
    }

    /// `timeouts` overrides `default_timeout` for the subgraphs it names.
    pub fn new(
        default_timeout: std::time::Duration,
        timeouts: HashMap<String, std::time::Duration>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        HttpTransport {
            client,
            default_timeout,
            timeouts,
        }
    }
}

#[async_trait::async_trait]
impl SubgraphTransport for HttpTransport {
    async fn send(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<Value, String> {
        let response = self
            .client
            .post(&subgraph.url)
            .timeout(
                self.timeouts
                    .get(&subgraph.name)
                    .copied()
                    .unwrap_or(self.default_timeout),
            )
            .headers(headers.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "connection failed".to_owned()
                }
            })?;
        read_graphql_response(response).await
    }

    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Value, String> {
        let form = multipart_form(body, files)?;
        let response = self
            .client
            .post(&subgraph.url)
            .timeout(
                self.timeouts
                    .get(&subgraph.name)
                    .copied()
                    .unwrap_or(self.default_timeout),
            )
            .headers(headers.clone())
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "connection failed".to_owned()
                }
            })?;
        read_graphql_response(response).await
    }

    async fn subscribe(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<super::SubgraphEvents, String> {
        super::ws_client::subscribe(&subgraph.url, headers, body, self.timeout_for(subgraph)).await
    }
}

async fn read_graphql_response(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the response: {e}"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) if value.is_object() => Ok(value),
        _ if !status.is_success() => Err(format!("HTTP {status}")),
        _ => Err("the response is not a GraphQL JSON object".to_owned()),
    }
}

/// The multipart form for a subgraph: `operations`, `map`, then one part per file.
fn multipart_form(
    body: Value,
    files: &[(String, UploadedFile)],
) -> Result<reqwest::multipart::Form, String> {
    let mut map = Map::new();
    for (i, (path, _)) in files.iter().enumerate() {
        map.insert(
            i.to_string(),
            Value::Array(vec![Value::String(path.clone())]),
        );
    }
    let mut form = reqwest::multipart::Form::new()
        .text("operations", body.to_string())
        .text("map", Value::Object(map).to_string());
    for (i, (_, file)) in files.iter().enumerate() {
        let mut part = reqwest::multipart::Part::stream(reqwest::Body::from(file.bytes.clone()))
            .file_name(file.filename.clone());
        if let Some(content_type) = &file.content_type {
            part = part
                .mime_str(content_type)
                .map_err(|e| format!("bad content type: {e}"))?;
        }
        form = form.part(i.to_string(), part);
    }
    Ok(form)
}

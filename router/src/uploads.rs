//! File uploads through the router (GraphQL multipart request spec).
//!
//! The client's multipart body is parsed at the edge (CSRF preflight header required, size
//! limited); each file's place in the variables holds a placeholder string. A subgraph fetch
//! whose variables carry placeholders is re-sent to that subgraph as multipart with the same
//! files, so only the subgraph that takes the upload ever receives the bytes.

use crate::supergraph::Subgraph;
use crate::transport::UploadedFile;
use crate::transport::{SubgraphRequest, SubgraphTransport};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

/// The prefix async-graphql's multipart parser writes where a file goes.
const PLACEHOLDER: &str = "#__graphql_file__:";

/// The files of one client request, by index.
pub type Uploads = Arc<Vec<UploadedFile>>;

/// Replaces placeholders in `body.variables` with null and returns, per file, its path
/// (`variables.file`) and the file.
fn take_files(body: &mut Value, uploads: &[UploadedFile]) -> Vec<(String, UploadedFile)> {
    let mut found = Vec::new();
    if let Some(variables) = body.get_mut("variables") {
        walk(variables, "variables".to_owned(), uploads, &mut found);
    }
    found
}

fn walk(
    value: &mut Value,
    path: String,
    uploads: &[UploadedFile],
    found: &mut Vec<(String, UploadedFile)>,
) {
    match value {
        Value::String(text) => {
            if let Some(file) = text
                .strip_prefix(PLACEHOLDER)
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| uploads.get(i))
            {
                found.push((path, file.clone()));
                *value = Value::Null;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{path}.{i}"), uploads, found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                walk(item, format!("{path}.{key}"), uploads, found);
            }
        }
        _ => {}
    }
}

/// A transport for one request that carries files: fetches with placeholders go multipart.
pub struct UploadingTransport {
    pub inner: Arc<dyn SubgraphTransport>,
    pub uploads: Uploads,
}

#[async_trait::async_trait]
impl SubgraphTransport for UploadingTransport {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        // Only a body that names a file is read back; the others go out as they are.
        let names_a_file = request
            .body
            .windows(PLACEHOLDER.len())
            .any(|w| w == PLACEHOLDER.as_bytes());
        let parsed = names_a_file
            .then(|| serde_json::from_slice::<Value>(&request.body).ok())
            .flatten();
        let Some(mut body) = parsed else {
            return self.inner.send(subgraph, request, headers).await;
        };
        let files = take_files(&mut body, &self.uploads);
        if files.is_empty() {
            return self.inner.send(subgraph, request, headers).await;
        }
        self.inner
            .send_with_files(subgraph, body, headers, &files)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_become_nulls_with_paths() {
        let uploads = vec![UploadedFile {
            filename: "cv.pdf".into(),
            content_type: None,
            bytes: bytes::Bytes::from_static(b"%PDF"),
        }];
        let mut body = json!({"query": "q", "variables": {"file": "#__graphql_file__:0", "list": ["#__graphql_file__:7", "x"]}});
        let files = take_files(&mut body, &uploads);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "variables.file");
        assert_eq!(body["variables"]["file"], Value::Null);
        // An index with no file stays a plain string.
        assert_eq!(body["variables"]["list"][0], "#__graphql_file__:7");
    }
}

//! The GraphiQL playground, served from assets embedded in the binary (never a CDN), so it
//! works on a machine with no network. The headers editor carries the bearer token (sent as
//! HTTP headers, and as the WebSocket's `connection_init` payload for subscriptions).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));

/// Whether the playground's assets were embedded at build time.
pub fn assets_embedded() -> bool {
    !GRAPHIQL_ASSETS.is_empty()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Looma GraphQL</title>
  <link rel="stylesheet" href="/graphiql/graphiql.min.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/react.production.min.js"></script>
  <script src="/graphiql/react-dom.production.min.js"></script>
  <script src="/graphiql/graphiql.min.js"></script>
  <script>
    // Subscriptions over the router's WebSocket (graphql-transport-ws; the client is bundled
    // in graphiql.min.js); the headers editor's entries become the connection_init payload.
    const wsOrigin = window.location.origin.replace(/^http/, 'ws');
    const fetcher = GraphiQL.createFetcher({
      url: window.location.origin + '/graphql',
      subscriptionUrl: wsOrigin + '/graphql',
    });
    const root = ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {
      fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: true,
      defaultQuery: '# 1. Log in (looma dev prints the first admin\'s password and writes it to data/dev-admin.txt).\n' +
        '# 2. Open the Headers tab below and enter {"Authorization": "Bearer <accessToken>"}.\n' +
        'mutation Login {\n  login(email: "admin@looma.local", password: "...") {\n    accessToken\n  }\n}\n',
    }));
  </script>
</body>
</html>
"#;

const MISSING: &str = "<!doctype html><html><body><h1>Looma GraphQL</h1>\
<p>This router was built without the GraphiQL assets. Run <code>scripts/vendor-graphiql</code> \
and rebuild, or POST GraphQL requests to <code>/graphql</code>.</p></body></html>";

pub async fn page() -> Response {
    let body = if assets_embedded() { PAGE } else { MISSING };
    let mut response = Html(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:",
        ),
    );
    response
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match GRAPHIQL_ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// True for a browser navigation (HTML preferred over JSON).
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_loads_nothing_from_other_hosts() {
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        for (name, _, _) in GRAPHIQL_ASSETS
            .iter()
            .filter(|(n, _, _)| n.ends_with(".js") || n.ends_with(".css"))
        {
            assert!(
                PAGE.contains(&format!("/graphiql/{name}")),
                "{name} is referenced"
            );
        }
    }
}

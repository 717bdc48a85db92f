//! Production adapters for `looma-search-engine`'s traits: [`ElasticsearchTextIndex`] (full text,
//! facets, highlights, suggestions over Elasticsearch 8.x/9.x) and [`QdrantVectorIndex`]
//! (nearest neighbours with filters over Qdrant's gRPC API).
//!
//! Both translate the traits' shapes into the servers' APIs and back, and nothing else: no
//! ranking fusion, no permissions, no configuration loading (the caller passes URLs in). The
//! request bodies and response parsing are pure functions (`elastic_body`, `query_syntax`,
//! `qdrant_filter`) so they are tested without servers; `docs/search-backends.md` describes the
//! mappings, analyzers and collection settings.

mod elastic;
mod elastic_body;
mod qdrant;
mod qdrant_filter;
mod query_syntax;
mod suggest_match;

pub use elastic::ElasticsearchTextIndex;
pub use elastic_body::ChineseAnalysis;
pub use qdrant::{QdrantVectorIndex, point_uuid};

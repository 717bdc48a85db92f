//! Embedded engines, the default backends that need no server: [`TantivyTextIndex`] (tantivy
//! with a bilingual jieba analyzer) for full text and suggestions, and [`AnnVectorIndex`]
//! (usearch HNSW with a write-ahead log) for vectors.
//!
//! Both run their blocking work on tokio's blocking pool, keep one writer per collection, and
//! store everything under a directory the caller chooses (one subdirectory per collection).
//! They know nothing about GraphQL, permissions or ranking fusion.

mod analyzer;
mod bm25;
mod facets;
mod suggest;
mod text;
mod text_query;
mod text_schema;
mod vector;
mod vector_log;
mod versions;

pub use text::TantivyTextIndex;
pub use vector::{AnnVectorIndex, AnnVectorOptions};

/// The jieba user dictionary [`TantivyTextIndex::open`] and [`TantivyTextIndex::in_memory`]
/// load: the taxonomy's domain words (skills, titles, schools), so that 后端开发 or 机器学习 stay
/// whole when Chinese text is segmented. Use [`TantivyTextIndex::open_with_dictionary`] to
/// supply another one.
pub fn default_user_dictionary() -> Option<String> {
    Some(looma_taxonomy::user_dictionary().to_string())
}

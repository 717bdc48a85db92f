//! Opens the configured backends: the embedded engines by default, Elasticsearch and/or Qdrant
//! when their URLs are set. Each backend is chosen on its own, so text can live in
//! Elasticsearch while vectors stay embedded (or the other way round).

use crate::SearchConfig;
use looma_search_engine::embedded::{AnnVectorIndex, TantivyTextIndex};
use looma_search_engine::{EngineError, TextIndex, VectorIndex};
use looma_search_remote::{ChineseAnalysis, ElasticsearchTextIndex, QdrantVectorIndex};
use std::sync::Arc;

/// The two indexes every query goes through.
#[derive(Clone)]
pub struct Engines {
    pub text: Arc<dyn TextIndex>,
    pub vector: Arc<dyn VectorIndex>,
}

impl Engines {
    pub fn open(config: &SearchConfig, dimension: usize) -> Result<Engines, EngineError> {
        let text: Arc<dyn TextIndex> = match &config.elasticsearch_url {
            Some(url) => {
                let analysis = match config.elasticsearch_chinese_analysis.as_str() {
                    "ik" => ChineseAnalysis::Ik,
                    "smartcn" => ChineseAnalysis::Smartcn,
                    _ => ChineseAnalysis::CjkBigram,
                };
                Arc::new(
                    ElasticsearchTextIndex::connect(url, &config.index_prefix)?
                        .with_chinese_analysis(analysis),
                )
            }
            None => Arc::new(TantivyTextIndex::open(&config.data_dir.join("text"))?),
        };
        let vector: Arc<dyn VectorIndex> = match &config.qdrant_url {
            Some(url) => Arc::new(QdrantVectorIndex::connect(
                url,
                &config.index_prefix,
                dimension,
            )?),
            None => Arc::new(AnnVectorIndex::open(
                &config.data_dir.join("vectors"),
                dimension,
            )?),
        };
        Ok(Engines { text, vector })
    }

    /// In-memory text and a vector graph under `dir` (tests, benchmarks).
    pub fn ephemeral(dir: &std::path::Path, dimension: usize) -> Result<Engines, EngineError> {
        Ok(Engines {
            text: Arc::new(TantivyTextIndex::in_memory()?),
            vector: Arc::new(AnnVectorIndex::open(dir, dimension)?),
        })
    }
}

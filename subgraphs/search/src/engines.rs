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
    /// `model` is the embedding model of the vectors to hold. The embedded vector index
    /// records it beside itself (`vectors.model`); an index written by another model is
    /// dropped at open (its vectors cannot be compared with this model's queries) and logged:
    /// `looma search reindex` fills it again. A Qdrant collection is the operator's to reindex.
    pub fn open(
        config: &SearchConfig,
        dimension: usize,
        model: &str,
    ) -> Result<Engines, EngineError> {
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
            None => {
                let dir = config.data_dir.join("vectors");
                drop_vectors_of_another_model(&dir, &config.data_dir.join("vectors.model"), model)?;
                Arc::new(AnnVectorIndex::open(&dir, dimension)?)
            }
        };
        Ok(Engines { text, vector })
    }

    /// In-memory text and a vector graph under `dir` (tests, benchmarks, evals).
    pub fn ephemeral(dir: &std::path::Path, dimension: usize) -> Result<Engines, EngineError> {
        Ok(Engines {
            text: Arc::new(TantivyTextIndex::in_memory()?),
            vector: Arc::new(AnnVectorIndex::open(dir, dimension)?),
        })
    }
}

/// Model of the vectors written before models were recorded (the only one there was).
const UNRECORDED_MODEL: &str = looma_embed::LEGACY_MODEL_ID;

/// Removes the vector index in `dir` when `record` names another model than `model`, then
/// records `model`. Vectors are derived data: their owners send them again on reindex.
fn drop_vectors_of_another_model(
    dir: &std::path::Path,
    record: &std::path::Path,
    model: &str,
) -> Result<(), EngineError> {
    let io = |what: &str, error: std::io::Error| {
        EngineError::Internal(format!("{what} {}: {error}", record.display()))
    };
    let recorded = match std::fs::read_to_string(record) {
        Ok(text) => Some(text.trim().to_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            dir.exists().then(|| UNRECORDED_MODEL.to_owned())
        }
        Err(error) => return Err(io("cannot read", error)),
    };
    if let Some(recorded) = recorded.filter(|recorded| recorded != model) {
        tracing::warn!(
            recorded = %recorded,
            model,
            dir = %dir.display(),
            "the vector index holds another model's vectors: dropped; run `looma search reindex \
             resumes` and `looma search reindex jobs` to fill it with this model's"
        );
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|error| io("cannot remove the vectors beside", error))?;
        }
    }
    if let Some(parent) = record.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| io("cannot create the directory of", error))?;
    }
    std::fs::write(record, model).map_err(|error| io("cannot write", error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_of_another_model_are_dropped_and_the_model_recorded() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("vectors");
        let record = root.path().join("vectors.model");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("graph"), b"old").expect("file");

        // An index from before models were recorded held MiniLM vectors.
        drop_vectors_of_another_model(&dir, &record, "all-MiniLM-L6-v2").expect("same model");
        assert!(dir.join("graph").exists(), "same model: kept");
        assert_eq!(
            std::fs::read_to_string(&record).unwrap(),
            "all-MiniLM-L6-v2"
        );

        drop_vectors_of_another_model(&dir, &record, "multilingual-e5-small-q4").expect("switch");
        assert!(!dir.exists(), "another model's vectors are dropped");
        assert_eq!(
            std::fs::read_to_string(&record).unwrap(),
            "multilingual-e5-small-q4"
        );

        // A fresh data directory keeps nothing to drop and records the model.
        let fresh = tempfile::tempdir().expect("temp dir");
        let record = fresh.path().join("vectors.model");
        drop_vectors_of_another_model(&fresh.path().join("vectors"), &record, "m").expect("fresh");
        assert_eq!(std::fs::read_to_string(&record).unwrap(), "m");
    }
}

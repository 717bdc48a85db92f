//! Text analytics for the CRM (`analyzeText` on the search subgraph): a text's language, its
//! keywords, its sentiment and the job family it speaks of.
//!
//! Rooms: `language` (scripts and function words), `keywords` (jieba TF-IDF for Chinese, RAKE
//! phrases otherwise), `head` (a linear classifier over sentence embeddings, trained here),
//! `sentiment` and `family` (what the two heads in `data/` mean), `eval` (the public labelled
//! sets, their fixed splits, training and `looma eval analyze`). Language and keywords are
//! pure; sentiment and family embed the text with the process's `EmbeddingService`.

pub mod eval;
pub mod family;
pub mod head;
pub mod keywords;
pub mod language;
pub mod sentiment;

use std::sync::{Arc, OnceLock};

use looma_embed::{EmbedError, EmbeddingService, TextKind};

pub use family::{FamilyMethod, JobFamily};
pub use head::LinearHead;
pub use keywords::Keyword;
pub use language::{Language, detect_language};
pub use sentiment::{Sentiment, SentimentLabel};

/// The trained heads shipped with the binary (written by `looma eval analyze --train`).
pub const SENTIMENT_HEAD_JSON: &str = include_str!("../data/sentiment.json");
pub const JOB_FAMILY_HEAD_JSON: &str = include_str!("../data/job_family.json");

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(
        "{task} needs the embedding model it was trained on ({expected}); this service embeds \
         with {configured} (embed.model)"
    )]
    ModelMismatch {
        task: &'static str,
        expected: String,
        configured: String,
    },
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

/// Language, keywords, sentiment and job family of texts. Cheap to clone.
#[derive(Clone)]
pub struct TextAnalyzer {
    embedder: EmbeddingService,
    heads: Arc<Heads>,
}

struct Heads {
    sentiment: Option<LinearHead>,
    family: Option<LinearHead>,
}

fn builtin_heads() -> Arc<Heads> {
    static HEADS: OnceLock<Arc<Heads>> = OnceLock::new();
    HEADS
        .get_or_init(|| {
            Arc::new(Heads {
                sentiment: LinearHead::from_json(SENTIMENT_HEAD_JSON).ok(),
                family: LinearHead::from_json(JOB_FAMILY_HEAD_JSON).ok(),
            })
        })
        .clone()
}

impl TextAnalyzer {
    /// With the heads shipped in the binary.
    pub fn new(embedder: EmbeddingService) -> Self {
        TextAnalyzer {
            embedder,
            heads: builtin_heads(),
        }
    }

    /// With other heads (training and tests).
    pub fn with_heads(
        embedder: EmbeddingService,
        sentiment: Option<LinearHead>,
        family: Option<LinearHead>,
    ) -> Self {
        TextAnalyzer {
            embedder,
            heads: Arc::new(Heads { sentiment, family }),
        }
    }

    pub fn language(&self, text: &str) -> Language {
        detect_language(text)
    }

    /// The top `k` keywords, segmented for `language` (an ISO 639-1 code).
    pub fn keywords(&self, text: &str, language: &str, k: usize) -> Vec<Keyword> {
        keywords::keywords(text, language, k)
    }

    /// The embedding the heads read (`query: ` side of the model, as its card says for
    /// classification).
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embedder.embed_one(text, TextKind::Query).await
    }

    /// The sentiment head, if it reads this service's vectors.
    fn sentiment_head(&self) -> Result<&LinearHead, AnalyzeError> {
        self.usable(self.heads.sentiment.as_ref(), "sentiment")
    }

    fn usable<'a>(
        &self,
        head: Option<&'a LinearHead>,
        task: &'static str,
    ) -> Result<&'a LinearHead, AnalyzeError> {
        let configured = self.embedder.model_id();
        match head {
            Some(head) if head.accepts(&configured, self.embedder.dimension()) => Ok(head),
            other => Err(AnalyzeError::ModelMismatch {
                task,
                expected: other.map_or_else(|| "a trained head".to_owned(), |h| h.model.clone()),
                configured,
            }),
        }
    }

    pub async fn sentiment(&self, text: &str) -> Result<Sentiment, AnalyzeError> {
        let head = self.sentiment_head()?;
        let vector = self.embed(text).await?;
        Ok(self.sentiment_of_vector(head, &vector))
    }

    /// The sentiment of an already embedded text (the `query` kind).
    pub fn sentiment_of_vector(&self, head: &LinearHead, vector: &[f32]) -> Sentiment {
        sentiment::from_vector(head, vector)
    }

    /// The job family of a text (a title, a job post, a profile summary): the embedding head
    /// when it reads this service's vectors, else the title matcher. `None` when neither
    /// finds one.
    pub async fn job_family(&self, text: &str) -> Result<Option<JobFamily>, AnalyzeError> {
        match self.usable(self.heads.family.as_ref(), "job family") {
            Ok(head) => {
                let vector = self.embed(text).await?;
                Ok(family::from_vector(head, &vector))
            }
            Err(_) => Ok(family::family_by_keywords(text)),
        }
    }

    /// The job family of an already embedded text, by the head alone.
    pub fn job_family_of_vector(&self, vector: &[f32]) -> Option<JobFamily> {
        let head = self.usable(self.heads.family.as_ref(), "job family").ok()?;
        family::from_vector(head, vector)
    }

    pub fn embedder(&self) -> &EmbeddingService {
        &self.embedder
    }

    /// One text under analysis, for answering several questions about it.
    pub fn analysis(&self, text: String) -> Analysis {
        Analysis {
            language: detect_language(&text),
            analyzer: self.clone(),
            text,
            vector: tokio::sync::OnceCell::new(),
        }
    }
}

/// One text under analysis: its language is read at once; its embedding once, when the
/// sentiment or the job family first needs it.
pub struct Analysis {
    analyzer: TextAnalyzer,
    text: String,
    language: Language,
    vector: tokio::sync::OnceCell<Vec<f32>>,
}

impl Analysis {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn language(&self) -> &Language {
        &self.language
    }

    pub fn keywords(&self, k: usize) -> Vec<Keyword> {
        keywords::keywords(&self.text, self.language.code, k)
    }

    async fn vector(&self) -> Result<&[f32], AnalyzeError> {
        let vector = self
            .vector
            .get_or_try_init(|| self.analyzer.embed(&self.text))
            .await?;
        Ok(vector)
    }

    pub async fn sentiment(&self) -> Result<Sentiment, AnalyzeError> {
        let head = self.analyzer.sentiment_head()?;
        Ok(sentiment::from_vector(head, self.vector().await?))
    }

    pub async fn job_family(&self) -> Result<Option<JobFamily>, AnalyzeError> {
        match self
            .analyzer
            .usable(self.analyzer.heads.family.as_ref(), "job family")
        {
            Ok(head) => match self.vector().await {
                Ok(vector) => Ok(family::from_vector(head, vector)),
                // Without the model the title matcher still answers.
                Err(AnalyzeError::Embed(EmbedError::ModelUnavailable { .. })) => {
                    Ok(family::family_by_keywords(&self.text))
                }
                Err(error) => Err(error),
            },
            Err(_) => Ok(family::family_by_keywords(&self.text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_heads_parse_and_read_e5_vectors() {
        let heads = builtin_heads();
        for head in [heads.sentiment.as_ref(), heads.family.as_ref()] {
            let head = head.expect("the shipped head parses");
            assert!(head.accepts(looma_embed::E5_MODEL_ID, looma_embed::E5_DIMENSION));
        }
        let sentiment = heads.sentiment.as_ref().expect("parsed");
        assert_eq!(sentiment.labels, sentiment::LABELS);
        let family = heads.family.as_ref().expect("parsed");
        assert!(family.labels.len() >= 30);
        for code in &family.labels {
            assert!(
                family::family(code, 1.0, FamilyMethod::Embedding).is_some(),
                "{code}"
            );
        }
    }
}

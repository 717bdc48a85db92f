//! Time to first token and decoding speed of the embedded SmolLM2 on this machine: a prompt of
//! about 200 tokens, 64 generated tokens, greedy. Prints numbers; asserts nothing.
//!
//! ```text
//! scripts/install-model
//! cargo bench --workspace --bench embedded_generation     # release profile
//! ```
//! `LOOMA_EMBED__MODELS_DIR` points at the models (default `data/models`); `LOOMA_BENCH_RUNS`
//! sets the number of measured runs (default 3, after one warm-up); `LOOMA_BENCH_QUANTIZED=1`
//! keeps the 4-bit weights (`EmbeddedOptions::dequantize = false`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use looma_llm::embedded::{EmbeddedModel, EmbeddedOptions, model_path};
use looma_llm::{ChatMessage, ChatModel, ChatRequest, StreamEvent};

const GENERATED: u32 = 64;

fn models_dir() -> PathBuf {
    match std::env::var_os("LOOMA_EMBED__MODELS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/models"),
    }
}

fn request() -> ChatRequest {
    let context = "Looma is a recruiting platform. Recruiters search resumes, match candidates to \
        jobs and chat with an assistant about their pipeline. The assistant can summarise a \
        candidate's experience, compare two candidates, draft an outreach e-mail, or explain \
        why a candidate matches a job. Candidates come from many countries and write resumes \
        in English and Chinese. Jobs list required skills, nice-to-have skills, a city, a \
        salary band and the years of experience expected. ";
    ChatRequest {
        messages: vec![
            ChatMessage::system(format!("You are Looma's assistant. {context}")),
            ChatMessage::user(format!(
                "{context}Write a friendly outreach e-mail to a senior Rust engineer in Berlin \
                 about a backend role working on search infrastructure. Mention the team, the \
                 stack, the salary band and the interview steps, in detail."
            )),
        ],
        tools: Vec::new(),
        max_tokens: GENERATED,
        temperature: 0.0,
    }
}

struct Run {
    first_token: Duration,
    total: Duration,
    completion_tokens: u32,
}

async fn run(model: &EmbeddedModel) -> Run {
    let started = Instant::now();
    let mut stream = model
        .stream(request())
        .await
        .expect("the generation starts");
    let mut first_token = None;
    let mut completion_tokens = 0;
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            StreamEvent::Delta(_) => {
                first_token.get_or_insert_with(|| started.elapsed());
            }
            StreamEvent::Done(done) => completion_tokens = done.usage.completion_tokens,
            StreamEvent::ToolCall(_) => {}
        }
    }
    Run {
        first_token: first_token.unwrap_or_else(|| started.elapsed()),
        total: started.elapsed(),
        completion_tokens,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let path = model_path(&models_dir());
    let loading = Instant::now();
    let quantized = std::env::var("LOOMA_BENCH_QUANTIZED").is_ok_and(|v| v == "1");
    let options = EmbeddedOptions {
        dequantize: !quantized,
        ..EmbeddedOptions::default()
    };
    let model = match EmbeddedModel::load_with(&path, "embedded", options) {
        Ok(model) => model,
        Err(error) => {
            eprintln!("embedded_generation: {error}");
            std::process::exit(1);
        }
    };
    let load_time = loading.elapsed();
    let prompt_tokens = model
        .prompt_token_ids(&request().messages)
        .expect("prompt")
        .len();
    let runs: usize = std::env::var("LOOMA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!(
        "model loaded in {:.2} s ({}); prompt {prompt_tokens} tokens, {GENERATED} generated, greedy",
        load_time.as_secs_f64(),
        if quantized {
            "4-bit weights"
        } else {
            "f32 weights"
        }
    );
    let _warm_up = run(&model).await;
    let mut results = Vec::new();
    for i in 0..runs.max(1) {
        let r = run(&model).await;
        let decode = r.total.saturating_sub(r.first_token).as_secs_f64();
        let per_second = (r.completion_tokens.saturating_sub(1)) as f64 / decode.max(1e-9);
        println!(
            "run {}: time to first token {:.0} ms, {} tokens in {:.2} s, decoding {:.1} tokens/s, prefill {:.0} tokens/s",
            i + 1,
            r.first_token.as_secs_f64() * 1000.0,
            r.completion_tokens,
            r.total.as_secs_f64(),
            per_second,
            prompt_tokens as f64 / r.first_token.as_secs_f64().max(1e-9),
        );
        results.push((r.first_token.as_secs_f64(), per_second));
    }
    let n = results.len() as f64;
    println!(
        "mean: time to first token {:.0} ms, decoding {:.1} tokens/s",
        results.iter().map(|r| r.0).sum::<f64>() / n * 1000.0,
        results.iter().map(|r| r.1).sum::<f64>() / n
    );
}

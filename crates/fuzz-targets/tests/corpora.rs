//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and crash reproducers
//! (`fuzz/regressions/<target>/`) through the fuzz entry points, so that CI catches a
//! regression on any input the fuzzers ever kept, without running a fuzzer.
//!
//! A missing or empty corpus fails the test: a replay of nothing must not pass.

use looma_fuzz_targets::{FuzzTarget, TARGETS};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted (a missing directory is an empty list).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: FuzzTarget, files: &[PathBuf]) {
    for file in files {
        let bytes =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!(
                "{target} panicked on {} (reproduce: scripts/fuzz repro {target} {})",
                file.display(),
                file.display()
            );
        }
    }
}

#[test]
fn every_target_has_a_committed_corpus_that_replays_without_panicking() {
    let root = fuzz_dir();
    for (target, run) in TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{target}.rs is missing"
        );
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{target}/ is missing or empty: run `scripts/fuzz run {target}` and commit \
             the minimised corpus"
        );
        let regressions = inputs(&root.join("regressions").join(target));
        replay(target, *run, &corpus);
        replay(target, *run, &regressions);
        eprintln!(
            "{target}: replayed {} corpus and {} regression inputs",
            corpus.len(),
            regressions.len()
        );
    }
}

#[test]
fn every_fuzz_target_file_has_an_entry_point() {
    let mut names: Vec<String> = inputs(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    known.sort();
    assert_eq!(names, known, "fuzz/fuzz_targets/ and TARGETS disagree");
}

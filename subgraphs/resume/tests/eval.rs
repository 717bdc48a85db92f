//! The parser against the hand-checked fixture set: a regression below these floors fails.
//! (`looma eval resumes` prints the full table.)

use looma_extract::ExtractLimits;
use looma_resume::eval::{EvalReport, GROUPS, evaluate};
use std::path::Path;

#[test]
fn fixture_set_scores_stay_above_the_floors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/resumes");
    let report = evaluate(
        &dir,
        // The scanned fixture stays NEEDS_OCR here: OCR is measured on its own.
        ExtractLimits::new(50 * 1024 * 1024, false),
        None,
    )
    .expect("fixtures readable");
    assert!(report.documents >= 30, "{} fixtures", report.documents);
    assert_eq!(
        report.status_correct,
        report.documents,
        "{}",
        report.render()
    );
    let floors = [
        ("contact", 0.95),
        ("education", 0.92),
        ("dates", 0.95),
        ("experience", 0.95),
        ("skills", 0.95),
    ];
    assert_floors(&report, &floors, "fixtures");
}

/// The hand-labelled public resumes: every document of every split is scored (none dropped),
/// and the train split — the only one the parser is tuned on besides dev — stays above floors
/// a little below today's figures. The test split is reported by `looma eval resumes --dir
/// tests/fixtures/resumes-real --split test`, never asserted here.
#[test]
fn real_resumes_are_all_scored_and_train_stays_above_its_floors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/resumes-real");
    let limits = ExtractLimits::new(50 * 1024 * 1024, false);
    let all = evaluate(&dir, limits, None).expect("labels readable");
    let splits: Vec<EvalReport> = ["train", "dev", "test"]
        .iter()
        .map(|split| evaluate(&dir, limits, Some(split)).expect("labels readable"))
        .collect();
    let per_split: Vec<usize> = splits.iter().map(|report| report.documents).collect();
    assert!(all.documents >= 80, "{} resumes", all.documents);
    assert_eq!(
        per_split.iter().sum::<usize>(),
        all.documents,
        "every resume belongs to exactly one split: {per_split:?}"
    );
    assert!(per_split.iter().all(|n| *n >= 15), "{per_split:?}");
    // Half the Chinese PDFs need Adobe's CID tables (Debian's poppler-data, installed by
    // scripts/install-packages); without them their Chinese text is missing and the floors mean
    // nothing.
    if !looma_extract::cid_tables_available() {
        looma_testkit::report_skipped("poppler-data is not installed: train floors not checked");
        return;
    }
    let floors = [
        ("contact", 0.85),
        ("education", 0.50),
        ("dates", 0.72),
        ("experience", 0.45),
        ("skills", 0.62),
    ];
    assert_floors(&splits[0], &floors, "train");
}

/// Fails when a field group's F1 is under its floor, printing the whole report.
fn assert_floors(report: &EvalReport, floors: &[(&str, f64)], set: &str) {
    for &(group, floor) in floors {
        let fields = GROUPS
            .iter()
            .find(|(name, _)| *name == group)
            .map(|(_, fields)| *fields)
            .expect("known group");
        let f1 = report.group(fields).f1();
        assert!(
            f1 >= floor,
            "{set} {group} F1 {f1:.3} < {floor}\n{}",
            report.render()
        );
    }
}

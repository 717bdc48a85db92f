//! The parser against the hand-checked fixture set: a regression below these floors fails.
//! (`looma eval resumes` prints the full table.)

use looma_extract::ExtractLimits;
use looma_resume::eval::{GROUPS, evaluate};
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
    for (group, floor) in floors {
        let fields = GROUPS
            .iter()
            .find(|(name, _)| *name == group)
            .map(|(_, fields)| *fields)
            .expect("known group");
        let f1 = report.group(fields).f1();
        assert!(
            f1 >= floor,
            "{group} F1 {f1:.3} < {floor}\n{}",
            report.render()
        );
    }
}

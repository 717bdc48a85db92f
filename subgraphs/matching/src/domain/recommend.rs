//! Recommendations: one score in [0, 1] blended from three factors — how similar the two texts
//! are (the embeddings' cosine, read on the model's scale), how far the skills overlap (on the
//! shared taxonomy, through `score::coverage`) and how recently the recommended item was
//! updated (halving every [`RECENCY_HALF_LIFE_DAYS`]) — with one reason per factor, in the
//! words a recruiter reads. Pure: the service hands in what search and the stores returned.

use crate::domain::score::{Semantic, coverage};
use chrono::{DateTime, Utc};

/// A recommended item's freshness halves every 90 days: updated today scores 1, three months
/// ago 0.5, six months ago 0.25.
pub const RECENCY_HALF_LIFE_DAYS: f64 = 90.0;

/// Shared skills named in a reason before "+N more".
const NAMED_SKILLS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Factor {
    Similarity,
    Skills,
    Recency,
}

/// The factors' weights; they sum to 1, so the score is in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blend {
    pub similarity: f64,
    pub skills: f64,
    pub recency: f64,
}

impl Blend {
    /// Similar resumes and similar jobs: mostly how alike the texts are.
    pub const SIMILAR: Blend = Blend {
        similarity: 0.6,
        skills: 0.3,
        recency: 0.1,
    };
    /// Candidates for a job: covering the job's skills weighs almost as much as the text.
    pub const CANDIDATES: Blend = Blend {
        similarity: 0.45,
        skills: 0.4,
        recency: 0.15,
    };

    pub fn get(self, factor: Factor) -> f64 {
        match factor {
            Factor::Similarity => self.similarity,
            Factor::Skills => self.skills,
            Factor::Recency => self.recency,
        }
    }
}

/// What is recommended, for the wording of the similarity reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noun {
    /// A resume (similar resumes, candidates).
    Profile,
    /// A job posting.
    Posting,
}

impl Noun {
    fn as_str(self) -> &'static str {
        match self {
            Noun::Profile => "profile",
            Noun::Posting => "posting",
        }
    }
}

/// The skills of a pair.
#[derive(Clone, Copy, Debug)]
pub enum SkillSets<'a> {
    /// Two items of a kind (resume and resume, job and job): the overlap both ways.
    Between {
        subject: &'a [String],
        other: &'a [String],
    },
    /// A job's skills against a candidate's: required ones count three times as much as
    /// preferred ones.
    Wanted {
        required: &'a [String],
        preferred: &'a [String],
        have: &'a [String],
    },
}

/// Everything known about one recommended item.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    pub similarity: Semantic,
    pub noun: Noun,
    pub skills: SkillSets<'a>,
    /// When the recommended item was last updated (`None`: unknown, scored neutral).
    pub updated_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FactorScore {
    pub factor: Factor,
    pub weight: f64,
    /// In [0, 1].
    pub score: f64,
    /// `weight × score`; the contributions sum to the total.
    pub contribution: f64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub total: f64,
    /// Similarity, skills, recency (in that order).
    pub components: Vec<FactorScore>,
    /// Skills both sides have (for a candidate: the job's skills the candidate has).
    pub shared_skills: Vec<String>,
    /// A candidate's missing required skills (empty between two items of a kind).
    pub missing_skills: Vec<String>,
    /// One reason per factor, the largest contribution first.
    pub reasons: Vec<String>,
}

fn similarity(evidence: Semantic, noun: Noun) -> (f64, String) {
    match evidence {
        Semantic::Similarity(s, scale) => {
            (scale.score(s), format!("similar {} {s:.2}", noun.as_str()))
        }
        Semantic::AtMost(s, scale) => (
            scale.score(s),
            format!(
                "not among the most similar {}s (at most {s:.2})",
                noun.as_str()
            ),
        ),
        Semantic::Unknown => (0.5, "no embedding to compare".into()),
    }
}

fn named(skills: &[String]) -> String {
    let mut line = skills
        .iter()
        .take(NAMED_SKILLS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if skills.len() > NAMED_SKILLS {
        line.push_str(&format!(" +{} more", skills.len() - NAMED_SKILLS));
    }
    line
}

struct SkillOverlap {
    score: f64,
    shared: Vec<String>,
    missing: Vec<String>,
    reason: String,
}

fn skills(sets: SkillSets<'_>) -> SkillOverlap {
    match sets {
        SkillSets::Between { subject, other } => {
            if subject.is_empty() || other.is_empty() {
                return SkillOverlap {
                    score: 0.0,
                    shared: Vec::new(),
                    missing: Vec::new(),
                    reason: "no skills to compare".into(),
                };
            }
            let forward = coverage(subject, other);
            let backward = coverage(other, subject);
            let reason = if forward.matched.is_empty() {
                "no skills in common".to_owned()
            } else {
                format!("shares {}", named(&forward.matched))
            };
            SkillOverlap {
                score: (forward.score + backward.score) / 2.0,
                shared: forward.matched,
                missing: Vec::new(),
                reason,
            }
        }
        SkillSets::Wanted {
            required,
            preferred,
            have,
        } => {
            if required.is_empty() && preferred.is_empty() {
                return SkillOverlap {
                    score: 0.5,
                    shared: Vec::new(),
                    missing: Vec::new(),
                    reason: "the job lists no skills".into(),
                };
            }
            let req = coverage(required, have);
            let pref = coverage(preferred, have);
            let score = match (required.is_empty(), preferred.is_empty()) {
                (false, true) => req.score,
                (true, false) => pref.score,
                _ => 0.75 * req.score + 0.25 * pref.score,
            };
            let mut shared = req.matched;
            shared.extend(pref.matched);
            let mut reason = if shared.is_empty() {
                "has none of the job's skills".to_owned()
            } else {
                format!("has {}", named(&shared))
            };
            if !req.partial.is_empty() {
                let related: Vec<String> = req
                    .partial
                    .iter()
                    .map(|p| format!("{} via {}", p.skill, p.via))
                    .collect();
                reason.push_str(&format!("; related: {}", named(&related)));
            }
            if !req.missing.is_empty() {
                reason.push_str(&format!("; missing {}", named(&req.missing)));
            }
            SkillOverlap {
                score,
                shared,
                missing: req.missing,
                reason,
            }
        }
    }
}

/// The recency factor: `0.5^(age / half-life)`, and "updated 3 days ago".
pub fn recency(updated_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (f64, String) {
    let Some(updated_at) = updated_at else {
        return (0.5, "update time unknown".into());
    };
    // A clock a little ahead of ours reads as "today", never as a bonus.
    let days = ((now - updated_at).num_seconds().max(0) as f64) / 86_400.0;
    let score = 0.5f64.powf(days / RECENCY_HALF_LIFE_DAYS);
    let whole = days.floor() as i64;
    let when = match whole {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        2..=59 => format!("{whole} days ago"),
        60..=729 => format!("{} months ago", whole / 30),
        _ => format!("{} years ago", whole / 365),
    };
    (score, format!("updated {when}"))
}

/// Scores one recommended item.
pub fn recommend(evidence: &Evidence<'_>, blend: Blend) -> Recommendation {
    let overlap = skills(evidence.skills);
    let parts = [
        (
            Factor::Similarity,
            similarity(evidence.similarity, evidence.noun),
        ),
        (Factor::Skills, (overlap.score, overlap.reason)),
        (Factor::Recency, recency(evidence.updated_at, evidence.now)),
    ];
    let components: Vec<FactorScore> = parts
        .into_iter()
        .map(|(factor, (score, reason))| {
            let weight = blend.get(factor);
            FactorScore {
                factor,
                weight,
                score,
                contribution: weight * score,
                reason,
            }
        })
        .collect();
    let total = components.iter().map(|c| c.contribution).sum();
    let mut by_contribution: Vec<&FactorScore> = components.iter().collect();
    by_contribution.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    let reasons = by_contribution.iter().map(|c| c.reason.clone()).collect();
    Recommendation {
        total,
        components,
        shared_skills: overlap.shared,
        missing_skills: overlap.missing,
        reasons,
    }
}

/// Best first (ties by id, so the order is stable), at most `top_k`.
pub fn rank<T>(
    mut items: Vec<(String, Recommendation, T)>,
    top_k: usize,
) -> Vec<(String, Recommendation, T)> {
    items.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
    items.truncate(top_k);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::score::SimilarityScale;
    use chrono::Duration;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn recency_halves_every_half_life_and_says_when() {
        let now = now();
        let (today, line) = recency(Some(now - Duration::hours(3)), now);
        assert!((today - 0.5f64.powf(0.125 / RECENCY_HALF_LIFE_DAYS)).abs() < 1e-9);
        assert_eq!(line, "updated today");
        let (half, line) = recency(Some(now - Duration::days(90)), now);
        assert!((half - 0.5).abs() < 1e-9, "{half}");
        assert_eq!(line, "updated 3 months ago");
        let (quarter, _) = recency(Some(now - Duration::days(180)), now);
        assert!((quarter - 0.25).abs() < 1e-9);
        assert_eq!(
            recency(Some(now - Duration::days(3)), now).1,
            "updated 3 days ago"
        );
        assert_eq!(
            recency(Some(now - Duration::days(1)), now).1,
            "updated yesterday"
        );
        assert_eq!(
            recency(Some(now - Duration::days(800)), now).1,
            "updated 2 years ago"
        );
        // Unknown is neutral; a clock ahead of ours is "today", not more than 1.
        assert_eq!(recency(None, now), (0.5, "update time unknown".to_owned()));
        assert_eq!(recency(Some(now + Duration::hours(1)), now).0, 1.0);
    }

    #[test]
    fn contributions_sum_to_the_total_and_reasons_lead_with_the_largest() {
        let subject = strings(&["Rust", "Kubernetes", "PostgreSQL"]);
        let other = strings(&["Rust", "Kubernetes", "React"]);
        let evidence = Evidence {
            similarity: Semantic::Similarity(0.9, SimilarityScale::E5),
            noun: Noun::Profile,
            skills: SkillSets::Between {
                subject: &subject,
                other: &other,
            },
            updated_at: Some(now() - Duration::days(3)),
            now: now(),
        };
        let r = recommend(&evidence, Blend::SIMILAR);
        let sum: f64 = r.components.iter().map(|c| c.contribution).sum();
        assert!((r.total - sum).abs() < 1e-12);
        assert!(r.total > 0.0 && r.total < 1.0);
        let weights: f64 = r.components.iter().map(|c| c.weight).sum();
        assert!((weights - 1.0).abs() < 1e-12);
        assert_eq!(r.shared_skills, ["Rust", "Kubernetes"]);
        assert!(r.missing_skills.is_empty());
        assert_eq!(r.components[0].reason, "similar profile 0.90");
        assert_eq!(r.components[1].reason, "shares Rust, Kubernetes");
        assert_eq!(r.components[2].reason, "updated 3 days ago");
        // Similarity (0.6 × 0.67) outweighs skills (0.3 × ~0.67) and recency (0.1 × ~0.98).
        assert_eq!(r.reasons[0], "similar profile 0.90");
        assert_eq!(r.reasons.len(), 3);
        let mut contributions: Vec<f64> = r.components.iter().map(|c| c.contribution).collect();
        contributions.sort_by(|a, b| b.total_cmp(a));
        let ordered: Vec<f64> = r
            .reasons
            .iter()
            .map(|reason| {
                r.components
                    .iter()
                    .find(|c| &c.reason == reason)
                    .unwrap()
                    .contribution
            })
            .collect();
        assert_eq!(ordered, contributions);
    }

    #[test]
    fn skills_between_two_items_count_both_ways_and_aliases_resolve() {
        let one = strings(&["Rust"]);
        // Different categories: no related-skill credit between them and Rust.
        let many = strings(&["Rust", "Kubernetes", "Kafka", "React"]);
        let overlap = skills(SkillSets::Between {
            subject: &one,
            other: &many,
        });
        // All of the subject's, a quarter of the other's.
        assert!(
            (overlap.score - (1.0 + 0.25) / 2.0).abs() < 1e-12,
            "{}",
            overlap.score
        );
        let none = skills(SkillSets::Between {
            subject: &one,
            other: &[],
        });
        assert_eq!(
            (none.score, none.reason.as_str()),
            (0.0, "no skills to compare")
        );
        let apart = skills(SkillSets::Between {
            subject: &strings(&["Nursing"]),
            other: &strings(&["Rust"]),
        });
        assert_eq!(apart.reason, "no skills in common");
        assert_eq!(apart.score, 0.0);
        let long = strings(&["A1", "A2", "A3", "A4", "A5", "A6", "A7"]);
        assert_eq!(named(&long), "A1, A2, A3, A4, A5 +2 more");
    }

    fn for_job(
        required: &[String],
        preferred: &[String],
        have: &[String],
        similarity: f32,
        days: i64,
    ) -> Recommendation {
        let now = now();
        recommend(
            &Evidence {
                similarity: Semantic::Similarity(similarity, SimilarityScale::E5),
                noun: Noun::Profile,
                skills: SkillSets::Wanted {
                    required,
                    preferred,
                    have,
                },
                updated_at: Some(now - Duration::days(days)),
                now,
            },
            Blend::CANDIDATES,
        )
    }

    #[test]
    fn a_candidate_covering_the_job_and_recently_updated_ranks_first() {
        let required = strings(&["Rust", "Kubernetes"]);
        let preferred = strings(&["Kafka"]);
        let fit = strings(&["Rust", "Kubernetes", "Kafka"]);
        let partial = strings(&["Rust", "Java"]);
        let candidate = |have: &[String], similarity: f32, days: i64| {
            for_job(&required, &preferred, have, similarity, days)
        };
        let best = candidate(&fit, 0.90, 2);
        // The same text similarity, half the skills, a year old.
        let stale = candidate(&partial, 0.90, 365);
        let fresh_partial = candidate(&partial, 0.90, 2);
        assert!(best.total > fresh_partial.total && fresh_partial.total > stale.total);
        assert_eq!(best.shared_skills, ["Rust", "Kubernetes", "Kafka"]);
        assert!(best.missing_skills.is_empty());
        assert_eq!(stale.missing_skills, ["Kubernetes"]);
        let skills_reason = &stale.components[1].reason;
        assert_eq!(skills_reason, "has Rust; missing Kubernetes");
        assert_eq!(stale.components[2].reason, "updated 12 months ago");
        // A related skill earns half and is named.
        let go = strings(&["Go", "Kubernetes"]);
        let related = candidate(&go, 0.90, 2);
        assert_eq!(
            related.components[1].reason,
            "has Kubernetes; related: Rust via Go"
        );
        assert!((related.components[1].score - 0.75 * 0.75).abs() < 1e-12);
        // Required counts three times as much as preferred.
        assert!((best.components[1].score - 1.0).abs() < 1e-12);
        assert!((stale.components[1].score - 0.75 * 0.5).abs() < 1e-12);

        let ranked = rank(
            vec![
                ("stale".to_owned(), stale, ()),
                ("best".to_owned(), best, ()),
                ("fresh".to_owned(), fresh_partial, ()),
            ],
            2,
        );
        let ids: Vec<&str> = ranked.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids, ["best", "fresh"]);
    }

    #[test]
    fn similarity_is_read_on_the_models_scale_and_unknown_is_neutral() {
        let (low, _) = similarity(
            Semantic::Similarity(0.82, SimilarityScale::E5),
            Noun::Posting,
        );
        let (high, line) = similarity(
            Semantic::Similarity(0.94, SimilarityScale::E5),
            Noun::Posting,
        );
        assert!(low < 1e-6 && (high - 1.0).abs() < 1e-6);
        assert_eq!(line, "similar posting 0.94");
        let (unknown, line) = similarity(Semantic::Unknown, Noun::Profile);
        assert_eq!((unknown, line.as_str()), (0.5, "no embedding to compare"));
        let (_, line) = similarity(Semantic::AtMost(0.85, SimilarityScale::E5), Noun::Profile);
        assert_eq!(line, "not among the most similar profiles (at most 0.85)");
        let nothing = skills(SkillSets::Wanted {
            required: &[],
            preferred: &[],
            have: &strings(&["Rust"]),
        });
        assert_eq!(nothing.score, 0.5);
    }
}

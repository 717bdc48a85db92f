//! The match score: one number in [0, 1] that is exactly the sum of its components'
//! contributions (`weight × score`), each with a one-line explanation, plus the skill gap.

use crate::domain::weights::{Component, Weights};
use looma_taxonomy::{EducationLevel, SkillTaxonomy, canonical_city};

/// What the job asks for.
#[derive(Clone, Debug, Default)]
pub struct JobFacts<'a> {
    pub required_skills: &'a [String],
    pub preferred_skills: &'a [String],
    pub min_years: Option<f64>,
    pub education: Option<EducationLevel>,
    pub city: Option<&'a str>,
    pub remote: bool,
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

/// What the candidate brings.
#[derive(Clone, Debug, Default)]
pub struct CandidateFacts<'a> {
    pub skills: &'a [String],
    pub years: Option<f64>,
    pub degree: Option<EducationLevel>,
    pub city: Option<&'a str>,
    /// Expected salary, when the candidate stated one.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

/// How similar the job's and the candidate's texts are (cosine of their embeddings), read on
/// the scale of the model that made them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Semantic {
    Similarity(f32, SimilarityScale),
    /// Not among the nearest neighbours search returned: at most this similarity.
    AtMost(f32, SimilarityScale),
    Unknown,
}

/// Cosines of one embedding model between a job and an unrelated profile (`floor`, scored 0)
/// and a closely related one (`ceiling`, scored 1). Models spread cosines very differently:
/// MiniLM's unrelated pairs sit near 0.15, e5's near 0.82.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimilarityScale {
    pub floor: f64,
    pub ceiling: f64,
}

impl SimilarityScale {
    /// all-MiniLM-L6-v2.
    pub const MINILM: SimilarityScale = SimilarityScale {
        floor: 0.15,
        ceiling: 0.70,
    };
    /// multilingual-e5-small, from unlabelled job × résumé pairs of the search fixture
    /// (`tests/fixtures/search`, not the matching eval's set): floor = the median pair (0.82),
    /// ceiling = the median over jobs of their closest résumé (0.94).
    pub const E5: SimilarityScale = SimilarityScale {
        floor: 0.82,
        ceiling: 0.94,
    };

    /// The scale of the model with this id (`EmbeddingService::model_id`).
    pub fn for_model(model_id: &str) -> SimilarityScale {
        if model_id == looma_embed::E5_MODEL_ID {
            SimilarityScale::E5
        } else {
            SimilarityScale::MINILM
        }
    }

    /// A cosine read on this scale: 0 at the floor, 1 at the ceiling.
    pub fn score(self, similarity: f32) -> f64 {
        ((f64::from(similarity) - self.floor) / (self.ceiling - self.floor)).clamp(0.0, 1.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ComponentScore {
    pub component: Component,
    pub weight: f64,
    /// In [0, 1].
    pub score: f64,
    /// `weight × score`; the contributions sum to the total.
    pub contribution: f64,
    pub explanation: String,
}

/// A required skill covered through a related one (`TensorFlow` via `PyTorch`).
#[derive(Clone, Debug, PartialEq)]
pub struct PartialSkill {
    pub skill: String,
    pub via: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchScore {
    pub total: f64,
    pub components: Vec<ComponentScore>,
    /// Required and preferred skills the candidate has.
    pub matched_skills: Vec<String>,
    /// Required skills covered only through a related skill (half credit).
    pub partial_skills: Vec<PartialSkill>,
    /// Required skills the candidate lacks (the skill gap).
    pub missing_skills: Vec<String>,
}

/// Credit for related skills (aliases are resolved before, so they count fully).
const RELATED_CREDIT: f64 = 0.5;

/// How much of a wanted skill list another list covers: exact (alias-resolved) names count
/// fully, related skills (`relatedness`) up to half.
pub struct Coverage {
    /// In [0, 1]; 1 when nothing is wanted.
    pub score: f64,
    pub matched: Vec<String>,
    pub partial: Vec<PartialSkill>,
    pub missing: Vec<String>,
}

pub fn coverage(wanted: &[String], have: &[String]) -> Coverage {
    let taxonomy = SkillTaxonomy::builtin();
    let mut credit = 0.0;
    let mut matched = Vec::new();
    let mut partial = Vec::new();
    let mut missing = Vec::new();
    for skill in wanted {
        if have.iter().any(|h| h.eq_ignore_ascii_case(skill)) {
            credit += 1.0;
            matched.push(skill.clone());
            continue;
        }
        let best = have
            .iter()
            .map(|h| (taxonomy.relatedness(skill, h), h))
            .filter(|(r, _)| *r > 0.0)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((relatedness, via)) => {
                credit += f64::from(relatedness).min(RELATED_CREDIT);
                partial.push(PartialSkill {
                    skill: skill.clone(),
                    via: via.clone(),
                });
            }
            None => missing.push(skill.clone()),
        }
    }
    Coverage {
        score: if wanted.is_empty() {
            1.0
        } else {
            credit / wanted.len() as f64
        },
        matched,
        partial,
        missing,
    }
}

fn skills_line(kind: &str, wanted: &[String], c: &Coverage) -> String {
    if wanted.is_empty() {
        return format!("no {kind} skills listed");
    }
    let mut line = format!("{} of {} {kind} skills", c.matched.len(), wanted.len());
    if !c.partial.is_empty() {
        let via: Vec<String> = c
            .partial
            .iter()
            .map(|p| format!("{} via {}", p.skill, p.via))
            .collect();
        line.push_str(&format!("; related: {}", via.join(", ")));
    }
    if !c.missing.is_empty() {
        line.push_str(&format!("; missing: {}", c.missing.join(", ")));
    }
    line
}

fn semantic(similarity: Semantic) -> (f64, String) {
    match similarity {
        Semantic::Similarity(s, scale) => (scale.score(s), format!("text similarity {s:.2}")),
        Semantic::AtMost(s, scale) => (
            scale.score(s),
            format!("not among the nearest profiles; similarity at most {s:.2}"),
        ),
        Semantic::Unknown => (0.5, "no embedding to compare".into()),
    }
}

fn experience(min: Option<f64>, years: Option<f64>) -> (f64, String) {
    match (min, years) {
        (None, Some(y)) => (1.0, format!("{y:.1} years; no minimum")),
        (None, None) => (1.0, "no minimum".into()),
        (Some(min), None) => (0.3, format!("experience unknown; {min:.0} years required")),
        (Some(min), Some(y)) if y >= min || min <= 0.0 => {
            (1.0, format!("{y:.1} years ≥ {min:.0} required"))
        }
        (Some(min), Some(y)) => (
            (y / min).clamp(0.0, 1.0),
            format!("{y:.1} of {min:.0} required years"),
        ),
    }
}

fn education(required: Option<EducationLevel>, has: Option<EducationLevel>) -> (f64, String) {
    let rank = |l: EducationLevel| {
        EducationLevel::ALL
            .iter()
            .position(|x| *x == l)
            .unwrap_or(0) as i64
    };
    match (required, has) {
        (None, _) => (1.0, "no education requirement".into()),
        (Some(r), None) => (0.5, format!("education unknown; {} required", r.code())),
        (Some(r), Some(h)) => {
            let gap = rank(h) - rank(r);
            let score = match gap {
                g if g >= 0 => 1.0,
                -1 => 0.5,
                _ => 0.0,
            };
            let relation = if gap >= 0 { "meets" } else { "below" };
            (
                score,
                format!("{} {relation} {} required", h.code(), r.code()),
            )
        }
    }
}

fn location(job: &JobFacts<'_>, candidate: &CandidateFacts<'_>) -> (f64, String) {
    if job.remote {
        return (1.0, "remote role".into());
    }
    match (job.city, candidate.city) {
        (None, _) => (1.0, "no location given".into()),
        (Some(j), None) => (0.5, format!("candidate's city unknown; job in {j}")),
        (Some(j), Some(c)) => {
            if canonical_city(j) == canonical_city(c) {
                (1.0, format!("both in {}", canonical_city(j)))
            } else {
                (0.0, format!("candidate in {c}, job in {j}"))
            }
        }
    }
}

fn salary(job: &JobFacts<'_>, candidate: &CandidateFacts<'_>) -> (f64, String) {
    let range = |low: Option<f64>, high: Option<f64>| match (low.or(high), high.or(low)) {
        (Some(l), Some(h)) => Some((l.min(h), l.max(h))),
        _ => None,
    };
    match (
        range(job.salary_min, job.salary_max),
        range(candidate.salary_min, candidate.salary_max),
    ) {
        (Some((jl, jh)), Some((cl, ch))) => {
            if cl <= jh && ch >= jl {
                (
                    1.0,
                    format!("expectation {cl:.0}–{ch:.0} overlaps {jl:.0}–{jh:.0}"),
                )
            } else if cl > jh {
                let gap = (cl - jh) / jh.max(1.0);
                (
                    (1.0 - gap).clamp(0.0, 1.0),
                    format!("expects {cl:.0}, above the {jh:.0} maximum"),
                )
            } else {
                (1.0, format!("expects {ch:.0}, below the {jl:.0} minimum"))
            }
        }
        (None, _) => (0.5, "no salary range posted".into()),
        (_, None) => (0.5, "salary expectation unknown".into()),
    }
}

/// Scores one job–candidate pair.
pub fn score(
    job: &JobFacts<'_>,
    candidate: &CandidateFacts<'_>,
    similarity: Semantic,
    weights: &Weights,
) -> MatchScore {
    let required = coverage(job.required_skills, candidate.skills);
    let preferred = coverage(job.preferred_skills, candidate.skills);
    let parts: [(Component, (f64, String)); 7] = [
        (
            Component::RequiredSkills,
            (
                required.score,
                skills_line("required", job.required_skills, &required),
            ),
        ),
        (
            Component::PreferredSkills,
            (
                preferred.score,
                skills_line("preferred", job.preferred_skills, &preferred),
            ),
        ),
        (Component::Semantic, semantic(similarity)),
        (
            Component::Experience,
            experience(job.min_years, candidate.years),
        ),
        (
            Component::Education,
            education(job.education, candidate.degree),
        ),
        (Component::Location, location(job, candidate)),
        (Component::Salary, salary(job, candidate)),
    ];
    let components: Vec<ComponentScore> = parts
        .into_iter()
        .map(|(component, (score, explanation))| {
            let weight = weights.get(component);
            ComponentScore {
                component,
                weight,
                score,
                contribution: weight * score,
                explanation,
            }
        })
        .collect();
    let total = components.iter().map(|c| c.contribution).sum();
    let mut matched_skills = required.matched;
    matched_skills.extend(preferred.matched);
    MatchScore {
        total,
        components,
        matched_skills,
        partial_skills: required.partial,
        missing_skills: required.missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_read_on_the_scale_of_its_model() {
        let e5 = SimilarityScale::for_model(looma_embed::E5_MODEL_ID);
        assert_eq!(e5, SimilarityScale::E5);
        assert_eq!(
            SimilarityScale::for_model("all-MiniLM-L6-v2"),
            SimilarityScale::MINILM
        );
        // An unrelated pair under e5 (0.82) is worth nothing; under MiniLM the same cosine
        // would be a near-perfect match.
        let read = |similarity: f32, scale| semantic(Semantic::Similarity(similarity, scale)).0;
        assert!(read(0.82, e5) < 1e-6, "{}", read(0.82, e5));
        assert!(read(0.70, e5) == 0.0);
        assert!((read(0.94, e5) - 1.0).abs() < 1e-6, "{}", read(0.94, e5));
        assert!((read(0.88, e5) - 0.5).abs() < 1e-6, "{}", read(0.88, e5));
        assert_eq!(read(0.82, SimilarityScale::MINILM), 1.0);
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn contributions_sum_to_the_total_and_explain_the_gap() {
        let required = strings(&["Python", "TensorFlow", "Kubernetes"]);
        let preferred = strings(&["Spark"]);
        let job = JobFacts {
            required_skills: &required,
            preferred_skills: &preferred,
            min_years: Some(5.0),
            education: Some(EducationLevel::Master),
            city: Some("Shanghai"),
            ..Default::default()
        };
        let skills = strings(&["Python", "PyTorch", "Spark"]);
        let candidate = CandidateFacts {
            skills: &skills,
            years: Some(3.0),
            degree: Some(EducationLevel::Bachelor),
            city: Some("上海"),
            ..Default::default()
        };
        let result = score(
            &job,
            &candidate,
            Semantic::Similarity(0.5, SimilarityScale::MINILM),
            &Weights::defaults(),
        );
        let sum: f64 = result.components.iter().map(|c| c.contribution).sum();
        assert!((result.total - sum).abs() < 1e-12);
        assert!(result.total > 0.0 && result.total < 1.0);
        assert_eq!(result.matched_skills, ["Python", "Spark"]);
        assert_eq!(result.missing_skills, ["Kubernetes"]);
        assert_eq!(
            result.partial_skills,
            [PartialSkill {
                skill: "TensorFlow".into(),
                via: "PyTorch".into()
            }]
        );
        let by = |c: Component| result.components.iter().find(|x| x.component == c).unwrap();
        assert!((by(Component::RequiredSkills).score - 1.5 / 3.0).abs() < 1e-12);
        assert!((by(Component::Experience).score - 0.6).abs() < 1e-12);
        assert_eq!(by(Component::Education).score, 0.5);
        assert_eq!(
            by(Component::Location).score,
            1.0,
            "{}",
            by(Component::Location).explanation
        );
        assert!(
            by(Component::RequiredSkills)
                .explanation
                .contains("missing: Kubernetes")
        );
        assert!(
            by(Component::RequiredSkills)
                .explanation
                .contains("TensorFlow via PyTorch")
        );
    }

    #[test]
    fn a_perfect_fit_scores_one() {
        let required = strings(&["Go"]);
        let job = JobFacts {
            required_skills: &required,
            remote: true,
            ..Default::default()
        };
        let skills = strings(&["Go"]);
        let candidate = CandidateFacts {
            skills: &skills,
            years: Some(4.0),
            ..Default::default()
        };
        let mut result = score(
            &job,
            &candidate,
            Semantic::Similarity(0.9, SimilarityScale::MINILM),
            &Weights::defaults(),
        );
        // Salary unknown on both sides is neutral (0.5), so only that keeps it below 1.
        let salary = result
            .components
            .iter()
            .position(|c| c.component == Component::Salary)
            .unwrap();
        result.total -= result.components.remove(salary).contribution;
        assert!((result.total - (1.0 - Weights::defaults().get(Component::Salary))).abs() < 1e-12);
    }

    #[test]
    fn weights_change_the_order() {
        let required = strings(&["Java"]);
        let job = JobFacts {
            required_skills: &required,
            city: Some("北京"),
            ..Default::default()
        };
        let java = strings(&["Java"]);
        let near_but_wrong = CandidateFacts {
            skills: &java,
            city: Some("深圳"),
            ..Default::default()
        };
        let none: Vec<String> = Vec::new();
        let local_only = CandidateFacts {
            skills: &none,
            city: Some("Beijing"),
            ..Default::default()
        };
        let skills_heavy = Weights::from_pairs(
            1,
            &[(Component::RequiredSkills, 0.8), (Component::Location, 0.2)],
        );
        let place_heavy = Weights::from_pairs(
            2,
            &[(Component::RequiredSkills, 0.2), (Component::Location, 0.8)],
        );
        let s = |c: &CandidateFacts<'_>, w: &Weights| score(&job, c, Semantic::Unknown, w).total;
        assert!(s(&near_but_wrong, &skills_heavy) > s(&local_only, &skills_heavy));
        assert!(s(&near_but_wrong, &place_heavy) < s(&local_only, &place_heavy));
    }
}

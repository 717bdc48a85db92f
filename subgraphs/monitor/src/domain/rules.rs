//! The alert rules of the metrics contract and how one observation is judged against them.
//!
//! Evaluation is a pure function of what the monitor collected at one instant: each
//! component's readiness, its current scrape and the scrape one window earlier. Rates and
//! increases are differences between those two scrapes over the elapsed seconds (a counter
//! that went down was reset, so its increase is its current value). When the data a rule
//! needs is missing, the rule reports nothing for that subject rather than guessing.
//!
//! Series are always selected by their `component` label as well as by the component that
//! was scraped, so the rules give the same answer in `looma dev` (every port shows the whole
//! process) and when each component runs alone.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::exposition::Samples;

pub const HTTP_DURATION: &str = "looma_http_request_duration_seconds";
pub const GRAPHQL_REQUESTS: &str = "looma_graphql_requests_total";
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const RESUME_PARSES: &str = "looma_resume_parses_total";
pub const SEARCH_INDEX_DOCUMENTS: &str = "looma_search_index_documents";

/// Below this many GraphQL requests per second an error share says nothing.
pub const MIN_REQUEST_RATE: f64 = 0.1;
/// The quantile `HighLatency` watches.
pub const LATENCY_QUANTILE: f64 = 0.95;
pub const MAX_RULES: usize = 100;
pub const MAX_FOR_SECONDS: u64 = 24 * 60 * 60;
pub const MAX_NAME_LEN: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// What a rule looks at; see the contract's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    /// A component's `/ready` did not answer 200. Value: 1 when up, 0 when down.
    ComponentDown,
    /// p95 of `looma_http_request_duration_seconds{route="/graphql"}` over the window, in
    /// seconds, per component.
    HighLatency,
    /// Share of `looma_graphql_requests_total{outcome="error"}` over the window, per
    /// component, judged only at ≥ [`MIN_REQUEST_RATE`] requests per second.
    HighErrorRate,
    /// `process_resident_memory_bytes` now, per component.
    HighMemory,
    /// Resumes were parsed during the window but the search index of resume texts did not
    /// grow. Value: resumes parsed in the window. Subject: `resumes`.
    SearchIndexStalled,
    /// Text and vector document counts differ for a collection. Value: the difference.
    IndexMismatch,
}

impl RuleKind {
    /// The window the contract measures over, for choosing which earlier scrape to pass as
    /// `previous`; `None` for rules that look at one instant.
    pub fn lookback_seconds(self) -> Option<u64> {
        match self {
            RuleKind::HighLatency | RuleKind::HighErrorRate => Some(5 * 60),
            RuleKind::SearchIndexStalled => Some(15 * 60),
            RuleKind::ComponentDown | RuleKind::HighMemory | RuleKind::IndexMismatch => None,
        }
    }
}

/// One alert rule, as stored and as configured (JSON, camelCase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    pub kind: RuleKind,
    /// Breached when the value is above it (`ComponentDown` ignores it).
    pub threshold: f64,
    /// How long a breach must last before the alert fires.
    pub for_seconds: u64,
    pub severity: Severity,
    pub summary: String,
    /// Only this component (per-component kinds; the index kinds look at `search`/`resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

/// The contract's six rules with its defaults.
pub fn default_rules() -> Vec<AlertRule> {
    let rule = |name: &str, kind, threshold, for_seconds, severity, summary: &str| AlertRule {
        name: name.to_string(),
        kind,
        threshold,
        for_seconds,
        severity,
        summary: summary.to_string(),
        component: None,
    };
    vec![
        rule(
            "LoomaComponentDown",
            RuleKind::ComponentDown,
            0.0,
            20,
            Severity::Critical,
            "A Looma component is not ready",
        ),
        rule(
            "LoomaHighLatency",
            RuleKind::HighLatency,
            1.0,
            60,
            Severity::Warning,
            "p95 GraphQL latency is above the threshold",
        ),
        rule(
            "LoomaHighErrorRate",
            RuleKind::HighErrorRate,
            0.05,
            60,
            Severity::Warning,
            "Too many GraphQL requests end in errors",
        ),
        rule(
            "LoomaHighMemory",
            RuleKind::HighMemory,
            2.0 * 1024.0 * 1024.0 * 1024.0,
            300,
            Severity::Warning,
            "Resident memory is above the threshold",
        ),
        rule(
            "LoomaSearchIndexStalled",
            RuleKind::SearchIndexStalled,
            0.0,
            300,
            Severity::Warning,
            "Resumes are parsed but the search index does not grow",
        ),
        rule(
            "LoomaIndexMismatch",
            RuleKind::IndexMismatch,
            0.0,
            600,
            Severity::Warning,
            "Text and vector indexes hold different numbers of documents",
        ),
    ]
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("at most {max} alert rules are allowed, got {count}")]
    TooMany { count: usize, max: usize },
    #[error("an alert rule needs a name of 1 to {max} characters, got {name:?}")]
    BadName { name: String, max: usize },
    #[error("alert rule {0:?} is defined more than once")]
    DuplicateName(String),
    #[error("alert rule {rule:?}: the threshold must be a finite number >= 0, got {threshold}")]
    BadThreshold { rule: String, threshold: f64 },
    #[error("alert rule {rule:?}: forSeconds is at most {max} (one day), got {for_seconds}")]
    ForTooLong {
        rule: String,
        for_seconds: u64,
        max: u64,
    },
}

/// Checks a whole rule set before it is stored or used.
pub fn validate(rules: &[AlertRule]) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(RuleError::TooMany {
            count: rules.len(),
            max: MAX_RULES,
        });
    }
    let mut names = HashSet::new();
    for rule in rules {
        let length = rule.name.chars().count();
        if rule.name.trim().is_empty() || length > MAX_NAME_LEN {
            return Err(RuleError::BadName {
                name: rule.name.clone(),
                max: MAX_NAME_LEN,
            });
        }
        if !names.insert(rule.name.as_str()) {
            return Err(RuleError::DuplicateName(rule.name.clone()));
        }
        if !rule.threshold.is_finite() || rule.threshold < 0.0 {
            return Err(RuleError::BadThreshold {
                rule: rule.name.clone(),
                threshold: rule.threshold,
            });
        }
        if rule.for_seconds > MAX_FOR_SECONDS {
            return Err(RuleError::ForTooLong {
                rule: rule.name.clone(),
                for_seconds: rule.for_seconds,
                max: MAX_FOR_SECONDS,
            });
        }
    }
    Ok(())
}

/// What the monitor collected at one instant.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub now_ms: u64,
    pub components: Vec<ComponentObservation>,
}

#[derive(Clone, Debug, Default)]
pub struct ComponentObservation {
    pub component: String,
    /// Its `/ready` answered 200.
    pub reachable: bool,
    /// Its `/metrics` now, if the scrape succeeded.
    pub current: Option<Samples>,
    /// The scrape one window earlier, with its time in unix milliseconds.
    pub previous: Option<(u64, Samples)>,
}

/// One rule's verdict on one subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    /// The component, or the collection for the index rules.
    pub subject: String,
    pub value: f64,
    pub breached: bool,
}

/// Every rule's findings, in rule order.
pub fn evaluate_all(rules: &[AlertRule], observation: &Observation) -> Vec<Finding> {
    rules
        .iter()
        .flat_map(|rule| evaluate(rule, observation))
        .collect()
}

/// One rule's findings for this observation.
pub fn evaluate(rule: &AlertRule, observation: &Observation) -> Vec<Finding> {
    let finding = |subject: &str, value: f64, breached: bool| Finding {
        rule: rule.name.clone(),
        subject: subject.to_string(),
        value,
        breached,
    };
    let selected = observation.components.iter().filter(|component| {
        rule.component
            .as_deref()
            .is_none_or(|only| only == component.component)
    });
    match rule.kind {
        RuleKind::ComponentDown => selected
            .map(|c| {
                let up = if c.reachable { 1.0 } else { 0.0 };
                finding(&c.component, up, !c.reachable)
            })
            .collect(),
        RuleKind::HighMemory => selected
            .filter_map(|c| {
                let memory = c.current.as_ref()?.sum(RESIDENT_MEMORY, &[])?;
                Some(finding(&c.component, memory, memory > rule.threshold))
            })
            .collect(),
        RuleKind::HighLatency => selected
            .filter_map(|c| {
                let (now, (_, then)) = (c.current.as_ref()?, c.previous.as_ref()?);
                let filter = [("component", c.component.as_str()), ("route", "/graphql")];
                let current = now.histogram(HTTP_DURATION, &filter)?;
                let window = match then.histogram(HTTP_DURATION, &filter) {
                    Some(earlier) => current.delta(&earlier),
                    None => current,
                };
                Some(match window.quantile(LATENCY_QUANTILE) {
                    Some(p95) => finding(&c.component, p95, p95 > rule.threshold),
                    None => finding(&c.component, 0.0, false), // no traffic in the window
                })
            })
            .collect(),
        RuleKind::HighErrorRate => selected
            .filter_map(|c| {
                let (now, (then_ms, then)) = (c.current.as_ref()?, c.previous.as_ref()?);
                let seconds = elapsed_seconds(*then_ms, observation.now_ms)?;
                let all = [("component", c.component.as_str())];
                let errors = [("component", c.component.as_str()), ("outcome", "error")];
                let total_now = now.sum(GRAPHQL_REQUESTS, &all)?;
                let failed_now = now.sum(GRAPHQL_REQUESTS, &errors).unwrap_or(0.0);
                let total_then = then.sum(GRAPHQL_REQUESTS, &all).unwrap_or(0.0);
                let failed_then = then.sum(GRAPHQL_REQUESTS, &errors).unwrap_or(0.0);
                // Both counters restart together; judging them apart would mix two lifetimes.
                let (total, failed) = if total_now < total_then || failed_now < failed_then {
                    (total_now, failed_now)
                } else {
                    (total_now - total_then, failed_now - failed_then)
                };
                let share = if total > 0.0 {
                    (failed / total).min(1.0)
                } else {
                    0.0
                };
                let busy = total / seconds >= MIN_REQUEST_RATE;
                Some(finding(&c.component, share, busy && share > rule.threshold))
            })
            .collect(),
        RuleKind::SearchIndexStalled => search_index_stalled(rule, observation)
            .map_or_else(Vec::new, |(parsed, breached)| {
                vec![finding("resumes", parsed, breached)]
            }),
        RuleKind::IndexMismatch => {
            let Some(search) = component(observation, "search").and_then(|c| c.current.as_ref())
            else {
                return Vec::new();
            };
            let mut counts: BTreeMap<&str, (Option<f64>, Option<f64>)> = BTreeMap::new();
            for sample in search.matching(SEARCH_INDEX_DOCUMENTS, &[("component", "search")]) {
                let Some(collection) = sample.labels.get("collection") else {
                    continue;
                };
                let entry = counts.entry(collection.as_str()).or_default();
                match sample.labels.get("kind").map(String::as_str) {
                    Some("text") => entry.0 = Some(entry.0.unwrap_or(0.0) + sample.value),
                    Some("vector") => entry.1 = Some(entry.1.unwrap_or(0.0) + sample.value),
                    _ => {}
                }
            }
            counts
                .into_iter()
                .filter_map(|(collection, (text, vector))| {
                    // A collection without a vector index (no embedder) is not a mismatch.
                    let difference = (text? - vector?).abs();
                    Some(finding(collection, difference, difference > rule.threshold))
                })
                .collect()
        }
    }
}

/// `(resumes parsed in the window, breached)`, or `None` when either side is unknown.
fn search_index_stalled(rule: &AlertRule, observation: &Observation) -> Option<(f64, bool)> {
    let resume = component(observation, "resume")?;
    let search = component(observation, "search")?;
    let parsed_filter = [("component", "resume"), ("outcome", "parsed")];
    let parsed_now = resume
        .current
        .as_ref()?
        .sum(RESUME_PARSES, &parsed_filter)?;
    let parsed_then = resume
        .previous
        .as_ref()?
        .1
        .sum(RESUME_PARSES, &parsed_filter);
    let parsed = increase(parsed_now, parsed_then);
    let docs_filter = [
        ("component", "search"),
        ("collection", "resumes"),
        ("kind", "text"),
    ];
    let docs_now = search
        .current
        .as_ref()?
        .sum(SEARCH_INDEX_DOCUMENTS, &docs_filter)?;
    let docs_then = search
        .previous
        .as_ref()?
        .1
        .sum(SEARCH_INDEX_DOCUMENTS, &docs_filter)?;
    Some((parsed, parsed > rule.threshold && docs_now <= docs_then))
}

fn component<'a>(observation: &'a Observation, name: &str) -> Option<&'a ComponentObservation> {
    observation.components.iter().find(|c| c.component == name)
}

/// A counter's increase between two scrapes; a counter that fell was reset and counted
/// everything it shows now since then, and one that did not exist before started at 0.
fn increase(now: f64, then: Option<f64>) -> f64 {
    match then {
        Some(then) if now >= then => now - then,
        _ => now,
    }
}

fn elapsed_seconds(then_ms: u64, now_ms: u64) -> Option<f64> {
    let elapsed = now_ms.checked_sub(then_ms)?;
    (elapsed > 0).then(|| elapsed as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::super::exposition::{DEFAULT_MAX_BYTES, parse};
    use super::*;

    fn samples(text: &str) -> Samples {
        let parsed = parse(text, DEFAULT_MAX_BYTES).expect("small");
        assert_eq!(parsed.skipped_lines, 0, "fixture must be well-formed");
        parsed.samples
    }

    fn rule(kind: RuleKind) -> AlertRule {
        default_rules()
            .into_iter()
            .find(|rule| rule.kind == kind)
            .expect("every kind has a default")
    }

    const NOW: u64 = 1_700_000_300_000;
    const THEN: u64 = 1_700_000_000_000; // 300 s earlier

    fn scraped(component: &str, then: &str, now: &str) -> ComponentObservation {
        ComponentObservation {
            component: component.to_string(),
            reachable: true,
            current: Some(samples(now)),
            previous: Some((THEN, samples(then))),
        }
    }

    fn observe(components: Vec<ComponentObservation>) -> Observation {
        Observation {
            now_ms: NOW,
            components,
        }
    }

    fn latency(component: &str, fast: u32, slow: u32) -> String {
        let name = HTTP_DURATION;
        let total = fast + slow;
        format!(
            "{name}_bucket{{component=\"{component}\",route=\"/graphql\",le=\"0.5\"}} {fast}\n\
             {name}_bucket{{component=\"{component}\",route=\"/graphql\",le=\"1\"}} {fast}\n\
             {name}_bucket{{component=\"{component}\",route=\"/graphql\",le=\"2.5\"}} {total}\n\
             {name}_bucket{{component=\"{component}\",route=\"/graphql\",le=\"+Inf\"}} {total}\n\
             {name}_bucket{{component=\"{component}\",route=\"/health\",le=\"+Inf\"}} 1000\n\
             {name}_count{{component=\"{component}\",route=\"/graphql\"}} {total}\n"
        )
    }

    #[test]
    fn default_rules_are_valid_and_match_the_contract() {
        let rules = default_rules();
        assert_eq!(validate(&rules), Ok(()));
        assert_eq!(rules.len(), 6);
        let down = rule(RuleKind::ComponentDown);
        assert_eq!((down.for_seconds, down.severity), (20, Severity::Critical));
        assert_eq!(rule(RuleKind::HighMemory).threshold, 2_147_483_648.0);
        assert_eq!(rule(RuleKind::IndexMismatch).for_seconds, 600);
        assert!(
            rules
                .iter()
                .filter(|r| r.kind != RuleKind::ComponentDown)
                .all(|r| r.severity == Severity::Warning)
        );
    }

    #[test]
    fn rules_round_trip_as_camel_case_json() {
        let json = r#"{"name":"SlowSearch","kind":"highLatency","threshold":0.5,
            "forSeconds":30,"severity":"warning","summary":"slow","component":"search"}"#;
        let parsed: AlertRule = serde_json::from_str(json).expect("valid rule");
        assert_eq!(parsed.kind, RuleKind::HighLatency);
        assert_eq!(parsed.component.as_deref(), Some("search"));
        let back = serde_json::to_value(&parsed).expect("serializable");
        assert_eq!(back["forSeconds"], 30);
        assert_eq!(back["kind"], "highLatency");
        let unknown = r#"{"name":"x","kind":"highLatency","threshold":1,"forSeconds":1,
            "severity":"warning","summary":"","for_seconds":3}"#;
        assert!(serde_json::from_str::<AlertRule>(unknown).is_err());
    }

    #[test]
    fn validate_names_the_offending_rule() {
        let mut rules = default_rules();
        rules[1].threshold = f64::NAN;
        let error = validate(&rules).expect_err("NaN threshold");
        assert!(error.to_string().contains("LoomaHighLatency"), "{error}");

        let mut rules = default_rules();
        rules[2].threshold = -1.0;
        assert!(
            matches!(validate(&rules), Err(RuleError::BadThreshold { rule, .. }) if rule == "LoomaHighErrorRate")
        );

        let mut rules = default_rules();
        rules[3].for_seconds = MAX_FOR_SECONDS + 1;
        let error = validate(&rules).expect_err("too long");
        assert!(error.to_string().contains("LoomaHighMemory"), "{error}");

        let mut rules = default_rules();
        rules.push(rule(RuleKind::IndexMismatch));
        assert_eq!(
            validate(&rules),
            Err(RuleError::DuplicateName("LoomaIndexMismatch".into()))
        );

        let mut rules = default_rules();
        rules[0].name = " ".into();
        assert!(matches!(validate(&rules), Err(RuleError::BadName { .. })));

        let many: Vec<_> = (0..=MAX_RULES)
            .map(|i| AlertRule {
                name: format!("r{i}"),
                ..rule(RuleKind::HighMemory)
            })
            .collect();
        assert!(matches!(
            validate(&many),
            Err(RuleError::TooMany { count: 101, .. })
        ));
        assert_eq!(validate(&many[..MAX_RULES]), Ok(()));
    }

    #[test]
    fn component_down_breaches_only_unreachable_components() {
        let observation = observe(vec![
            ComponentObservation {
                component: "router".into(),
                reachable: true,
                ..Default::default()
            },
            ComponentObservation {
                component: "chat".into(),
                reachable: false,
                ..Default::default()
            },
        ]);
        let findings = evaluate(&rule(RuleKind::ComponentDown), &observation);
        assert_eq!(findings.len(), 2);
        assert_eq!(
            (findings[0].subject.as_str(), findings[0].breached),
            ("router", false)
        );
        assert_eq!(
            (findings[1].subject.as_str(), findings[1].breached),
            ("chat", true)
        );
        assert_eq!(findings[1].value, 0.0);

        let only_router = AlertRule {
            component: Some("router".into()),
            ..rule(RuleKind::ComponentDown)
        };
        assert_eq!(evaluate(&only_router, &observation).len(), 1);
    }

    #[test]
    fn high_latency_uses_the_window_between_scrapes() {
        // Before: 100 fast. Now: 100 fast + 20 slow → the window holds 20 slow ones only.
        let slow = scraped(
            "router",
            &latency("router", 100, 0),
            &latency("router", 100, 20),
        );
        let findings = evaluate(&rule(RuleKind::HighLatency), &observe(vec![slow]));
        assert_eq!(findings.len(), 1);
        // rank 19 of 20, all in (1, 2.5]: 1 + 1.5 * 19/20.
        assert!(
            (findings[0].value - 2.425).abs() < 1e-9,
            "{}",
            findings[0].value
        );
        assert!(findings[0].breached);

        // Cumulatively p95 would be slow too, but the window holds only fast requests.
        let fast = scraped(
            "router",
            &latency("router", 10, 20),
            &latency("router", 210, 20),
        );
        let findings = evaluate(&rule(RuleKind::HighLatency), &observe(vec![fast]));
        assert!(!findings[0].breached);
        assert!(findings[0].value <= 0.5);
    }

    #[test]
    fn high_latency_without_traffic_is_not_breached() {
        let idle = scraped("router", &latency("router", 5, 5), &latency("router", 5, 5));
        let findings = evaluate(&rule(RuleKind::HighLatency), &observe(vec![idle]));
        assert_eq!(findings.len(), 1);
        assert!(!findings[0].breached);
        assert_eq!(findings[0].value, 0.0);
    }

    #[test]
    fn high_latency_reads_only_the_scraped_components_series() {
        // In `looma dev` the router's port shows search's slow series too.
        let both_then = format!("{}{}", latency("router", 0, 0), latency("search", 0, 0));
        let both_now = format!("{}{}", latency("router", 100, 0), latency("search", 0, 100));
        let router = scraped("router", &both_then, &both_now);
        let findings = evaluate(&rule(RuleKind::HighLatency), &observe(vec![router]));
        assert_eq!(findings.len(), 1);
        assert!(!findings[0].breached);
    }

    fn requests(component: &str, ok: u32, error: u32) -> String {
        format!(
            "looma_graphql_requests_total{{component=\"{component}\",operation=\"Me\",outcome=\"ok\"}} {ok}\n\
             looma_graphql_requests_total{{component=\"{component}\",operation=\"Me\",outcome=\"error\"}} {error}\n"
        )
    }

    #[test]
    fn high_error_rate_breaches_above_the_share_when_busy() {
        // 300 s window: 90 ok + 10 error = 100 requests (0.33/s), 10 % errors.
        let busy = scraped("chat", &requests("chat", 0, 0), &requests("chat", 90, 10));
        let findings = evaluate(&rule(RuleKind::HighErrorRate), &observe(vec![busy]));
        assert_eq!(findings.len(), 1);
        assert!((findings[0].value - 0.1).abs() < 1e-12);
        assert!(findings[0].breached);

        let healthy = scraped("chat", &requests("chat", 0, 0), &requests("chat", 99, 1));
        let findings = evaluate(&rule(RuleKind::HighErrorRate), &observe(vec![healthy]));
        assert!(!findings[0].breached);
    }

    #[test]
    fn high_error_rate_ignores_quiet_components() {
        // 20 requests in 300 s is 0.067/s, under the minimum rate, though half failed.
        let quiet = scraped("chat", &requests("chat", 0, 0), &requests("chat", 10, 10));
        let findings = evaluate(&rule(RuleKind::HighErrorRate), &observe(vec![quiet]));
        assert!(!findings[0].breached);
        assert_eq!(findings[0].value, 0.5);
    }

    #[test]
    fn high_error_rate_after_a_restart_counts_from_zero() {
        let restarted = scraped(
            "chat",
            &requests("chat", 5000, 10),
            &requests("chat", 50, 50),
        );
        let findings = evaluate(&rule(RuleKind::HighErrorRate), &observe(vec![restarted]));
        assert!((findings[0].value - 0.5).abs() < 1e-12);
        assert!(findings[0].breached);
    }

    #[test]
    fn high_memory_compares_the_current_gauge() {
        let big = scraped(
            "chat",
            "process_resident_memory_bytes 1\n",
            "process_resident_memory_bytes 3e9\n",
        );
        let small = scraped(
            "router",
            "process_resident_memory_bytes 1\n",
            "process_resident_memory_bytes 2e8\n",
        );
        let findings = evaluate(&rule(RuleKind::HighMemory), &observe(vec![big, small]));
        assert_eq!(findings.len(), 2);
        assert!(findings[0].breached && findings[0].value == 3e9);
        assert!(!findings[1].breached);
    }

    fn parses(n: u32) -> String {
        format!("looma_resume_parses_total{{component=\"resume\",outcome=\"parsed\"}} {n}\n")
    }

    fn documents(text: u32, vector: u32) -> String {
        format!(
            "looma_search_index_documents{{component=\"search\",collection=\"resumes\",kind=\"text\"}} {text}\n\
             looma_search_index_documents{{component=\"search\",collection=\"resumes\",kind=\"vector\"}} {vector}\n\
             looma_search_index_documents{{component=\"search\",collection=\"jobs\",kind=\"text\"}} 7\n\
             looma_search_index_documents{{component=\"search\",collection=\"jobs\",kind=\"vector\"}} 7\n"
        )
    }

    #[test]
    fn search_index_stalled_when_parses_grow_but_documents_do_not() {
        let stalled = observe(vec![
            scraped("resume", &parses(10), &parses(14)),
            scraped("search", &documents(50, 50), &documents(50, 50)),
        ]);
        let findings = evaluate(&rule(RuleKind::SearchIndexStalled), &stalled);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].subject, "resumes");
        assert_eq!(findings[0].value, 4.0);
        assert!(findings[0].breached);

        let growing = observe(vec![
            scraped("resume", &parses(10), &parses(14)),
            scraped("search", &documents(50, 50), &documents(54, 54)),
        ]);
        assert!(!evaluate(&rule(RuleKind::SearchIndexStalled), &growing)[0].breached);

        let idle = observe(vec![
            scraped("resume", &parses(14), &parses(14)),
            scraped("search", &documents(50, 50), &documents(50, 50)),
        ]);
        assert!(!evaluate(&rule(RuleKind::SearchIndexStalled), &idle)[0].breached);

        let no_search = observe(vec![scraped("resume", &parses(10), &parses(14))]);
        assert!(evaluate(&rule(RuleKind::SearchIndexStalled), &no_search).is_empty());
    }

    #[test]
    fn index_mismatch_per_collection() {
        let search = scraped("search", &documents(0, 0), &documents(50, 47));
        let findings = evaluate(&rule(RuleKind::IndexMismatch), &observe(vec![search]));
        assert_eq!(findings.len(), 2);
        let jobs = findings.iter().find(|f| f.subject == "jobs").expect("jobs");
        assert!(!jobs.breached);
        assert_eq!(jobs.value, 0.0);
        let resumes = findings
            .iter()
            .find(|f| f.subject == "resumes")
            .expect("resumes");
        assert!(resumes.breached);
        assert_eq!(resumes.value, 3.0);

        let tolerant = AlertRule {
            threshold: 5.0,
            ..rule(RuleKind::IndexMismatch)
        };
        let search = scraped("search", &documents(0, 0), &documents(50, 47));
        assert!(
            evaluate(&tolerant, &observe(vec![search]))
                .iter()
                .all(|f| !f.breached)
        );
    }

    #[test]
    fn missing_scrapes_report_nothing() {
        let unreachable = ComponentObservation {
            component: "chat".into(),
            reachable: false,
            current: None,
            previous: None,
        };
        let observation = observe(vec![unreachable]);
        for kind in [
            RuleKind::HighLatency,
            RuleKind::HighErrorRate,
            RuleKind::HighMemory,
            RuleKind::SearchIndexStalled,
            RuleKind::IndexMismatch,
        ] {
            assert!(evaluate(&rule(kind), &observation).is_empty(), "{kind:?}");
        }
        assert_eq!(evaluate_all(&default_rules(), &observation).len(), 1);
    }
}

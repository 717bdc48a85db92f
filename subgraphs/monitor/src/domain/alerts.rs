//! The life of an alert, keyed by (rule, subject): a breach first becomes *pending*; if it
//! holds for the rule's `for_seconds` it *fires* (one `Fired` transition, however often the
//! breach is observed again); when the finding clears, or is no longer reported for that
//! subject, a firing alert is *resolved* (one `Resolved` transition). A pending alert that
//! clears is forgotten without a transition: nobody was told about it.
//!
//! The book holds no clock: every call gets `now_ms`. It does no I/O either: the service
//! stores firing alerts and calls `restore` after a restart, so an alert that was already
//! announced is not announced again.

use std::collections::BTreeMap;

use super::rules::{AlertRule, Finding};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    Pending,
    Firing,
}

/// An alert the book is tracking.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub rule: String,
    pub subject: String,
    pub state: AlertState,
    /// When the breach was first observed (unix ms); the alert's start.
    pub since_ms: u64,
    /// The latest observed value.
    pub value: f64,
}

/// What changed in one `observe`, to be stored and notified.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    Fired {
        rule: String,
        subject: String,
        value: f64,
        since_ms: u64,
        at_ms: u64,
    },
    Resolved {
        rule: String,
        subject: String,
        /// The last value seen (the clearing one if it was reported).
        value: f64,
        since_ms: u64,
        at_ms: u64,
    },
}

impl Transition {
    pub fn rule(&self) -> &str {
        match self {
            Transition::Fired { rule, .. } | Transition::Resolved { rule, .. } => rule,
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Transition::Fired { subject, .. } | Transition::Resolved { subject, .. } => subject,
        }
    }
}

#[derive(Clone, Debug)]
struct Tracked {
    state: AlertState,
    since_ms: u64,
    value: f64,
}

/// The alerts of one monitor, and how long each rule's breaches must hold.
#[derive(Clone, Debug, Default)]
pub struct AlertBook {
    hold_ms: BTreeMap<String, u64>,
    alerts: BTreeMap<(String, String), Tracked>,
}

impl AlertBook {
    pub fn new(rules: &[AlertRule]) -> Self {
        let mut book = AlertBook::default();
        book.set_rules(rules);
        book
    }

    /// Replaces the rule set (after a configuration change). Alerts of rules that are gone
    /// are resolved by the next `observe`, since nothing reports them any more.
    pub fn set_rules(&mut self, rules: &[AlertRule]) {
        self.hold_ms = rules
            .iter()
            .map(|rule| (rule.name.clone(), rule.for_seconds.saturating_mul(1000)))
            .collect();
    }

    /// Takes one round of findings (all rules, all subjects) and returns what changed,
    /// ordered by (rule, subject). Findings of rules the book does not know are ignored.
    /// Several findings for the same (rule, subject) count as breached if any is.
    pub fn observe(&mut self, findings: &[Finding], now_ms: u64) -> Vec<Transition> {
        let mut latest: BTreeMap<(String, String), (bool, f64)> = BTreeMap::new();
        for finding in findings {
            if !self.hold_ms.contains_key(&finding.rule) {
                continue;
            }
            let key = (finding.rule.clone(), finding.subject.clone());
            let entry = latest.entry(key).or_insert((false, finding.value));
            if finding.breached || !entry.0 {
                *entry = (entry.0 || finding.breached, finding.value);
            }
        }

        let mut transitions = Vec::new();
        // Firing alerts nobody reported any more are resolved; pending ones just go.
        let unreported: Vec<_> = self
            .alerts
            .keys()
            .filter(|key| !latest.contains_key(*key))
            .cloned()
            .collect();
        for key in unreported {
            if let Some(tracked) = self.alerts.remove(&key)
                && tracked.state == AlertState::Firing
            {
                let value = tracked.value;
                transitions.push(resolved(key, &tracked, value, now_ms));
            }
        }

        for (key, (breached, value)) in latest {
            if !breached {
                if let Some(tracked) = self.alerts.remove(&key)
                    && tracked.state == AlertState::Firing
                {
                    transitions.push(resolved(key, &tracked, value, now_ms));
                }
                continue;
            }
            let hold_ms = self.hold_ms.get(&key.0).copied().unwrap_or(0);
            let tracked = self.alerts.entry(key.clone()).or_insert(Tracked {
                state: AlertState::Pending,
                since_ms: now_ms,
                value,
            });
            tracked.value = value;
            if tracked.state == AlertState::Pending
                && now_ms.saturating_sub(tracked.since_ms) >= hold_ms
            {
                tracked.state = AlertState::Firing;
                transitions.push(Transition::Fired {
                    rule: key.0,
                    subject: key.1,
                    value,
                    since_ms: tracked.since_ms,
                    at_ms: now_ms,
                });
            }
        }
        transitions.sort_by(|a, b| (a.rule(), a.subject()).cmp(&(b.rule(), b.subject())));
        transitions
    }

    /// Puts back an alert that was firing before a restart, without a transition.
    pub fn restore(&mut self, rule: &str, subject: &str, since_ms: u64, value: f64) {
        self.alerts.insert(
            (rule.to_string(), subject.to_string()),
            Tracked {
                state: AlertState::Firing,
                since_ms,
                value,
            },
        );
    }

    /// The firing alerts, ordered by (rule, subject).
    pub fn firing(&self) -> Vec<Alert> {
        self.in_state(AlertState::Firing)
    }

    /// The pending alerts, ordered by (rule, subject).
    pub fn pending(&self) -> Vec<Alert> {
        self.in_state(AlertState::Pending)
    }

    fn in_state(&self, state: AlertState) -> Vec<Alert> {
        self.alerts
            .iter()
            .filter(|(_, tracked)| tracked.state == state)
            .map(|((rule, subject), tracked)| Alert {
                rule: rule.clone(),
                subject: subject.clone(),
                state,
                since_ms: tracked.since_ms,
                value: tracked.value,
            })
            .collect()
    }
}

fn resolved(key: (String, String), tracked: &Tracked, value: f64, now_ms: u64) -> Transition {
    Transition::Resolved {
        rule: key.0,
        subject: key.1,
        value,
        since_ms: tracked.since_ms,
        at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::default_rules;
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn finding(rule: &str, subject: &str, value: f64, breached: bool) -> Finding {
        Finding {
            rule: rule.into(),
            subject: subject.into(),
            value,
            breached,
        }
    }

    fn book() -> AlertBook {
        AlertBook::new(&default_rules())
    }

    // LoomaHighLatency holds for 60 s.
    fn slow(subject: &str, value: f64) -> Finding {
        finding("LoomaHighLatency", subject, value, true)
    }

    fn fast(subject: &str) -> Finding {
        finding("LoomaHighLatency", subject, 0.2, false)
    }

    #[test]
    fn a_breach_fires_only_after_for_seconds() {
        let mut book = book();
        assert!(book.observe(&[slow("router", 2.0)], T0).is_empty());
        assert_eq!(book.pending().len(), 1);
        assert!(book.observe(&[slow("router", 2.5)], T0 + 59_999).is_empty());
        assert!(book.firing().is_empty());

        let fired = book.observe(&[slow("router", 3.0)], T0 + 60_000);
        assert_eq!(
            fired,
            vec![Transition::Fired {
                rule: "LoomaHighLatency".into(),
                subject: "router".into(),
                value: 3.0,
                since_ms: T0,
                at_ms: T0 + 60_000,
            }]
        );
        let firing = book.firing();
        assert_eq!(firing.len(), 1);
        assert_eq!((firing[0].since_ms, firing[0].value), (T0, 3.0));
        assert!(book.pending().is_empty());
    }

    #[test]
    fn zero_for_seconds_fires_at_once() {
        let rules = vec![AlertRule {
            for_seconds: 0,
            ..default_rules().swap_remove(1)
        }];
        let mut book = AlertBook::new(&rules);
        let fired = book.observe(&[slow("router", 2.0)], T0);
        assert!(matches!(
            fired.as_slice(),
            [Transition::Fired { since_ms: T0, .. }]
        ));
    }

    #[test]
    fn a_firing_alert_is_not_fired_again() {
        let mut book = book();
        book.observe(&[slow("router", 2.0)], T0);
        assert_eq!(book.observe(&[slow("router", 2.0)], T0 + 60_000).len(), 1);
        for step in 1..5 {
            let again = book.observe(&[slow("router", 4.0)], T0 + 60_000 + step * 15_000);
            assert!(again.is_empty(), "{again:?}");
        }
        assert_eq!(book.firing()[0].value, 4.0);
    }

    #[test]
    fn a_cleared_firing_alert_is_resolved_once() {
        let mut book = book();
        book.observe(&[slow("router", 2.0)], T0);
        book.observe(&[slow("router", 2.0)], T0 + 60_000);
        let resolved = book.observe(&[fast("router")], T0 + 90_000);
        assert_eq!(
            resolved,
            vec![Transition::Resolved {
                rule: "LoomaHighLatency".into(),
                subject: "router".into(),
                value: 0.2,
                since_ms: T0,
                at_ms: T0 + 90_000,
            }]
        );
        assert!(book.firing().is_empty());
        assert!(book.observe(&[fast("router")], T0 + 100_000).is_empty());
    }

    #[test]
    fn an_unreported_firing_alert_is_resolved() {
        let mut book = book();
        book.observe(&[slow("router", 2.0), slow("chat", 5.0)], T0);
        book.observe(&[slow("router", 2.0), slow("chat", 5.0)], T0 + 60_000);
        let resolved = book.observe(&[slow("router", 2.0)], T0 + 75_000);
        assert_eq!(resolved.len(), 1);
        assert!(matches!(
            &resolved[0],
            Transition::Resolved { subject, value, .. } if subject == "chat" && *value == 5.0
        ));
        assert_eq!(book.firing().len(), 1);
    }

    #[test]
    fn a_pending_alert_that_clears_disappears_silently() {
        let mut book = book();
        book.observe(&[slow("router", 2.0)], T0);
        assert!(book.observe(&[fast("router")], T0 + 30_000).is_empty());
        assert!(book.pending().is_empty());
        // The next breach starts the clock again.
        assert!(book.observe(&[slow("router", 2.0)], T0 + 40_000).is_empty());
        assert!(book.observe(&[slow("router", 2.0)], T0 + 90_000).is_empty());
        assert_eq!(book.observe(&[slow("router", 2.0)], T0 + 100_000).len(), 1);
    }

    #[test]
    fn an_unreported_pending_alert_disappears_silently() {
        let mut book = book();
        book.observe(&[finding("LoomaHighMemory", "chat", 3e9, true)], T0);
        assert_eq!(book.pending().len(), 1);
        assert!(book.observe(&[fast("router")], T0 + 10_000).is_empty());
        assert!(book.pending().is_empty() && book.firing().is_empty());
    }

    #[test]
    fn restored_alerts_are_not_fired_again_but_do_resolve() {
        let mut book = book();
        book.restore("LoomaHighLatency", "router", T0, 2.0);
        assert_eq!(book.firing().len(), 1);
        assert!(
            book.observe(&[slow("router", 2.2)], T0 + 500_000)
                .is_empty()
        );
        let resolved = book.observe(&[fast("router")], T0 + 600_000);
        assert!(matches!(
            resolved.as_slice(),
            [Transition::Resolved { since_ms: T0, .. }]
        ));
    }

    #[test]
    fn findings_of_unknown_rules_are_ignored() {
        let mut book = book();
        let unknown = finding("NotARule", "router", 1.0, true);
        assert!(book.observe(std::slice::from_ref(&unknown), T0).is_empty());
        assert!(book.observe(&[unknown], T0 + 10_000_000).is_empty());
        assert!(book.pending().is_empty() && book.firing().is_empty());
    }

    #[test]
    fn any_breached_duplicate_counts_as_breached() {
        let rules = vec![AlertRule {
            for_seconds: 0,
            ..default_rules().swap_remove(3)
        }];
        let mut book = AlertBook::new(&rules);
        let findings = [
            finding("LoomaHighMemory", "dev", 3e9, true),
            finding("LoomaHighMemory", "dev", 1e6, false),
        ];
        let fired = book.observe(&findings, T0);
        assert!(matches!(fired.as_slice(), [Transition::Fired { value, .. }] if *value == 3e9));
    }
}

//! What a webhook receiver gets: the JSON payload of a transition, a stable key to
//! de-duplicate redeliveries, the `x-looma-signature` header that proves the monitor sent it,
//! and the retry schedule. Sending is the service's business; nothing here does I/O.
//!
//! Signature: `x-looma-signature: t=<unix seconds>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`.
//! The timestamp is signed with the body, so a captured request cannot be replayed after
//! the tolerance; receivers may see several `v1=` entries (secret rotation) and accept any.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::alerts::Transition;
use super::rules::{AlertRule, Severity};

pub const SIGNATURE_HEADER: &str = "x-looma-signature";
/// Delivery attempts per notification, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// A longer signature header is refused unread.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Firing,
    Resolved,
}

/// The JSON body of a notification (camelCase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub event: Event,
    pub alert: String,
    pub subject: String,
    pub severity: Severity,
    pub summary: String,
    pub value: f64,
    pub threshold: f64,
    /// When the breach began (RFC 3339, UTC).
    pub starts_at: String,
    /// When it was resolved; absent while firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    pub dedup_key: String,
}

/// The notification of `transition`, described by `rule` (the rule the transition names;
/// for an alert resolved because its rule was removed, pass the rule as it was).
pub fn notification(rule: &AlertRule, transition: &Transition) -> Notification {
    let (event, value, since_ms, ends_at) = match transition {
        Transition::Fired {
            value, since_ms, ..
        } => (Event::Firing, *value, *since_ms, None),
        Transition::Resolved {
            value,
            since_ms,
            at_ms,
            ..
        } => (Event::Resolved, *value, *since_ms, Some(rfc3339(*at_ms))),
    };
    Notification {
        event,
        alert: transition.rule().to_string(),
        subject: transition.subject().to_string(),
        severity: rule.severity,
        summary: rule.summary.clone(),
        value,
        threshold: rule.threshold,
        starts_at: rfc3339(since_ms),
        ends_at,
        dedup_key: dedup_key(transition.rule(), transition.subject(), since_ms),
    }
}

/// The same for every notification of one alert episode (its firing and its resolution),
/// different for the next episode: hex of sha256 over rule, subject and start.
pub fn dedup_key(rule: &str, subject: &str, started_at_ms: u64) -> String {
    let mut hasher = Sha256::new();
    // NUL separators: ("ab", "c") and ("a", "bc") must not collide.
    hasher.update(rule.as_bytes());
    hasher.update([0]);
    hasher.update(subject.as_bytes());
    hasher.update([0]);
    hasher.update(started_at_ms.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds: `2023-11-14T22:13:20.000Z`.
pub fn rfc3339(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counted in 400-year eras (146 097
/// days each) from 0000-03-01 so that the leap day falls at the end of each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    // 1970-01-01 is day 719 468 counted from 0000-03-01.
    let from_march_0000 = days + 719_468;
    let era = from_march_0000 / DAYS_PER_ERA;
    let day_of_era = from_march_0000 % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 0 = March … 11 = February; 153 days per 5 months.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignatureError {
    #[error("the webhook secret is empty")]
    EmptySecret,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature is {age} seconds away from now, more than the {tolerance} allowed")]
    Stale { age: u64, tolerance: u64 },
    #[error("the signature does not match the body")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

fn mac_for(secret: &[u8], timestamp: u64, body: &[u8]) -> Result<HmacSha256, SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::EmptySecret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `x-looma-signature` value for `body` sent at `now_seconds`.
pub fn sign(secret: &[u8], body: &[u8], now_seconds: u64) -> Result<String, SignatureError> {
    let mac = mac_for(secret, now_seconds, body)?;
    Ok(format!(
        "t={now_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Checks a received signature header: well-formed, timestamp within `tolerance_seconds` of
/// `now_seconds` (either way), and some `v1` equal to our HMAC, compared in constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_seconds: u64,
    tolerance_seconds: u64,
) -> Result<(), SignatureError> {
    if header.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                let parsed = value
                    .parse::<u64>()
                    .map_err(|_| SignatureError::Malformed)?;
                if timestamp.replace(parsed).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" => signatures.push(value),
            _ => {} // later schemes, ignored by this version
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now_seconds.abs_diff(timestamp);
    if age > tolerance_seconds {
        return Err(SignatureError::Stale {
            age,
            tolerance: tolerance_seconds,
        });
    }
    let mac = mac_for(secret, timestamp, body)?;
    let matched = signatures.iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// How long to wait before the next delivery attempt, given how many were made: none
/// before the first, then 1 s, 2 s, 4 s, 8 s; `None` once [`MAX_ATTEMPTS`] have failed.
pub fn next_delay(attempts_made: u32) -> Option<Duration> {
    match attempts_made {
        0 => Some(Duration::ZERO),
        n if n < MAX_ATTEMPTS => Some(Duration::from_secs(1 << (n - 1))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{RuleKind, default_rules};
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: u64 = 1_700_000_000;

    #[test]
    fn formats_rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_735_689_599_000), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn civil_dates_advance_one_day_at_a_time() {
        // Walk 1970 → 2430 and check each date follows the previous one.
        let mut previous = civil_from_days(0);
        for days in 1..168_000 {
            let date = civil_from_days(days);
            let (y, m, d) = previous;
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let length = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if d < length {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(date, expected, "day {days}");
            previous = date;
        }
    }

    fn latency_rule() -> AlertRule {
        default_rules()
            .into_iter()
            .find(|rule| rule.kind == RuleKind::HighLatency)
            .expect("default")
    }

    #[test]
    fn firing_and_resolved_payloads() {
        let fired = Transition::Fired {
            rule: "LoomaHighLatency".into(),
            subject: "router".into(),
            value: 2.5,
            since_ms: 1_700_000_000_000,
            at_ms: 1_700_000_060_000,
        };
        let json = serde_json::to_value(notification(&latency_rule(), &fired)).expect("json");
        assert_eq!(json["event"], "firing");
        assert_eq!(json["alert"], "LoomaHighLatency");
        assert_eq!(json["subject"], "router");
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["value"], 2.5);
        assert_eq!(json["threshold"], 1.0);
        assert_eq!(json["startsAt"], "2023-11-14T22:13:20.000Z");
        assert!(json.get("endsAt").is_none());

        let resolved = Transition::Resolved {
            rule: "LoomaHighLatency".into(),
            subject: "router".into(),
            value: 0.3,
            since_ms: 1_700_000_000_000,
            at_ms: 1_700_000_090_000,
        };
        let json_resolved =
            serde_json::to_value(notification(&latency_rule(), &resolved)).expect("json");
        assert_eq!(json_resolved["event"], "resolved");
        assert_eq!(json_resolved["endsAt"], "2023-11-14T22:14:50.000Z");
        assert_eq!(json_resolved["dedupKey"], json["dedupKey"]);
    }

    #[test]
    fn dedup_key_is_stable_and_separates_episodes() {
        let key = dedup_key("LoomaHighLatency", "router", 1_700_000_000_000);
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            key,
            dedup_key("LoomaHighLatency", "router", 1_700_000_000_000)
        );
        assert_ne!(
            key,
            dedup_key("LoomaHighLatency", "router", 1_700_000_000_001)
        );
        assert_ne!(
            key,
            dedup_key("LoomaHighLatency", "chat", 1_700_000_000_000)
        );
        assert_ne!(dedup_key("ab", "c", 1), dedup_key("a", "bc", 1));
        // Pinned: a receiver may have stored keys, so the recipe must not drift.
        let mut hasher = Sha256::new();
        hasher.update(b"LoomaHighLatency\0router\x001700000000000");
        assert_eq!(key, hex::encode(hasher.finalize()));
    }

    #[test]
    fn signed_body_verifies() {
        let body = br#"{"event":"firing"}"#;
        let header = sign(SECRET, body, NOW).expect("secret set");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(SECRET, &header, body, NOW + 10, 300), Ok(()));
        // Several v1 entries (secret rotation): any match will do.
        let rotated = format!("t={NOW},v1={},{}", "00".repeat(32), &header[13..]);
        assert_eq!(verify(SECRET, &rotated, body, NOW, 300), Ok(()));
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_refused() {
        let body = br#"{"event":"firing","value":2.5}"#;
        let header = sign(SECRET, body, NOW).expect("secret set");
        let tampered = br#"{"event":"firing","value":0.5}"#;
        assert_eq!(
            verify(SECRET, &header, tampered, NOW, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another", &header, body, NOW, 300),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp breaks the signature too.
        let moved = header.replacen("t=1700000000", "t=1700000001", 1);
        assert_eq!(
            verify(SECRET, &moved, body, NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let body = b"{}";
        let header = sign(SECRET, body, NOW).expect("secret set");
        assert_eq!(
            verify(SECRET, &header, body, NOW + 301, 300),
            Err(SignatureError::Stale {
                age: 301,
                tolerance: 300
            })
        );
        assert!(matches!(
            verify(SECRET, &header, body, NOW - 301, 300),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(verify(SECRET, &header, body, NOW + 300, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_and_empty_secrets_are_refused() {
        for header in [
            "",
            "v1=abcd",
            "t=1700000000",
            "t=x,v1=ab",
            "t=1,t=2,v1=ab",
            "garbage",
        ] {
            assert_eq!(
                verify(SECRET, header, b"{}", NOW, 300),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
        let long = format!("t={NOW},v1={}", "a".repeat(MAX_SIGNATURE_HEADER_LEN));
        assert_eq!(
            verify(SECRET, &long, b"{}", NOW, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, &format!("t={NOW},v1=zz"), b"{}", NOW, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(sign(b"", b"{}", NOW), Err(SignatureError::EmptySecret));
    }

    #[test]
    fn retries_back_off_exponentially_then_stop() {
        let delays: Vec<_> = (0..=MAX_ATTEMPTS).map(next_delay).collect();
        assert_eq!(
            delays,
            vec![
                Some(Duration::ZERO),
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(8)),
                None,
            ]
        );
        assert_eq!(next_delay(u32::MAX), None);
    }
}

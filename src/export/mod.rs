//! Export to a SIEM: destinations, the delivery worker and the protocols (`webhook`).
//!
//! Events enter each enabled destination's queue in the transaction that stores them
//! (`store::export`, called by `store::writer`), or by a backfill. The worker (`worker`) holds a
//! lease per destination, so one AOC process at a time delivers it; it sends the oldest items of
//! each lane (an event source) in order, a batch at a time, deletes what the far end accepted,
//! retries what failed with exponential back-off and jitter (or after the far end's
//! `Retry-After`), and parks an item the far end refuses for good (a 4xx), with its answer,
//! without blocking the items behind it. Delivery is at least once: a batch in flight when AOC
//! stops is sent again, under the same `webhook-id`.

pub mod bench;
pub mod elastic;
pub mod email;
pub mod input;
pub mod notify;
pub mod sentinel;
pub mod splunk;
pub mod syslog;
pub mod webhook;
pub mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::store::query::StoredEvent;

/// Longest far-end answer kept (for the parked item, the destination's last error, the test).
const ANSWER_LIMIT: usize = 2_000;

/// What the far end made of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// Accepted (2xx).
    Delivered { status: u16, answer: String },
    /// Not now: no answer, 408, 425, 429 or 5xx; `retry_after` when the far end said when.
    Retry { status: Option<u16>, retry_after: Option<Duration>, answer: String },
    /// Refused for good (any other status): retrying the same records cannot succeed.
    Refused { status: u16, answer: String },
}

impl Delivery {
    /// One line for the destination's last error and a parked item.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Delivered { status, .. } => format!("HTTP {status}"),
            Delivery::Retry { status: Some(status), answer, .. } | Delivery::Refused { status, answer } => {
                format!("HTTP {status}: {answer}")
            }
            Delivery::Retry { status: None, answer, .. } => answer.clone(),
        }
    }
}

/// What a batch came to: one answer for all of it, or one per record (in order).
#[derive(Clone, Debug, PartialEq)]
pub enum Sent {
    Batch(Delivery),
    Items(Vec<Delivery>),
}

/// Classifies an HTTP exchange.
pub async fn answer(result: Result<reqwest::Response, reqwest::Error>) -> Delivery {
    exchange(result).await.0
}

/// Classifies an HTTP exchange; also gives the whole body (the delivery's answer is cut).
pub async fn exchange(result: Result<reqwest::Response, reqwest::Error>) -> (Delivery, String) {
    let response = match result {
        Ok(response) => response,
        // Without the URL: it may carry a token.
        Err(e) => {
            let kind = if e.is_timeout() {
                "the request timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "the request failed"
            };
            let answer = format!("{kind}: {}", e.without_url());
            return (Delivery::Retry { status: None, retry_after: None, answer }, String::new());
        }
    };
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let body = response.text().await.unwrap_or_default();
    let mut answer = body.clone();
    if answer.len() > ANSWER_LIMIT {
        let mut cut = ANSWER_LIMIT;
        while !answer.is_char_boundary(cut) {
            cut -= 1;
        }
        answer.truncate(cut);
        answer.push('…');
    }
    let delivery = match status {
        200..=299 => Delivery::Delivered { status, answer },
        // 401, 403, 404 and 407 say the destination is misconfigured (credential, URL, proxy),
        // not that a record is bad: parking every record would empty the queue into the parked
        // list, so they are retried until the configuration is fixed.
        401 | 403 | 404 | 407 | 408 | 425 | 429 | 500..=599 => {
            Delivery::Retry { status: Some(status), retry_after, answer }
        }
        _ => Delivery::Refused { status, answer },
    };
    (delivery, body)
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((when - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// How long to wait before attempt `attempts + 1` of a failed batch: exponential from `base`,
/// at most `max`, with full jitter in its upper half (so many AOC processes retrying one far end
/// do not stay in step).
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempts.clamp(0, 20) as u32).min(max);
    let half = exp / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// A document's stable id as text: an event's number, or `alert-N` for an alert.
pub fn document_id(doc: &serde_json::Value) -> String {
    match &doc["aoc_id"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An event as a destination receives it: the `GET /api/events` item.
pub fn event_document(event: StoredEvent) -> serde_json::Value {
    serde_json::to_value(crate::api::events::ApiEvent::from_stored(event)).unwrap_or(serde_json::Value::Null)
}

/// The synthetic record a "Send test" delivers.
pub fn test_event(now: DateTime<Utc>) -> StoredEvent {
    StoredEvent {
        id: 0,
        tenant_id: "aoc-test".into(),
        source: "unified".into(),
        content_type: None,
        record_id: format!("aoc-test-{}", now.timestamp_millis()),
        dedupe_key: format!("test:aoc-test-{}", now.timestamp_millis()),
        occurred_at: now,
        ingested_at: now,
        service: "AOC".into(),
        operation: "AOC.DestinationTest".into(),
        result: "success".into(),
        actor_display: Some("AOC".into()),
        actor_upn: None,
        actor_app_id: None,
        actor_ip: None,
        targets: "[]".into(),
        target_display: None,
        summary: "A test record sent by AOC's Send test".into(),
        severity: 0,
        correlation_id: None,
        normalize_error: None,
        raw: Some(r#"{"test":true}"#.into()),
        flattened: Some("{}".into()),
        tags: Vec::new(),
    }
}

/// The copy of an event kept with a parked item when the event was deleted (JSON of the event's
/// columns, as SQLite's `json_object` or PostgreSQL's `row_to_json` wrote it).
#[derive(Deserialize)]
struct KeptEvent {
    id: i64,
    tenant_id: String,
    source: String,
    content_type: Option<String>,
    record_id: String,
    dedupe_key: String,
    occurred_at: String,
    ingested_at: String,
    service: String,
    operation: String,
    result: String,
    actor_display: Option<String>,
    actor_upn: Option<String>,
    actor_app_id: Option<String>,
    actor_ip: Option<String>,
    targets: String,
    target_display: Option<String>,
    summary: String,
    severity: i16,
    correlation_id: Option<String>,
    flattened: String,
    raw: String,
    normalize_error: Option<String>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok().map(|t| t.and_utc())
}

/// The event kept in a parked item's payload.
pub fn event_from_payload(payload: &str) -> Option<StoredEvent> {
    let kept: KeptEvent = serde_json::from_str(payload).ok()?;
    Some(StoredEvent {
        id: kept.id,
        tenant_id: kept.tenant_id,
        source: kept.source,
        content_type: kept.content_type,
        record_id: kept.record_id,
        dedupe_key: kept.dedupe_key,
        occurred_at: parse_time(&kept.occurred_at)?,
        ingested_at: parse_time(&kept.ingested_at).unwrap_or_else(Utc::now),
        service: kept.service,
        operation: kept.operation,
        result: kept.result,
        actor_display: kept.actor_display,
        actor_upn: kept.actor_upn,
        actor_app_id: kept.actor_app_id,
        actor_ip: kept.actor_ip,
        targets: kept.targets,
        target_display: kept.target_display,
        summary: kept.summary,
        severity: kept.severity,
        correlation_id: kept.correlation_id,
        normalize_error: kept.normalize_error,
        raw: Some(kept.raw),
        flattened: Some(kept.flattened),
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let later = (Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let wait = parse_retry_after(&later).expect("a date");
        assert!(wait > Duration::from_secs(80) && wait <= Duration::from_secs(90), "{wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(300));
        for attempts in 0..40 {
            let exp = base.saturating_mul(1 << attempts.min(20)).min(max);
            let wait = backoff(attempts, base, max);
            assert!(wait >= exp / 2 && wait <= exp, "{attempts}: {wait:?}");
        }
    }

    #[test]
    fn kept_copies_of_both_backends_read_back() {
        let sqlite = r#"{"id":7,"tenant_id":"t","source":"unified","content_type":null,"record_id":"r","dedupe_key":"unified:r",
            "occurred_at":"2026-12-01 10:00:00 +00:00","ingested_at":"2026-12-01T10:00:01.5+00:00","service":"Exchange",
            "operation":"Set-Mailbox","result":"success","actor_display":null,"actor_upn":"a@b","actor_app_id":null,
            "actor_ip":null,"targets":"[]","target_display":null,"summary":"s","severity":2,"correlation_id":null,
            "flattened":"{}","raw":"{\"Id\":\"r\"}","normalize_error":null}"#;
        let event = event_from_payload(sqlite).expect("read back");
        assert_eq!(event.id, 7);
        assert_eq!(event.occurred_at.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        let postgres = sqlite.replace("2026-12-01 10:00:00 +00:00", "2026-12-01T10:00:00.123+00:00");
        assert!(event_from_payload(&postgres).is_some());
    }
}

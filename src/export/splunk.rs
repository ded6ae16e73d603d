//! Splunk HTTP Event Collector: `POST {endpoint}/services/collector/event` with
//! `Authorization: Splunk <token>` and a body of concatenated event objects
//! (`{"time", "host", "source", "sourcetype", "index", "event", "fields"}`), `time` the event's
//! own time and `sourcetype` per source. With indexer acknowledgement on (`"ack": true`), every
//! request carries the destination's channel (`X-Splunk-Request-Channel`), and a batch counts as
//! delivered only once `/services/collector/ack` reports its `ackId` indexed; an ack that does
//! not come in time sends the batch again (at least once). HEC cannot drop duplicates, so every
//! event carries `aoc_id` as an indexed field to search them out.

use std::time::Duration;

use serde_json::{json, Value};

use super::Delivery;

/// The sourcetype of each source (the Splunk add-ons' names where they exist).
pub fn sourcetype(source: &str) -> &'static str {
    match source {
        "unified" => "o365:management:activity",
        "directory" => "azure:aad:audit",
        "signin" => "azure:aad:signin",
        "intune" => "aoc:intune:audit",
        _ => "aoc:event",
    }
}

/// The HEC event URL for an endpoint given as a base URL (`https://splunk:8088`) or in full.
pub fn event_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with("/services/collector/event") || trimmed.ends_with("/services/collector") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/services/collector/event")
    }
}

fn ack_url(event_url: &str) -> String {
    let base = event_url.trim_end_matches("/event").trim_end_matches("/services/collector");
    format!("{base}/services/collector/ack")
}

/// The body for `documents`.
pub fn body(documents: &[Value], options: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(documents.len() * 2_048);
    for doc in documents {
        let source = doc["source"].as_str().unwrap_or("unknown");
        let time = doc["timestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis() as f64 / 1000.0);
        let mut event = json!({
            "time": time,
            "host": options["host"].as_str().unwrap_or("aoc"),
            "source": format!("aoc:{source}"),
            "sourcetype": sourcetype(source),
            "event": doc,
            "fields": { "aoc_id": super::document_id(doc), "tenant": doc["tenant"] },
        });
        if let Some(index) = options["index"].as_str() {
            event["index"] = json!(index);
        }
        serde_json::to_writer(&mut out, &event).unwrap_or_default();
        out.push(b'\n');
    }
    out
}

/// Sends a batch and, with acknowledgement on, waits for it to be indexed (at most `ack_wait`).
pub async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    channel: &str,
    options: &Value,
    documents: &[Value],
    ack_wait: Duration,
) -> Delivery {
    let url = event_url(endpoint);
    let ack = options["ack"].as_bool().unwrap_or(false);
    let mut request = client
        .post(&url)
        .header(reqwest::header::AUTHORIZATION, format!("Splunk {token}"))
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if ack {
        request = request.header("X-Splunk-Request-Channel", channel);
    }
    let delivery = super::answer(request.body(body(documents, options)).send().await).await;
    let Delivery::Delivered { status, answer } = &delivery else { return delivery };
    if !ack {
        return delivery;
    }
    let Some(ack_id) = serde_json::from_str::<Value>(answer).ok().and_then(|v| v["ackId"].as_u64()) else {
        return Delivery::Retry {
            status: Some(*status),
            retry_after: None,
            answer: format!("acknowledgement is on but HEC answered without an ackId: {answer}"),
        };
    };
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        let polled = client
            .post(ack_url(&url))
            .header(reqwest::header::AUTHORIZATION, format!("Splunk {token}"))
            .header("X-Splunk-Request-Channel", channel)
            .json(&json!({ "acks": [ack_id] }))
            .send()
            .await;
        if let Delivery::Delivered { answer: acks, .. } = super::answer(polled).await {
            let acked = serde_json::from_str::<Value>(&acks).ok().and_then(|v| v["acks"][ack_id.to_string()].as_bool());
            if acked == Some(true) {
                return Delivery::Delivered { status: *status, answer: format!("indexed (ackId {ack_id})") };
            }
        }
        if started.elapsed() >= ack_wait {
            return Delivery::Retry {
                status: Some(*status),
                retry_after: None,
                answer: format!(
                    "HEC accepted the batch but did not acknowledge ackId {ack_id} as indexed within {} s",
                    ack_wait.as_secs()
                ),
            };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_their_own_time_and_a_sourcetype_per_source() {
        let doc = json!({ "source": "signin", "timestamp": "2026-12-01T10:00:00.250Z", "aoc_id": 42, "tenant": "t" });
        let body = body(&[doc.clone(), doc], &json!({ "index": "m365" }));
        let text = String::from_utf8(body).unwrap();
        let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["time"], 1796119200.25);
        assert_eq!(events[0]["sourcetype"], "azure:aad:signin");
        assert_eq!(events[0]["index"], "m365");
        assert_eq!(events[0]["fields"]["aoc_id"], "42");
        assert_eq!(event_url("https://splunk:8088/"), "https://splunk:8088/services/collector/event");
        assert_eq!(
            ack_url("https://splunk:8088/services/collector/event"),
            "https://splunk:8088/services/collector/ack"
        );
    }
}

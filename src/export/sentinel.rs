//! Microsoft Sentinel / Azure Monitor Logs Ingestion API:
//! `POST {endpoint}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version=2023-01-01`
//! with a JSON array of records (each AOC document plus `TimeGenerated`, the event's time) and an
//! Entra app token for `https://monitor.azure.com` (client credentials: the destination's
//! `options.tenant_id` and `options.client_id`, its `secret` the client secret). A call carries at
//! most 1 MB; a larger batch goes in several calls. `204` means accepted; `429` is retried after
//! its `Retry-After`. The API has no idempotent id: every record carries `aoc_id`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Delivery;

/// Most bytes in one call (the API refuses larger calls).
pub const MAX_CALL_BYTES: usize = 1_000_000;

/// A cached token.
#[derive(Default)]
pub struct TokenCache {
    token: tokio::sync::Mutex<Option<(String, DateTime<Utc>)>>,
}

/// The ingestion URL.
pub fn stream_url(endpoint: &str, options: &Value) -> Option<String> {
    let dcr = options["dcr_immutable_id"].as_str()?;
    let stream = options["stream"].as_str()?;
    Some(format!(
        "{}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01",
        endpoint.trim_end_matches('/')
    ))
}

/// The records of a batch, split into calls of at most [`MAX_CALL_BYTES`].
pub fn calls(documents: &[Value]) -> Vec<Vec<u8>> {
    let mut calls = Vec::new();
    let mut current: Vec<u8> = vec![b'['];
    for doc in documents {
        let mut record = doc.clone();
        record["TimeGenerated"] = doc["timestamp"].clone();
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        if current.len() > 1 && current.len() + bytes.len() + 2 > MAX_CALL_BYTES {
            current.push(b']');
            calls.push(std::mem::replace(&mut current, vec![b'[']));
        }
        if current.len() > 1 {
            current.push(b',');
        }
        current.extend_from_slice(&bytes);
    }
    if current.len() > 1 {
        current.push(b']');
        calls.push(current);
    }
    calls
}

async fn token(
    client: &reqwest::Client,
    options: &Value,
    secret: &str,
    cache: &TokenCache,
) -> Result<String, Delivery> {
    let mut cached = cache.token.lock().await;
    if let Some((token, expires)) = cached.as_ref() {
        if *expires > Utc::now() + chrono::Duration::minutes(5) {
            return Ok(token.clone());
        }
    }
    let authority = options["authority"].as_str().unwrap_or("https://login.microsoftonline.com");
    let tenant = options["tenant_id"].as_str().unwrap_or_default();
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", options["client_id"].as_str().unwrap_or_default()),
        ("client_secret", secret),
        ("scope", "https://monitor.azure.com/.default"),
    ];
    let (delivery, body) = super::exchange(client.post(url).form(&form).send().await).await;
    match delivery {
        Delivery::Delivered { .. } => {
            let value: Value = serde_json::from_str(&body).unwrap_or_default();
            let token = value["access_token"].as_str().unwrap_or_default().to_string();
            if token.is_empty() {
                return Err(Delivery::Retry {
                    status: None,
                    retry_after: None,
                    answer: "the token answer held no access_token".into(),
                });
            }
            let lifetime = value["expires_in"].as_i64().unwrap_or(3_600);
            *cached = Some((token.clone(), Utc::now() + chrono::Duration::seconds(lifetime)));
            Ok(token)
        }
        // A refused credential is a configuration problem: retried until fixed, never parked.
        Delivery::Refused { status, answer } | Delivery::Retry { status: Some(status), answer, .. } => {
            Err(Delivery::Retry {
                status: Some(status),
                retry_after: None,
                answer: format!("could not get a token: {answer}"),
            })
        }
        other => Err(other),
    }
}

/// Sends a batch (in one or more calls).
pub async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    secret: &str,
    options: &Value,
    cache: &TokenCache,
    documents: &[Value],
) -> Delivery {
    let Some(url) = stream_url(endpoint, options) else {
        return Delivery::Retry {
            status: None,
            retry_after: Some(Duration::from_secs(300)),
            answer: "options.dcr_immutable_id and options.stream are required".into(),
        };
    };
    let token = match token(client, options, secret, cache).await {
        Ok(token) => token,
        Err(delivery) => return delivery,
    };
    let mut last = Delivery::Delivered { status: 204, answer: String::new() };
    for body in calls(documents) {
        let request =
            client.post(&url).bearer_auth(&token).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        last = super::answer(request.send().await).await;
        if !matches!(last, Delivery::Delivered { .. }) {
            if matches!(last, Delivery::Retry { status: Some(401), .. }) {
                *cache.token.lock().await = None;
            }
            return last;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_get_time_generated_and_calls_stay_under_a_megabyte() {
        let doc = json!({ "aoc_id": 1, "timestamp": "2026-12-01T10:00:00Z", "raw": { "x": "y".repeat(100_000) } });
        let docs = vec![doc; 25];
        let calls = calls(&docs);
        assert!(calls.len() >= 3, "{} calls", calls.len());
        let mut records = 0;
        for call in &calls {
            assert!(call.len() <= MAX_CALL_BYTES);
            let parsed: Vec<Value> = serde_json::from_slice(call).unwrap();
            assert!(parsed.iter().all(|r| r["TimeGenerated"] == "2026-12-01T10:00:00Z"));
            records += parsed.len();
        }
        assert_eq!(records, 25);
        let options = json!({ "dcr_immutable_id": "dcr-0123", "stream": "Custom-AOC_CL" });
        assert_eq!(
            stream_url("https://dce.eastus-1.ingest.monitor.azure.com/", &options).unwrap(),
            "https://dce.eastus-1.ingest.monitor.azure.com/dataCollectionRules/dcr-0123/streams/Custom-AOC_CL?api-version=2023-01-01"
        );
    }
}

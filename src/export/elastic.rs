//! Elasticsearch / OpenSearch `_bulk`: one NDJSON request per batch of `create` actions with
//! `_id` = the event's `aoc_id`, so a batch sent again cannot duplicate a document (a `409` for an
//! item means it is already there: delivered). The answer holds a status per item: `429` and
//! `5xx` items are retried, other `4xx` items (a mapping error, say) are parked with their error;
//! the others are delivered.

use base64::Engine;
use serde_json::{json, Value};

use super::Delivery;

/// The `_bulk` URL for an endpoint given as a base URL (`https://es:9200`) or in full.
pub fn bulk_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with("/_bulk") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/_bulk")
    }
}

/// The NDJSON body for `documents` into `index`.
pub fn body(documents: &[Value], index: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(documents.len() * 2_048);
    for doc in documents {
        let action = json!({ "create": { "_index": index, "_id": super::document_id(doc) } });
        serde_json::to_writer(&mut out, &action).unwrap_or_default();
        out.push(b'\n');
        serde_json::to_writer(&mut out, doc).unwrap_or_default();
        out.push(b'\n');
    }
    out
}

/// The `Authorization` header for a credential: `user:password` (basic) or an API key.
pub fn authorization(secret: &str) -> String {
    if secret.contains(':') {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(secret))
    } else {
        format!("ApiKey {secret}")
    }
}

/// What the far end made of each document of a `_bulk` answer (in order), or `None` when the
/// answer is not a `_bulk` answer for that many documents.
pub fn item_outcomes(answer: &str, count: usize) -> Option<Vec<Delivery>> {
    let value: Value = serde_json::from_str(answer).ok()?;
    let items = value["items"].as_array()?;
    if items.len() != count {
        return None;
    }
    let mut outcomes = Vec::with_capacity(count);
    for item in items {
        let result = item.as_object()?.values().next()?;
        let status = result["status"].as_u64()? as u16;
        let error = &result["error"];
        let answer = if error.is_null() {
            String::new()
        } else {
            format!("{}: {}", error["type"].as_str().unwrap_or("error"), error["reason"].as_str().unwrap_or(""))
        };
        outcomes.push(match status {
            200..=299 | 409 => Delivery::Delivered { status, answer },
            429 | 500..=599 => Delivery::Retry { status: Some(status), retry_after: None, answer },
            _ => Delivery::Refused { status, answer },
        });
    }
    Some(outcomes)
}

/// Sends a batch; per-item outcomes when the request itself succeeded.
pub async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    secret: Option<&str>,
    options: &Value,
    documents: &[Value],
) -> Result<Vec<Delivery>, Delivery> {
    let index = options["index"].as_str().unwrap_or("aoc-events");
    let mut request = client.post(bulk_url(endpoint)).header(reqwest::header::CONTENT_TYPE, "application/x-ndjson");
    if let Some(secret) = secret {
        request = request.header(reqwest::header::AUTHORIZATION, authorization(secret));
    }
    match super::exchange(request.body(body(documents, index)).send().await).await {
        (Delivery::Delivered { status, .. }, answer) => {
            item_outcomes(&answer, documents.len()).ok_or(Delivery::Retry {
                status: Some(status),
                retry_after: None,
                answer: format!("the answer is not a _bulk answer for {} documents", documents.len()),
            })
        }
        (other, _) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_item_errors_are_retried_parked_or_delivered_by_status() {
        let answer = r#"{"took":3,"errors":true,"items":[
            {"create":{"_index":"a","_id":"1","status":201}},
            {"create":{"_index":"a","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
            {"create":{"_index":"a","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"create":{"_index":"a","_id":"4","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad field"}}}]}"#;
        let outcomes = item_outcomes(answer, 4).unwrap();
        assert!(matches!(outcomes[0], Delivery::Delivered { status: 201, .. }));
        assert!(matches!(outcomes[1], Delivery::Delivered { status: 409, .. }));
        assert!(matches!(outcomes[2], Delivery::Retry { status: Some(429), .. }));
        assert!(
            matches!(&outcomes[3], Delivery::Refused { status: 400, answer } if answer.contains("mapper_parsing_exception"))
        );
        assert!(item_outcomes(answer, 3).is_none());
        let body = String::from_utf8(body(&[json!({"aoc_id": 9, "x": 1})], "aoc-events")).unwrap();
        let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines, vec![json!({"create": {"_index": "aoc-events", "_id": "9"}}), json!({"aoc_id": 9, "x": 1})]);
        assert!(body.ends_with('\n'));
        assert_eq!(authorization("elastic:pw"), "Basic ZWxhc3RpYzpwdw==");
    }
}

//! The generic HTTPS webhook: one POST per batch whose body is a JSON array of AOC event
//! documents (the `GET /api/events` item shape, `raw` included), signed the Standard Webhooks way
//! (<https://www.standardwebhooks.com>): `webhook-id` (the same on every redelivery of the batch,
//! so a receiver can drop a replay), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the secret's bytes
//! (`whsec_` + base64). A batch of one event also carries `X-AOC-Event-Id`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Delivery;

/// The key bytes of a `whsec_` secret, or `None` when it is not one (24 to 64 bytes of base64).
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.trim().strip_prefix("whsec_")?;
    let key = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    (24..=64).contains(&key.len()).then_some(key)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends one batch; `event_id` when the batch holds exactly one event.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    key: Option<&[u8]>,
    message_id: &str,
    body: Vec<u8>,
    event_id: Option<i64>,
) -> Delivery {
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(key) = key {
        request = request.header("webhook-signature", signature(key, message_id, timestamp, &body));
    }
    if let Some(id) = event_id {
        request = request.header("X-AOC-Event-Id", id.to_string());
    }
    super::answer(request.body(body).send().await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid secret");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_whsec_base64_of_enough_bytes() {
        assert!(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(secret_key("whsec_not base64!").is_none());
        assert!(secret_key("whsec_c2hvcnQ=").is_none());
    }
}

//! Wire types of the Microsoft APIs, exactly as sent: serde structs and nothing else.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A token endpoint success (v2 sends numbers, v1 strings).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(deserialize_with = "number_or_string")]
    pub expires_in: i64,
}

/// A token endpoint error.
#[derive(Deserialize, Default)]
pub struct TokenErrorBody {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u32>,
}

/// `{"error":{"code":"AF...","message":"..."}}` (Management) or Graph's error object.
#[derive(Deserialize, Default)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub error: ApiError,
}

#[derive(Deserialize, Default)]
pub struct ApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One entry of `/subscriptions/list`.
#[derive(Deserialize)]
pub struct SubscriptionEntry {
    #[serde(rename = "contentType")]
    pub content_type: String,
    #[serde(default)]
    pub status: String,
}

/// One entry of `/subscriptions/content`.
#[derive(Deserialize, Clone, Debug)]
pub struct ContentDescriptor {
    #[serde(rename = "contentType")]
    pub content_type: String,
    #[serde(rename = "contentId")]
    pub content_id: String,
    #[serde(rename = "contentUri")]
    pub content_uri: String,
    #[serde(rename = "contentCreated")]
    pub content_created: String,
}

/// A Graph collection page; records are kept as raw text.
#[derive(Deserialize)]
pub struct GraphPage {
    #[serde(default)]
    pub value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Int(i64),
        Float(f64),
        Text(String),
    }
    match N::deserialize(d)? {
        N::Int(i) => Ok(i),
        N::Float(f) => Ok(f as i64),
        N::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_parse_as_numbers_or_strings() {
        let v2: TokenResponse =
            serde_json::from_str(r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#).unwrap();
        let v1: TokenResponse =
            serde_json::from_str(r#"{"token_type":"Bearer","expires_in":"3599","access_token":"t"}"#).unwrap();
        assert_eq!((v2.expires_in, v1.expires_in), (3599, 3599));
    }
}

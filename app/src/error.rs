//! The one error type that crosses the wire: a stable snake_case code, a message that is safe to
//! show to a user, and an optional reference id that points at the server log line with the cause.

use serde::{Deserialize, Serialize};

/// Stable error codes shared by server functions and the REST API. Clients may match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No (valid) credentials were presented.
    Unauthenticated,
    /// The caller is known but lacks the permission.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// A parameter is missing or malformed; the message names it.
    InvalidInput,
    /// The request conflicts with the current state.
    Conflict,
    /// A dependency (database, upstream API) is unavailable right now.
    Unavailable,
    /// Something failed on the server; the reference points at the log line.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidInput => 400,
            ErrorCode::Conflict => 409,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// An error as a user or script sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable, user-safe explanation.
    pub message: String,
    /// Id of the server log line that holds the cause (for internal errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl AppError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), reference: None }
    }

    /// A malformed or out-of-range parameter; the message should name the parameter.
    pub fn invalid_input(parameter: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidInput, format!("invalid `{parameter}`: {problem}"))
    }

    /// The caller lacks `what`.
    pub fn forbidden(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Forbidden, format!("you do not have permission to {what}"))
    }

    /// No caller could be established.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign in to continue")
    }

    /// A server-side failure whose cause was logged under `reference`.
    pub fn internal(reference: impl Into<String>) -> Self {
        let reference = reference.into();
        Self {
            code: ErrorCode::Internal,
            message: format!("something went wrong on the server (reference {reference})"),
            reference: Some(reference),
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            // Arguments that do not decode are the caller's mistake, not ours.
            E::Args(msg) | E::Deserialization(msg) => {
                AppError::new(ErrorCode::InvalidInput, format!("the request could not be read: {msg}"))
            }
            E::Request(msg) => AppError::new(ErrorCode::Unavailable, format!("the server could not be reached: {msg}")),
            other => AppError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialize_as_stable_snake_case() {
        let json = serde_json::to_string(&AppError::invalid_input("page_size", "must be at most 500")).unwrap();
        assert_eq!(json, r#"{"code":"invalid_input","message":"invalid `page_size`: must be at most 500"}"#);
    }

    #[test]
    fn every_code_maps_to_a_client_or_server_status() {
        assert_eq!(ErrorCode::InvalidInput.http_status(), 400);
        assert_eq!(ErrorCode::Forbidden.http_status(), 403);
        assert_eq!(ErrorCode::Unavailable.http_status(), 503);
    }

    #[test]
    fn as_str_matches_the_serialized_code() {
        for code in [
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::InvalidInput,
            ErrorCode::Conflict,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        }
    }
}

//! The one client for OpenAI-compatible chat completions (OpenAI, Azure OpenAI, Ollama,
//! llama.cpp's `llama-server`): `POST {LLM_BASE_URL}/chat/completions` with a system and a user
//! message, no tools; the answer whole ([`LlmClient::complete`]) or streamed as server-sent
//! events ([`LlmClient::stream`], `"stream": true`). It knows the protocol (URL, auth header,
//! answer shape, which errors mean "rate limited" or "context exceeded") and nothing of events
//! or the database.
//!
//! Never logged: the messages, the answer, the key. Logged: status codes and timings.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::config::LlmSettings;

/// Longest `Retry-After` AOC waits for once before giving up on a 429.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Longest answer body read (bytes).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// A failed completion, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the language model did not answer within {0} s (LLM_TIMEOUT_SECONDS)")]
    Timeout(u32),
    #[error("the language model's server is rate limiting AOC (HTTP 429){}; try again later", retry_hint(*.0))]
    RateLimited(Option<u64>),
    #[error("the input is larger than the model's context (LLM_CONTEXT_TOKENS may be set too high)")]
    ContextExceeded,
    #[error("the language model's server answered HTTP {0}")]
    Status(u16),
    #[error("could not reach the language model's server: {0}")]
    Transport(String),
    #[error("the language model's answer could not be read: {0}")]
    BadAnswer(String),
}

fn retry_hint(seconds: Option<u64>) -> String {
    seconds.map(|s| format!(" (it asks to wait {s} s)")).unwrap_or_default()
}

/// A model's answer.
#[derive(Clone, Debug)]
pub struct Completion {
    pub text: String,
    /// `finish_reason` was `length`: the answer was cut at the output limit.
    pub cut: bool,
    /// Tokens the server counted, when it says (Ollama and llama.cpp may not).
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

/// A piece of a streamed answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// More text of the answer.
    Text(String),
    /// The answer ended; `cut` when at the output limit (`finish_reason: length`).
    Finished { cut: bool },
}

/// One server-sent chunk of a streamed completion (`chat.completion.chunk`).
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    delta: Option<Message>,
    finish_reason: Option<String>,
}

/// The chat-completions client.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    settings: LlmSettings,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl LlmClient {
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(u64::from(settings.timeout_seconds)))
            .connect_timeout(Duration::from_secs(10))
            // The key goes to the configured host only.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        Ok(Self { http, settings })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// The completions URL: `{base}/chat/completions`, with `?api-version=` for Azure.
    pub fn url(&self) -> String {
        let mut url = format!("{}/chat/completions", self.settings.base_url);
        if let Some(version) = &self.settings.api_version {
            url.push_str("?api-version=");
            url.push_str(&url_encode(version));
        }
        url
    }

    /// One completion. A 429 with a short `Retry-After` and a 5xx are tried once more; a
    /// time-out is not (it would double the wait).
    pub async fn complete(&self, system: &str, user: &str) -> Result<Completion, LlmError> {
        retried_once(|| self.complete_once(system, user)).await
    }

    /// Sends the request; a response with a success status, or the error its status means.
    async fn send(&self, system: &str, user: &str, stream: bool) -> Result<reqwest::Response, LlmError> {
        let body = json!({
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0.2,
            "max_tokens": self.settings.max_output_tokens,
            "stream": stream,
        });
        let mut request = self.http.post(self.url()).json(&body);
        if let Some(key) = &self.settings.api_key {
            request = if self.settings.api_version.is_some() {
                request.header("api-key", key.expose_secret())
            } else {
                request.bearer_auth(key.expose_secret())
            };
        }
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        tracing::info!(status, stream, millis = started.elapsed().as_millis() as u64, "language model answered");
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if status == 429 {
            return Err(LlmError::RateLimited(retry_after));
        }
        if status == 400 || status == 413 {
            let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
            if is_context_overflow(&bytes) {
                return Err(LlmError::ContextExceeded);
            }
        }
        Err(LlmError::Status(status))
    }

    /// A streamed completion: the answer's text as it is generated, then [`Piece::Finished`].
    /// Errors before the first piece (429 with a short `Retry-After`, 5xx) are tried once more,
    /// as by [`complete`](Self::complete); a stream that breaks off ends with its error.
    pub async fn stream(
        &self,
        system: &str,
        user: &str,
    ) -> Result<BoxStream<'static, Result<Piece, LlmError>>, LlmError> {
        let response = retried_once(|| self.send(system, user, true)).await?;
        let timeout = self.settings.timeout_seconds;
        let events = response.bytes_stream().eventsource();
        let state = StreamState { events: Box::pin(events), read: 0, cut: false, ended: false, timeout };
        Ok(futures_util::stream::unfold(state, next_piece).boxed())
    }

    async fn complete_once(&self, system: &str, user: &str) -> Result<Completion, LlmError> {
        let response = self.send(system, user, false).await?;
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        if bytes.len() > MAX_BODY {
            return Err(LlmError::BadAnswer("the answer is too large".into()));
        }
        let answer: Answer =
            serde_json::from_slice(&bytes).map_err(|_| LlmError::BadAnswer("not a chat completion".into()))?;
        let choice = answer.choices.into_iter().next().ok_or_else(|| LlmError::BadAnswer("no choices".into()))?;
        let text = choice.message.and_then(|m| m.content).unwrap_or_default();
        // Some servers report an overflow as a truncated, empty answer.
        if text.trim().is_empty() && choice.finish_reason.as_deref() == Some("length") {
            return Err(LlmError::ContextExceeded);
        }
        Ok(Completion {
            text,
            cut: choice.finish_reason.as_deref() == Some("length"),
            prompt_tokens: answer.usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens: answer.usage.as_ref().and_then(|u| u.completion_tokens),
        })
    }

    fn transport(&self, e: reqwest::Error) -> LlmError {
        transport_error(e, self.settings.timeout_seconds)
    }
}

/// Runs `attempt`, and once more after a 429 whose `Retry-After` is at most
/// [`MAX_RETRY_WAIT`] (waiting that long) or a 5xx (after half a second); a time-out is not
/// tried again (it would double the wait).
async fn retried_once<T, F, Fut>(mut attempt: F) -> Result<T, LlmError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, LlmError>>,
{
    match attempt().await {
        Err(LlmError::RateLimited(wait)) => {
            let wait = Duration::from_secs(wait.unwrap_or(1));
            if wait > MAX_RETRY_WAIT {
                return Err(LlmError::RateLimited(Some(wait.as_secs())));
            }
            tokio::time::sleep(wait).await;
            attempt().await
        }
        Err(LlmError::Status(status)) if status >= 500 => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            attempt().await
        }
        other => other,
    }
}

fn transport_error(e: reqwest::Error, timeout_seconds: u32) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout(timeout_seconds)
    } else {
        // Without the URL: it may carry the api-version only, but keep logs and answers lean.
        LlmError::Transport(e.without_url().to_string())
    }
}

/// Where a streamed answer is.
struct StreamState {
    events: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<eventsource_stream::Event, eventsource_stream::EventStreamError<reqwest::Error>>,
                > + Send,
        >,
    >,
    /// Bytes of event data read (at most [`MAX_BODY`]).
    read: usize,
    cut: bool,
    ended: bool,
    timeout: u32,
}

/// The next piece of a streamed answer: text as it comes; [`Piece::Finished`] at `data: [DONE]`
/// or at the end of a stream that gave a `finish_reason`; an error for anything else. Chunks
/// without a choice (Azure's content-filter results, a closing usage chunk) carry no text.
async fn next_piece(mut state: StreamState) -> Option<(Result<Piece, LlmError>, StreamState)> {
    if state.ended {
        return None;
    }
    let mut finished = false;
    loop {
        let event = match state.events.next().await {
            None if finished => break,
            None => {
                state.ended = true;
                return Some((Err(LlmError::BadAnswer("the answer broke off before its end".into())), state));
            }
            Some(Err(eventsource_stream::EventStreamError::Transport(e))) => {
                state.ended = true;
                return Some((Err(transport_error(e, state.timeout)), state));
            }
            Some(Err(_)) => {
                state.ended = true;
                return Some((Err(LlmError::BadAnswer("not a stream of server-sent events".into())), state));
            }
            Some(Ok(event)) => event,
        };
        state.read += event.data.len();
        if state.read > MAX_BODY {
            state.ended = true;
            return Some((Err(LlmError::BadAnswer("the answer is too large".into())), state));
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            break;
        }
        if data.is_empty() {
            continue;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(data) else {
            state.ended = true;
            return Some((Err(LlmError::BadAnswer("a streamed chunk was not a chat completion chunk".into())), state));
        };
        if chunk.error.is_some() {
            state.ended = true;
            return Some((
                Err(LlmError::BadAnswer("the server reported an error in the middle of the answer".into())),
                state,
            ));
        }
        let Some(choice) = chunk.choices.into_iter().next() else { continue };
        if let Some(reason) = choice.finish_reason.as_deref() {
            finished = true;
            state.cut = reason == "length";
        }
        if let Some(text) = choice.delta.and_then(|d| d.content).filter(|t| !t.is_empty()) {
            return Some((Ok(Piece::Text(text)), state));
        }
    }
    state.ended = true;
    let cut = state.cut;
    Some((Ok(Piece::Finished { cut }), state))
}

/// Whether an error body says the input did not fit the model's context (OpenAI
/// `context_length_exceeded`, llama.cpp `exceed_context_size_error`, vLLM and others in words).
pub fn is_context_overflow(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).to_ascii_lowercase();
    [
        "context_length_exceeded",
        "exceed_context_size",
        "context length",
        "context size",
        "context window",
        "maximum context",
        "too many tokens",
        "prompt is too long",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_bodies_of_each_server_are_recognised() {
        assert!(is_context_overflow(
            br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#
        ));
        assert!(is_context_overflow(
            br#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#
        ));
        assert!(!is_context_overflow(br#"{"error":{"message":"invalid model"}}"#));
    }

    #[test]
    fn azure_urls_carry_the_api_version() {
        let settings = LlmSettings {
            base_url: "https://r.openai.azure.com/openai/deployments/gpt".into(),
            model: "gpt".into(),
            api_key: None,
            api_version: Some("2024-10-21".into()),
            timeout_seconds: 5,
            context_tokens: 8192,
            max_output_tokens: 800,
        };
        let client = LlmClient::new(settings).unwrap();
        assert_eq!(
            client.url(),
            "https://r.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21"
        );
    }
}

//! The few pages sign-in answers with itself (denied, signed out, failures): plain HTML outside
//! the Leptos app, every value from a token escaped, with a policy that allows only AOC's own
//! stylesheet and forms that post back to AOC.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// HTML-escapes `text` for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with `title` (plain text) and `body` (HTML the caller has escaped).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · AOC</title>\
         <link rel=\"stylesheet\" href=\"/pkg/aoc.css\"></head><body><main class=\"auth-page\"><h1>{title}</h1>{body}\
         </main></body></html>"
    );
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page a person sees who authenticated but may not use AOC.
pub fn denied(name: &str, username: Option<&str>, subject: &str, reason: &str) -> Response {
    let username = username.map(|u| format!(" ({})", escape(u))).unwrap_or_default();
    page(
        StatusCode::FORBIDDEN,
        "You do not have access to AOC",
        &format!(
            "<p data-testid=\"denied-user\">You are signed in as <strong>{}</strong>{username}, object id <code>{}</code>.</p>\
             <p data-testid=\"denied-reason\">{}</p>\
             <p>Send this page to your AOC administrator. Once access is granted, <a href=\"/auth/login\">sign in again</a>.</p>\
             <form method=\"post\" action=\"/auth/logout\"><button type=\"submit\">Sign out</button></form>",
            escape(name),
            escape(subject),
            escape(reason)
        ),
    )
}

/// The page after sign-out, offering the provider's sign-out too (its single sign-on session
/// would otherwise sign the person straight back in).
pub fn signed_out(end_session: Option<&str>) -> Response {
    let provider = end_session
        .map(|url| {
            format!(
                "<p>You may still be signed in with your organization's account. \
                 <a data-testid=\"provider-sign-out\" href=\"{}\">Sign out of your organization's account too</a>.</p>",
                escape(url)
            )
        })
        .unwrap_or_default();
    page(
        StatusCode::OK,
        "You are signed out of AOC",
        &format!("{provider}<p><a href=\"/auth/login\">Sign in again</a></p>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_from_a_token_is_escaped() {
        assert_eq!(escape("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}

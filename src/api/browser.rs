//! Protections for what a browser can be made to do, whether sign-in is on or off:
//! - **Host allow-list.** A request must name a host AOC serves (loopback names, the host of
//!   `AOC_PUBLIC_URL`, `AOC_ALLOWED_HOSTS`, the listen address), so a DNS-rebinding page whose
//!   name now points at 127.0.0.1 cannot read events through the operator's browser.
//! - **Same-origin writes.** A state-changing request (anything but GET, HEAD, OPTIONS) that
//!   carries no bearer token must come from AOC's own origin (`Sec-Fetch-Site`, else `Origin`),
//!   so another site open in the same browser cannot tag, comment or start a collection through
//!   a form post. Requests without either header are not from a browser and pass (scripts,
//!   Microsoft's webhooks); bearer requests are exempt because browsers never add one by themselves.
//! - **Security headers** on every answer: `nosniff`, `frame-ancestors 'none'` (and
//!   `X-Frame-Options`), a referrer policy, and a default Content-Security-Policy for answers that
//!   set none (pages set their own, with the per-request nonce Leptos uses for its scripts).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::config::Settings;

/// Paths answered whatever the Host header says: they reveal nothing (load-balancer probes use
/// the machine's address as host).
const ANY_HOST_PATHS: [&str; 1] = ["/health"];

/// Which hosts and origins the browser protections accept.
#[derive(Clone, Debug)]
pub struct BrowserPolicy {
    /// Host names (any port).
    hosts: Vec<String>,
    /// `host:port` values (that port only).
    host_ports: Vec<String>,
    /// Origins other than AOC's own that may send state-changing requests (CORS_ORIGINS).
    origins: Vec<String>,
    /// Strict-Transport-Security when AOC is served over https.
    hsts: bool,
}

impl BrowserPolicy {
    /// The policy the settings describe; `listen` is the bound address.
    pub fn from_settings(settings: &Settings, listen: SocketAddr) -> Arc<Self> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(String::from).to_vec();
        let mut host_ports = Vec::new();
        let ip = listen.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            hosts.push(match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                std::net::IpAddr::V4(v4) => v4.to_string(),
            });
        }
        let mut origins: Vec<String> = settings.cors_origins.iter().map(|o| o.to_ascii_lowercase()).collect();
        if let Some(public) = &settings.public_url {
            hosts.push(public.host.clone());
            origins.push(public.origin());
        }
        for h in &settings.allowed_hosts {
            match split_host(h) {
                (host, Some(_)) if !host.is_empty() => host_ports.push(h.clone()),
                (host, _) => hosts.push(host.to_string()),
            }
        }
        let hsts = settings.public_url.as_ref().is_some_and(|p| p.scheme == "https");
        Arc::new(Self { hosts, host_ports, origins, hsts })
    }

    /// Whether AOC answers to this `Host` header value.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&host);
        if port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return false;
        }
        self.hosts.iter().any(|h| h == name) || self.host_ports.contains(&host)
    }

    /// Whether a state-changing request with these headers may go ahead. `host` is the request's
    /// (already allowed) Host header.
    fn allows_write(&self, headers: &HeaderMap, host: &str) -> Result<(), &'static str> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let origin = text("origin").map(str::to_ascii_lowercase);
        let listed = |origin: &str| self.origins.iter().any(|o| o == origin);
        let same_origin =
            |origin: &str| origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
        match text("sec-fetch-site") {
            Some("same-origin") | Some("none") => Ok(()),
            Some(_) => match origin.as_deref() {
                Some(o) if listed(o) => Ok(()),
                _ => Err("the request came from another site"),
            },
            None => match origin.as_deref() {
                None => Ok(()),
                Some("null") => Err("the request came from an opaque origin"),
                Some(o) if same_origin(o) || listed(o) => Ok(()),
                Some(_) => Err("the request came from another site"),
            },
        }
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets).
fn split_host(value: &str) -> (&str, Option<&str>) {
    if value.starts_with('[') {
        match value.find(']') {
            Some(end) => {
                let rest = &value[end + 1..];
                (&value[..=end], rest.strip_prefix(':'))
            }
            None => (value, None),
        }
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (value, None),
        }
    }
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn is_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
}

/// Middleware: the Host allow-list and the same-origin rule for writes.
pub async fn protect(State(policy): State<Arc<BrowserPolicy>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !ANY_HOST_PATHS.contains(&path) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_string()));
        let Some(host) = host.filter(|h| policy.allows_host(h)) else {
            tracing::warn!(path, "refused a request for a host AOC does not serve");
            return refusal(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected",
                "AOC does not answer to this host name; its administrator can add it with AOC_PUBLIC_URL or \
                 AOC_ALLOWED_HOSTS"
                    .into(),
            );
        };
        let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe && !is_bearer(request.headers()) {
            if let Err(why) = policy.allows_write(request.headers(), &host) {
                tracing::warn!(path, method = %request.method(), why, "refused a cross-site write");
                return refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("{why}: changes are accepted only from AOC's own pages or with a bearer token"),
                );
            }
        }
    }
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut(), policy.hsts);
    response
}

/// The policy for answers that are not pages: nothing may run, nothing may frame them.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn add_security_headers(headers: &mut HeaderMap, hsts: bool) {
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    set(headers, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(headers, header::HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if hsts {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(vars: &[(&str, &str)]) -> Arc<BrowserPolicy> {
        let map: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let settings = Settings::from_lookup(&move |k| map.get(k).cloned()).expect("valid settings");
        BrowserPolicy::from_settings(&settings, settings.listen_addr)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_names_are_served_on_any_port_and_other_names_are_not() {
        let p = policy(&[]);
        for host in ["127.0.0.1:3000", "localhost", "LOCALHOST:8080", "[::1]:3000"] {
            assert!(p.allows_host(host), "{host}");
        }
        for host in ["attacker.example", "attacker.example:3000", "127.0.0.1.attacker.example", "", "127.0.0.1:x"] {
            assert!(!p.allows_host(host), "{host}");
        }
    }

    #[test]
    fn the_public_url_and_allowed_hosts_are_served() {
        let p =
            policy(&[("AOC_PUBLIC_URL", "https://AOC.contoso.com"), ("AOC_ALLOWED_HOSTS", "aoc.internal:9000,probe")]);
        assert!(p.allows_host("aoc.contoso.com"));
        assert!(p.allows_host("aoc.contoso.com:443"));
        assert!(p.allows_host("aoc.internal:9000"));
        assert!(!p.allows_host("aoc.internal:9001"));
        assert!(p.allows_host("probe:1234"));
        assert!(!p.allows_host("contoso.com"));
    }

    #[test]
    fn writes_from_another_site_are_refused_and_same_origin_or_non_browser_writes_pass() {
        let p = policy(&[("CORS_ORIGINS", "https://soc.example.com")]);
        let host = "127.0.0.1:3000";
        assert!(p.allows_write(&headers(&[]), host).is_ok(), "curl sends neither header");
        assert!(p.allows_write(&headers(&[("sec-fetch-site", "same-origin")]), host).is_ok());
        assert!(p.allows_write(&headers(&[("sec-fetch-site", "none")]), host).is_ok());
        assert!(p.allows_write(&headers(&[("origin", "http://127.0.0.1:3000")]), host).is_ok());
        assert!(p
            .allows_write(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://soc.example.com")]), host)
            .is_ok());
        for bad in [
            headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")]),
            headers(&[("sec-fetch-site", "same-site"), ("origin", "http://127.0.0.1:4000")]),
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "http://127.0.0.1:4000")]),
            headers(&[("origin", "null")]),
        ] {
            assert!(p.allows_write(&bad, host).is_err(), "{bad:?}");
        }
    }
}

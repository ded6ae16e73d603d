//! Which URLs may receive the bearer token. NextPageUri, contentUri and @odata.nextLink come
//! from the network; the token goes only to the configured endpoint (scheme, host and port). A
//! link elsewhere whose path belongs to the API is rebased onto the configured endpoint (a proxy
//! or a national cloud answering with the canonical host); any other link is refused, and the
//! refusal is counted (`aoc_ingest_refused_links_total`). Pure: no IO.

use url::Url;

/// Which API a link is for, and so which paths belong to it.
#[derive(Clone, Copy, Debug)]
pub enum ApiPaths<'a> {
    /// `/api/v1.0/{tenant}/activity/feed/...` (Microsoft also answers with `/api/v1/`).
    Management { tenant: &'a str },
    /// `/v1.0/...` or `/beta/...`.
    Graph,
}

impl ApiPaths<'_> {
    fn label(self) -> &'static str {
        match self {
            ApiPaths::Management { .. } => "management",
            ApiPaths::Graph => "graph",
        }
    }

    fn owns(self, path: &str) -> bool {
        match self {
            ApiPaths::Management { tenant } => {
                let mut parts = path.trim_start_matches('/').splitn(5, '/');
                let (api, version, t, activity, feed) =
                    (parts.next(), parts.next(), parts.next(), parts.next(), parts.next());
                api.is_some_and(|a| a.eq_ignore_ascii_case("api"))
                    && version.is_some_and(|v| v.eq_ignore_ascii_case("v1.0") || v.eq_ignore_ascii_case("v1"))
                    && t.is_some_and(|t| t.eq_ignore_ascii_case(tenant))
                    && activity.is_some_and(|a| a.eq_ignore_ascii_case("activity"))
                    && feed.is_some_and(|f| {
                        let f = f.to_ascii_lowercase();
                        f == "feed" || f.starts_with("feed/")
                    })
            }
            ApiPaths::Graph => {
                let p = path.to_ascii_lowercase();
                p.starts_with("/v1.0/") || p.starts_with("/beta/")
            }
        }
    }
}

/// A link that may not receive the token. The link itself is network text: it is logged where
/// it is refused, and the message shown to users names only the API and what to check.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "the {api} API answered with a link to a host that is not the configured endpoint; AOC did not follow it \
     (the access token goes nowhere else). Check {setting} and any proxy that rewrites Microsoft's answers"
)]
pub struct RefusedLink {
    pub api: &'static str,
    pub setting: &'static str,
}

fn origin(u: &Url) -> (String, String, Option<u16>) {
    (u.scheme().to_string(), u.host_str().unwrap_or_default().to_ascii_lowercase(), u.port_or_known_default())
}

/// The URL to request for `link`: itself when it is on the configured endpoint `base`, rebased
/// onto `base` when only its path belongs to the API, otherwise refused (and counted).
pub fn guard(base: &str, link: &str, api: ApiPaths<'_>) -> Result<String, RefusedLink> {
    let refused = || {
        metrics::counter!("aoc_ingest_refused_links_total", "api" => api.label()).increment(1);
        tracing::warn!(api = api.label(), %link, configured = %base, "refused a link outside the configured endpoint");
        let (name, setting) = match api {
            ApiPaths::Management { .. } => ("Management Activity", "MANAGEMENT_BASE_URL"),
            ApiPaths::Graph => ("Graph", "GRAPH_BASE_URL"),
        };
        RefusedLink { api: name, setting }
    };
    let (Ok(base_url), Ok(target)) = (Url::parse(base), Url::parse(link.trim())) else { return Err(refused()) };
    if !matches!(target.scheme(), "http" | "https") {
        return Err(refused());
    }
    if origin(&base_url) == origin(&target) {
        return Ok(target.to_string());
    }
    if !api.owns(target.path()) {
        return Err(refused());
    }
    let mut rebased = format!("{}{}", base.trim_end_matches('/'), target.path());
    if let Some(q) = target.query() {
        rebased.push('?');
        rebased.push_str(q);
    }
    Ok(rebased)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: ApiPaths<'static> = ApiPaths::Management { tenant: "t1" };

    #[test]
    fn links_on_the_configured_endpoint_are_followed_as_they_are() {
        let link = "https://manage.office.com/api/v1.0/t1/activity/feed/audit/a$b?x=1";
        assert_eq!(guard("https://manage.office.com", link, M).unwrap(), link);
        assert_eq!(
            guard("https://manage.office.com:443/", "https://MANAGE.office.com/api/v1/T1/activity/feed/x", M).unwrap(),
            "https://manage.office.com/api/v1/T1/activity/feed/x"
        );
    }

    #[test]
    fn api_links_on_another_host_are_rebased_onto_the_configured_endpoint() {
        assert_eq!(
            guard(
                "http://proxy.local",
                "https://manage.office.com/api/v1/t1/activity/feed/subscriptions/content?nextpage=1",
                M
            )
            .unwrap(),
            "http://proxy.local/api/v1/t1/activity/feed/subscriptions/content?nextpage=1"
        );
        assert_eq!(
            guard("http://127.0.0.1:9", "http://127.0.0.1:10/v1.0/auditLogs/signIns?$skiptoken=x", ApiPaths::Graph)
                .unwrap(),
            "http://127.0.0.1:9/v1.0/auditLogs/signIns?$skiptoken=x"
        );
        assert_eq!(
            guard("https://gw.example/graph", "https://graph.microsoft.com/beta/x", ApiPaths::Graph).unwrap(),
            "https://gw.example/graph/beta/x"
        );
    }

    #[test]
    fn other_links_on_another_host_scheme_or_port_are_refused() {
        for link in [
            "https://evil.example/steal",
            "https://evil.example/api/v1.0/other-tenant/activity/feed/audit/x",
            "http://manage.office.com:8080/collect",
            "ftp://manage.office.com/api/v1.0/t1/activity/feed/x",
            "not a url",
        ] {
            assert!(guard("https://manage.office.com", link, M).is_err(), "{link}");
        }
        assert!(guard("https://graph.microsoft.com", "https://evil.example/x/v1.0/users", ApiPaths::Graph).is_err());
    }
}

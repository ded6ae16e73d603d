//! Who may call what, over real HTTP: the route matrix walks every declared REST route and every
//! server function as an anonymous caller, a reader, an analyst and an administrator and checks
//! each answer against the permission the route declares; and the browser protections (Host
//! allow-list, same-origin writes, security headers) hold on the running server.

mod common;

use std::collections::BTreeMap;

use aoc::api::routes::Access;
use aoc::auth::{Caller, Permission, Role};
use app::auth::AuthMethod;
use common::{spawn_app, spawn_app_as, Backend, TestApp};
use reqwest::Method;

/// The kinds of caller the matrix runs as.
fn callers() -> Vec<(&'static str, Option<Caller>)> {
    let person = |role: Role| Caller {
        subject: format!("test-{}", role.as_str()),
        display_name: format!("Test {}", role.as_str()),
        role,
        method: AuthMethod::Session,
    };
    vec![
        ("anonymous", None),
        ("reader", Some(person(Role::Reader))),
        ("analyst", Some(person(Role::Analyst))),
        ("admin", Some(person(Role::Admin))),
    ]
}

/// A well-formed call of each server function, so a caller who holds the permission gets past
/// argument decoding. A server function missing here fails the matrix: add its sample call.
fn server_fn_sample(path: &str) -> Option<Vec<(&'static str, &'static str)>> {
    Some(match path {
        "/api/list_events" => vec![("page_size", "5")],
        "/api/event_facets"
        | "/api/event_histogram"
        | "/api/server_info"
        | "/api/api_tokens"
        | "/api/signed_in_people"
        | "/api/event_overview"
        | "/api/event_graph"
        | "/api/event_map"
        | "/api/summarize_events"
        | "/api/summarize_stream"
        | "/api/list_watchlists"
        | "/api/list_saved_searches"
        | "/api/event_table"
        | "/api/event_columns" => {
            vec![]
        }
        "/api/edit_event_columns" => vec![("op", "add"), ("column", "ClientIP")],
        "/api/facet_values" => vec![("field", "actor"), ("contains", "matrix")],
        "/api/create_api_token" => vec![("name", "matrix")],
        "/api/revoke_api_token" => vec![("id", "1")],
        "/api/end_sessions" => vec![("subject", "oid-nobody")],
        "/api/get_event" | "/api/get_watchlist" | "/api/delete_watchlist" => vec![("id", "1")],
        "/api/destinations_page" => vec![],
        "/api/save_destination" => {
            vec![("kind", "webhook"), ("name", "matrix"), ("endpoint", "https://siem.example/hook")]
        }
        "/api/set_destination_enabled" => vec![("id", "999999"), ("enabled", "false")],
        "/api/delete_destination" | "/api/test_destination" | "/api/retry_parked_items" => vec![("id", "999999")],
        "/api/save_watchlist" => vec![("name", "matrix"), ("kind", "user"), ("csv", "upn\nmatrix@contoso.example")],
        "/api/save_search" => vec![("name", "matrix"), ("filter[service]", "Exchange")],
        "/api/delete_saved_search" => vec![("id", "1")],
        "/api/tag_event" => vec![("id", "1"), ("tag", "matrix")],
        "/api/tag_events" => vec![("ids[0]", "1"), ("tag", "matrix")],
        "/api/add_comment" => vec![("id", "1"), ("body", "matrix")],
        "/api/edit_comment" => vec![("id", "1"), ("comment_id", "1"), ("body", "matrix")],
        "/api/delete_comment" => vec![("id", "1"), ("comment_id", "1")],
        "/api/sources_overview" | "/api/collect_now" => vec![],
        "/api/suppress_rule" => vec![("rule_id", "1"), ("entity", "a@b.example"), ("hours", "24"), ("reason", "test")],
        "/api/end_suppression" => vec![("id", "1")],
        "/api/list_rules" | "/api/rule_fields" | "/api/list_alerts" => vec![],
        "/api/get_rule" | "/api/get_alert" => vec![("id", "1")],
        "/api/edit_rule" => vec![("intent", "backtest"), ("mode", "sigma"), ("sigma", "title: [")],
        "/api/set_rule_enabled" => vec![("id", "999999"), ("enabled", "true")],
        "/api/delete_rule" => vec![("id", "999999"), ("confirm", "on")],
        "/api/rule_suppressions" => vec![("rule_id", "999999")],
        "/api/backtest_draft" => vec![("draft", "{}"), ("range", "24h")],
        "/api/triage_alert" => vec![("id", "999999"), ("status", "acknowledged")],
        "/api/comment_alert" => vec![("id", "999999"), ("body", "matrix")],
        "/api/bulk_triage_alerts" => vec![("ids[0]", "999999"), ("action", "acknowledged")],
        "/api/audit_entries" => vec![("search", "matrix")],
        "/api/add_tenant" => vec![
            ("tenant_id", "not-a-guid"),
            ("display_name", "matrix"),
            ("client_id", "not-a-guid"),
            ("client_secret", "matrix"),
        ],
        "/api/set_tenant_enabled" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001"), ("enabled", "false")],
        "/api/remove_tenant" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001")],
        "/api/test_connection" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001")],
        _ => return None,
    })
}

/// A concrete URL for a route path (parameters filled with values that name nothing).
fn concrete(path: &str) -> String {
    path.replace("{id}", "1").replace("{comment_id}", "1").replace("{tenant_id}", "contoso.example")
}

/// What a caller must be answered: 401 without a caller, 403 without the permission, anything
/// else with it.
fn verdict(caller: &Option<Caller>, permission: Permission) -> Expect {
    match caller {
        None => Expect::Status(401),
        Some(c) if !c.can(permission) => Expect::Status(403),
        Some(_) => Expect::Allowed,
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    Status(u16),
    Allowed,
}

async fn call_route(app: &TestApp, method: &Method, path: &str) -> u16 {
    let mut request = app.client.request(method.clone(), app.url(&concrete(path)));
    if matches!(*method, Method::POST | Method::PATCH | Method::PUT) {
        request = request.json(&serde_json::json!({}));
    }
    request.send().await.expect("request").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_server_function_answers_each_caller_as_its_permission_says() {
    let mut failures = Vec::new();
    let mut webhook_answers: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    let mut checked = 0;
    for (name, caller) in callers() {
        let app = spawn_app_as(Backend::Sqlite, caller.clone()).await.expect("SQLite always runs");
        assert!(app.routes.len() >= 20, "the route table lists {} routes", app.routes.len());
        for route in &app.routes {
            let status = call_route(&app, &route.method, route.path).await;
            checked += 1;
            let label = format!("{name} {} {}", route.method, route.path);
            match route.access {
                Access::Requires(permission) => match verdict(&caller, permission) {
                    Expect::Status(expected) if status != expected => {
                        failures.push(format!("{label}: {status}, expected {expected}"))
                    }
                    Expect::Allowed if status == 401 || status == 403 => {
                        failures.push(format!("{label}: {status}, but {name} holds {permission:?}"))
                    }
                    _ => {}
                },
                Access::Public if status == 401 || status == 403 => {
                    failures.push(format!("{label}: {status} on a public route"))
                }
                Access::Public => {}
                Access::Webhook => webhook_answers.entry(route.path.to_string()).or_default().push(status),
            }
        }

        let mut server_fns: Vec<&'static str> =
            leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
        server_fns.sort();
        server_fns.dedup();
        assert!(server_fns.len() >= 9, "server functions registered: {server_fns:?}");
        for path in server_fns {
            let Some(permission) = app::server::required_permission(path) else {
                failures.push(format!("server function {path} declares no permission in app::server::ACCESS"));
                continue;
            };
            let Some(form) = server_fn_sample(path) else {
                failures.push(format!("server function {path} has no sample call in tests/access.rs"));
                continue;
            };
            let response = app.client.post(app.url(path)).form(&form).send().await.expect("request");
            let status = response.status().as_u16();
            checked += 1;
            let label = format!("{name} server function {path}");
            match verdict(&caller, permission) {
                Expect::Status(expected) if status != expected => {
                    failures.push(format!("{label}: {status}, expected {expected}"))
                }
                Expect::Allowed if status == 401 || status == 403 => {
                    failures.push(format!("{label}: {status}, but {name} holds {permission:?}"))
                }
                _ => {}
            }
            if let Expect::Status(_) = verdict(&caller, permission) {
                // Refusals come in the server-function error shape the browser side decodes.
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let code = body["code"].as_str().unwrap_or_default();
                if !["unauthenticated", "forbidden"].contains(&code) {
                    failures.push(format!("{label}: refusal body {body}"));
                }
            }
        }
    }
    // A webhook authenticates by its own secret: the caller makes no difference.
    for (path, statuses) in webhook_answers {
        if statuses.windows(2).any(|w| w[0] != w[1]) {
            failures.push(format!("webhook {path} answers callers differently: {statuses:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_refusal_happens_before_the_input_is_read() {
    let reader = callers().remove(1).1;
    let app = spawn_app_as(Backend::Sqlite, reader).await.expect("SQLite always runs");
    // Malformed on purpose: a reader must learn only that tagging is not theirs to do.
    let response = app
        .client
        .patch(app.url("/api/events/1/tags"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(body["error"]["message"].as_str().unwrap().contains("tag events"), "{body}");
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_rebinding_host_is_refused_and_loopback_names_are_served() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite always runs");
    let port = app.addr.port().to_string();
    for host in ["attacker.example".to_string(), format!("rebind.attacker.example:{port}")] {
        let response = send(&app, Method::GET, "/api/events", &[("host", &host)]).await;
        assert_eq!(response.status(), 421, "{host}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "misdirected");
        let response = send(&app, Method::POST, "/api/list_events", &[("host", &host)]).await;
        assert_eq!(response.status(), 421, "{host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(send(&app, Method::GET, "/api/events", &[("host", &host)]).await.status(), 200, "{host}");
    }
    // Load-balancer probes use the machine's address: health answers any host.
    assert_eq!(send(&app, Method::GET, "/health", &[("host", "10.1.2.3")]).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_url_host_is_served() {
    let Some(app) = common::spawn_app_with(Backend::Sqlite, &[("AOC_PUBLIC_URL", "https://aoc.contoso.example")]).await
    else {
        return;
    };
    let response = send(&app, Method::GET, "/api/events", &[("host", "aoc.contoso.example")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_form_post_cannot_tag_comment_or_start_a_collection() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite always runs");
    let id = common::insert_event(&app.db, "rec-csrf", chrono::Utc::now(), "New-InboxRule").await;
    let id = id.to_string();
    let cross_site = [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")];
    let old_browser = [("origin", "https://evil.example")];
    for headers in [&cross_site[..], &old_browser[..]] {
        for (path, form) in [
            ("/api/tag_event", vec![("id", id.as_str()), ("tag", "pwned")]),
            ("/api/add_comment", vec![("id", id.as_str()), ("body", "pwned")]),
        ] {
            let mut request = app.client.post(app.url(path)).form(&form);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{path} {headers:?}");
        }
        let response = send(&app, Method::POST, "/api/webhooks/graph", headers).await;
        assert_eq!(response.status(), 403);
    }
    // Nothing was written.
    let (_, detail) = app.server_fn("get_event", &[("id", id.as_str())]).await;
    assert_eq!(detail["tags"].as_array().map(Vec::len), Some(0), "{detail}");
    assert_eq!(detail["comments"].as_array().map(Vec::len), Some(0), "{detail}");

    // The same post from AOC's own page goes through.
    let response = app
        .client
        .post(app.url("/api/tag_event"))
        .header("origin", format!("http://127.0.0.1:{}", app.addr.port()))
        .header("sec-fetch-site", "same-origin")
        .form(&[("id", id.as_str()), ("tag", "investigating")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A bearer request is not a browser's ambient credential: the origin check does not apply.
    let response = app
        .client
        .post(app.url("/api/add_comment"))
        .header("origin", "https://evil.example")
        .header("authorization", "Bearer test")
        .form(&[("id", id.as_str()), ("body", "from a script")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_api_answers_carry_security_headers_and_the_page_policy_names_its_script_nonce() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite always runs");
    let response = send(&app, Method::GET, "/events", &[]).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("referrer-policy"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("'unsafe-inline' 'unsafe-eval'") && !csp.contains("script-src *"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a script nonce");
    assert!(nonce.len() >= 16, "{nonce}");
    // Every inline script of the page carries the nonce, so the policy lets it run.
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{html}");

    let second = send(&app, Method::GET, "/events", &[]).await;
    let second_csp = second.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert_ne!(csp, second_csp, "the nonce is new for every page");

    let api = send(&app, Method::GET, "/api/events", &[]).await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert!(api.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
}

//! The Microsoft 365 simulator over real HTTP: every route and every listed error of the token
//! endpoints, the Management Activity API and Graph, the faults, and ground truth.

use std::sync::{Arc, Mutex};

use aoc::simulator::identity::sign_assertion;
use aoc::simulator::{self, RunningSimulator, SimConfig};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const MANAGE_SCOPE: &str = "https://manage.office.com/.default";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const CONTENT_TYPES: [&str; 5] =
    ["Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"];

fn config() -> SimConfig {
    SimConfig {
        seed: 42,
        tenants: 2,
        history_days: 8,
        events_per_day: 600,
        content_page_size: 4,
        allow_http_webhooks: true,
        notify_interval_secs: 1,
        ..SimConfig::default()
    }
}

async fn sim_with(config: SimConfig) -> RunningSimulator {
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

struct Tenant {
    id: String,
    apps: Vec<(String, String)>,
}

async fn tenants(sim: &RunningSimulator) -> Vec<Tenant> {
    let body: Value = http().get(format!("{}/_sim/tenants", sim.base_url)).send().await.unwrap().json().await.unwrap();
    body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Tenant {
            id: t["tenant_id"].as_str().unwrap().to_string(),
            apps: t["apps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["client_id"].as_str().unwrap().to_string(), a["secret"].as_str().unwrap().to_string()))
                .collect(),
        })
        .collect()
}

async fn token_request(sim: &RunningSimulator, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http().post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url)).form(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn token(sim: &RunningSimulator, t: &Tenant, app: usize, scope: &str) -> String {
    let (client_id, secret) = &t.apps[app];
    let (status, body) = token_request(
        sim,
        &t.id,
        &[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret), ("scope", scope)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn aadsts(body: &Value) -> u64 {
    let code = body["error_codes"][0].as_u64().unwrap();
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    assert!(description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: "), "{description}");
    code
}

fn feed(sim: &RunningSimulator, tenant: &str) -> String {
    format!("{}/api/v1.0/{tenant}/activity/feed", sim.base_url)
}

async fn management(
    _sim: &RunningSimulator,
    token: &str,
    method: reqwest::Method,
    url: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = http().request(method, url).bearer_auth(token).header("content-length", "0").send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) },
    )
}

fn af(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn pub_id(t: &Tenant) -> String {
    format!("PublisherIdentifier={}", t.id)
}

async fn start_all(sim: &RunningSimulator, t: &Tenant, token: &str) {
    for ct in CONTENT_TYPES {
        let url = format!("{}/subscriptions/start?contentType={ct}&{}", feed(sim, &t.id), pub_id(t));
        let (status, _, body) = management(sim, token, reqwest::Method::POST, &url).await;
        assert!(status == 200 || af(&body) == "AF20024", "{ct}: {status} {body}");
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Lists a window, following NextPageUri; returns descriptors and the next-page URLs seen.
async fn list_window(
    sim: &RunningSimulator,
    t: &Tenant,
    token: &str,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Vec<Value>, Vec<String>) {
    let mut url = format!(
        "{}/subscriptions/content?contentType={ct}&startTime={}&endTime={}&{}",
        feed(sim, &t.id),
        fmt(start),
        fmt(end),
        pub_id(t)
    );
    let mut all = Vec::new();
    let mut next_urls = Vec::new();
    loop {
        let (status, headers, body) = management(sim, token, reqwest::Method::GET, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        all.extend(body.as_array().unwrap().iter().cloned());
        match headers.get("nextpageuri") {
            Some(next) => {
                let next = next.to_str().unwrap().to_string();
                next_urls.push(next.clone());
                url = format!("{next}&{}", pub_id(t));
            }
            None => break,
        }
    }
    (all, next_urls)
}

async fn truth(
    sim: &RunningSimulator,
    tenant: &str,
    source: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<String> {
    let url = format!(
        "{}/_sim/ground-truth?tenant={tenant}&source={source}&since={}&until={}",
        sim.base_url,
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let body: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

async fn patch_faults(sim: &RunningSimulator, faults: Value) {
    let r = http().patch(format!("{}/_sim/faults", sim.base_url)).json(&faults).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Identity

#[tokio::test]
async fn a_secret_in_the_form_or_in_basic_auth_gets_a_v2_token_with_numeric_lifetimes() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let (client_id, secret) = &t.apps[0];
    let (status, body) = token_request(
        &sim,
        &t.id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", MANAGE_SCOPE),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_number() && body["ext_expires_in"].is_number());

    let r = http()
        .post(format!("{}/{}/oauth2/v2.0/token", sim.base_url, t.id))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_v1_endpoint_answers_with_string_numbers_and_the_resource() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let (client_id, secret) = &t.apps[0];
    let r = http()
        .post(format!("{}/{}/oauth2/token?api-version=1.0", sim.base_url, t.id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("resource", "https://manage.office.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["expires_in"].is_string() && body["expires_on"].is_string() && body["not_before"].is_string());
    assert_eq!(body["resource"], "https://manage.office.com");
}

#[tokio::test]
async fn certificate_assertions_in_both_header_variants_work_once_each() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let client_id = &t.apps[0].0;
    let endpoint = format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", t.id);
    for sha256 in [false, true] {
        let assertion = sign_assertion(&endpoint, client_id, sha256);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
            ("scope", GRAPH_SCOPE),
        ];
        let (status, body) = token_request(&sim, &t.id, &form).await;
        assert_eq!(status, 200, "sha256={sha256}: {body}");
        // The same assertion again is a replay.
        let (status, body) = token_request(&sim, &t.id, &form).await;
        assert_eq!(status, 401);
        assert_eq!(aadsts(&body), 700025);
    }
    // An assertion for another tenant's token endpoint is refused.
    let wrong_aud = sign_assertion("https://login.microsoftonline.com/other/oauth2/v2.0/token", client_id, true);
    let (status, body) = token_request(
        &sim,
        &t.id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &wrong_aud),
            ("scope", GRAPH_SCOPE),
        ],
    )
    .await;
    assert_eq!((status, aadsts(&body)), (401, 700021));
}

#[tokio::test]
async fn assertions_signed_with_an_unknown_key_or_expired_are_refused() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let client_id = &t.apps[0].0;
    let endpoint = format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", t.id);
    let key = include_str!("../src/simulator/fixtures/unregistered-key.pem");
    let now = Utc::now().timestamp();
    let sign = |claims: Value, key: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.x5t = Some("bm90LXRoZS1yZWdpc3RlcmVkLWtleQ".into());
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap())
            .unwrap()
    };
    let claims =
        json!({"aud": endpoint, "iss": client_id, "sub": client_id, "jti": "j1", "nbf": now, "exp": now + 600});
    let unknown = sign(claims, key);
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.clone()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion", a.to_string()),
            ("scope", GRAPH_SCOPE.to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let url = format!("{}/{}/oauth2/v2.0/token", sim.base_url, t.id);
        async move {
            let r = http().post(url).form(&f).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(form(&unknown)).await;
    assert_eq!((status, aadsts(&body)), (401, 700027));

    // Registered key, but expired an hour ago.
    let registered = include_str!("../src/simulator/fixtures/sim-app-key.pem");
    let good = sign_assertion(&endpoint, client_id, false);
    let header = jsonwebtoken::decode_header(&good).unwrap();
    let expired_claims =
        json!({"aud": endpoint, "iss": client_id, "sub": client_id, "jti": "j2", "nbf": now - 7200, "exp": now - 3600});
    let expired = jsonwebtoken::encode(
        &header,
        &expired_claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(registered.as_bytes()).unwrap(),
    )
    .unwrap();
    let (status, body) = post(form(&expired)).await;
    assert_eq!((status, aadsts(&body)), (401, 700024));
}

#[tokio::test]
async fn token_errors_follow_the_aadsts_catalogue() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let (client_id, secret) = (&t.apps[0].0, &t.apps[0].1);
    // (tenant, form fields, expected status, expected error, expected AADSTS code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);
    let cases: Vec<Case> = vec![
        (
            &t.id,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", "wrong"),
                ("scope", MANAGE_SCOPE),
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (
            &t.id,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "11111111-2222-4333-8444-555555555555"),
                ("client_secret", secret),
                ("scope", MANAGE_SCOPE),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "99999999-9999-4999-8999-999999999999",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", MANAGE_SCOPE),
            ],
            400,
            "invalid_request",
            90002,
        ),
        (
            &t.id,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://manage.office.com"),
            ],
            400,
            "invalid_scope",
            1002012,
        ),
        (
            &t.id,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://manage.office.com/.default https://graph.microsoft.com/.default"),
            ],
            400,
            "invalid_scope",
            700022,
        ),
        (
            &t.id,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://unknown.example/.default"),
            ],
            400,
            "invalid_resource",
            500011,
        ),
        (
            &t.id,
            vec![("grant_type", "client_credentials"), ("client_id", client_id), ("scope", MANAGE_SCOPE)],
            401,
            "invalid_client",
            7000218,
        ),
        (
            &t.id,
            vec![("client_id", client_id), ("client_secret", secret), ("scope", MANAGE_SCOPE)],
            400,
            "invalid_request",
            900144,
        ),
        (
            &t.id,
            vec![
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", MANAGE_SCOPE),
            ],
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            "common",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", MANAGE_SCOPE),
            ],
            400,
            "invalid_request",
            9001023,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let (got_status, body) = token_request(&sim, tenant, &form).await;
        assert_eq!((got_status, body["error"].as_str().unwrap()), (status, error), "{form:?}: {body}");
        assert_eq!(aadsts(&body), code, "{form:?}");
    }
    // The secret's id instead of its value is the most common mistake; the message says so.
    let body: Value = http().get(format!("{}/_sim/tenants", sim.base_url)).send().await.unwrap().json().await.unwrap();
    let secret_id = body["tenants"][0]["apps"][0]["secret_id"].as_str().unwrap().to_string();
    let (_, body) = token_request(
        &sim,
        &t.id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", &secret_id),
            ("scope", MANAGE_SCOPE),
        ],
    )
    .await;
    assert!(body["error_description"].as_str().unwrap().contains("client secret value, not the client secret ID"));
}

#[tokio::test]
async fn a_token_endpoint_outage_answers_503_and_then_recovers() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    patch_faults(&sim, json!({"token_outage": 2})).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", t.apps[0].0.as_str()),
        ("client_secret", t.apps[0].1.as_str()),
        ("scope", MANAGE_SCOPE),
    ];
    assert_eq!(token_request(&sim, &t.id, &form).await.0, 503);
    assert_eq!(token_request(&sim, &t.id, &form).await.0, 503);
    assert_eq!(token_request(&sim, &t.id, &form).await.0, 200);
}

// ---------------------------------------------------------------------------------------------
// Management Activity API

#[tokio::test]
async fn subscriptions_start_list_stop_and_restart_follow_the_protocol() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    let base = feed(&sim, &t.id);
    let (status, _, body) =
        management(&sim, &tok, reqwest::Method::GET, &format!("{base}/subscriptions/list?{}", pub_id(t))).await;
    assert_eq!((status, body.clone()), (200, json!([])));

    let start = format!("{base}/subscriptions/start?contentType=Audit.Exchange&{}", pub_id(t));
    let (status, _, body) = management(&sim, &tok, reqwest::Method::POST, &start).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"contentType": "Audit.Exchange", "status": "enabled", "webhook": null}));
    let (status, _, body) = management(&sim, &tok, reqwest::Method::POST, &start).await;
    assert_eq!((status, af(&body)), (400, "AF20024"));

    let (_, _, body) =
        management(&sim, &tok, reqwest::Method::GET, &format!("{base}/subscriptions/list?{}", pub_id(t))).await;
    assert_eq!(body.as_array().unwrap().len(), 1);

    let stop = format!("{base}/subscriptions/stop?contentType=Audit.Exchange&{}", pub_id(t));
    assert_eq!(management(&sim, &tok, reqwest::Method::POST, &stop).await.0, 200);
    let list = format!("{base}/subscriptions/content?contentType=Audit.Exchange&{}", pub_id(t));
    let (status, _, body) = management(&sim, &tok, reqwest::Method::GET, &list).await;
    assert_eq!((status, af(&body)), (400, "AF20023"));
    // Restarting within 15 minutes of the last start is throttled (AF429, status 403).
    let (status, _, body) = management(&sim, &tok, reqwest::Method::POST, &start).await;
    assert_eq!((status, af(&body)), (403, "AF429"));
    // A content type never started: AF20022.
    let (status, _, body) = management(
        &sim,
        &tok,
        reqwest::Method::GET,
        &format!("{base}/subscriptions/content?contentType=Audit.General&{}", pub_id(t)),
    )
    .await;
    assert_eq!((status, af(&body)), (400, "AF20022"));
}

#[tokio::test]
async fn content_listing_pages_by_next_page_uri_and_blobs_hold_the_ground_truth() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    start_all(&sim, t, &tok).await;
    let now = Utc::now();
    let since = now - Duration::days(2);
    let mut collected = std::collections::BTreeSet::new();
    let mut saw_lowercase = false;
    let mut saw_documented = false;
    for ct in ["Audit.Exchange", "Audit.SharePoint"] {
        let mut start = since;
        while start < now {
            let end = (start + Duration::hours(24)).min(now);
            let (blobs, next_urls) = list_window(&sim, t, &tok, ct, start, end).await;
            saw_lowercase |= next_urls
                .iter()
                .any(|u| u.contains("/api/v1/") && u.contains("contenttype=") && u.contains("nextpage="));
            saw_documented |= next_urls
                .iter()
                .any(|u| u.contains("/api/v1.0/") && u.contains("contentType=") && u.contains("nextPage="));
            for b in blobs {
                let created = DateTime::parse_from_rfc3339(b["contentCreated"].as_str().unwrap()).unwrap();
                assert!(created >= start && created < end, "blob outside its window");
                assert!(b["contentId"].as_str().unwrap().contains('$'));
                let uri = format!("{}?{}", b["contentUri"].as_str().unwrap(), pub_id(t));
                let (status, _, records) = management(&sim, &tok, reqwest::Method::GET, &uri).await;
                assert_eq!(status, 200, "{records}");
                for r in records.as_array().unwrap() {
                    assert!(r["CreationTime"].as_str().unwrap().len() == 19, "UAL times have no zone");
                    collected.insert(r["Id"].as_str().unwrap().to_string());
                }
            }
            start = end;
        }
    }
    assert!(saw_lowercase && saw_documented, "both NextPageUri variants are served");
    let mut expected: Vec<String> = truth(&sim, &t.id, "Audit.Exchange", since, now).await;
    expected.extend(truth(&sim, &t.id, "Audit.SharePoint", since, now).await);
    expected.sort();
    expected.dedup();
    assert!(!expected.is_empty());
    assert_eq!(collected.into_iter().collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn listing_windows_follow_the_rules() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    start_all(&sim, t, &tok).await;
    let now = Utc::now();
    let base = format!("{}/subscriptions/content?contentType=Audit.Exchange&{}", feed(&sim, &t.id), pub_id(t));
    let cases = [
        (format!("&startTime={}&endTime={}", fmt(now - Duration::hours(25)), fmt(now)), "AF20055"),
        (format!("&startTime={}&endTime={}", fmt(now), fmt(now - Duration::hours(1))), "AF20055"),
        (
            format!(
                "&startTime={}&endTime={}",
                fmt(now - Duration::days(8)),
                fmt(now - Duration::days(8) + Duration::hours(1))
            ),
            "AF20055",
        ),
        (format!("&startTime={}", fmt(now - Duration::hours(1))), "AF20030"),
        ("&startTime=yesterday&endTime=today".to_string(), "AF20002"),
        (format!("&startTime={}&endTime={}&nextPage=bogus", fmt(now - Duration::hours(2)), fmt(now)), "AF20031"),
    ];
    for (params, code) in cases {
        let (status, _, body) = management(&sim, &tok, reqwest::Method::GET, &format!("{base}{params}")).await;
        assert_eq!((status, af(&body)), (400, code), "{params}");
    }
    // The documented date-only and minute formats are accepted; so is an end in the future.
    let day = (now - Duration::days(1)).format("%Y-%m-%d");
    let next = now.format("%Y-%m-%d");
    assert_eq!(
        management(&sim, &tok, reqwest::Method::GET, &format!("{base}&startTime={day}&endTime={next}")).await.0,
        200
    );
    let minute = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    let url =
        format!("{base}&startTime={}&endTime={}", minute(now - Duration::hours(3)), minute(now + Duration::hours(1)));
    assert_eq!(management(&sim, &tok, reqwest::Method::GET, &url).await.0, 200);
    // Neither bound: the last 24 hours.
    assert_eq!(management(&sim, &tok, reqwest::Method::GET, &base).await.0, 200);
}

#[tokio::test]
async fn tenant_token_and_permission_errors_use_the_af_codes() {
    let sim = sim_with(config()).await;
    let ts = tenants(&sim).await;
    let (a, b) = (&ts[0], &ts[1]);
    let tok_a = token(&sim, a, 0, MANAGE_SCOPE).await;
    let ct = |tenant: &str, ct: &str| {
        format!("{}/subscriptions/content?contentType={ct}&PublisherIdentifier={tenant}", feed(&sim, tenant))
    };
    let r = http().get(ct(&a.id, "Audit.Exchange")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");
    let (status, _, body) =
        management(&sim, &tok_a, reqwest::Method::GET, &ct("contoso.onmicrosoft.com", "Audit.Exchange")).await;
    assert_eq!((status, af(&body)), (400, "AF20013"));
    let (status, _, body) = management(&sim, &tok_a, reqwest::Method::GET, &ct(&b.id, "Audit.Exchange")).await;
    assert_eq!((status, af(&body)), (401, "AF20010"));
    let graph_token = token(&sim, a, 0, GRAPH_SCOPE).await;
    assert_eq!(
        management(&sim, &graph_token, reqwest::Method::GET, &ct(&a.id, "Audit.Exchange")).await.0,
        401,
        "a Graph token"
    );
    let unconsented = token(&sim, a, 2, MANAGE_SCOPE).await;
    let (status, _, body) = management(&sim, &unconsented, reqwest::Method::GET, &ct(&a.id, "Audit.Exchange")).await;
    assert_eq!((status, af(&body)), (401, "AF10001"));
    let no_dlp = token(&sim, a, 1, MANAGE_SCOPE).await;
    let (status, _, body) = management(&sim, &no_dlp, reqwest::Method::GET, &ct(&a.id, "DLP.All")).await;
    assert_eq!((status, af(&body)), (401, "AF10001"));
    let (status, _, body) = management(&sim, &tok_a, reqwest::Method::GET, &ct(&a.id, "Audit.Everything")).await;
    assert_eq!((status, af(&body)), (400, "AF20020"));

    // A subscription the tenant admin disabled: AF20023.
    start_all(&sim, a, &tok_a).await;
    let r = http()
        .post(format!("{}/_sim/tenants/{}/subscriptions/Audit.General/disable", sim.base_url, a.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _, body) = management(&sim, &tok_a, reqwest::Method::GET, &ct(&a.id, "Audit.General")).await;
    assert_eq!((status, af(&body)), (400, "AF20023"));

    // Unified audit logging off: the unstructured StartSubscription failure.
    http()
        .patch(format!("{}/_sim/tenants/{}/flags", sim.base_url, a.id))
        .json(&json!({"unified_audit": false}))
        .send()
        .await
        .unwrap();
    let (status, _, body) = management(&sim, &tok_a, reqwest::Method::GET, &ct(&a.id, "Audit.Exchange")).await;
    assert_eq!(status, 400);
    assert!(af(&body).starts_with("StartSubscription [TenantId="), "{body}");
}

#[tokio::test]
async fn blob_errors_cover_malformed_unknown_and_expired_content() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    start_all(&sim, t, &tok).await;
    let base = feed(&sim, &t.id);
    let (status, _, body) =
        management(&sim, &tok, reqwest::Method::GET, &format!("{base}/audit/not-a-content-id?{}", pub_id(t))).await;
    assert_eq!((status, af(&body)), (400, "AF20052"));
    let unknown = "20200101000000000000000$20200101010000000000000$audit_exchange$Audit_Exchange$na0011";
    let (status, _, body) =
        management(&sim, &tok, reqwest::Method::GET, &format!("{base}/audit/{unknown}?{}", pub_id(t))).await;
    assert_eq!((status, af(&body)), (400, "AF20050"));

    let now = Utc::now();
    let (blobs, _) = list_window(&sim, t, &tok, "Audit.Exchange", now - Duration::hours(20), now).await;
    let uri = blobs[0]["contentUri"].as_str().unwrap().to_string();
    patch_faults(&sim, json!({"expire_before": now.to_rfc3339()})).await;
    let (status, _, body) = management(&sim, &tok, reqwest::Method::GET, &format!("{uri}?{}", pub_id(t))).await;
    assert_eq!((status, af(&body)), (400, "AF20051"));
    assert!(body["error"]["message"].as_str().unwrap().contains("has already expired"));
}

#[tokio::test]
async fn the_request_budget_is_per_tenant_and_publisher_and_answers_af429() {
    let sim = sim_with(SimConfig { management_budget_per_minute: 6, ..config() }).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    let list = format!("{}/subscriptions/list?{}", feed(&sim, &t.id), pub_id(t));
    for _ in 0..6 {
        assert_eq!(management(&sim, &tok, reqwest::Method::GET, &list).await.0, 200);
    }
    let (status, _, body) = management(&sim, &tok, reqwest::Method::GET, &list).await;
    assert_eq!((status, af(&body)), (403, "AF429"));
    assert!(body["error"]["message"].as_str().unwrap().contains(&format!("PublisherId={}", t.id)));
    // Without PublisherIdentifier the request counts against the shared pool, and is counted.
    let anon = format!("{}/subscriptions/list", feed(&sim, &t.id));
    assert_eq!(management(&sim, &tok, reqwest::Method::GET, &anon).await.0, 200);
    let stats: Value = http().get(format!("{}/_sim/stats", sim.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["management_requests_without_publisher"], 1);
    assert!(stats["throttled"].as_u64().unwrap() >= 1);
}

/// A local listener that records the requests it gets and answers with `status`, echoing
/// Graph's validationToken when asked to.
async fn listener(status: u16, echo: bool) -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, String, String)>>>) {
    use axum::extract::{RawQuery, State};
    use axum::http::{HeaderMap, StatusCode};
    type Log = Arc<Mutex<Vec<(HeaderMap, String, String)>>>;
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    async fn handle(
        State((log, status, echo)): State<(Log, u16, bool)>,
        RawQuery(q): RawQuery,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, [(String, String); 1], String) {
        let query = q.unwrap_or_default();
        log.lock().unwrap().push((headers, query.clone(), body));
        let token = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "validationToken")
            .map(|(_, v)| v.into_owned());
        let reply = if echo { token.unwrap_or_default() } else { "nope".into() };
        (StatusCode::from_u16(status).unwrap(), [("content-type".to_string(), "text/plain".to_string())], reply)
    }
    let app = axum::Router::new().fallback(handle).with_state((log.clone(), status, echo));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, log)
}

#[tokio::test]
async fn webhooks_are_validated_on_start_and_then_notified_of_new_content() {
    let sim = sim_with(SimConfig { start_throttle_secs: 0, ..config() }).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    let start = format!("{}/subscriptions/start?contentType=Audit.SharePoint&{}", feed(&sim, &t.id), pub_id(t));

    let (bad_url, _) = listener(500, false).await;
    let r = http()
        .post(&start)
        .bearer_auth(&tok)
        .json(&json!({"webhook": {"address": bad_url, "authId": "tag-1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(af(&r.json::<Value>().await.unwrap()), "AF20021");

    let (url, log) = listener(200, false).await;
    let r = http()
        .post(&start)
        .bearer_auth(&tok)
        .json(&json!({"webhook": {"address": url, "authId": "tag-1", "expiration": ""}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["webhook"]["status"], "enabled");
    {
        let log = log.lock().unwrap();
        let (headers, _, body) = &log[0];
        let code = headers["webhook-validationcode"].to_str().unwrap();
        assert_eq!(serde_json::from_str::<Value>(body).unwrap()["validationCode"], code);
        assert_eq!(headers["webhook-authid"], "tag-1");
    }
    // Let three hours pass: new blobs become available and are pushed.
    http()
        .post(format!("{}/_sim/clock", sim.base_url))
        .json(&json!({"advance_seconds": 3 * 3600}))
        .send()
        .await
        .unwrap();
    for _ in 0..50 {
        if log.lock().unwrap().len() > 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = log.lock().unwrap();
    assert!(log.len() > 1, "a notification arrives");
    let (headers, _, body) = &log[1];
    assert_eq!(headers["webhook-authid"], "tag-1");
    let items: Value = serde_json::from_str(body).unwrap();
    assert_eq!(items[0]["contentType"], "Audit.SharePoint");
    assert_eq!(items[0]["tenantId"], t.id.as_str());
}

#[tokio::test]
async fn an_oversized_blob_is_streamed_and_counted_in_ground_truth() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    start_all(&sim, t, &tok).await;
    patch_faults(&sim, json!({"oversized_blob_mb": 2})).await;
    let clock: Value = http().get(format!("{}/_sim/clock", sim.base_url)).send().await.unwrap().json().await.unwrap();
    let origin = DateTime::parse_from_rfc3339(clock["origin"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    let start = origin + Duration::hours(30);
    let end = start + Duration::hours(6);
    let (blobs, _) = list_window(&sim, t, &tok, "Audit.SharePoint", start, end).await;
    let big = blobs
        .iter()
        .find(|b| {
            b["contentId"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}000000999", (origin + Duration::hours(30)).format("%Y%m%d%H%M%S")))
        })
        .expect("the oversized blob is listed");
    let r = http()
        .get(format!("{}?{}", big["contentUri"].as_str().unwrap(), pub_id(t)))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() > 2 * 1024 * 1024 - 4096, "{} bytes", bytes.len());
    let records: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let expected = truth(&sim, &t.id, "Audit.SharePoint", start, end).await;
    let got: std::collections::BTreeSet<String> =
        records.iter().map(|r| r["Id"].as_str().unwrap().to_string()).collect();
    assert!(got.iter().all(|id| expected.binary_search(id).is_ok()));
    assert_eq!(got.len(), 2048);
}

// ---------------------------------------------------------------------------------------------
// Graph

async fn graph(token: &str, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = http().get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn graph_resources_page_by_next_link_within_the_filter() {
    let sim = sim_with(SimConfig { graph_reports_limit: 0, ..config() }).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, GRAPH_SCOPE).await;
    let until = Utc::now() - Duration::hours(3);
    let since = until - Duration::days(3);
    for (path, field, source) in [
        ("auditLogs/directoryAudits", "activityDateTime", "directory"),
        ("auditLogs/signIns", "createdDateTime", "signin"),
        ("deviceManagement/auditEvents", "activityDateTime", "intune"),
    ] {
        for order in ["desc", "asc"] {
            let filter = format!("{field} ge {} and {field} lt {}", fmt(since), fmt(until));
            let mut url = reqwest::Url::parse(&format!("{}/v1.0/{path}", sim.base_url)).unwrap();
            url.query_pairs_mut()
                .append_pair("$filter", &filter)
                .append_pair("$top", "7")
                .append_pair("$orderby", &format!("{field} {order}"));
            let mut url = url.to_string();
            let mut ids = Vec::new();
            let mut times = Vec::new();
            let mut pages = 0;
            loop {
                let (status, _, body) = graph(&tok, &url).await;
                assert_eq!(status, 200, "{url}: {body}");
                assert!(body["@odata.context"].as_str().unwrap().contains("$metadata#"));
                let value = body["value"].as_array().unwrap();
                assert!(value.len() <= 7);
                for r in value {
                    ids.push(r["id"].as_str().unwrap().to_string());
                    times.push(r[field].as_str().unwrap().to_string());
                }
                pages += 1;
                match body["@odata.nextLink"].as_str() {
                    Some(next) => url = next.to_string(),
                    None => break,
                }
            }
            assert!(pages > 1, "{path} pages");
            let mut sorted = times.clone();
            sorted.sort();
            if order == "desc" {
                sorted.reverse();
            }
            assert_eq!(times, sorted, "{path} {order} order");
            let mut got = ids.clone();
            got.sort();
            let before = got.len();
            got.dedup();
            assert_eq!(before, got.len(), "no record twice across pages");
            assert_eq!(got, truth(&sim, &t.id, source, since, until).await, "{path} {order}");
        }
    }
}

#[tokio::test]
async fn graph_errors_cover_tokens_filters_licences_permissions_and_throttling() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, GRAPH_SCOPE).await;
    let url = |path: &str| format!("{}/v1.0/{path}", sim.base_url);
    let r = http().get(url("auditLogs/directoryAudits")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "InvalidAuthenticationToken");
    let manage = token(&sim, t, 0, MANAGE_SCOPE).await;
    assert_eq!(graph(&manage, &url("auditLogs/directoryAudits")).await.0, 401, "wrong audience");

    let (status, _, body) = graph(&tok, &url("auditLogs/directoryAudits?$filter=category eq 'RoleManagement'")).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (400, "BadRequest"));

    http()
        .patch(format!("{}/_sim/tenants/{}/flags", sim.base_url, t.id))
        .json(&json!({"entra_p1": false}))
        .send()
        .await
        .unwrap();
    let (status, _, body) = graph(&tok, &url("auditLogs/signIns")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    );
    let no_intune = token(&sim, t, 1, GRAPH_SCOPE).await;
    assert_eq!(graph(&no_intune, &url("deviceManagement/auditEvents")).await.0, 403);
    let unconsented = token(&sim, t, 2, GRAPH_SCOPE).await;
    let (status, _, body) = graph(&unconsented, &url("auditLogs/directoryAudits")).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (403, "Authentication_MSGraphPermissionMissing"));

    // 5 requests per 10 seconds per app and tenant for the identity reports (above, one counted).
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let (status, headers, _) = graph(&tok, &url("auditLogs/directoryAudits?$top=1")).await;
        statuses.push(status);
        if status == 429 {
            retry_after = headers.get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.is_some_and(|s| (1..=10).contains(&s)));
}

#[tokio::test]
async fn graph_change_notifications_require_the_validation_handshake() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, GRAPH_SCOPE).await;
    let expiry = (Utc::now() + Duration::hours(24)).to_rfc3339();
    let create = |url: String, resource: &str| {
        http().post(format!("{}/v1.0/subscriptions", sim.base_url)).bearer_auth(&tok).json(&json!({
            "changeType": "updated", "notificationUrl": url, "resource": resource,
            "expirationDateTime": expiry, "clientState": "secret-state"
        }))
    };
    let (good, log) = listener(200, true).await;
    let r = create(good.clone(), "users").send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    {
        let log = log.lock().unwrap();
        let (headers, query, _) = &log[0];
        assert!(query.starts_with("validationToken="));
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    }
    let (bad, _) = listener(200, false).await;
    assert_eq!(create(bad, "users").send().await.unwrap().status(), 400);
    assert_eq!(
        create(good, "auditLogs/signIns").send().await.unwrap().status(),
        400,
        "audit logs have no change notifications"
    );
}

// ---------------------------------------------------------------------------------------------
// Faults and determinism

#[tokio::test]
async fn faults_switch_on_and_off_at_run_time() {
    let sim = sim_with(SimConfig { graph_reports_limit: 0, ..config() }).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    let list = format!("{}/subscriptions/list?{}", feed(&sim, &t.id), pub_id(t));

    patch_faults(&sim, json!({"server_errors": 2})).await;
    let first = management(&sim, &tok, reqwest::Method::GET, &list).await;
    let second = management(&sim, &tok, reqwest::Method::GET, &list).await;
    assert!(first.0 >= 500 && second.0 >= 500);
    assert_eq!(af(&first.2), "AF50000");
    assert_eq!(management(&sim, &tok, reqwest::Method::GET, &list).await.0, 200);

    patch_faults(&sim, json!({"af429": 1})).await;
    assert_eq!(af(&management(&sim, &tok, reqwest::Method::GET, &list).await.2), "AF429");

    patch_faults(&sim, json!({"timeouts": 1, "timeout_ms": 300})).await;
    assert_eq!(management(&sim, &tok, reqwest::Method::GET, &list).await.0, 504);

    let gtok = token(&sim, t, 0, GRAPH_SCOPE).await;
    let audits = format!("{}/v1.0/auditLogs/directoryAudits?$top=5", sim.base_url);
    patch_faults(&sim, json!({"graph_429": 1, "retry_after_secs": 3})).await;
    let (status, headers, _) = graph(&gtok, &audits).await;
    assert_eq!((status, headers["retry-after"].to_str().unwrap()), (429, "3"));

    patch_faults(&sim, json!({"truncated": 1})).await;
    let text = http().get(&audits).bearer_auth(&gtok).send().await.unwrap().text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "a truncated body is not JSON");
    patch_faults(&sim, json!({"invalid_json": 1})).await;
    let text = http().get(&audits).bearer_auth(&gtok).send().await.unwrap().text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(graph(&gtok, &audits).await.0, 200, "faults are used up");

    let r =
        http().patch(format!("{}/_sim/faults", sim.base_url)).json(&json!({"no_such_fault": 1})).send().await.unwrap();
    assert_eq!(r.status(), 400, "unknown faults are refused");
}

#[tokio::test]
async fn the_same_seed_publishes_the_same_records() {
    let a = sim_with(config()).await;
    let b = sim_with(config()).await;
    let ta = &tenants(&a).await[0];
    let tb = &tenants(&b).await[0];
    assert_eq!(ta.id, tb.id);
    assert_eq!(ta.apps, tb.apps);
    let until = Utc::now() - Duration::hours(4);
    let since = until - Duration::days(2);
    let ids_a = truth(&a, &ta.id, "signin", since, until).await;
    assert!(!ids_a.is_empty());
    assert_eq!(ids_a, truth(&b, &tb.id, "signin", since, until).await);
}

#[tokio::test]
async fn notification_history_and_dlp_sensitive_types_are_served() {
    let sim = sim_with(SimConfig { start_throttle_secs: 0, ..config() }).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, MANAGE_SCOPE).await;
    let base = feed(&sim, &t.id);
    let (url, _) = listener(200, false).await;
    let r = http()
        .post(format!("{base}/subscriptions/start?contentType=Audit.Exchange&{}", pub_id(t)))
        .bearer_auth(&tok)
        .json(&json!({"webhook": {"address": url, "authId": "a"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let now = Utc::now();
    let list = format!(
        "{base}/subscriptions/notifications?contentType=Audit.Exchange&startTime={}&endTime={}&{}",
        fmt(now - Duration::hours(20)),
        fmt(now),
        pub_id(t)
    );
    let (status, _, body) = management(&sim, &tok, reqwest::Method::GET, &list).await;
    assert_eq!(status, 200, "{body}");
    let items = body.as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|n| n["notificationStatus"] == "success"
        && n["notificationSent"].is_string()
        && n["contentUri"].is_string()));

    let types = format!("{base}/resources/dlpSensitiveTypes?{}", pub_id(t));
    let r = http().get(&types).bearer_auth(&tok).header("Accept-Language", "en-US").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body.as_array().unwrap().iter().any(|t| t["name"] == "Credit Card Number"));
    let r = http().get(&types).bearer_auth(&tok).header("Accept-Language", "en-US, de-DE").send().await.unwrap();
    assert_eq!((r.status().as_u16(), af(&r.json::<Value>().await.unwrap()).to_string()), (400, "AF20053".to_string()));
}

#[tokio::test]
async fn graph_subscriptions_are_listed_renewed_and_deleted() {
    let sim = sim_with(config()).await;
    let t = &tenants(&sim).await[0];
    let tok = token(&sim, t, 0, GRAPH_SCOPE).await;
    let (url, _) = listener(200, true).await;
    let r = http()
        .post(format!("{}/v1.0/subscriptions", sim.base_url))
        .bearer_auth(&tok)
        .json(&json!({"changeType": "updated", "notificationUrl": url, "resource": "users", "expirationDateTime": (Utc::now() + Duration::hours(2)).to_rfc3339(), "clientState": "cs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["clientState"], "cs");
    let list: Value = http()
        .get(format!("{}/v1.0/subscriptions", sim.base_url))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let later = (Utc::now() + Duration::hours(20)).to_rfc3339();
    let r = http()
        .patch(format!("{}/v1.0/subscriptions/{id}", sim.base_url))
        .bearer_auth(&tok)
        .json(&json!({"expirationDateTime": later}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http().delete(format!("{}/v1.0/subscriptions/{id}", sim.base_url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = http().delete(format!("{}/v1.0/subscriptions/{id}", sim.base_url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

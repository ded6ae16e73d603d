//! Sign-in with a real OpenID provider (npm `oidc-provider`, started per test by `node`): the
//! whole browser flow with a cookie jar, what each role may do afterwards, the denied page,
//! group overage resolved through the Graph stand-in, sign-out, session rotation, and the REST
//! API's bearer tokens (real ones from the provider and forged ones that must all be refused).

mod common;

use base64::Engine;
use chrono::Utc;
use common::oidc::{browser, key_path, sign_in, spawn_signin_app, TestProvider, CLIENT_ID};
use common::{insert_event, Backend, TestApp};
use sea_orm::{ConnectionTrait, Statement};

async fn signed_in(app: &TestApp, user: &str) -> reqwest::Client {
    let b = browser();
    let result = sign_in(app, &b, user).await;
    assert_eq!(result.status, 303, "{user} should be signed in: {}", result.body);
    assert_eq!(result.location.as_deref(), Some("/events"));
    b
}

async fn status_of(client: &reqwest::Client, request: reqwest::RequestBuilder) -> u16 {
    let _ = client;
    request.send().await.expect("request").status().as_u16()
}

async fn server_fn(app: &TestApp, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> u16 {
    status_of(client, client.post(app.url(&format!("/api/{name}"))).form(form)).await
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all(Statement::from_string(backend, "SELECT action, actor FROM audit_trail ORDER BY id"))
        .await
        .expect("audit trail");
    rows.iter()
        .map(|r| (r.try_get::<String>("", "action").unwrap(), r.try_get::<String>("", "actor").unwrap()))
        .collect()
}

async fn each_role_may_do_what_its_role_allows(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let event = insert_event(&app.db, "rec-1", Utc::now(), "Set-Mailbox").await.to_string();
    let id = event.as_str();

    let reader = signed_in(&app, "reader").await;
    assert_eq!(server_fn(&app, &reader, "list_events", &[("page_size", "5")]).await, 200);
    assert_eq!(status_of(&reader, reader.get(app.url("/api/events"))).await, 200);
    assert_eq!(server_fn(&app, &reader, "tag_event", &[("id", id), ("tag", "x")]).await, 403);
    assert_eq!(server_fn(&app, &reader, "add_comment", &[("id", id), ("body", "x")]).await, 403);
    let info: serde_json::Value = reader.post(app.url("/api/server_info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["caller"]["role"], "reader");
    assert_eq!(info["caller"]["display_name"], "Rita Reader");
    assert_eq!(info["caller"]["method"], "session");

    let analyst = signed_in(&app, "analyst").await;
    assert_eq!(server_fn(&app, &analyst, "tag_event", &[("id", id), ("tag", "investigating")]).await, 200);
    assert_eq!(server_fn(&app, &analyst, "add_comment", &[("id", id), ("body", "seen")]).await, 200);
    assert_eq!(status_of(&analyst, analyst.get(app.url("/api/tenants"))).await, 403);

    let admin = signed_in(&app, "admin").await;
    assert_eq!(status_of(&admin, admin.get(app.url("/api/tenants"))).await, 200);
    assert_eq!(status_of(&admin, admin.get(app.url("/api/audit-trail"))).await, 200);
    assert_eq!(server_fn(&app, &admin, "tag_event", &[("id", id), ("tag", "closed")]).await, 200);

    // The page shows who is signed in and offers sign-out; a reader is offered no tagging.
    let page = reader.get(app.url(&format!("/events/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Rita Reader") && page.contains("id=\"sign-out\""), "{page}");
    assert!(!page.contains("id=\"tag-form\"") && !page.contains("id=\"comment-form\""));
    let page = analyst.get(app.url(&format!("/events/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"tag-form\"") && page.contains("data-role=\"analyst\""));

    let actions = audit_actions(&app).await;
    for name in ["Rita Reader", "Andy Analyst", "Ada Admin"] {
        assert!(actions.contains(&("sign_in".to_string(), name.to_string())), "{actions:?}");
    }
}

async fn a_stranger_sees_who_they_are_and_what_to_ask_for(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let b = browser();
    let result = sign_in(&app, &b, "stranger").await;
    assert_eq!(result.status, 403);
    assert!(result.body.contains("Sam &lt;b&gt;Stranger&lt;/b&gt;"), "names are escaped: {}", result.body);
    assert!(!result.body.contains("<b>Stranger"));
    assert!(result.body.contains("stranger@contoso.example") && result.body.contains("grp-soc"));
    assert!(result.body.contains("AOC.Admin"));
    assert_eq!(status_of(&b, b.get(app.url("/api/events"))).await, 401, "a denied person has no session");
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&("sign_in_denied".to_string(), "Sam <b>Stranger</b>".to_string())), "{actions:?}");
}

async fn group_overage_is_resolved_through_graph_and_fails_closed(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    // Olga's token carries no groups, only the overage pointer; Graph says she is an analyst.
    let olga = signed_in(&app, "overage").await;
    let info: serde_json::Value = olga.post(app.url("/api/server_info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["caller"]["role"], "analyst", "{info}");
    // Graph refuses Otto's lookup: he is refused with the permission AOC lacks, not let in.
    let b = browser();
    let result = sign_in(&app, &b, "overage403").await;
    assert_eq!(result.status, 403);
    assert!(result.body.contains("GroupMember.Read.All"), "{}", result.body);
}

async fn sign_out_ends_the_session_and_sign_in_rotates_its_id(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let b = browser();
    let result = sign_in(&app, &b, "reader").await;
    let (before, after) =
        (result.cookie_before.expect("a cookie at /auth/login"), result.cookie_after.expect("a new one"));
    assert_ne!(before, after, "the session id changes at sign-in");
    // The pre-sign-in id is worth nothing.
    let old = reqwest::Client::new();
    let status = old
        .get(app.url("/api/events"))
        .header("cookie", format!("aoc_session={before}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status =
        old.get(app.url("/api/events")).header("cookie", format!("aoc_session={after}")).send().await.unwrap().status();
    assert_eq!(status, 200);

    let response = b.post(app.url("/auth/logout")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("{}/session/end?client_id={CLIENT_ID}", provider.issuer())), "{page}");
    let status =
        old.get(app.url("/api/events")).header("cookie", format!("aoc_session={after}")).send().await.unwrap().status();
    assert_eq!(status, 401, "the old cookie no longer works after sign-out");
    assert_eq!(status_of(&b, b.get(app.url("/api/events"))).await, 401);
    assert!(audit_actions(&app).await.contains(&("sign_out".to_string(), "Rita Reader".to_string())));
}

async fn anonymous_pages_go_to_sign_in_and_the_api_answers_401(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let response = app.client.get(app.url("/events?q=x")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/auth/login?return_to=%2Fevents%3Fq%3Dx");
    let response = app.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(app.server_fn("list_events", &[]).await.0, 401);
    // A callback that belongs to no sign-in in this browser is refused, not a 500.
    let response = app.client.get(app.url("/auth/callback?code=x&state=y")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .client
        .get(app.url("/auth/callback?error=access_denied&error_description=AADSTS50105"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn sessions_end_when_idle_too_long_or_past_their_absolute_lifetime(backend: Backend) {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore;
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let store = aoc::auth::session::DbSessionStore::open(&app.db).await.expect("session store");
    let now = Utc::now().timestamp();
    // Defaults: 60 idle minutes, 12 hours in all.
    for (label, authenticated_at, seen_at, expected) in [
        ("fresh", now - 60, now - 60, 200),
        ("idle for 61 minutes", now - 2 * 3600, now - 61 * 60, 401),
        ("signed in 13 hours ago", now - 13 * 3600, now - 60, 401),
    ] {
        let user = serde_json::json!({
            "subject": "oid-reader", "tenant": null, "display_name": "Rita Reader", "role": "reader",
            "authenticated_at": authenticated_at, "seen_at": seen_at,
        });
        let mut record = Record {
            id: Id::default(),
            data: [("aoc.user".to_string(), user)].into_iter().collect(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.expect("stored");
        let status = reqwest::Client::new()
            .get(app.url("/api/events"))
            .header("cookie", format!("aoc_session={}", record.id))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, expected, "{label}");
        if expected == 401 {
            assert!(store.load(&record.id).await.unwrap().is_none(), "{label}: the session is deleted");
        }
    }
}

async fn personal_api_tokens_act_for_their_owner_within_their_role(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let event = insert_event(&app.db, "rec-pat", Utc::now(), "Set-Mailbox").await.to_string();
    let analyst = signed_in(&app, "analyst").await;
    let create =
        |client: &reqwest::Client, body: serde_json::Value| client.post(app.url("/api/tokens")).json(&body).send();

    // A role above the creator's, a bad lifetime and an empty name are refused with the reason.
    for (body, parameter) in [
        (serde_json::json!({ "name": "x", "role": "admin" }), "role"),
        (serde_json::json!({ "name": "x", "expires_in_days": 0 }), "expires_in_days"),
        (serde_json::json!({ "name": " " }), "name"),
    ] {
        let response = create(&analyst, body).await.unwrap();
        assert_eq!(response.status(), 400);
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(parameter), "{error}");
    }
    let response =
        create(&analyst, serde_json::json!({ "name": "triage script", "expires_in_days": 7 })).await.unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("aoc_pat_") && created["role"] == "analyst" && created["status"] == "active");
    let reader_token = create(&analyst, serde_json::json!({ "name": "read only", "role": "reader" }))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Only the hash is stored.
    let rows = app
        .db
        .query_all(Statement::from_string(app.db.get_database_backend(), "SELECT token_hash, prefix FROM api_tokens"))
        .await
        .unwrap();
    for row in &rows {
        let hash: String = row.try_get("", "token_hash").unwrap();
        assert!(hash.len() == 64 && !hash.contains(&token[8..]) && hash != token);
    }

    // The token acts as its owner with its role: it may tag, not manage tenants; the reader
    // token may not tag.
    let script = reqwest::Client::new();
    let tag = |t: &str| {
        script
            .patch(app.url(&format!("/api/events/{event}/tags")))
            .bearer_auth(t.to_string())
            .json(&serde_json::json!({ "add": ["from-script"] }))
            .send()
    };
    assert_eq!(tag(&token).await.unwrap().status(), 200);
    assert_eq!(tag(&reader_token).await.unwrap().status(), 403);
    assert_eq!(bearer(&app, &reader_token, "/api/events").await, 200);
    assert_eq!(bearer(&app, &token, "/api/tenants").await, 403);
    // A token cannot mint tokens.
    let response = script
        .post(app.url("/api/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "child" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The audit trail names the owner and the token.
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one(Statement::from_string(
            backend,
            "SELECT actor, details FROM audit_trail WHERE action = 'event.tags.change' ORDER BY id DESC LIMIT 1",
        ))
        .await
        .unwrap()
        .expect("the tag change is audited");
    assert_eq!(row.try_get::<String>("", "actor").unwrap(), "Andy Analyst");
    let details: String = row
        .try_get("", "details")
        .unwrap_or_else(|_| row.try_get::<serde_json::Value>("", "details").map(|v| v.to_string()).unwrap());
    assert!(details.contains(&format!("\"via_api_token\":{}", created["id"])), "{details}");

    // The owner lists their tokens (no secrets); another analyst sees none of them and cannot
    // revoke them; an admin sees and may revoke every token.
    let listed: serde_json::Value = analyst.get(app.url("/api/tokens")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0]["last_used_at"].is_string() && listed[0].get("token").is_none(), "{listed}");
    assert!(!listed.to_string().contains(&token[8..]));
    let reader = signed_in(&app, "reader").await;
    assert_eq!(status_of(&reader, reader.get(app.url("/api/tokens"))).await, 403);
    let admin = signed_in(&app, "admin").await;
    let everyone: serde_json::Value = admin.get(app.url("/api/tokens")).send().await.unwrap().json().await.unwrap();
    assert_eq!(everyone.as_array().unwrap().len(), 2);
    let own: serde_json::Value =
        create(&admin, serde_json::json!({ "name": "admin's" })).await.unwrap().json().await.unwrap();
    let url = app.url(&format!("/api/tokens/{}", own["id"]));
    assert_eq!(status_of(&analyst, analyst.delete(&url)).await, 404, "someone else's token");
    let url = app.url(&format!("/api/tokens/{}", created["id"]));
    let revoked: serde_json::Value = analyst.delete(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(bearer(&app, &token, "/api/events").await, 401, "a revoked token is refused");
    assert_eq!(bearer(&app, &reader_token, "/api/events").await, 200);

    // An expired token is refused; an unknown one too.
    app.db
        .execute(Statement::from_string(
            backend,
            "UPDATE api_tokens SET expires_at = '2020-01-01T00:00:00Z' WHERE role = 'reader'",
        ))
        .await
        .unwrap();
    assert_eq!(bearer(&app, &reader_token, "/api/events").await, 401, "an expired token is refused");
    assert_eq!(bearer(&app, "aoc_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/api/events").await, 401);
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&("api_token.create".to_string(), "Andy Analyst".to_string())), "{actions:?}");
    assert!(actions.contains(&("api_token.revoke".to_string(), "Andy Analyst".to_string())), "{actions:?}");

    // The page: created without JavaScript, the token is shown once after the redirect.
    let response = analyst
        .post(app.url("/api/create_api_token"))
        .header("accept", "text/html")
        .header("referer", app.url("/settings/tokens"))
        .form(&[("name", "from the page"), ("role", "reader"), ("expires_in_days", "30")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_redirection(), "{}", response.status());
    let page = analyst.get(app.url("/settings/tokens")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"new-token\"") && page.contains("from the page"), "{page}");
    let again = analyst.get(app.url("/settings/tokens")).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("id=\"new-token\""), "the token is shown once");
}

async fn an_admin_ends_a_persons_sessions_and_tokens(backend: Backend) {
    let provider = TestProvider::start().await;
    let Some(app) = spawn_signin_app(backend, &provider, &[]).await else { return };
    let analyst = signed_in(&app, "analyst").await;
    let second_browser = signed_in(&app, "analyst").await;
    let reader = signed_in(&app, "reader").await;
    let token: serde_json::Value = analyst
        .post(app.url("/api/tokens"))
        .json(&serde_json::json!({ "name": "left behind" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let admin = signed_in(&app, "admin").await;
    assert_eq!(status_of(&analyst, analyst.get(app.url("/api/sessions"))).await, 403);
    let people: serde_json::Value = admin.get(app.url("/api/sessions")).send().await.unwrap().json().await.unwrap();
    let analyst_row = people.as_array().unwrap().iter().find(|p| p["name"] == "Andy Analyst").expect("listed").clone();
    assert_eq!(analyst_row["active"], true, "{people}");
    let subject = analyst_row["subject"].as_str().unwrap().to_string();
    // Bad input is refused with the reason.
    let response =
        admin.post(app.url("/api/sessions/end")).json(&serde_json::json!({ "subject": "" })).send().await.unwrap();
    assert_eq!(response.status(), 400);

    let ended: serde_json::Value = admin
        .post(app.url("/api/sessions/end"))
        .json(&serde_json::json!({ "subject": subject, "revoke_tokens": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ended["tokens_revoked"], 1, "{ended}");
    // Both of the analyst's browsers and the token are out; the reader is not affected.
    assert_eq!(status_of(&analyst, analyst.get(app.url("/api/events"))).await, 401);
    assert_eq!(status_of(&second_browser, second_browser.get(app.url("/api/events"))).await, 401);
    assert_eq!(bearer(&app, &token, "/api/events").await, 401);
    assert_eq!(status_of(&reader, reader.get(app.url("/api/events"))).await, 200);
    let people: serde_json::Value = admin.get(app.url("/api/sessions")).send().await.unwrap().json().await.unwrap();
    let row = people.as_array().unwrap().iter().find(|p| p["subject"] == subject.as_str()).unwrap().clone();
    assert_eq!(row["active"], false);
    assert!(row["ended_at"].is_string());
    // A new sign-in (a later second) works again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = signed_in(&app, "analyst").await;
    assert_eq!(status_of(&again, again.get(app.url("/api/events"))).await, 200);
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&("session.end_all".to_string(), "Ada Admin".to_string())), "{actions:?}");
}

on_both_backends!(
    an_admin_ends_a_persons_sessions_and_tokens,
    personal_api_tokens_act_for_their_owner_within_their_role,
    sessions_end_when_idle_too_long_or_past_their_absolute_lifetime,
    each_role_may_do_what_its_role_allows,
    a_stranger_sees_who_they_are_and_what_to_ask_for,
    group_overage_is_resolved_through_graph_and_fails_closed,
    sign_out_ends_the_session_and_sign_in_rotates_its_id,
    anonymous_pages_go_to_sign_in_and_the_api_answers_401,
);

// ---- Bearer tokens ----

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token signed with the provider's key `kid`, claims over sensible defaults.
fn mint(provider: &TestProvider, kid: &str, claims: serde_json::Value) -> String {
    let now = Utc::now().timestamp();
    let mut body = serde_json::json!({
        "iss": provider.issuer(), "aud": format!("api://{CLIENT_ID}"), "sub": "user-1", "oid": "oid-user-1",
        "name": "Script User", "scp": "AOC.Read", "azp": "script-client", "iat": now, "nbf": now - 60, "exp": now + 600,
    });
    for (k, v) in claims.as_object().expect("object") {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    let pem = std::fs::read(key_path(kid)).expect("key");
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, &body, &key).expect("sign")
}

async fn bearer(app: &TestApp, token: &str, path: &str) -> u16 {
    app.client.get(app.url(path)).bearer_auth(token).send().await.expect("request").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_get_the_same_roles_and_forgeries_are_refused() {
    let provider = TestProvider::start().await;
    let app = spawn_signin_app(Backend::Sqlite, &provider, &[]).await.expect("SQLite always runs");

    // Real app-only tokens from the provider: roles decide.
    let daemon = provider.daemon_token("daemon-admin").await;
    assert_eq!(bearer(&app, &daemon, "/api/tenants").await, 200);
    let nobody = provider.daemon_token("daemon-none").await;
    assert_eq!(bearer(&app, &nobody, "/api/events").await, 401, "no role and no allowed group");

    // Minted with the provider's key: the same mapping as sign-in.
    let reader = mint(&provider, "signing-1", serde_json::json!({ "groups": ["grp-soc"] }));
    assert_eq!(bearer(&app, &reader, "/api/events").await, 200);
    assert_eq!(bearer(&app, &reader, "/api/tenants").await, 403);
    let analyst = mint(&provider, "signing-1", serde_json::json!({ "roles": ["AOC.Analyst"], "aud": CLIENT_ID }));
    assert_eq!(bearer(&app, &analyst, "/api/events").await, 200);
    assert_eq!(bearer(&app, &analyst, "/api/tenants").await, 403);
    let response = app
        .client
        .post(app.url("/api/tag_event"))
        .bearer_auth(&analyst)
        .header("origin", "https://elsewhere.example")
        .form(&[("id", "1"), ("tag", "x")])
        .send()
        .await
        .unwrap();
    assert!(![401, 403].contains(&response.status().as_u16()), "bearer writes skip the origin check");

    let now = Utc::now().timestamp();
    let admin = serde_json::json!({ "roles": ["AOC.Admin"] });
    let mut refused = vec![
        (
            "wrong audience",
            mint(&provider, "signing-1", serde_json::json!({ "roles": ["AOC.Admin"], "aud": "api://other" })),
        ),
        (
            "wrong issuer",
            mint(&provider, "signing-1", serde_json::json!({ "roles": ["AOC.Admin"], "iss": "http://127.0.0.1:1" })),
        ),
        (
            "expired",
            mint(
                &provider,
                "signing-1",
                serde_json::json!({ "roles": ["AOC.Admin"], "exp": now - 3600, "nbf": now - 7200 }),
            ),
        ),
        (
            "not yet valid",
            mint(
                &provider,
                "signing-1",
                serde_json::json!({ "roles": ["AOC.Admin"], "nbf": now + 3600, "exp": now + 7200 }),
            ),
        ),
        ("no expiry", mint(&provider, "signing-1", serde_json::json!({ "roles": ["AOC.Admin"], "exp": null }))),
        (
            "an ID token",
            mint(
                &provider,
                "signing-1",
                serde_json::json!({ "roles": ["AOC.Admin"], "aud": CLIENT_ID, "scp": null, "azp": null, "nonce": "n" }),
            ),
        ),
        ("signed by a key the provider does not publish", mint(&provider, "signing-2", admin.clone())),
    ];
    let valid = mint(&provider, "signing-1", serde_json::json!({ "groups": ["grp-soc"] }));
    let parts: Vec<&str> = valid.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let mut payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    payload["roles"] = serde_json::json!(["AOC.Admin"]);
    let payload = b64(payload.to_string().as_bytes());
    refused.push(("tampered payload", format!("{}.{payload}.{}", parts[0], parts[2])));
    refused.push(("alg none", format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"signing-1","typ":"JWT"}"#))));
    // HS256 "signed" with the provider's public key as the HMAC secret.
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(key_path("signing-1"))
        .output()
        .expect("openssl")
        .stdout;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("signing-1".into());
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(valid.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    let hmac = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
    refused.push(("HMAC with the public key", hmac));
    for (why, token) in &refused {
        assert_eq!(bearer(&app, token, "/api/tenants").await, 401, "{why}");
        assert_eq!(bearer(&app, token, "/api/events").await, 401, "{why}");
    }
    assert_eq!(bearer(&app, "not-a-jwt", "/api/events").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rollover_costs_one_refetch_and_unknown_keys_cost_none() {
    let mut provider = TestProvider::start().await;
    let app = spawn_signin_app(Backend::Sqlite, &provider, &[]).await.expect("SQLite always runs");
    let admin = serde_json::json!({ "roles": ["AOC.Admin"] });
    assert_eq!(bearer(&app, &mint(&provider, "signing-1", admin.clone()), "/api/tenants").await, 200);

    // The provider rolls over to a new key.
    provider.restart_with(&["signing-2"]).await;
    assert_eq!(provider.jwks_fetches().await, 0);
    for _ in 0..3 {
        assert_eq!(bearer(&app, &mint(&provider, "signing-2", admin.clone()), "/api/tenants").await, 200);
    }
    assert_eq!(provider.jwks_fetches().await, 1, "the new kid fetched the key set once");
    // A token naming a key nobody publishes fetches nothing more (for five minutes).
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("made-up".into());
    let forged = {
        let token = mint(&provider, "signing-2", admin.clone());
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[0] = b64(br#"{"alg":"RS256","kid":"made-up","typ":"JWT"}"#);
        parts.join(".")
    };
    for _ in 0..5 {
        assert_eq!(bearer(&app, &forged, "/api/events").await, 401);
    }
    assert_eq!(provider.jwks_fetches().await, 1, "unknown kids do not make AOC hammer the provider");
    // Sessions keep working across the rollover: a new sign-in is signed with the new key.
    let b = browser();
    let result = sign_in(&app, &b, "admin").await;
    assert_eq!(result.status, 303, "{}", result.body);
}

// ---- The route matrix with real credentials ----

/// A well-formed call of each server function (as in tests/access.rs).
fn server_fn_sample(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/api/list_events" => vec![("page_size", "5")],
        "/api/event_map" => vec![],
        "/api/get_event" | "/api/delete_comment" | "/api/get_watchlist" | "/api/delete_watchlist" => {
            vec![("id", "1"), ("comment_id", "1")]
        }
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
        "/api/create_api_token" => vec![("name", "matrix")],
        "/api/revoke_api_token" => vec![("id", "1")],
        "/api/end_sessions" => vec![("subject", "oid-nobody")],
        "/api/add_tenant" => vec![
            ("tenant_id", "not-a-guid"),
            ("display_name", "matrix"),
            ("client_id", "not-a-guid"),
            ("client_secret", "matrix"),
        ],
        "/api/set_tenant_enabled" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001"), ("enabled", "false")],
        "/api/remove_tenant" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001")],
        "/api/get_rule" | "/api/get_alert" => vec![("id", "1")],
        "/api/edit_rule" => vec![("intent", "backtest"), ("mode", "sigma"), ("sigma", "title: [")],
        "/api/set_rule_enabled" => vec![("id", "999999"), ("enabled", "true")],
        "/api/delete_rule" => vec![("id", "999999"), ("confirm", "on")],
        "/api/rule_suppressions" => vec![("rule_id", "999999")],
        "/api/backtest_draft" => vec![("draft", "{}"), ("range", "24h")],
        "/api/triage_alert" => vec![("id", "999999"), ("status", "acknowledged")],
        "/api/comment_alert" => vec![("id", "999999"), ("body", "matrix")],
        "/api/bulk_triage_alerts" => vec![("ids[0]", "999999"), ("action", "acknowledged")],
        "/api/suppress_rule" => {
            vec![("rule_id", "999999"), ("entity", "a@b.example"), ("hours", "24"), ("reason", "test")]
        }
        "/api/end_suppression" => vec![("id", "999999")],
        "/api/test_connection" => vec![("tenant_id", "00000000-0000-0000-0000-000000000001")],
        _ => vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_real_sessions_and_bearer_tokens_as_their_role_allows() {
    use aoc::api::routes::Access;
    use aoc::auth::Role;
    let provider = TestProvider::start().await;
    let app = spawn_signin_app(Backend::Sqlite, &provider, &[]).await.expect("SQLite always runs");
    // (label, role, client carrying the credential, bearer token if any)
    type Credentialed = (String, Role, reqwest::Client, Option<String>);
    let mut callers: Vec<Credentialed> = Vec::new();
    for (user, role) in [("reader", Role::Reader), ("analyst", Role::Analyst), ("admin", Role::Admin)] {
        callers.push((format!("{user} session"), role, signed_in(&app, user).await, None));
    }
    for (roles, role) in
        [(vec![], Role::Reader), (vec!["AOC.Analyst"], Role::Analyst), (vec!["AOC.Admin"], Role::Admin)]
    {
        let token = mint(&provider, "signing-1", serde_json::json!({ "roles": roles, "groups": ["grp-soc"] }));
        callers.push((format!("{} bearer", role.as_str()), role, reqwest::Client::new(), Some(token)));
    }
    let mut failures = Vec::new();
    let mut server_fns: Vec<&'static str> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p).collect();
    server_fns.sort();
    server_fns.dedup();
    for (label, role, client, token) in &callers {
        let allowed = |p: aoc::auth::Permission| *role >= p.least_role();
        for route in &app.routes {
            let Access::Requires(permission) = route.access else { continue };
            let path =
                route.path.replace("{id}", "1").replace("{comment_id}", "1").replace("{tenant_id}", "contoso.example");
            let mut request = client.request(route.method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if ["POST", "PATCH", "PUT"].contains(&route.method.as_str()) {
                request = request.json(&serde_json::json!({}));
            }
            let status = request.send().await.expect("request").status().as_u16();
            let expected_refusal = !allowed(permission);
            if expected_refusal != (status == 403) || status == 401 {
                failures.push(format!("{label} {} {}: {status}", route.method, route.path));
            }
        }
        for path in &server_fns {
            let Some(permission) = app::server::required_permission(path) else { continue };
            let mut request = client.post(app.url(path)).form(&server_fn_sample(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let status = request.send().await.expect("request").status().as_u16();
            if allowed(permission) == (status == 403) || status == 401 {
                failures.push(format!("{label} server function {path}: {status}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

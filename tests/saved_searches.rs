//! Saved searches over real HTTP on SQLite and PostgreSQL: saving (REST and the Events page's
//! form), listing one's own and shared ones, who may delete what (owner, administrator), bad
//! input, the Events page listing them as links, and the audit trail.

mod common;

use aoc::auth::{Caller, Role};
use app::auth::AuthMethod;
use common::{spawn_app_as, Backend};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

fn person(subject: &str, role: Role) -> Caller {
    Caller { subject: subject.into(), display_name: format!("Person {subject}"), role, method: AuthMethod::Session }
}

async fn names(client: &reqwest::Client, base: &str) -> Vec<String> {
    let response = client.get(format!("{base}/api/saved-searches")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    list.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

async fn saved_searches_are_private_or_shared_and_deleted_by_owner_or_admin(backend: Backend) {
    let Some(app) = spawn_app_as(backend, Some(person("alice", Role::Analyst))).await else { return };
    let client = &app.client;
    let base = app.url("");

    // Alice saves a private and a shared search.
    let filter = json!({"service": "Exchange", "last": "24h", "search": "forward* -result:success"});
    let response = client
        .post(app.url("/api/saved-searches"))
        .json(&json!({"name": "Exchange forwarding", "filter": filter, "shared": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let shared: Value = response.json().await.unwrap();
    assert_eq!(shared["name"], "Exchange forwarding");
    assert_eq!(shared["filter"], filter);
    assert_eq!(shared["shared"], true);
    assert_eq!(shared["owner"], "alice");
    assert_eq!(shared["can_delete"], true);
    assert_eq!(
        shared["link"], "/events?service=Exchange&last=24h&search=forward%2A%20-result%3Asuccess",
        "the link opens the Events page with the same filter"
    );
    let response = client
        .post(app.url("/api/saved-searches"))
        .json(&json!({"name": "mine only", "filter": {"min_severity": "high"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let private: Value = response.json().await.unwrap();
    assert_eq!(private["shared"], false);

    // Bad input is a clear 400; a name used twice by one person is a conflict.
    for (body, needle) in [
        (json!({"name": "", "filter": {}}), "name"),
        (json!({"name": "x", "filter": {"last": "7w"}}), "last"),
        (json!({"name": "x", "filter": {"search": "\"unclosed"}}), "search"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let response = client.post(app.url("/api/saved-searches")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(needle), "{body}: {text}");
    }
    let again = client
        .post(app.url("/api/saved-searches"))
        .json(&json!({"name": "mine only", "filter": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(names(client, &base).await, ["Exchange forwarding", "mine only"]);

    // Bob (a reader) sees only the shared one, may not delete it, and cannot see the private one.
    let (bob, _bob_stop) = common::same_database_as(&app, person("bob", Role::Reader)).await;
    assert_eq!(names(client, &bob).await, ["Exchange forwarding"]);
    let bob_view: Value = client.get(format!("{bob}/api/saved-searches")).send().await.unwrap().json().await.unwrap();
    assert_eq!(bob_view[0]["can_delete"], false);
    let shared_id = shared["id"].as_i64().unwrap();
    let private_id = private["id"].as_i64().unwrap();
    let refused = client.delete(format!("{bob}/api/saved-searches/{shared_id}")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let hidden = client.delete(format!("{bob}/api/saved-searches/{private_id}")).send().await.unwrap();
    assert_eq!(hidden.status(), 404);
    // Bob saves his own through the Events page's form (a server function).
    let response = client
        .post(format!("{bob}/api/save_search"))
        .form(&[("name", "bob's"), ("filter[service]", "SharePoint"), ("filter[tag]", ""), ("shared", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bobs: Value = response.json().await.unwrap();
    assert_eq!(bobs["filter"], json!({"service": "SharePoint"}));
    assert_eq!(names(client, &bob).await, ["Exchange forwarding", "bob's"]);
    // The Events page lists them as links.
    let page = client.get(format!("{bob}/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"save-search-form\""), "{page}");
    assert!(page.contains("href=\"/events?service=SharePoint\""), "{page}");

    // An administrator may delete anyone's; the owner their own.
    let (admin, _admin_stop) = common::same_database_as(&app, person("carol", Role::Admin)).await;
    let bobs_id = bobs["id"].as_i64().unwrap();
    assert_eq!(client.delete(format!("{admin}/api/saved-searches/{bobs_id}")).send().await.unwrap().status(), 204);
    assert_eq!(
        client.delete(app.url(&format!("/api/saved-searches/{private_id}"))).send().await.unwrap().status(),
        204
    );
    assert_eq!(
        client.delete(app.url(&format!("/api/saved-searches/{private_id}"))).send().await.unwrap().status(),
        404
    );
    assert_eq!(client.delete(app.url("/api/saved-searches/x")).send().await.unwrap().status(), 400);
    assert_eq!(names(client, &base).await, ["Exchange forwarding"]);

    // Every save and delete is in the audit trail, with who did it.
    let rows = app
        .db
        .query_all(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT action, actor FROM audit_trail WHERE target_kind = 'saved_search' ORDER BY id",
        ))
        .await
        .unwrap();
    let trail: Vec<(String, String)> =
        rows.iter().map(|r| (r.try_get("", "action").unwrap(), r.try_get("", "actor").unwrap())).collect();
    assert_eq!(
        trail,
        [
            ("saved_search.create".to_string(), "Person alice".to_string()),
            ("saved_search.create".into(), "Person alice".into()),
            ("saved_search.create".into(), "Person bob".into()),
            ("saved_search.delete".into(), "Person carol".into()),
            ("saved_search.delete".into(), "Person alice".into()),
        ]
    );
}

on_both_backends!(saved_searches_are_private_or_shared_and_deleted_by_owner_or_admin);

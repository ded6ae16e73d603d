//! Watchlists over real HTTP on SQLite and PostgreSQL: CSV upload (an Entra admin list export),
//! edit, conflicts, deletion and the audit trail; and `watchlist:NAME` / `-watchlist:NAME` in
//! search for user, IP and domain lists, in the list, the overview and the pages.

mod common;

use aoc::store::entities::events;
use chrono::{Duration, Utc};
use common::{spawn_app, Backend, TestApp};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};
use serde_json::{json, Value};

async fn insert(app: &TestApp, n: i64, actor: &str, ip: &str, service: &str) {
    let at = Utc::now() - Duration::minutes(5 + n);
    aoc::store::partitions::ensure_days(&app.db, [at]).await;
    let model = events::ActiveModel {
        tenant_id: Set("contoso.example".into()),
        source: Set("unified".into()),
        content_type: Set(Some("Audit.General".into())),
        record_id: Set(format!("rec-{n}")),
        dedupe_key: Set(format!("unified:rec-{n}")),
        occurred_at: Set(at),
        ingested_at: Set(Utc::now()),
        service: Set(service.into()),
        operation: Set("Set-Mailbox".into()),
        result: Set("success".into()),
        actor_display: Set(Some(actor.split('@').next().unwrap_or(actor).into())),
        actor_upn: Set(Some(actor.into())),
        actor_app_id: Set(None),
        actor_ip: Set(Some(ip.into())),
        targets: Set("[]".into()),
        target_display: Set(None),
        summary: Set(format!("event {n}")),
        severity: Set(0),
        correlation_id: Set(None),
        flattened: Set("{}".into()),
        raw: Set(json!({"Id": format!("rec-{n}")}).to_string()),
        normalize_error: Set(None),
        ..Default::default()
    };
    events::Entity::insert(model).exec(&app.db).await.expect("insert event");
}

async fn record_ids(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.client.get(app.url(&format!("/api/events?page_size=500&{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let page: Value = response.json().await.unwrap();
    let mut ids: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

const ADMIN_LIST: &str = "DisplayName,UserPrincipalName,Role\r\n\
\"Vance, Adele\",Adele.Vance@Contoso.example,Global Administrator\r\n\
IT Admin,it.admin@contoso.example,Exchange Administrator\r\n";

async fn a_csv_admin_list_is_uploaded_edited_and_deleted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let response = app
        .client
        .post(app.url("/api/watchlists?name=Admins&kind=user&description=Entra%20admins"))
        .header("content-type", "text/csv")
        .body(ADMIN_LIST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "admins");
    assert_eq!(created["kind"], "user");
    assert_eq!(created["item_count"], 2);
    assert_eq!(
        created["items"],
        json!([{"value": "adele.vance@contoso.example", "label": "Vance, Adele"},
               {"value": "it.admin@contoso.example", "label": "IT Admin"}])
    );
    let id = created["id"].as_i64().unwrap();

    let list: Value = app.client.get(app.url("/api/watchlists")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["item_count"], 2);
    assert!(list[0].get("items").is_none());

    // The same name again conflicts; a bad kind names the parameter.
    let again =
        app.client.post(app.url("/api/watchlists")).json(&json!({"name": "admins", "kind": "user", "items": []}));
    assert_eq!(again.send().await.unwrap().status(), 409);
    let bad = app
        .client
        .post(app.url("/api/watchlists"))
        .json(&json!({"name": "x", "kind": "mailbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("`kind`"), "{body}");

    let replaced: Value = app
        .client
        .put(app.url(&format!("/api/watchlists/{id}")))
        .json(&json!({"name": "admins", "kind": "user", "items": [{"value": "Lee@Contoso.example"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["items"], json!([{"value": "lee@contoso.example"}]));
    let fetched: Value =
        app.client.get(app.url(&format!("/api/watchlists/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched, replaced);

    assert_eq!(app.client.delete(app.url(&format!("/api/watchlists/{id}"))).send().await.unwrap().status(), 204);
    assert_eq!(app.client.get(app.url(&format!("/api/watchlists/{id}"))).send().await.unwrap().status(), 404);
    assert_eq!(app.client.delete(app.url(&format!("/api/watchlists/{id}"))).send().await.unwrap().status(), 404);

    let rows = app
        .db
        .query_all(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT action FROM audit_trail WHERE target_kind = 'watchlist' ORDER BY id",
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.try_get("", "action").unwrap()).collect();
    assert_eq!(actions, ["watchlist.create", "watchlist.replace", "watchlist.delete"]);

    // The page's form (a server function) creates one from CSV text, and the page lists it.
    let (status, body) = app
        .server_fn(
            "save_watchlist",
            &[("name", "known_ips"), ("kind", "ip"), ("csv", "ip,label\n198.51.100.9,office\n")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let page = app.client.get(app.url("/watchlists")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-watchlist=\"known_ips\"") && page.contains("watchlist:known_ips"), "{page}");
    let id = body["id"].as_i64().unwrap();
    let page = app.client.get(app.url(&format!("/watchlists?id={id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("198.51.100.9") && page.contains("id=\"watchlist-edit\""), "{page}");
}

async fn watchlists_narrow_and_exclude_in_search(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    insert(&app, 1, "Adele.Vance@contoso.example", "203.0.113.1", "Exchange").await;
    insert(&app, 2, "lee@contoso.example", "198.51.100.9", "Exchange").await;
    insert(&app, 3, "guest@fabrikam.example", "192.0.2.5", "SharePoint").await;
    insert(&app, 4, "it.admin@contoso.example", "198.51.100.9", "Exchange").await;
    for body in [
        json!({"name": "admins", "kind": "user", "csv": ADMIN_LIST}),
        json!({"name": "office_ips", "kind": "ip", "items": [{"value": "198.51.100.9"}]}),
        json!({"name": "partners", "kind": "domain", "items": [{"value": "@Fabrikam.example"}]}),
    ] {
        let response = app.client.post(app.url("/api/watchlists")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201);
    }
    assert_eq!(record_ids(&app, "search=watchlist:admins").await, ["rec-1", "rec-4"]);
    assert_eq!(record_ids(&app, "search=watchlist:office_ips").await, ["rec-2", "rec-4"]);
    assert_eq!(record_ids(&app, "search=watchlist:partners").await, ["rec-3"]);
    assert_eq!(record_ids(&app, "search=service:Exchange%20-watchlist:admins").await, ["rec-2"]);
    assert_eq!(record_ids(&app, "search=watchlist:admins%20watchlist:office_ips").await, ["rec-4"]);
    assert!(record_ids(&app, "search=watchlist:nobody").await.is_empty());
    let bad = app.client.get(app.url("/api/events?search=watchlist:a%2Fb")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    // The overview counts the same events.
    let overview: Value = app
        .client
        .get(app.url("/api/events/overview?search=watchlist:admins"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["total"], 2);
    assert_eq!(overview["by_actor"].as_array().unwrap().len(), 2);
    // Event lists mark the watchlists each event is on: REST, the server function, the page.
    let page: Value = app.client.get(app.url("/api/events?page_size=50")).send().await.unwrap().json().await.unwrap();
    let on = |items: &Value, id_key: &str, id: &str| -> Value {
        items.as_array().unwrap().iter().find(|e| e[id_key] == id).map(|e| e["watchlists"].clone()).unwrap()
    };
    assert_eq!(on(&page["items"], "id", "rec-4"), json!(["admins", "office_ips"]));
    assert_eq!(on(&page["items"], "id", "rec-3"), json!(["partners"]));
    assert_eq!(on(&page["items"], "id", "rec-1"), json!(["admins"]));
    assert_eq!(on(&page["items"], "id", "rec-2"), json!(["office_ips"]));
    let (status, listed) = app.server_fn("list_events", &[("page_size", "50")]).await;
    assert_eq!(status, 200);
    assert_eq!(on(&listed["items"], "record_id", "rec-4"), json!(["admins", "office_ips"]));
    let html = app.client.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("title=\"On the watchlist admins\"") && html.contains("class=\"watchlist-badge\""), "{html}");
    // The entity graph marks the actors and addresses on a list.
    let graph: Value = app.client.get(app.url("/api/events/graph")).send().await.unwrap().json().await.unwrap();
    let node = |id: &str| -> Value {
        graph["nodes"].as_array().unwrap().iter().find(|n| n["id"] == id).map(|n| n["watchlists"].clone()).unwrap()
    };
    assert_eq!(node("actor:it.admin@contoso.example"), json!(["admins"]));
    assert_eq!(node("actor:guest@fabrikam.example"), json!(["partners"]));
    assert_eq!(node("ip:198.51.100.9"), json!(["office_ips"]));
    assert_eq!(node("actor:lee@contoso.example"), Value::Null);
}

on_both_backends!(a_csv_admin_list_is_uploaded_edited_and_deleted, watchlists_narrow_and_exclude_in_search);

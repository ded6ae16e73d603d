//! One service path: the REST API and the pages' server functions give the same answer for the
//! same filter (ids in the same order across cursor pages, facets, histogram, an event's detail),
//! and every event a list shows opens by the id in its URL, on SQLite and PostgreSQL.

mod common;

use aoc::store::synthetic::{self, SYNTHETIC_TENANT};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::{spawn_app, Backend, TestApp};
use serde_json::Value;

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn get(app: &TestApp, path_and_query: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path_and_query)).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// `a=b&c=d` of a filter.
fn query_string(filter: &[(&str, String)]) -> String {
    filter.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
}

/// A filter as server-function form fields (`filter[service]=...`).
fn form(filter: &[(&str, String)]) -> Vec<(String, String)> {
    filter.iter().map(|(k, v)| (format!("filter[{k}]"), v.clone())).collect()
}

async fn server_fn(app: &TestApp, name: &str, fields: &[(String, String)]) -> Value {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = app.server_fn(name, &fields).await;
    assert_eq!(status, 200, "{name} {fields:?}: {body}");
    body
}

/// AOC ids of every event the REST list gives for `filter`, following cursors.
async fn rest_ids(app: &TestApp, filter: &[(&str, String)], page_size: u32) -> Vec<i64> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    for _ in 0..200 {
        let path = format!("/api/events?{}&page_size={page_size}&cursor={cursor}", query_string(filter));
        let (status, body) = get(app, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.extend(body["items"].as_array().unwrap().iter().map(|e| e["aoc_id"].as_i64().unwrap()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return out,
        }
    }
    panic!("the REST list does not end");
}

/// AOC ids of every event the pages' `list_events` gives for `filter`, following cursors.
async fn page_ids(app: &TestApp, filter: &[(&str, String)], page_size: u32) -> Vec<i64> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    for _ in 0..200 {
        let mut fields = form(filter);
        fields.push(("page_size".into(), page_size.to_string()));
        fields.push(("cursor".into(), cursor.clone()));
        let body = server_fn(app, "list_events", &fields).await;
        out.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return out,
        }
    }
    panic!("list_events does not end");
}

/// Synthetic events over three days before `now`, some indexed for full text and some still
/// queued, a few tagged.
async fn seed(app: &TestApp, now: DateTime<Utc>) {
    synthetic::generate(&app.db, 240, 3, 42, now).await.expect("generate");
    aoc::store::search::index_pending(&app.db).await.expect("index");
    synthetic::generate(&app.db, 60, 3, 43, now).await.expect("generate more");
    let (_, page) = get(app, "/api/events?page_size=6").await;
    for item in page["items"].as_array().unwrap() {
        let id = item["aoc_id"].as_i64().unwrap();
        let response = app
            .client
            .patch(app.url(&format!("/api/events/{id}/tags")))
            .json(&serde_json::json!({"add": ["investigating"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

async fn the_rest_api_and_the_pages_answer_the_same_for_the_same_filter(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let now = Utc::now().trunc_subsecs(0);
    seed(&app, now).await;
    let day = |d: i64| (now - Duration::days(d)).to_rfc3339();
    let filters: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("service", "Exchange".into())],
        vec![("actor", "adele.vance@contoso.example".into())],
        vec![("actor", "*partner*".into())],
        vec![("search", "AnonymousLinkCreated".into())],
        vec![("search", "\"Finance share\" -service:SharePoint".into())],
        vec![("start", day(2)), ("end", day(1))],
        vec![("source", "directory".into()), ("min_severity", "medium".into())],
        vec![("tag", "investigating".into())],
        vec![("tenant", SYNTHETIC_TENANT.into()), ("operation", "FileDownloaded".into())],
    ];
    for filter in &filters {
        let rest = rest_ids(&app, filter, 17).await;
        let pages = page_ids(&app, filter, 17).await;
        assert!(!rest.is_empty(), "{filter:?} matches nothing: the comparison would prove little");
        assert_eq!(rest, pages, "{filter:?}");

        let (status, options) = get(&app, &format!("/api/filter-options?{}", query_string(filter))).await;
        assert_eq!(status, 200, "{options}");
        let facets = server_fn(&app, "event_facets", &form(filter)).await;
        assert_eq!(options["facets"], facets, "{filter:?}");
        assert_eq!(options["facets"]["total"].as_u64().unwrap(), rest.len() as u64, "{filter:?}");

        let (status, histogram) = get(&app, &format!("/api/events/histogram?{}", query_string(filter))).await;
        assert_eq!(status, 200, "{histogram}");
        assert_eq!(histogram, server_fn(&app, "event_histogram", &form(filter)).await, "{filter:?}");
    }

    // The detail of an event with tags and related events, by AOC's id on both paths.
    let tagged = rest_ids(&app, &[("tag", "investigating".into())], 50).await;
    for id in tagged.iter().take(3) {
        let (status, rest) = get(&app, &format!("/api/events/{id}")).await;
        assert_eq!(status, 200, "{rest}");
        let page = server_fn(&app, "get_event", &[("id".into(), id.to_string())]).await;
        assert_eq!(rest["aoc_id"], page["event"]["id"]);
        assert_eq!(rest["record_id"], page["event"]["record_id"]);
        assert_eq!(rest["id"], page["event"]["record_id"], "`id` stays the source record id");
        assert_eq!(rest["tags"], page["event"]["tags"]);
        assert_eq!(rest["tag_details"], page["tags"]);
        assert_eq!(rest["comments"], page["comments"]);
        assert_eq!(rest["dedupe_key"], page["dedupe_key"]);
        let related = |items: &Value, key: &str| -> Vec<i64> {
            items.as_array().unwrap().iter().map(|e| e[key].as_i64().unwrap()).collect()
        };
        assert_eq!(related(&rest["related"], "aoc_id"), related(&page["related"], "id"));
        let flattened: Vec<(String, String)> = serde_json::from_value(page["flattened"].clone()).unwrap();
        let rest_flattened: Vec<(String, String)> = rest["flattened"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(rest_flattened, flattened);
    }
}

async fn every_listed_event_opens_by_its_aoc_id_and_by_its_record_id(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // Events made by `aoc generate`.
    synthetic::generate(&app.db, 20, 1, 7, Utc::now()).await.expect("generate");
    let (status, list) = get(&app, "/api/events?page_size=20").await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    for item in items {
        let aoc_id = item["aoc_id"].as_i64().unwrap();
        let record_id = item["id"].as_str().unwrap();
        assert_eq!(item["record_id"], item["id"]);
        for path in [
            format!("/api/events/{aoc_id}"),
            format!("/api/events/{record_id}"),
            format!("/api/events/{record_id}?tenant={SYNTHETIC_TENANT}"),
            format!("/api/events/{aoc_id}?tenant={SYNTHETIC_TENANT}"),
        ] {
            let (status, detail) = get(&app, &path).await;
            assert_eq!(status, 200, "{path}: {detail}");
            assert_eq!(detail["aoc_id"], aoc_id, "{path}");
        }
        let (status, comments) = get(&app, &format!("/api/events/{aoc_id}/comments")).await;
        assert_eq!((status, comments), (200, serde_json::json!([])));
    }
    // An id that names nothing, and AOC's id of another tenant's event.
    let aoc_id = items[0]["aoc_id"].as_i64().unwrap();
    assert_eq!(get(&app, "/api/events/999999999").await.0, 404);
    assert_eq!(get(&app, &format!("/api/events/{aoc_id}?tenant=another.example")).await.0, 404);
    assert_eq!(get(&app, "/api/events/no-such-record").await.0, 404);
    // The page of an event takes the same id.
    let response = app.client.get(app.url(&format!("/events/{aoc_id}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

on_both_backends!(
    the_rest_api_and_the_pages_answer_the_same_for_the_same_filter,
    every_listed_event_opens_by_its_aoc_id_and_by_its_record_id,
);

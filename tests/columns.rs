//! The Events table's columns over real HTTP on SQLite and PostgreSQL: the defaults, adding a
//! flattened field, moving and removing columns (the page's server function and the REST API),
//! the page drawing the chosen columns with the fields' values escaped, each person's own choice,
//! and bad input named.

mod common;

use aoc::auth::{Caller, Role};
use app::auth::AuthMethod;
use common::{insert_event, spawn_app_as, Backend, TestApp};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

fn person(subject: &str, role: Role) -> Caller {
    Caller { subject: subject.into(), display_name: format!("Person {subject}"), role, method: AuthMethod::Session }
}

/// Stores an event whose flattened fields are `fields`.
async fn event_with_fields(app: &TestApp, record_id: &str, fields: Value) -> i64 {
    let id = insert_event(&app.db, record_id, chrono::Utc::now(), "Set-InboxRule").await;
    let json = fields.to_string().replace('\'', "''");
    let sql = format!("UPDATE events SET flattened = '{json}' WHERE id = {id}");
    app.db.execute(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap();
    id
}

fn list(value: &Value) -> Vec<String> {
    value["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect()
}

/// The `data-column` headings of the Events page, in order.
fn headings(html: &str) -> Vec<String> {
    let head = &html[html.find("<thead>").expect("a table")..html.find("</thead>").unwrap()];
    head.split("data-column=\"").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

async fn columns_are_chosen_ordered_and_remembered_per_person(backend: Backend) {
    let Some(app) = spawn_app_as(backend, Some(person("alice", Role::Analyst))).await else { return };
    let hostile = "<img src=x onerror=alert(1)>\u{202e}gpj.exe";
    event_with_fields(
        &app,
        "col-1",
        json!({"Parameters.ForwardTo": "mallory@evil.example", "ClientIP": "198.51.100.4", "RuleName": hostile}),
    )
    .await;

    // The defaults, from the REST API and the page's server function.
    let (status, mine) = app.call(reqwest::Method::GET, "/api/me/columns", None).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["default"], true);
    assert_eq!(list(&mine), ["severity", "service", "operation", "actor", "result", "summary"]);
    let (status, table) = app.server_fn("event_table", &[]).await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["columns"], mine);
    assert!(table["page"]["items"][0].get("fields").is_none(), "no flattened column chosen: {table}");
    let offered: Vec<&str> = table["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(offered, ["ClientIP", "Parameters.ForwardTo", "RuleName"]);

    // Add two flattened fields, move one left, remove a normalized column.
    for (op, column) in [("add", "Parameters.ForwardTo"), ("add", "RuleName")] {
        let (status, body) = app.server_fn("edit_event_columns", &[("op", op), ("column", column)]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, moved) = app.server_fn("edit_event_columns", &[("op", "left:6")]).await;
    assert_eq!(list(&moved)[5..], ["Parameters.ForwardTo", "summary", "RuleName"]);
    let (_, removed) = app.server_fn("edit_event_columns", &[("op", "remove:0")]).await;
    let expected = ["service", "operation", "actor", "result", "Parameters.ForwardTo", "summary", "RuleName"];
    assert_eq!(list(&removed), expected);
    assert_eq!(removed["default"], false);

    // The table's page carries the chosen fields' values; the page draws the columns in order.
    let (_, table) = app.server_fn("event_table", &[]).await;
    let fields = &table["page"]["items"][0]["fields"];
    assert_eq!(fields, &json!({"Parameters.ForwardTo": "mallory@evil.example", "RuleName": hostile}), "{table}");
    let html = app.client.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert_eq!(headings(&html), expected, "the headings in the chosen order");
    assert!(html.contains(">mallory@evil.example<"), "the field's value is in its cell");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img src=x"), "escaped");
    assert!(html.contains("id=\"column-chooser\"") && html.contains("value=\"remove:6\""), "the chooser");
    assert!(html.contains("<option value=\"ClientIP\">"), "the page's other fields are offered");

    // The REST API sets the same list; null goes back to the defaults.
    let body = json!({"columns": ["ClientIP", "operation"]});
    let (status, put) = app.call(reqwest::Method::PUT, "/api/me/columns", Some(body)).await;
    assert_eq!((status, list(&put)), (200, vec!["ClientIP".to_string(), "operation".to_string()]));
    let (_, table) = app.server_fn("event_table", &[]).await;
    assert_eq!(table["page"]["items"][0]["fields"], json!({"ClientIP": "198.51.100.4"}));

    // Another person's columns are their own.
    let (bob, _bob_stop) = common::same_database_as(&app, person("bob", Role::Reader)).await;
    let theirs: Value = app.client.get(format!("{bob}/api/me/columns")).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["default"], true, "{theirs}");
    let (_, still) = app.call(reqwest::Method::GET, "/api/me/columns", None).await;
    assert_eq!(list(&still), ["ClientIP", "operation"]);

    let (status, reset) = app.server_fn("edit_event_columns", &[("op", "reset")]).await;
    assert_eq!((status, reset["default"].as_bool()), (200, Some(true)));
    let (_, put) = app.call(reqwest::Method::PUT, "/api/me/columns", Some(json!({"columns": null}))).await;
    assert_eq!(put["default"], true);
}

async fn bad_column_input_is_named(backend: Backend) {
    let Some(app) = spawn_app_as(backend, Some(person("alice", Role::Reader))).await else { return };
    for (form, field, words) in [
        (vec![("op", "swap:1")], "op", "one of add"),
        (vec![("op", "remove:9")], "op", "no column at place 9"),
        (vec![("op", "add"), ("column", "time")], "column", "always the first"),
        (vec![("op", "add"), ("column", "service")], "column", "already"),
        (vec![("op", "add"), ("column", "a,b")], "column", "commas"),
        (vec![("op", "add")], "column", "1–200"),
    ] {
        let (status, body) = app.server_fn("edit_event_columns", &form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        assert_eq!(body["code"], "invalid_input", "{form:?}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(field) && message.contains(words), "{form:?}: {message}");
    }
    let many: Vec<String> = (0..21).map(|i| format!("Field{i}")).collect();
    for (body, words) in [
        (json!({"columns": many}), "at most 20"),
        (json!({"columns": ["ClientIP", "ClientIP"]}), "twice"),
        (json!({"columns": ["x".repeat(201)]}), "1–200"),
        (json!({"cols": []}), "not a column list"),
    ] {
        let (status, answer) = app.call(reqwest::Method::PUT, "/api/me/columns", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input", "{body}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(words), "{body}: {answer}");
    }
    let (_, mine) = app.call(reqwest::Method::GET, "/api/me/columns", None).await;
    assert_eq!(mine["default"], true, "nothing bad was stored");
}

on_both_backends!(columns_are_chosen_ordered_and_remembered_per_person, bad_column_input_is_named);

//! The Alerts and Rules pages' server functions over a real server and database, on SQLite and
//! PostgreSQL, posted the way a browser form posts them: the rule editor backtests, saves and
//! reloads a form-mode rule, reports Sigma errors at their line and column, lands a browser
//! without JavaScript on the saved rule; the queue lists, counts and triages alerts in bulk;
//! an alert shows why it fired against its first event's fields, and its history in words; the
//! stateful kinds are written, backtested and read back through the same form, and their
//! mistakes answered 400 with the reason; a rule is deleted from its page; a rule's suppressions
//! are listed for the page to refresh.

mod common;

use aoc::normalize::{self, Source};
use aoc::services::detection::catch_up;
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use chrono::{DateTime, Duration, Utc};
use common::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";

fn cmdlet(id: &str, user: &str, operation: &str, at: DateTime<Utc>) -> String {
    json!({
        "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(), "Id": id, "Operation": operation,
        "OrganizationId": TENANT, "RecordType": 1, "ResultStatus": "True", "UserKey": user, "UserType": 2,
        "Workload": "Exchange", "ClientIP": "203.0.113.7:4431", "ObjectId": "ceo", "UserId": user,
        "Parameters": [{"Name": "Identity", "Value": "ceo"}]
    })
    .to_string()
}

async fn store(app: &TestApp, raws: Vec<String>) {
    let rows = raws
        .into_iter()
        .map(|raw| {
            let n = normalize::normalize(Source::Unified, Some("Audit.Exchange"), &raw, &Default::default());
            EventRow::new(TENANT, Source::Unified, Some("Audit.Exchange"), raw, n, Utc::now())
        })
        .collect();
    store_batch(&app.db, rows, &[], &Subscribers::default()).await.unwrap();
}

async fn app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await
}

/// The editor's form for a rule firing on one operation (a blank row, as the page sends it).
fn rule_form<'a>(intent: &'a str, name: &'a str, operation: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("intent", intent),
        ("mode", "form"),
        ("name", name),
        ("severity", "high"),
        ("sources[0]", "unified"),
        ("tags", "attack.t1098"),
        ("enabled", "on"),
        ("group_by", "actor"),
        ("window_minutes", "60"),
        ("combine", "all"),
        ("field[0]", "Operation"),
        ("op[0]", "equals"),
        ("value[0]", operation),
        ("field[1]", ""),
        ("op[1]", "equals"),
        ("value[1]", ""),
        ("range", "24h"),
    ]
}

async fn the_rule_editor_backtests_saves_and_reloads_rules(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let now = Utc::now();
    store(
        &app,
        vec![
            cmdlet("p-1", "mallory@contoso.example", "Set-Mailbox", now - Duration::hours(2)),
            cmdlet("p-2", "mallory@contoso.example", "Set-Mailbox", now - Duration::hours(1)),
            cmdlet("p-3", "bob@contoso.example", "Set-Mailbox", now - Duration::days(3)),
        ],
    )
    .await;

    // Backtest over the last 24 hours: one alert (mallory) from two events, nothing saved.
    let (status, body) = app.server_fn("edit_rule", &rule_form("backtest", "Mailbox changed", "Set-Mailbox")).await;
    assert_eq!(status, 200, "{body}");
    let backtest = &body["Backtest"];
    assert_eq!(backtest["matches"], 2, "{body}");
    assert_eq!(backtest["alerts"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(backtest["alerts"][0]["key"], "mallory@contoso.example");
    assert_eq!(backtest["alerts"][0]["events"].as_array().unwrap().len(), 2);
    let (_, rules) = app.server_fn("list_rules", &[]).await;
    assert!(!rules.as_array().unwrap().iter().any(|r| r["name"] == "Mailbox changed"), "a backtest saves nothing");

    // Save, then the editor reads the rule back as the same rows.
    let (status, body) = app.server_fn("edit_rule", &rule_form("save", "Mailbox changed", "Set-Mailbox")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["Saved"].as_i64().expect("the saved rule's id");
    let (status, rule) = app.server_fn("get_rule", &[("id", &id.to_string())]).await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["rule"]["severity"], "high");
    assert_eq!(rule["rule"]["sources"], json!(["unified"]));
    assert_eq!(rule["rows"], json!(["all", [{"field": "Operation", "op": "equals", "value": "Set-Mailbox"}]]));

    // A second save of the same name is refused with a clear conflict.
    let (status, body) = app.server_fn("edit_rule", &rule_form("save", "Mailbox changed", "Set-Mailbox")).await;
    assert_eq!(status, 409, "{body}");

    // Disabling shows in the list.
    let (status, body) = app.server_fn("set_rule_enabled", &[("id", &id.to_string()), ("enabled", "false")]).await;
    assert_eq!(status, 200, "{body}");
    let (_, rules) = app.server_fn("list_rules", &[]).await;
    let listed = rules.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(listed["enabled"], false);
    assert_eq!(listed["kind"], "match");

    // Sigma: a syntax error and a semantic one both name their line; a valid rule keeps its author.
    let sigma = |yaml: &'static str| vec![("intent", "save"), ("mode", "sigma"), ("sigma", yaml), ("enabled", "on")];
    let (status, body) = app.server_fn("edit_rule", &sigma("title: T\ndetection:\n  sel: [a\n")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("line "), "{body}");
    let undefined = "title: T\nlogsource: {product: m365, service: exchange}\ndetection:\n    sel:\n        \
                     Operation: Set-Mailbox\n    condition: sel and other\n";
    let (status, body) = app.server_fn("edit_rule", &sigma(undefined)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("line 6, column 24"), "{body}");
    let valid = "title: Mailbox set by Sigma\nid: 0f6b1a2c-1111-4222-8333-944455556666\nauthor: Ana Lyst\n\
                 references:\n    - https://example.org/ref\nlogsource: {product: m365, service: exchange}\n\
                 detection:\n    sel:\n        Operation: Set-Mailbox\n    condition: sel\nlevel: medium\n";
    let (status, body) = app.server_fn("edit_rule", &sigma(valid)).await;
    assert_eq!(status, 200, "{body}");
    let sigma_id = body["Saved"].as_i64().unwrap();
    let (_, rule) = app.server_fn("get_rule", &[("id", &sigma_id.to_string())]).await;
    assert_eq!(rule["rule"]["is_sigma"], true, "{rule}");
    assert_eq!(rule["sigma_author"], "Ana Lyst");
    assert_eq!(rule["sigma_references"], json!(["https://example.org/ref"]));
    assert_eq!(rule["rows"], Value::Null, "{rule}");
    // Form mode cannot overwrite a Sigma rule.
    let mut form = rule_form("save", "Overwrite", "x");
    let sigma_text = sigma_id.to_string();
    form.push(("id", &sigma_text));
    let (status, body) = app.server_fn("edit_rule", &form).await;
    assert_eq!(status, 400, "{body}");

    // Field names come from the stored events (array positions dropped) and the aliases.
    let (status, fields) = app.server_fn("rule_fields", &[]).await;
    assert_eq!(status, 200, "{fields}");
    let fields: Vec<&str> = fields.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(fields.contains(&"operation") && fields.contains(&"ip"), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("Parameters.")), "{fields:?}");
    assert!(fields.contains(&"ClientIP"), "{fields:?}");

    // A browser without JavaScript lands on the saved rule.
    let response = app
        .client
        .post(app.url("/api/edit_rule"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/rules/new"))
        .form(&rule_form("save", "Mailbox changed again", "Set-Mailbox"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/rules/") && location.ends_with("?saved=1") && !location.contains("new"),
        "{location}"
    );
}

async fn the_queue_counts_and_triages_alerts_in_bulk_and_an_alert_explains_itself(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (status, body) = app.server_fn("edit_rule", &rule_form("save", "Mailbox changed", "Set-Mailbox")).await;
    assert_eq!(status, 200, "{body}");
    let rule = body["Saved"].as_i64().unwrap().to_string();
    let now = Utc::now();
    store(
        &app,
        vec![
            cmdlet("q-1", "mallory@contoso.example", "Set-Mailbox", now - Duration::minutes(30)),
            cmdlet("q-2", "bob@contoso.example", "Set-Mailbox", now - Duration::minutes(20)),
            cmdlet("q-3", "eve@contoso.example", "Set-Mailbox", now - Duration::minutes(10)),
        ],
    )
    .await;
    catch_up(&app.db).await.unwrap();

    let list = |filter: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(String, String)> = filter.into_iter().map(|(k, v)| (format!("filter[{k}]"), v)).collect();
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (status, body) = app.server_fn("list_alerts", &form).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let page = list(vec![("rule", rule.clone())]).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{page}");
    assert_eq!(items[0]["key"], "eve@contoso.example", "newest first: {page}");
    assert_eq!(page["counts"][0], json!(["new", 3]), "{page}");
    let ids: Vec<String> = items.iter().map(|a| a["id"].to_string()).collect();

    let older = list(vec![("rule", rule.clone()), ("cursor", ids[0].clone())]).await;
    assert_eq!(older["items"].as_array().unwrap().len(), 2, "the cursor pages to older alerts: {older}");

    // Bulk: two of the three (checkboxes 0 and 2 of the page) acknowledged, then assigned to me.
    let (status, body) = app
        .server_fn("bulk_triage_alerts", &[("ids[0]", &ids[0]), ("ids[2]", &ids[2]), ("action", "acknowledged")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, 2);
    let (status, body) =
        app.server_fn("bulk_triage_alerts", &[("ids[0]", &ids[0]), ("ids[2]", &ids[2]), ("action", "assign_me")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.server_fn("bulk_triage_alerts", &[("action", "acknowledged")]).await;
    assert_eq!(status, 400, "nothing chosen: {body}");
    let (status, body) = app.server_fn("bulk_triage_alerts", &[("ids[0]", &ids[1]), ("action", "delete")]).await;
    assert_eq!(status, 400, "{body}");

    let page = list(vec![("rule", rule.clone())]).await;
    let counts: Vec<(String, i64)> = serde_json::from_value(page["counts"].clone()).unwrap();
    assert_eq!(counts.iter().find(|(s, _)| s == "acknowledged").unwrap().1, 2, "{page}");
    assert_eq!(counts.iter().find(|(s, _)| s == "new").unwrap().1, 1, "{page}");
    let acknowledged = list(vec![("rule", rule.clone()), ("status", "acknowledged".into())]).await;
    assert_eq!(acknowledged["items"].as_array().unwrap().len(), 2);
    let me = acknowledged["items"][0]["assignee"].as_str().expect("assigned to the caller").to_string();
    let mine = list(vec![("assignee", me.clone())]).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "{mine}");
    let unassigned = list(vec![("rule", rule.clone()), ("assignee", "none".into())]).await;
    assert_eq!(unassigned["items"].as_array().unwrap().len(), 1, "{unassigned}");
    let (status, body) = app.server_fn("list_alerts", &[("filter[status]", "nonsense")]).await;
    assert_eq!(status, 400, "{body}");

    // One alert: resolve and unassign, comment; the page shows why it fired and the history.
    let id = &ids[0];
    let (status, body) = app
        .server_fn("triage_alert", &[("id", id), ("status", "resolved"), ("assignee", ""), ("set_assignee", "true")])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.server_fn("comment_alert", &[("id", id), ("body", "Checked with the owner.")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, alert) = app.server_fn("get_alert", &[("id", id)]).await;
    assert_eq!(status, 200, "{alert}");
    assert_eq!(alert["alert"]["status"], "resolved");
    assert_eq!(alert["alert"]["assignee"], Value::Null);
    assert_eq!(alert["rule"]["name"], "Mailbox changed");
    assert_eq!(alert["matched"][0][1], "Set-Mailbox", "{alert}");
    let fields = alert["first_event"][1].as_array().unwrap();
    let marked: Vec<&str> = fields.iter().filter(|f| f["matched"] == true).filter_map(|f| f["name"].as_str()).collect();
    assert!(marked.contains(&"operation") && marked.contains(&"Operation"), "{marked:?}");
    assert!(!marked.contains(&"UserId"), "{marked:?}");
    assert_eq!(alert["events"].as_array().unwrap().len(), 1);
    assert_eq!(alert["comments"][0]["body"], "Checked with the owner.");
    let history: Vec<&str> = alert["history"].as_array().unwrap().iter().filter_map(|h| h["body"].as_str()).collect();
    assert_eq!(
        history,
        [
            "raised on 1 event",
            "status: New → Acknowledged",
            format!("assignee: nobody → {me}").as_str(),
            format!("status: Acknowledged → Resolved; assignee: {me} → nobody").as_str(),
            "added a comment",
        ],
    );
    let (status, body) = app.server_fn("get_alert", &[("id", "999999")]).await;
    assert_eq!(status, 404, "{body}");

    // Hunting matches stay out of the queue unless asked for.
    let hunting = list(vec![("rule", rule.clone()), ("hunting", "true".into())]).await;
    assert_eq!(hunting["items"].as_array().unwrap().len(), 0, "{hunting}");
    let both = list(vec![("rule", rule.clone()), ("hunting", "all".into())]).await;
    assert_eq!(both["items"].as_array().unwrap().len(), 3, "{both}");
}

/// The editor's form for a stateful rule over `Operation` = `operation`, grouped by actor, with
/// `extra` (the kind and its part).
fn kind_form<'a>(
    intent: &'a str,
    name: &'a str,
    operation: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = rule_form(intent, name, operation);
    form.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    form.extend_from_slice(extra);
    form
}

/// The start of the clock hour `hours` ago (threshold windows are aligned to the clock).
fn hour_start(hours: i64) -> DateTime<Utc> {
    let at = (Utc::now() - Duration::hours(hours)).timestamp();
    DateTime::from_timestamp(at - at.rem_euclid(3600), 0).unwrap()
}

async fn the_rule_editor_writes_threshold_first_seen_and_sequence_rules(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let hour = hour_start(3);
    let at = |minutes: i64| hour + Duration::minutes(minutes);
    store(
        &app,
        vec![
            cmdlet("t-1", "mallory@contoso.example", "Set-Mailbox", at(5)),
            cmdlet("t-2", "mallory@contoso.example", "Set-Mailbox", at(10)),
            cmdlet("t-3", "mallory@contoso.example", "Set-Mailbox", at(15)),
            cmdlet("t-4", "bob@contoso.example", "Set-Mailbox", at(20)),
            cmdlet("s-1", "eve@contoso.example", "Add-MailboxPermission", at(30)),
            cmdlet("s-2", "eve@contoso.example", "Remove-MailboxPermission", at(40)),
        ],
    )
    .await;

    // Threshold: three changes by one actor in an hour; only mallory reaches it.
    let threshold = [("kind", "threshold"), ("count", "3"), ("distinct", "")];
    let (status, body) =
        app.server_fn("edit_rule", &kind_form("backtest", "Mailbox burst", "Set-Mailbox", &threshold)).await;
    assert_eq!(status, 200, "{body}");
    let alerts = body["Backtest"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{body}");
    assert_eq!(alerts[0]["key"], "mallory@contoso.example");
    assert_eq!(alerts[0]["count"], 3);
    let (status, body) =
        app.server_fn("edit_rule", &kind_form("save", "Mailbox burst", "Set-Mailbox", &threshold)).await;
    assert_eq!(status, 200, "{body}");
    let id = body["Saved"].as_i64().unwrap().to_string();
    let (_, rule) = app.server_fn("get_rule", &[("id", &id)]).await;
    assert_eq!(rule["rule"]["kind"], "threshold", "{rule}");
    assert_eq!(rule["kind_fields"]["count"], 3, "{rule}");
    assert_eq!(rule["rows"], json!(["all", [{"field": "Operation", "op": "equals", "value": "Set-Mailbox"}]]));
    // Raised to four, the stored rule with the change finds nothing; saved, it stays a threshold.
    let mut changed = kind_form("backtest", "Mailbox burst", "Set-Mailbox", &[("kind", "threshold"), ("count", "4")]);
    changed.push(("id", &id));
    let (status, body) = app.server_fn("edit_rule", &changed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Backtest"]["alerts"], json!([]), "{body}");
    changed[0] = ("intent", "save");
    let (status, body) = app.server_fn("edit_rule", &changed).await;
    assert_eq!(status, 200, "{body}");
    let (_, rule) = app.server_fn("get_rule", &[("id", &id)]).await;
    assert_eq!(rule["kind_fields"]["count"], 4, "{rule}");
    // Distinct values: two different actors changed mailboxes, grouped by tenant.
    let distinct = [("kind", "threshold"), ("count", "2"), ("distinct", "actor"), ("group_by", "tenant")];
    let distinct = kind_form("backtest", "Many people", "Set-Mailbox", &distinct);
    let (status, body) = app.server_fn("edit_rule", &distinct).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Backtest"]["alerts"].as_array().unwrap().len(), 1, "{body}");

    // Sequence: a permission added, then removed by the same actor within the window.
    let sequence = [
        ("kind", "sequence"),
        ("then_combine", "all"),
        ("then_field[0]", "Operation"),
        ("then_op[0]", "equals"),
        ("then_value[0]", "Remove-MailboxPermission"),
        ("then_field[1]", ""),
    ];
    let (status, body) = app
        .server_fn("edit_rule", &kind_form("backtest", "Added then removed", "Add-MailboxPermission", &sequence))
        .await;
    assert_eq!(status, 200, "{body}");
    let alerts = body["Backtest"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{body}");
    assert_eq!(alerts[0]["key"], "eve@contoso.example");
    assert_eq!(alerts[0]["count"], 2);
    let (status, body) =
        app.server_fn("edit_rule", &kind_form("save", "Added then removed", "Add-MailboxPermission", &sequence)).await;
    assert_eq!(status, 200, "{body}");
    let (_, rule) = app.server_fn("get_rule", &[("id", &body["Saved"].as_i64().unwrap().to_string())]).await;
    assert_eq!(rule["rule"]["kind"], "sequence", "{rule}");
    assert_eq!(
        rule["kind_fields"]["then_rows"],
        json!([{"field": "Operation", "op": "equals", "value": "Remove-MailboxPermission"}]),
        "{rule}"
    );

    // First seen: the remembered field and the look-back.
    let first_seen = [("kind", "first_seen"), ("remembered", "ClientIP"), ("lookback_days", "14")];
    let (status, body) =
        app.server_fn("edit_rule", &kind_form("backtest", "New address", "Set-Mailbox", &first_seen)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        app.server_fn("edit_rule", &kind_form("save", "New address", "Set-Mailbox", &first_seen)).await;
    assert_eq!(status, 200, "{body}");
    let (_, rule) = app.server_fn("get_rule", &[("id", &body["Saved"].as_i64().unwrap().to_string())]).await;
    assert_eq!(
        (rule["rule"]["kind"].clone(), rule["kind_fields"]["remembered"].clone()),
        (json!("first_seen"), json!("ClientIP"))
    );
    assert_eq!(rule["kind_fields"]["lookback_days"], 14, "{rule}");

    // A match rule saved from the form drops the stateful part.
    let mut back = rule_form("save", "Mailbox burst", "Set-Mailbox");
    back.push(("id", &id));
    back.push(("kind", "match"));
    back.push(("count", "4"));
    let (status, body) = app.server_fn("edit_rule", &back).await;
    assert_eq!(status, 200, "{body}");
    let (_, rule) = app.server_fn("get_rule", &[("id", &id)]).await;
    assert_eq!(rule["rule"]["kind"], "match", "{rule}");
    assert_eq!(rule["kind_fields"]["count"], 0, "the threshold is gone: {rule}");

    // Mistakes are answered 400 with what to fix, for a backtest and a save alike; nothing is stored.
    let refusals: [(&[(&str, &str)], &str); 9] = [
        (&[("kind", "threshold")], "invalid `count`: a threshold rule needs the number"),
        (&[("kind", "threshold"), ("count", "0")], "invalid `count`: a whole number from 1 to 100000"),
        (&[("kind", "threshold"), ("count", "many")], "invalid `count`: a whole number from 1 to 100000"),
        (&[("kind", "first_seen"), ("remembered", " ")], "invalid `remembered`: a first-seen rule needs the field"),
        (
            &[("kind", "first_seen"), ("remembered", "ip"), ("lookback_days", "400")],
            "invalid `lookback_days`: a whole number from 1 to 365",
        ),
        (
            &[("kind", "sequence"), ("then_field[0]", "")],
            "invalid `then`: a sequence rule needs at least one condition",
        ),
        (&[("kind", "sequence"), ("then_field[0]", "Operation"), ("then_op[0]", "like")], "unknown operator `like`"),
        (&[("kind", "burst")], "invalid `kind`: match, threshold, first_seen or sequence"),
        (&[("kind", "threshold"), ("count", "2"), ("window_minutes", "0")], "invalid `window_minutes`"),
    ];
    for (extra, expected) in refusals {
        for intent in ["backtest", "save"] {
            let form = kind_form(intent, "Refused", "Set-Mailbox", extra);
            let (status, body) = app.server_fn("edit_rule", &form).await;
            assert_eq!(status, 400, "{extra:?} {intent}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(expected), "{extra:?} {intent}: {message}");
        }
    }
    let (status, body) = app
        .server_fn(
            "edit_rule",
            &kind_form(
                "save",
                "Refused",
                "Set-Mailbox",
                &[("kind", "threshold"), ("count", "2"), ("group_by", "nonsense")],
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("group_by"), "{body}");
    let (_, rules) = app.server_fn("list_rules", &[]).await;
    assert!(!rules.as_array().unwrap().iter().any(|r| r["name"] == "Refused"), "{rules}");

    // Without JavaScript a backtest is carried in the address as a draft, checked again there.
    let response = app
        .client
        .post(app.url("/api/edit_rule"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/rules/new"))
        .form(&kind_form("backtest", "Mailbox burst draft", "Set-Mailbox", &threshold))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let address = reqwest::Url::parse(&app.url(&location)).unwrap();
    let draft = address.query_pairs().find(|(k, _)| k == "draft").map(|(_, v)| v.into_owned()).expect("{location}");
    let (status, body) = app.server_fn("backtest_draft", &[("draft", &draft), ("range", "24h")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1, "{body}");
    let tampered = draft.replace("\"count\":3", "\"count\":0");
    assert_ne!(tampered, draft);
    let (status, body) = app.server_fn("backtest_draft", &[("draft", &tampered), ("range", "24h")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("invalid `count`"), "{body}");
}

async fn a_rule_is_deleted_from_its_page_and_its_suppressions_are_listed(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let (status, body) = app.server_fn("edit_rule", &rule_form("save", "Short-lived", "Set-Mailbox")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["Saved"].as_i64().unwrap().to_string();

    // Suppressions are listed on their own, so the page refreshes them after each change.
    let (status, list) = app.server_fn("rule_suppressions", &[("rule_id", &id)]).await;
    assert_eq!((status, list.clone()), (200, json!([])));
    let suppress = [("rule_id", id.as_str()), ("entity", ""), ("hours", "24"), ("reason", "planned migration")];
    let (status, body) = app.server_fn("suppress_rule", &suppress).await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = app.server_fn("rule_suppressions", &[("rule_id", &id)]).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["entity"], Value::Null, "every entity: {list}");
    let suppression = list[0]["id"].as_i64().unwrap().to_string();
    let (status, body) = app.server_fn("end_suppression", &[("id", &suppression)]).await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = app.server_fn("rule_suppressions", &[("rule_id", &id)]).await;
    assert_eq!(list, json!([]));
    app.server_fn("suppress_rule", &suppress).await;

    // Delete asks for the confirmation box.
    let (status, body) = app.server_fn("delete_rule", &[("id", &id)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("invalid `confirm`"), "{body}");
    let (status, _) = app.server_fn("get_rule", &[("id", &id)]).await;
    assert_eq!(status, 200, "an unconfirmed delete deletes nothing");
    let (status, body) = app.server_fn("delete_rule", &[("id", &id), ("confirm", "on")]).await;
    assert_eq!((status, body.clone()), (200, json!(id.parse::<i64>().unwrap())), "{body}");
    let (status, _) = app.server_fn("get_rule", &[("id", &id)]).await;
    assert_eq!(status, 404);
    let (_, list) = app.server_fn("rule_suppressions", &[("rule_id", &id)]).await;
    assert_eq!(list, json!([]), "the rule's suppressions went with it");
    let (status, body) = app.server_fn("delete_rule", &[("id", &id), ("confirm", "on")]).await;
    assert_eq!(status, 404, "{body}");

    // A browser without JavaScript lands on the list, which says what happened.
    let (_, body) = app.server_fn("edit_rule", &rule_form("save", "Short-lived too", "Set-Mailbox")).await;
    let id = body["Saved"].as_i64().unwrap().to_string();
    let response = app
        .client
        .post(app.url("/api/delete_rule"))
        .header("Accept", "text/html")
        .header("Referer", app.url(&format!("/rules/{id}")))
        .form(&[("id", id.as_str()), ("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"].to_str().unwrap(), format!("/rules?deleted={id}"));
    let page = app.client.get(app.url(&format!("/rules?deleted={id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"rule-deleted\""), "the list page says the rule was deleted");
}

on_both_backends!(
    the_rule_editor_backtests_saves_and_reloads_rules,
    the_rule_editor_writes_threshold_first_seen_and_sequence_rules,
    a_rule_is_deleted_from_its_page_and_its_suppressions_are_listed,
    the_queue_counts_and_triages_alerts_in_bulk_and_an_alert_explains_itself,
);

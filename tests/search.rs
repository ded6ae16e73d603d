//! Search and the REST API over real HTTP, on SQLite and PostgreSQL: every filter, free text
//! (before and after the background indexer ran), pagination edges, malformed parameters, event
//! detail, tags, comments, the audit trail, facets, histogram, export and the OpenAPI document.

mod common;

use aoc::normalize::{normalize, Context, Source};
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use chrono::{DateTime, Duration, Utc};
use common::{spawn_app, Backend, TestApp};
use serde_json::{json, Value};

const TENANT_A: &str = "11111111-1111-1111-1111-111111111111";
const TENANT_B: &str = "22222222-2222-2222-2222-222222222222";

fn base_time() -> DateTime<Utc> {
    Utc::now() - Duration::hours(2)
}

/// A UAL record, normalized and stored through the real write path.
async fn store_ual(app: &TestApp, tenant: &str, id: &str, minutes_ago: i64, record: Value) {
    let time = (base_time() - Duration::minutes(minutes_ago)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut record = record;
    record["Id"] = json!(id);
    record["CreationTime"] = json!(time);
    record["OrganizationId"] = json!(tenant);
    let raw = record.to_string();
    let normalized = normalize(Source::Unified, Some("Audit.Exchange"), &raw, &Context::default());
    let row = EventRow::new(tenant, Source::Unified, Some("Audit.Exchange"), raw, normalized, Utc::now());
    store_batch(&app.db, vec![row], &[], &Subscribers::default()).await.expect("store");
}

fn exchange(operation: &str, user: &str, params: Value) -> Value {
    json!({"RecordType": 1, "Operation": operation, "Workload": "Exchange", "UserId": user,
           "ClientIP": "203.0.113.7:4432", "ResultStatus": "True", "ObjectId": "CEO mailbox", "Parameters": params})
}

fn sharepoint(operation: &str, user: &str, file: &str) -> Value {
    json!({"RecordType": 6, "Operation": operation, "Workload": "SharePoint", "UserId": user,
           "ClientIP": "198.51.100.20", "ObjectId": format!("https://contoso.sharepoint.com/Shared/{file}"),
           "SourceFileName": file, "SiteUrl": "https://contoso.sharepoint.com/"})
}

fn directory(operation: &str, user: &str, result: &str, target: &str, correlation: &str) -> Value {
    json!({"RecordType": 8, "Operation": operation, "Workload": "AzureActiveDirectory", "UserId": user,
           "ResultStatus": result, "ObjectId": target, "ClientIP": "192.0.2.1",
           "Target": [{"ID": target, "Type": 5}],
           "ModifiedProperties": [{"Name": "Role.DisplayName", "NewValue": "Global Administrator", "OldValue": ""}],
           "ExtendedProperties": [{"Name": "correlationId", "Value": correlation}]})
}

/// Twelve events in two tenants, newest first: e01 (0 min ago) ... e12 (110 min ago).
async fn seed(app: &TestApp) {
    let fwd = json!([{"Name": "Identity", "Value": "ceo@contoso.example"},
                     {"Name": "ForwardingSmtpAddress", "Value": "smtp:drop@exfil-zq7.example"}]);
    store_ual(app, TENANT_A, "e01", 0, exchange("Set-Mailbox", "adele@contoso.example", fwd)).await;
    store_ual(app, TENANT_A, "e02", 10, sharepoint("FileAccessed", "lee@contoso.example", "Q3 plan.docx")).await;
    store_ual(app, TENANT_A, "e03", 20, sharepoint("FileDownloaded", "lee@contoso.example", "Payroll 2026.xlsx")).await;
    store_ual(
        app,
        TENANT_A,
        "e04",
        30,
        directory("Add member to role.", "it.admin@contoso.example", "Success", "megan@contoso.example", "corr-1"),
    )
    .await;
    store_ual(
        app,
        TENANT_A,
        "e05",
        40,
        directory("Update user.", "it.admin@contoso.example", "Failure", "megan@contoso.example", "corr-1"),
    )
    .await;
    let rule = json!([{"Name": "Name", "Value": "Move to archive"}, {"Name": "DeleteMessage", "Value": "True"}]);
    store_ual(app, TENANT_A, "e06", 50, exchange("New-InboxRule", "adele@contoso.example", rule)).await;
    store_ual(app, TENANT_A, "e07", 60, sharepoint("FileAccessed", "alex@contoso.example", "Budget.xlsx")).await;
    store_ual(app, TENANT_A, "e08", 70, sharepoint("FileAccessed", "alex@contoso.example", "=cmd|' /C calc'!A0")).await;
    store_ual(app, TENANT_B, "e09", 80, sharepoint("FileAccessed", "guest@fabrikam.example", "Roadmap.pptx")).await;
    store_ual(app, TENANT_B, "e10", 90, exchange("Set-Mailbox", "admin@fabrikam.example", json!([]))).await;
    store_ual(app, TENANT_B, "e11", 100, sharepoint("FileDeleted", "guest@fabrikam.example", "Old.txt")).await;
    // The same record id in both tenants (ids are only unique per tenant and source).
    store_ual(app, TENANT_A, "dup", 110, sharepoint("FileAccessed", "lee@contoso.example", "Same.txt")).await;
    store_ual(app, TENANT_B, "dup", 110, sharepoint("FileAccessed", "guest@fabrikam.example", "Same.txt")).await;
}

async fn get(app: &TestApp, path_and_query: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path_and_query)).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Record ids of every event the query matches (following cursors), newest first.
async fn ids(app: &TestApp, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let (status, body) = get(app, &format!("/api/events?{query}{sep}page_size=5&cursor={cursor}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        for item in body["items"].as_array().unwrap() {
            out.push(item["id"].as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn every_filter_matches_exactly_its_events(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    assert_eq!(ids(&app, "").await.len(), 13);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("tenant={TENANT_B}"), vec!["e09", "e10", "e11", "dup"]),
        ("service=Exchange".into(), vec!["e01", "e06", "e10"]),
        ("operation=FileAccessed".into(), vec!["e02", "e07", "e08", "e09", "dup", "dup"]),
        ("actor=adele@contoso.example".into(), vec!["e01", "e06"]),
        ("actor=*fabrikam*".into(), vec!["e09", "e10", "e11", "dup"]),
        ("target=payroll".into(), vec!["e03"]),
        ("result=failure".into(), vec!["e05"]),
        (
            "source=unified".into(),
            vec!["e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11", "dup", "dup"],
        ),
        ("service=SharePoint&actor=lee@contoso.example&operation=FileDownloaded".into(), vec!["e03"]),
        (
            format!(
                "start={}&end={}",
                enc(&(base_time() - Duration::minutes(35)).to_rfc3339()),
                enc(&(base_time() - Duration::minutes(5)).to_rfc3339())
            ),
            vec!["e02", "e03", "e04"],
        ),
        ("last=125m&service=Exchange".into(), vec!["e01"]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&app, &query).await, expected, "{query}");
    }
    // Severity: the normalizer rates forwarding outside and role changes; check against facets.
    let (_, options) = get(&app, "/api/filter-options").await;
    let high: Vec<Value> = options["facets"]["severity"].as_array().unwrap().clone();
    let total: u64 = high.iter().map(|f| f["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 13);
    let crit_and_high = ids(&app, "min_severity=high").await;
    assert!(crit_and_high.contains(&"e01".to_string()), "forwarding outside is high: {crit_and_high:?}");
    assert!(crit_and_high.contains(&"e04".to_string()), "role membership is high: {crit_and_high:?}");
    assert!(!crit_and_high.contains(&"e02".to_string()));
    for level in ["info", "low", "medium", "high", "critical"] {
        let exact = ids(&app, &format!("severity={level}")).await;
        let facet = high.iter().find(|f| f["value"] == level).map_or(0, |f| f["count"].as_u64().unwrap());
        assert_eq!(exact.len() as u64, facet, "{level}");
    }
}

async fn free_text_finds_raw_values_before_and_after_indexing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("exfil-zq7.example", vec!["e01"]),      // a rare raw value (inside Parameters)
        ("drop@exfil-zq7.example", vec!["e01"]), // a whole address
        ("\"Payroll 2026\"", vec!["e03"]),       // a phrase
        ("Payroll -service:SharePoint", vec![]), // negated field
        ("contoso.sharepoint.com -alex", vec!["e02", "e03", "e09", "e11", "dup", "dup"]), // negated word
        ("Parameters.DeleteMessage:true", vec!["e06"]), // a flattened field
        ("parameters.identity:CEO@contoso.example", vec!["e01"]), // case-insensitive key and value
        ("service:Exchange fabrikam", vec!["e10"]), // field and word
        ("corr-1", vec!["e04", "e05"]),
        ("nothing-like-this-anywhere", vec![]),
    ];
    for round in ["queued", "indexed"] {
        if round == "indexed" {
            // The server's own indexer may hold a batch meanwhile (PostgreSQL skips rows another
            // indexer has claimed): index, and wait for the queue to drain.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                aoc::store::search::index_pending(&app.db).await.expect("index");
                let queued = aoc::store::search::queue_length(&app.db).await.unwrap();
                if queued == 0 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{queued} events still queued after 30 s");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        for (search, expected) in &cases {
            let got = ids(&app, &format!("search={}", enc(search))).await;
            assert_eq!(&got, expected, "{round}: {search}");
        }
    }
    // Combined with filters, and the tenant filter keeps tenants apart.
    assert_eq!(ids(&app, &format!("tenant={TENANT_B}&search=Same.txt")).await, vec!["dup"]);
}

async fn analysts_words_find_compound_and_prefixed_values(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    let to = json!([{"Name": "Name", "Value": "OneDrive SyncEngine copy"}, {"Name": "ForwardTo", "Value": "ext@partner-k2.example"}]);
    store_ual(&app, TENANT_A, "e13", 5, exchange("Set-InboxRule", "adele@contoso.example", to)).await;
    // The same answers from the raw-record scan of queued events and from the index.
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("inbox rule", vec!["e13", "e06"]),
        ("InboxRule", vec!["e13", "e06"]),
        ("New-InboxRule", vec!["e06"]),
        ("\"New-InboxRule\"", vec!["e06"]),
        ("forward*", vec!["e01", "e13"]),
        ("Forwarding*", vec!["e01"]),
        ("inboxrule* -forward*", vec!["e06"]),
        ("operation:Set-InboxRule", vec!["e13"]),
        ("Parameters.ForwardTo:ext@partner-k2.example", vec!["e13"]),
    ];
    for round in ["queued", "indexed"] {
        if round == "indexed" {
            aoc::store::search::index_pending(&app.db).await.expect("index");
        }
        for (search, expected) in &cases {
            let got = ids(&app, &format!("search={}", enc(search))).await;
            assert_eq!(&got, expected, "{round}: {search}");
        }
    }
    // Indexed, a word is a whole token: `forward` is the part of `ForwardTo`, not `Forwarding`
    // (the scan of still-queued records is a substring match, a superset).
    assert_eq!(ids(&app, "search=forward").await, vec!["e13"]);
    assert_eq!(ids(&app, "search=forwardto").await, vec!["e13"]);
    assert_eq!(ids(&app, "search=smtp%20address").await, vec!["e01"]);
    // A phrase across compound words stays a phrase (parts are adjacent in the index).
    assert_eq!(
        ids(&app, &format!("search={}", enc("\"Set-InboxRule\" \"New-InboxRule\""))).await,
        Vec::<String>::new()
    );
    assert_eq!(ids(&app, &format!("search={}", enc("\"OneDrive SyncEngine copy\""))).await, vec!["e13"]);
    assert_eq!(ids(&app, &format!("search={}", enc("\"Set-InboxRule adele\""))).await, Vec::<String>::new());
    assert_eq!(ids(&app, &format!("search={}", enc("\"ForwardingSmtpAddress smtp drop\""))).await, vec!["e01"]);
    let (status, body) = get(&app, "/api/events?search=f*").await;
    assert_eq!(status, 400, "{body}");
}

async fn pagination_is_stable_while_events_arrive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // Empty database: an empty last page.
    let (status, body) = get(&app, "/api/events").await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    assert!(body["next_cursor"].is_null());
    seed(&app).await;
    let (_, first) = get(&app, "/api/events?page_size=4").await;
    let first_ids: Vec<&str> = first["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(first_ids, ["e01", "e02", "e03", "e04"]);
    // New events arrive: one newer than everything, one in the middle of the next page.
    store_ual(&app, TENANT_A, "new-top", -5, sharepoint("FileAccessed", "x@contoso.example", "n.txt")).await;
    store_ual(&app, TENANT_A, "new-mid", 45, sharepoint("FileAccessed", "x@contoso.example", "m.txt")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let mut rest = Vec::new();
    let mut cursor = cursor.to_string();
    loop {
        let (_, page) = get(&app, &format!("/api/events?page_size=4&cursor={cursor}")).await;
        rest.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    // Nothing already seen repeats, nothing older is skipped, the late older event is included.
    assert_eq!(rest, ["e05", "new-mid", "e06", "e07", "e08", "e09", "e10", "e11", "dup", "dup"]);
    // The exact last page: 15 events in pages of 5 → the third page has no next cursor.
    let (_, p1) = get(&app, "/api/events?page_size=5").await;
    let (_, p2) = get(&app, &format!("/api/events?page_size=5&cursor={}", p1["next_cursor"].as_str().unwrap())).await;
    let (_, p3) = get(&app, &format!("/api/events?page_size=5&cursor={}", p2["next_cursor"].as_str().unwrap())).await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 5);
    assert!(p3["next_cursor"].is_null(), "{p3}");
}

async fn malformed_parameters_get_400_naming_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    for (query, parameter) in [
        ("/api/events?page_size=0", "page_size"),
        ("/api/events?page_size=501", "page_size"),
        ("/api/events?page_size=abc", "page_size"),
        ("/api/events?cursor=garbage", "cursor"),
        ("/api/events?start=yesterday", "start"),
        ("/api/events?end=2026-02-30", "end"),
        ("/api/events?start=2026-11-02&end=2026-11-01", "end"),
        ("/api/events?last=5y", "last"),
        ("/api/events?result=maybe", "result"),
        ("/api/events?severity=urgent", "severity"),
        ("/api/events?min_severity=9", "min_severity"),
        ("/api/events?source=mail", "source"),
        ("/api/events?search=%22unclosed", "search"),
        ("/api/events?search=-only", "search"),
        ("/api/events?search=severity:urgent", "search"),
        ("/api/events?tag=%01", "tag"),
        ("/api/events/histogram?interval=fortnight", "interval"),
        ("/api/events/histogram?buckets=0", "buckets"),
        ("/api/events/export?format=xml", "format"),
        ("/api/events/export?limit=-1", "limit"),
        ("/api/coverage?state=lost", "state"),
        ("/api/coverage?page_size=5000", "page_size"),
        ("/api/audit-trail?before=x", "before"),
        ("/api/filter-options?start=never", "start"),
    ] {
        let (status, body) = get(&app, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{query}");
        assert!(body["error"]["message"].as_str().unwrap().contains(&format!("`{parameter}`")), "{query}: {body}");
    }
    let long = "x".repeat(1200);
    let (status, body) = get(&app, &format!("/api/events?search={long}")).await;
    assert_eq!(status, 400, "{body}");
    // Bodies: tags and comments.
    let patch = |body: &'static str| {
        app.client.patch(app.url("/api/events/e01/tags")).header("content-type", "application/json").body(body).send()
    };
    for bad in ["{}", "not json", r#"{"add": [""]}"#, r#"{"add": ["x"], "colour": 1}"#] {
        let response = patch(bad).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input", "{bad}");
    }
    let add = app.url("/api/events/e01/comments");
    for bad in [json!({"body": "   "}), json!({"text": "x"}), json!({"body": "x".repeat(10_001)})] {
        let response = app.client.post(&add).json(&bad).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{bad}");
    }
    let response = app.client.delete(app.url("/api/events/e01/comments/abc")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

async fn detail_tags_comments_and_audit_trail(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    let (status, body) = get(&app, "/api/events/e04").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "e04");
    assert_eq!(body["raw"]["Operation"], "Add member to role.");
    assert_eq!(body["service"], "AzureActiveDirectory");
    assert!(body["flattened"]["ModifiedProperties.Role.DisplayName.NewValue"].is_string(), "{}", body["flattened"]);
    let related: Vec<&str> = body["related"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(related.contains(&"e05"), "same actor within the hour: {related:?}");
    assert_eq!(get(&app, "/api/events/nope").await.0, 404);
    let (status, body) = get(&app, "/api/events/dup").await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("tenant"));
    let (status, body) = get(&app, &format!("/api/events/dup?tenant={TENANT_B}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["tenant"], TENANT_B);

    // Tags: add, filter, remove, replace.
    let tags = |body: Value| app.client.patch(app.url("/api/events/e04/tags")).json(&body).send();
    let response = tags(json!({"add": ["Investigating", "escalated"]})).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["tags"], json!(["escalated", "investigating"]));
    assert_eq!(ids(&app, "tag=investigating").await, vec!["e04"]);
    assert_eq!(ids(&app, "search=tag:escalated").await, vec!["e04"]);
    let body: Value = tags(json!({"remove": ["escalated"]})).await.unwrap().json().await.unwrap();
    assert_eq!(body["tags"], json!(["investigating"]));
    let body: Value = tags(json!({"tags": ["false_positive"]})).await.unwrap().json().await.unwrap();
    assert_eq!(body["tags"], json!(["false_positive"]));
    let (_, listed) = get(&app, "/api/events?tag=false_positive").await;
    assert_eq!(listed["items"][0]["tags"], json!(["false_positive"]));

    // Comments: add (201), list, edit, delete (204); unknown comment 404.
    let response = app
        .client
        .post(app.url("/api/events/e04/comments"))
        .json(&json!({"body": "<script>x</script> checked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let comment: Value = response.json().await.unwrap();
    let cid = comment["id"].as_i64().unwrap();
    let (_, listed) = get(&app, "/api/events/e04/comments").await;
    assert_eq!(listed[0]["body"], "<script>x</script> checked");
    let response = app
        .client
        .patch(app.url(&format!("/api/events/e04/comments/{cid}")))
        .json(&json!({"body": "edited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["body"], "edited");
    assert!(edited["updated_at"].is_string());
    let response = app.client.delete(app.url(&format!("/api/events/e04/comments/{cid}"))).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let response = app.client.delete(app.url(&format!("/api/events/e04/comments/{cid}"))).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);

    // Someone else's comment cannot be edited (service level: only one local caller exists over HTTP).
    use app::input::{CommentText, EventRef};
    use app::services::EventService;
    let service = aoc::services::DbEventService::new(app.db.clone());
    let other = app::auth::Caller { subject: "someone-else".into(), ..app::auth::Caller::local_admin() };
    let e04 = EventRef::parse("e04", None).unwrap();
    let theirs = service.add_comment(&other, e04, CommentText::parse("mine").unwrap()).await.unwrap();
    let response = app
        .client
        .patch(app.url(&format!("/api/events/e04/comments/{}", theirs.id)))
        .json(&json!({"body": "hijack"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // The audit trail holds every change with who and when.
    let (status, trail) = get(&app, "/api/audit-trail?target_kind=event").await;
    assert_eq!(status, 200, "{trail}");
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "event.comment.add",
            "event.comment.delete",
            "event.comment.edit",
            "event.comment.add",
            "event.tags.change",
            "event.tags.change",
            "event.tags.change"
        ]
    );
    let first = &trail["items"][6];
    assert_eq!(first["details"]["added"], json!(["escalated", "investigating"]));
    assert_eq!(first["actor"], app::auth::Caller::local_admin().display_name);
    assert_eq!(first["details"]["actor_subject"], app::auth::Caller::local_admin().subject);
    assert!(first["occurred_at"].is_string());
}

async fn facets_histogram_and_export(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    seed(&app).await;
    let (status, options) = get(&app, &format!("/api/filter-options?tenant={TENANT_A}")).await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options["facets"]["total"], 9);
    assert_eq!(options["services"], json!(["AzureActiveDirectory", "Exchange", "SharePoint"]));
    let sharepoint =
        options["facets"]["service"].as_array().unwrap().iter().find(|f| f["value"] == "SharePoint").unwrap().clone();
    assert_eq!(sharepoint["count"], 5);

    // A facet never filters itself: with a service chosen, the service list still offers the
    // others (under the other filters), while the other facets follow the choice.
    let (_, chosen) = get(&app, &format!("/api/filter-options?tenant={TENANT_A}&service=Exchange")).await;
    assert_eq!(chosen["facets"]["total"], 2);
    assert_eq!(chosen["services"], json!(["AzureActiveDirectory", "Exchange", "SharePoint"]));
    assert_eq!(chosen["operations"], json!(["New-InboxRule", "Set-Mailbox"]));
    let (_, excluded) = get(&app, &format!("/api/filter-options?tenant={TENANT_A}&search=-service:Exchange")).await;
    assert_eq!(excluded["services"], json!(["AzureActiveDirectory", "SharePoint"]), "an exclusion is not a choice");

    let (status, hist) = get(&app, "/api/events/histogram?interval=1h").await;
    assert_eq!(status, 200, "{hist}");
    assert_eq!(hist["bucket_seconds"], 3600);
    let counted: u64 = hist["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 13);
    let (_, hist) = get(&app, "/api/events/histogram?service=Exchange").await;
    let counted: u64 = hist["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 3);

    // CSV: header + every matching row, formula cells neutralized, tenant text quoted safely.
    let response = app.client.get(app.url("/api/events/export?service=SharePoint")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let csv = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| !r.iter().any(|cell| cell.starts_with('='))), "{csv}");
    // JSON lines in the API document shape, with a limit.
    let response = app.client.get(app.url("/api/events/export?format=jsonl&limit=3")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["id"].as_str().unwrap()).collect::<Vec<_>>(), ["e01", "e02", "e03"]);
    assert!(lines[0]["raw"]["Parameters"].is_array());
    // The export is in the audit trail (without record bodies).
    let (_, trail) = get(&app, "/api/audit-trail?target_kind=events").await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);
    assert_eq!(trail["items"][1]["details"]["filter"]["service"], "SharePoint");
}

async fn export_streams_more_than_one_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let rows: Vec<EventRow> = (0..1_234)
        .map(|i| {
            let raw = json!({"Id": format!("bulk-{i:05}"), "CreationTime": (base_time() - Duration::seconds(i)).format("%Y-%m-%dT%H:%M:%S").to_string(),
                             "RecordType": 6, "Operation": "FileAccessed", "Workload": "SharePoint", "UserId": "bulk@contoso.example"})
                .to_string();
            let n = normalize(Source::Unified, Some("Audit.SharePoint"), &raw, &Context::default());
            EventRow::new(TENANT_A, Source::Unified, Some("Audit.SharePoint"), raw, n, Utc::now())
        })
        .collect();
    store_batch(&app.db, rows, &[], &Subscribers::default()).await.unwrap();
    let text = app.client.get(app.url("/api/events/export?format=csv")).send().await.unwrap().text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let ids: std::collections::HashSet<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(ids.len(), 1_234);
    let text = app.client.get(app.url("/api/events/export?format=jsonl")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text.lines().count(), 1_234);
}

async fn openapi_document_is_served(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (status, doc) = get(&app, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/events",
        "/api/events/{id}",
        "/api/events/{id}/tags",
        "/api/events/{id}/comments",
        "/api/filter-options",
        "/api/events/export",
        "/api/events/histogram",
        "/api/coverage",
        "/api/audit-trail",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    let params: Vec<&str> = doc["paths"]["/api/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["service", "actor", "operation", "result", "start", "end", "search", "cursor", "page_size"] {
        assert!(params.contains(&p), "{p} in {params:?}");
    }
}

/// Correlation ids and record ids have no index of their own (they are random keys, costly to
/// index on ingestion): they are found through the full-text index and the dedupe key, before
/// and after indexing.
async fn correlation_and_record_id_lookups_use_other_indexes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    store_ual(
        &app,
        TENANT_A,
        "c1",
        0,
        directory("Update user.", "anna@contoso.example", "Success", "x@contoso.example", "9f1c-aa01"),
    )
    .await;
    store_ual(
        &app,
        TENANT_A,
        "c2",
        300,
        directory("Reset password.", "ben@contoso.example", "Success", "y@contoso.example", "9f1c-aa01"),
    )
    .await;
    store_ual(
        &app,
        TENANT_A,
        "c3",
        1,
        directory("Update user.", "carl@contoso.example", "Success", "z@contoso.example", "9f1c-aa02"),
    )
    .await;
    for indexed in [false, true] {
        if indexed {
            aoc::store::search::index_pending(&app.db).await.expect("index");
        }
        assert_eq!(ids(&app, "search=correlation:9f1c-aa01").await, vec!["c1", "c2"], "indexed: {indexed}");
        assert_eq!(ids(&app, "search=id:c3").await, vec!["c3"], "indexed: {indexed}");
        let (status, body) = get(&app, "/api/events/c1").await;
        assert_eq!(status, 200, "{body}");
        let related: Vec<&str> =
            body["related"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        // c2 is five hours away and by someone else: related only through the correlation id.
        assert_eq!(related, vec!["c2"], "indexed: {indexed}");
    }
}

/// The hourly counts (`event_hours`, kept by triggers) give the same histogram and facet total
/// as counting the events, through inserts by any path, retention, an event moved in time,
/// compaction and a rebuild; `verify` notices when they drift and `recount` mends them.
async fn hourly_counts_follow_every_write(backend: Backend) {
    use aoc::store::query::EventStore;
    use app::query::EventFilter;
    use sea_orm::{ConnectionTrait, Statement};
    let Some(app) = spawn_app(backend).await else { return };
    let db = &app.db;
    // 60 events of one tenant over ~10 hours, on and off the hour, inserted directly (not through
    // the write path), plus three of another tenant through the write path.
    let hour0 = DateTime::from_timestamp((Utc::now().timestamp() / 3600 - 12) * 3600, 0).unwrap();
    let mut times: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for i in 0..60i64 {
        let at = hour0 + Duration::minutes(i * 10) + Duration::seconds(if i % 6 == 0 { 0 } else { 7 });
        let id = common::insert_event(db, &format!("h{i}"), at, "Set-Mailbox").await;
        times.push((id, at));
    }
    for (n, id) in ["o1", "o2", "o3"].iter().enumerate() {
        store_ual(&app, TENANT_A, id, 600 + n as i64 * 61, sharepoint("FileAccessed", "lee@contoso.example", "x"))
            .await;
    }
    let service = EventStore::new(db.clone());
    let check = |times: Vec<(i64, DateTime<Utc>)>, label: &'static str| {
        let service = &service;
        async move {
            let ranges = [
                (None, None),
                (Some(hour0 + Duration::minutes(95)), Some(hour0 + Duration::minutes(455))),
                (Some(hour0 + Duration::hours(2)), Some(hour0 + Duration::hours(5))),
                (Some(hour0 + Duration::minutes(130)), Some(hour0 + Duration::minutes(200))),
                (Some(hour0 + Duration::minutes(125)), Some(hour0 + Duration::minutes(135))),
            ];
            for (start, end) in ranges {
                let filter = EventFilter {
                    tenant: Some("contoso.example".into()),
                    start: start.map(|t: DateTime<Utc>| t.to_rfc3339()),
                    end: end.map(|t: DateTime<Utc>| t.to_rfc3339()),
                    ..Default::default()
                };
                let query = filter.parse(Utc::now()).expect("query");
                let inside: Vec<DateTime<Utc>> = times
                    .iter()
                    .map(|t| t.1)
                    .filter(|t| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t < e))
                    .collect();
                for width in [3600i64, 3 * 3600] {
                    let hist = service.histogram(&query, Some(width), 100).await.expect("histogram");
                    let mut expected = std::collections::BTreeMap::<i64, u64>::new();
                    for t in &inside {
                        *expected.entry(t.timestamp().div_euclid(width) * width).or_default() += 1;
                    }
                    let got: std::collections::BTreeMap<i64, u64> =
                        hist.buckets.iter().filter(|b| b.count > 0).map(|b| (b.start.timestamp(), b.count)).collect();
                    assert_eq!(got, expected, "{label}: {start:?}..{end:?} by {width} s");
                }
                let facets = service.facets(&query, 10).await.expect("facets");
                assert_eq!(facets.total, inside.len() as u64, "{label}: facet total {start:?}..{end:?}");
            }
        }
    };
    check(times.clone(), "inserted").await;
    let report = aoc::maintenance::verify(db).await.expect("verify");
    assert!(report.is_ok(), "{report}");

    // Retention removes the oldest two hours.
    let cutoff = hour0 + Duration::hours(2);
    let deleted = aoc::store::retention::delete_before(db, cutoff, 7).await.expect("retention");
    assert_eq!(deleted, 15, "12 of these and the three older ones of the other tenant");
    times.retain(|t| t.1 >= cutoff);
    check(times.clone(), "after retention").await;
    // An event moved by three hours (as renormalize does when a time is corrected).
    let (moved, at) = times[3];
    let new_at = at + Duration::hours(3);
    let backend_kind = db.get_database_backend();
    let p = if backend_kind == sea_orm::DbBackend::Postgres { ("$1", "$2") } else { ("?", "?") };
    db.execute(Statement::from_sql_and_values(
        backend_kind,
        format!("UPDATE events SET occurred_at = {} WHERE id = {}", p.0, p.1),
        [new_at.into(), moved.into()],
    ))
    .await
    .expect("move");
    times[3].1 = new_at;
    check(times.clone(), "after a move").await;
    let before = aoc::store::rollup::rows(db).await.unwrap();
    aoc::store::rollup::compact(db).await.expect("compact");
    let after = aoc::store::rollup::rows(db).await.unwrap();
    assert!(after <= before, "{after} > {before}");
    check(times.clone(), "after compaction").await;

    // Drift is a violation; recount mends it.
    db.execute(Statement::from_string(
        backend_kind,
        "INSERT INTO event_hours (tenant_id, source, hour, n) VALUES ('contoso.example', 'unified', 1, 5)",
    ))
    .await
    .expect("drift");
    let report = aoc::maintenance::verify(db).await.expect("verify");
    assert_eq!(report.violation_counts.get("hourly_counts"), Some(&1), "{report}");
    assert!(report.to_string().contains("aoc maintenance recount"), "{report}");
    aoc::store::rollup::recount(db).await.expect("recount");
    let report = aoc::maintenance::verify(db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
    check(times, "after recount").await;
}

/// Free text matching more events than the candidate limit (PostgreSQL checks the newest events
/// one by one, then falls back to the general query): every page in order, none lost or twice,
/// queued (not yet indexed) events included, with and without other filters.
async fn common_words_page_exactly(backend: Backend) {
    use aoc::store::query::{EventStore, CANDIDATE_LIMIT};
    use app::query::EventFilter;
    use sea_orm::{ConnectionTrait, Statement};
    let Some(app) = spawn_app(backend).await else { return };
    let db = &app.db;
    let n = CANDIDATE_LIMIT + 300;
    aoc::store::synthetic::generate(db, n, 3, 11, Utc::now() - Duration::hours(1)).await.expect("generate");
    aoc::store::search::index_pending(db).await.expect("index");
    // Three newer events still queued: found through their raw records.
    for (i, id) in ["q1", "q2", "q3"].iter().enumerate() {
        store_ual(&app, TENANT_A, id, -(i as i64) * 3, sharepoint("FileAccessed", "quinn@contoso.example", "x")).await;
    }
    let service = EventStore::new(db.clone());
    let backend_kind = db.get_database_backend();
    for (filter, oracle) in [
        (EventFilter { search: Some("contoso".into()), ..Default::default() }, "1=1"),
        (
            EventFilter { search: Some("contoso".into()), service: Some("SharePoint".into()), ..Default::default() },
            "service = 'SharePoint'",
        ),
    ] {
        let expected: Vec<i64> = db
            .query_all(Statement::from_string(
                backend_kind,
                format!("SELECT id FROM events WHERE {oracle} ORDER BY occurred_at DESC, id DESC"),
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<i64>("", "id").unwrap())
            .collect();
        assert!(expected.len() > 1000, "{}", expected.len());
        let query = filter.parse(Utc::now()).expect("query");
        let (mut got, mut cursor) = (Vec::new(), None);
        loop {
            let page = service.page(&query, cursor, 500, false).await.expect("page");
            got.extend(page.items.iter().map(|e| e.id));
            assert!(got.len() <= expected.len(), "{oracle}: more events than match");
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got.len(), expected.len(), "{oracle}");
        assert!(got == expected, "{oracle}: pages differ from the oracle order");
    }
}

async fn coverage_lists_the_ledger_newest_first_by_filter_and_page(backend: Backend) {
    use aoc::store::entities::coverage_windows;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let Some(app) = spawn_app(backend).await else { return };
    let t0 = base_time() - Duration::days(1);
    // Six windows: tenant A unified (done, failed, done), tenant A directory (parked), tenant B
    // signin (done, planned); ids in that order.
    let windows = [
        (TENANT_A, "unified", "Audit.Exchange", 0, "done"),
        (TENANT_A, "unified", "Audit.Exchange", 1, "failed"),
        (TENANT_A, "unified", "Audit.SharePoint", 2, "done"),
        (TENANT_A, "directory", "", 3, "parked"),
        (TENANT_B, "signin", "", 4, "done"),
        (TENANT_B, "signin", "", 5, "planned"),
    ];
    let mut ids = Vec::new();
    for (tenant, source, content_type, hour, state) in windows {
        let start = t0 + Duration::hours(hour);
        let row = coverage_windows::ActiveModel {
            tenant_id: Set(tenant.into()),
            source: Set(source.into()),
            content_type: Set(content_type.into()),
            window_start: Set(start),
            window_end: Set(start + Duration::hours(1)),
            state: Set(state.into()),
            record_count: Set(hour * 10),
            attempts: Set(1),
            last_error: Set(None),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        ids.push(coverage_windows::Entity::insert(row).exec(&app.db).await.unwrap().last_insert_id);
    }
    let listed = |body: &Value| -> Vec<i64> {
        body["items"].as_array().unwrap().iter().map(|w| w["id"].as_i64().unwrap()).collect()
    };
    let (status, all) = get(&app, "/api/coverage").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(listed(&all), ids.iter().rev().copied().collect::<Vec<_>>());
    assert!(all["next_before"].is_null());
    assert_eq!(all["items"][0]["tenant"], TENANT_B);
    assert_eq!(all["items"][0]["record_count"], 50);

    let (_, done) = get(&app, &format!("/api/coverage?tenant={TENANT_A}&state=done")).await;
    assert_eq!(listed(&done), [ids[2], ids[0]]);
    let (_, unified) = get(&app, "/api/coverage?source=unified").await;
    assert_eq!(listed(&unified), [ids[2], ids[1], ids[0]]);
    let start = enc(&(t0 + Duration::hours(4)).to_rfc3339());
    let (_, late) = get(&app, &format!("/api/coverage?start={start}")).await;
    assert_eq!(listed(&late), [ids[5], ids[4]]);

    // Paging: `next_before` continues where a page ended.
    let (_, first) = get(&app, "/api/coverage?page_size=4").await;
    assert_eq!(listed(&first), [ids[5], ids[4], ids[3], ids[2]]);
    let before = first["next_before"].as_i64().unwrap();
    let (_, second) = get(&app, &format!("/api/coverage?page_size=4&before={before}")).await;
    assert_eq!(listed(&second), [ids[1], ids[0]]);
    assert!(second["next_before"].is_null());
}

on_both_backends!(
    coverage_lists_the_ledger_newest_first_by_filter_and_page,
    common_words_page_exactly,
    hourly_counts_follow_every_write,
    correlation_and_record_id_lookups_use_other_indexes,
    every_filter_matches_exactly_its_events,
    free_text_finds_raw_values_before_and_after_indexing,
    analysts_words_find_compound_and_prefixed_values,
    pagination_is_stable_while_events_arrive,
    malformed_parameters_get_400_naming_them,
    detail_tags_comments_and_audit_trail,
    facets_histogram_and_export,
    export_streams_more_than_one_page,
    openapi_document_is_served,
);

/// PostgreSQL: an event deleted while the indexer holds its queue entry leaves no full-text row.
/// The indexer's steps are replayed by hand, so the interleaving is the one that lost it: the
/// indexer claims the entry, the delete starts (its trigger waits for the claim), the indexer
/// writes the full-text row and commits, the delete finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_deleted_while_it_is_indexed_leaves_no_full_text_row() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let db = app.db.clone();
    let pg = |sql: String| Statement::from_string(sea_orm::DbBackend::Postgres, sql);
    let at = Utc::now() - Duration::hours(1);
    let id = common::insert_event(&db, "raced", at, "Set-Mailbox").await;
    db.execute(pg(format!("INSERT INTO search_queue (event_id) VALUES ({id}) ON CONFLICT DO NOTHING"))).await.unwrap();

    let indexer = db.begin().await.unwrap();
    let claimed = indexer
        .query_all(pg(format!("SELECT event_id FROM search_queue WHERE event_id = {id} FOR UPDATE SKIP LOCKED")))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let deleter = {
        let db = db.clone();
        tokio::spawn(async move { db.execute(pg(format!("DELETE FROM events WHERE id = {id}"))).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!deleter.is_finished(), "the delete waits for the indexer's claim");
    indexer.execute(pg(format!("DELETE FROM search_queue WHERE event_id = {id}"))).await.unwrap();
    indexer
        .execute(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO event_search (event_id, occurred_at, doc) VALUES ($1, $2, to_tsvector('simple', 'raced'))",
            [id.into(), at.into()],
        ))
        .await
        .unwrap();
    indexer.commit().await.unwrap();
    assert_eq!(deleter.await.unwrap().unwrap().rows_affected(), 1);

    let left = db.query_all(pg(format!("SELECT event_id FROM event_search WHERE event_id = {id}"))).await.unwrap();
    assert!(left.is_empty(), "the full-text row of the deleted event is gone");
    let report = aoc::maintenance::verify(&db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
}

//! Synthetic events written straight into the database, deterministic from a seed. They let the
//! UI be tried and the query side be measured before (or without) a collection. Every synthetic
//! event belongs to the tenant [`SYNTHETIC_TENANT`] and its raw record says `"AocSynthetic": true`,
//! so it can never be mistaken for collected data.

use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, Statement};
use serde_json::json;

use super::entities::events;
use crate::normalize::Source;

/// The tenant id synthetic events are stored under.
pub const SYNTHETIC_TENANT: &str = "synthetic.aoc.invalid";

const ROWS_PER_INSERT: usize = 500;

struct Shape {
    source: &'static str,
    service: &'static str,
    operation: &'static str,
    severity: i16,
}

const SHAPES: &[Shape] = &[
    Shape { source: "unified", service: "Exchange", operation: "MailItemsAccessed", severity: 0 },
    Shape { source: "unified", service: "Exchange", operation: "New-InboxRule", severity: 2 },
    Shape { source: "unified", service: "Exchange", operation: "Set-Mailbox", severity: 1 },
    Shape { source: "unified", service: "Exchange", operation: "Add-MailboxPermission", severity: 3 },
    Shape { source: "unified", service: "SharePoint", operation: "FileAccessed", severity: 0 },
    Shape { source: "unified", service: "SharePoint", operation: "FileDownloaded", severity: 0 },
    Shape { source: "unified", service: "SharePoint", operation: "AnonymousLinkCreated", severity: 3 },
    Shape { source: "unified", service: "OneDrive", operation: "FileUploaded", severity: 0 },
    Shape { source: "unified", service: "MicrosoftTeams", operation: "MemberAdded", severity: 0 },
    Shape { source: "unified", service: "AzureActiveDirectory", operation: "UserLoggedIn", severity: 0 },
    Shape { source: "directory", service: "Core Directory", operation: "Add member to role", severity: 4 },
    Shape { source: "directory", service: "Core Directory", operation: "Update user", severity: 0 },
    Shape {
        source: "directory",
        service: "Core Directory",
        operation: "Add service principal credentials",
        severity: 3,
    },
    Shape { source: "signin", service: "Sign-ins", operation: "Sign-in", severity: 0 },
    Shape { source: "intune", service: "Intune", operation: "wipe ManagedDevice", severity: 3 },
];

const ACTORS: &[&str] = &[
    "adele.vance@contoso.example",
    "alex.wilber@contoso.example",
    "megan.bowen@contoso.example",
    "it.admin@contoso.example",
    "lee.gu@contoso.example",
    "guest_partner#EXT#@contoso.example",
];

/// Where synthetic sign-ins come from (city, country, latitude, longitude), taken in turn.
const PLACES: &[(&str, &str, f64, f64)] = &[
    ("London", "GB", 51.5072, -0.1276),
    ("Seattle", "US", 47.6062, -122.3321),
    ("Berlin", "DE", 52.52, 13.405),
    ("London", "GB", 51.5072, -0.1276),
    ("Sydney", "AU", -33.8688, 151.2093),
    ("Sao Paulo", "BR", -23.5505, -46.6333),
];

const TARGETS: &[&str] =
    &["Finance share", "Global Administrator", "CEO mailbox", "Laptop-042", "HR Team", "Q3 plan.docx"];

/// Writes `count` synthetic events spread over the `days` before `now`; returns how many were new.
pub async fn generate(
    db: &DatabaseConnection,
    count: usize,
    days: u32,
    seed: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let before: i64 = super::sql::Count::find_by_statement(Statement::from_string(
        backend,
        "SELECT COALESCE(MAX(id), 0) AS n FROM events",
    ))
    .one(db)
    .await?
    .map_or(0, |r| r.n);
    let mut rng = StdRng::seed_from_u64(seed);
    let span_micros = i64::from(days.max(1)) * 86_400_000_000;
    let now = now.duration_trunc(Duration::microseconds(1)).unwrap_or(now);
    let mut inserted = 0;
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    for n in 0..count {
        let shape = SHAPES.choose(&mut rng).expect("shapes are not empty");
        let source = Source::parse(shape.source).expect("shapes name known sources");
        let actor = *ACTORS.choose(&mut rng).expect("actors are not empty");
        let target = *TARGETS.choose(&mut rng).expect("targets are not empty");
        let failed = rng.random_ratio(1, 20);
        let result = if failed { "Failed" } else { "Succeeded" };
        let occurred_at = now - Duration::microseconds(rng.random_range(0..span_micros));
        let record_id = format!("{seed:08x}-{n:012x}-{:016x}", rng.random::<u64>());
        let ip = format!("203.0.113.{}", rng.random_range(1..255));
        // Sign-ins carry a location as Graph's do (taken in turn, so the random sequence and
        // every other event stay as they were).
        let place = (shape.source == "signin").then(|| PLACES[n % PLACES.len()]);
        let flattened = match place {
            Some((city, country, lat, lon)) => json!({
                "location.city": city,
                "location.countryOrRegion": country,
                "location.geoCoordinates.latitude": lat.to_string(),
                "location.geoCoordinates.longitude": lon.to_string(),
            })
            .to_string(),
            None => "{}".to_string(),
        };
        let mut raw = json!({
            "AocSynthetic": true,
            "Id": record_id,
            "CreationTime": occurred_at.to_rfc3339(),
            "Workload": shape.service,
            "Operation": shape.operation,
            "UserId": actor,
            "ClientIP": ip,
            "ObjectId": target,
            "ResultStatus": result,
        });
        if let Some((city, country, lat, lon)) = place {
            raw["location"] = json!({"city": city, "countryOrRegion": country, "geoCoordinates": {"latitude": lat, "longitude": lon}});
        }
        batch.push(events::ActiveModel {
            tenant_id: Set(SYNTHETIC_TENANT.to_string()),
            source: Set(shape.source.to_string()),
            content_type: Set(None),
            // Stored like the write path stores keys, so a record id finds the event.
            dedupe_key: Set(super::writer::dedupe_key(source, &record_id)),
            record_id: Set(record_id),
            occurred_at: Set(occurred_at),
            ingested_at: Set(now),
            service: Set(shape.service.to_string()),
            operation: Set(shape.operation.to_string()),
            result: Set(result.to_string()),
            actor_display: Set(Some(actor.to_string())),
            actor_upn: Set(Some(actor.to_string())),
            actor_app_id: Set(None),
            actor_ip: Set(Some(ip)),
            targets: Set(json!([{ "display": target }]).to_string()),
            target_display: Set(Some(target.to_string())),
            summary: Set(format!("{actor} {} {target}", shape.operation)),
            severity: Set(if failed { shape.severity.max(1) } else { shape.severity }),
            correlation_id: Set(None),
            flattened: Set(flattened),
            raw: Set(raw.to_string()),
            normalize_error: Set(None),
            ..Default::default()
        });
        if batch.len() == ROWS_PER_INSERT {
            inserted += insert_batch(db, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        inserted += insert_batch(db, batch).await?;
    }
    // Queue the new events for the full-text indexer, like the write path does.
    db.execute(Statement::from_string(
        backend,
        format!(
            "INSERT INTO search_queue (event_id) SELECT id FROM events WHERE id > {before} \
             AND id NOT IN (SELECT event_id FROM search_queue)"
        ),
    ))
    .await?;
    Ok(inserted)
}

async fn insert_batch(db: &DatabaseConnection, batch: Vec<events::ActiveModel>) -> Result<u64, DbErr> {
    super::partitions::ensure_days(db, batch.iter().filter_map(|m| m.occurred_at.try_as_ref().copied())).await;
    let on_conflict = OnConflict::columns(super::writer::unique_columns(db.get_database_backend()).iter().copied())
        .do_nothing()
        .to_owned();
    events::Entity::insert_many(batch).on_conflict(on_conflict).exec_without_returning(db).await
}

/// The tenant id the hostile records of [`generate_hostile`] are stored under.
pub const HOSTILE_TENANT: &str = "hostile.aoc.invalid";

/// A value of `len` characters without a space, starting with `label`.
fn long_value(label: &str, len: usize) -> String {
    let mut value = format!("{label}-");
    while value.len() < len {
        value.push('W');
    }
    value
}

/// Raw records whose tenant-controlled fields hold what an attacker would put there: markup
/// (`<script>`, `<img onerror>`, `<svg onload>`), right-to-left overrides (U+202E), zero-width
/// characters and 10,000-character values without a space, in actors, targets, operations, mail
/// subjects, inbox-rule names and application names. `(source, content type, raw)`, timed from
/// `at` one minute apart.
pub fn hostile_records(at: DateTime<Utc>) -> Vec<(Source, Option<&'static str>, String)> {
    let time = |n: i64| (at + Duration::minutes(n)).to_rfc3339();
    let ip = "198.51.100.66";
    vec![
        (
            Source::Unified,
            Some("Audit.Exchange"),
            json!({
                "AocSynthetic": true,
                "Id": "aoc-hostile-0001",
                "CreationTime": time(0),
                "RecordType": 1,
                "Workload": "Exchange",
                "Operation": "New-InboxRule",
                "ResultStatus": "True",
                "UserId": "<script>alert(1)</script>@contoso.example",
                "ClientIP": ip,
                "ObjectId": "Inbox\\<img src=x onerror=alert(2)>",
                "Parameters": [
                    { "Name": "Name", "Value": "<img src=x onerror=alert(3)> rule" },
                    { "Name": "SubjectContainsWords", "Value": "invoice\u{202E}fdp.exe" },
                    { "Name": "ForwardTo", "Value": long_value("forward", 10_000) },
                    { "Name": "From", "Value": "ze\u{200B}ro\u{200D}wi\u{FEFF}dth@contoso.example" },
                ],
            })
            .to_string(),
        ),
        (
            Source::Unified,
            Some("Audit.Exchange"),
            json!({
                "AocSynthetic": true,
                "Id": "aoc-hostile-0002",
                "CreationTime": time(1),
                "RecordType": 50,
                "Workload": "Exchange",
                "Operation": "<img src=x onerror=alert(4)>",
                "ResultStatus": "Succeeded",
                "UserId": long_value("actor", 10_000),
                "ClientIP": ip,
                "ObjectId": "\u{202E}moc.elpmaxe@olleh",
                "AffectedItems": [{ "Subject": "<script>alert(5)</script> \u{202E}txt.exe" }],
            })
            .to_string(),
        ),
        (
            Source::Unified,
            Some("Audit.SharePoint"),
            json!({
                "AocSynthetic": true,
                "Id": "aoc-hostile-0003",
                "CreationTime": time(2),
                "RecordType": 6,
                "Workload": "SharePoint",
                "Operation": long_value("operation", 10_000),
                "ResultStatus": "Succeeded",
                "UserId": "\u{202E}nimda@contoso.example",
                "ClientIP": ip,
                "ObjectId": long_value("https://contoso.sharepoint.com/target", 10_000),
                "SourceFileName": "<svg onload=alert(6)>.docx",
            })
            .to_string(),
        ),
        (
            Source::Directory,
            None,
            json!({
                "AocSynthetic": true,
                "id": "aoc-hostile-0004",
                "activityDateTime": time(3),
                "category": "ApplicationManagement",
                "loggedByService": "Core Directory",
                "activityDisplayName": "Add service principal",
                "result": "success",
                "initiatedBy": { "app": {
                    "displayName": "<svg onload=alert(7)>App\u{202E}nimda",
                    "appId": "3f0c1e8a-6f0a-4bde-9c57-hostile00007",
                } },
                "targetResources": [{
                    "id": "5b7e0c2d-0000-4000-8000-000000000007",
                    "displayName": long_value("<b>target</b>", 10_000),
                    "type": "ServicePrincipal",
                }],
            })
            .to_string(),
        ),
        (
            Source::Signin,
            None,
            json!({
                "AocSynthetic": true,
                "id": "aoc-hostile-0005",
                "createdDateTime": time(4),
                "userPrincipalName": "lee\u{200B}.gu@contoso.example",
                "userDisplayName": "Lee \u{202E}uG<script>alert(8)</script>",
                "appId": "9f0c1e8a-6f0a-4bde-9c57-000000000008",
                "appDisplayName": "<img src=x onerror=alert(9)>\u{202E}ppA",
                "ipAddress": ip,
                "status": { "errorCode": 50126, "failureReason": "<script>alert(10)</script>" },
            })
            .to_string(),
        ),
    ]
}

/// Stores [`hostile_records`] under [`HOSTILE_TENANT`] through the normal write path
/// (normalization, insert-if-absent, search queue), timed `days / 2` before `now` so they sit
/// among, not on top of, generated events; returns how many were new (0 when run again).
pub async fn generate_hostile(db: &DatabaseConnection, days: u32, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let at = now - Duration::hours(i64::from(days.max(1)) * 12);
    let context = crate::normalize::Context::default();
    let rows = hostile_records(at)
        .into_iter()
        .map(|(source, content_type, raw)| {
            let normalized = crate::normalize::normalize(source, content_type, &raw, &context);
            super::writer::EventRow::new(HOSTILE_TENANT, source, content_type, raw, normalized, now)
        })
        .collect();
    let outcome = super::writer::store_batch(db, rows, &[], &super::writer::Subscribers::default()).await?;
    Ok(outcome.inserted.len() as u64)
}

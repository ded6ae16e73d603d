//! The tenants' own application names (migration `app_names`): replaced per tenant from Graph
//! `/servicePrincipals`, read to label application ids in pages and to resolve `app:"Name"`.
//! Ids are stored lower-cased.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, TransactionTrait};

use super::sql::Sql;

/// Names inserted per statement (4 bound values each).
const NAMES_PER_INSERT: usize = 200;
/// Ids looked up per statement.
const IDS_PER_QUERY: usize = 500;

/// Replaces the names stored for `tenant` with `names` ((application id, display name)), in one
/// transaction: readers see the old list or the new one.
pub async fn replace<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant: &str,
    names: &[(String, String)],
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut delete = Sql::new(backend, "DELETE FROM app_names WHERE tenant_id = ");
    let p = delete.bind(tenant.to_string());
    delete.push(&p);
    txn.execute(delete.statement()).await?;
    let now = Utc::now();
    for chunk in names.chunks(NAMES_PER_INSERT) {
        let mut insert =
            Sql::new(backend, "INSERT INTO app_names (tenant_id, app_id, display_name, updated_at) VALUES ");
        for (i, (id, name)) in chunk.iter().enumerate() {
            let values = [
                insert.bind(tenant.to_string()),
                insert.bind(id.to_ascii_lowercase()),
                insert.bind(name.clone()),
                insert.bind(now),
            ];
            insert.push(&format!("{}({})", if i == 0 { "" } else { ", " }, values.join(", ")));
        }
        txn.execute(insert.statement()).await?;
    }
    txn.commit().await
}

#[derive(FromQueryResult)]
struct NameRow {
    app_id: String,
    display_name: String,
}

/// The stored names of the application ids `ids` (any case), keyed by lower-cased id; ids
/// without a stored name are absent. An id named differently by two tenants gets one of them.
pub async fn names_of(db: &impl ConnectionTrait, ids: &[String]) -> Result<HashMap<String, String>, DbErr> {
    let mut wanted: Vec<String> =
        ids.iter().map(|i| i.trim().to_ascii_lowercase()).filter(|i| looks_like_id(i)).collect();
    wanted.sort();
    wanted.dedup();
    let mut out = HashMap::new();
    for chunk in wanted.chunks(IDS_PER_QUERY) {
        let mut sql =
            Sql::new(db.get_database_backend(), "SELECT app_id, display_name FROM app_names WHERE app_id IN (");
        let list: Vec<String> = chunk.iter().map(|id| sql.bind(id.clone())).collect();
        sql.push(&format!("{}) ORDER BY tenant_id", list.join(", ")));
        for row in NameRow::find_by_statement(sql.statement()).all(db).await? {
            out.entry(row.app_id).or_insert(row.display_name);
        }
    }
    Ok(out)
}

/// Whether `text` can be an application id (a GUID): other actor values are never looked up.
pub fn looks_like_id(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::parse_str(text).is_ok()
}

/// `app:"Name"` on the event `e`: its application id is one the tenants named `name`
/// (case-insensitive).
pub(crate) fn named_condition(sql: &mut Sql, name: &str) -> String {
    let p = sql.bind(name.trim().to_lowercase());
    format!("LOWER(e.actor_app_id) IN (SELECT an.app_id FROM app_names an WHERE LOWER(an.display_name) = {p})")
}

/// The event `e`'s application is one whose name contains `needle` (lower case): Microsoft's
/// first-party applications and the tenants' own.
pub(crate) fn name_contains_condition(sql: &mut Sql, needle: &str) -> String {
    let ids: Vec<String> = app::appnames::FIRST_PARTY
        .iter()
        .filter(|(_, name)| name.to_lowercase().contains(needle))
        .map(|(id, _)| sql.bind(id.to_string()))
        .collect();
    let p = sql.bind(format!("%{}%", super::sql::like_escape(needle)));
    let own = format!(
        "LOWER(e.actor_app_id) IN (SELECT an.app_id FROM app_names an WHERE LOWER(an.display_name) LIKE {p} ESCAPE '\\')"
    );
    if ids.is_empty() {
        own
    } else {
        format!("(LOWER(e.actor_app_id) IN ({}) OR {own})", ids.join(", "))
    }
}

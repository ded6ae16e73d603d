//! Watchlists and their items (migration `investigation`), and the search condition
//! `watchlist:NAME`. Items are stored lower-cased; the condition compares lower-cased actor
//! columns with them through the items' primary key (watchlist, value).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use app::watchlist::{WatchlistInput, WatchlistItem};

use super::sql::Sql;

/// Items inserted per statement (3 bound values each).
const ITEMS_PER_INSERT: usize = 500;

/// `watchlist:NAME` on the event `e`: its actor (UPN, display name, app id) is on a user or app
/// list, its IP on an IP list, or its UPN's domain on a domain list.
pub(crate) fn watchlist_condition(sql: &mut Sql, name: &str) {
    let p = sql.bind(name.to_string());
    sql.push(&format!(
        "EXISTS (SELECT 1 FROM watchlists w JOIN watchlist_items wi ON wi.watchlist_id = w.id WHERE w.name = {p} AND (\
         (w.kind IN ('user', 'app') AND wi.value IN (LOWER(e.actor_upn), LOWER(e.actor_app_id), LOWER(e.actor_display))) \
         OR (w.kind = 'ip' AND wi.value = LOWER(e.actor_ip)) \
         OR (w.kind = 'domain' AND LOWER(e.actor_upn) LIKE '%@' || wi.value)))"
    ));
}

#[derive(FromQueryResult)]
struct MembershipRow {
    event_id: i64,
    name: String,
}

/// For each of the events `ids`, the names of the watchlists it is on (as `watchlist:NAME`
/// matches it), sorted; events on none are absent.
pub async fn memberships(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<String>>, DbErr> {
    let mut out: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = Sql::new(
        db.get_database_backend(),
        format!(
            "SELECT DISTINCT e.id AS event_id, w.name AS name FROM events e \
             JOIN watchlist_items wi ON 1 = 1 JOIN watchlists w ON w.id = wi.watchlist_id \
             WHERE e.id IN ({}) AND ( \
               (w.kind IN ('user', 'app') AND wi.value IN (LOWER(e.actor_upn), LOWER(e.actor_app_id), LOWER(e.actor_display))) \
               OR (w.kind = 'ip' AND wi.value = LOWER(e.actor_ip)) \
               OR (w.kind = 'domain' AND LOWER(e.actor_upn) LIKE '%@' || wi.value))",
            list.join(",")
        ),
    );
    for row in MembershipRow::find_by_statement(sql.statement()).all(db).await? {
        out.entry(row.event_id).or_default().push(row.name);
    }
    for names in out.values_mut() {
        names.sort();
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct NamedItemRow {
    name: String,
    kind: String,
    value: String,
}

/// Every item of every watchlist: (list name, kind, lower-case value).
pub async fn all_items(db: &impl ConnectionTrait) -> Result<Vec<(String, String, String)>, DbErr> {
    let sql = Sql::new(
        db.get_database_backend(),
        "SELECT w.name AS name, w.kind AS kind, wi.value AS value FROM watchlists w \
         JOIN watchlist_items wi ON wi.watchlist_id = w.id",
    );
    Ok(NamedItemRow::find_by_statement(sql.statement())
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.name, r.kind, r.value))
        .collect())
}

/// A stored watchlist with its item count.
#[derive(Clone, Debug, FromQueryResult)]
pub struct WatchlistRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub item_count: i64,
}

#[derive(FromQueryResult)]
struct ItemRow {
    value: String,
    label: Option<String>,
}

#[derive(FromQueryResult)]
struct IdRow {
    id: i64,
}

const SELECT: &str = "SELECT w.id, w.name, w.kind, w.description, w.created_by, w.updated_at, \
     (SELECT COUNT(*) FROM watchlist_items i WHERE i.watchlist_id = w.id) AS item_count FROM watchlists w";

/// Every watchlist, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<WatchlistRow>, DbErr> {
    let sql = Sql::new(db.get_database_backend(), format!("{SELECT} ORDER BY w.name"));
    WatchlistRow::find_by_statement(sql.statement()).all(db).await
}

/// One watchlist and its items (by value).
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<(WatchlistRow, Vec<WatchlistItem>)>, DbErr> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend, format!("{SELECT} WHERE w.id = "));
    let p = sql.bind(id);
    sql.push(&p);
    let Some(row) = WatchlistRow::find_by_statement(sql.statement()).one(db).await? else { return Ok(None) };
    let mut sql = Sql::new(backend, "SELECT value, label FROM watchlist_items WHERE watchlist_id = ");
    let p = sql.bind(id);
    sql.push(&format!("{p} ORDER BY value"));
    let items = ItemRow::find_by_statement(sql.statement())
        .all(db)
        .await?
        .into_iter()
        .map(|r| WatchlistItem { value: r.value, label: r.label })
        .collect();
    Ok(Some((row, items)))
}

/// The id of the watchlist called `name`, other than `except`.
pub async fn id_by_name(db: &impl ConnectionTrait, name: &str, except: Option<i64>) -> Result<Option<i64>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT id FROM watchlists WHERE name = ");
    let p = sql.bind(name.to_string());
    sql.push(&p);
    if let Some(except) = except {
        let p = sql.bind(except);
        sql.push(&format!(" AND id <> {p}"));
    }
    Ok(IdRow::find_by_statement(sql.statement()).one(db).await?.map(|r| r.id))
}

/// Stores a new watchlist; returns its id.
pub async fn create(
    db: &impl ConnectionTrait,
    input: &WatchlistInput,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "INSERT INTO watchlists (name, kind, description, created_by, created_at, updated_at) VALUES (",
    );
    let values = [
        sql.bind(input.name.clone()),
        sql.bind(input.kind.as_str()),
        sql.bind(input.description.clone()),
        sql.bind(created_by.to_string()),
        sql.bind(now),
        sql.bind(now),
    ];
    sql.push(&format!("{}) RETURNING id", values.join(", ")));
    let id = IdRow::find_by_statement(sql.statement())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom("the new watchlist has no id".into()))?
        .id;
    insert_items(db, id, &input.items).await?;
    Ok(id)
}

/// Replaces a watchlist's name, kind, description and items; false when it does not exist.
pub async fn replace(
    db: &impl ConnectionTrait,
    id: i64,
    input: &WatchlistInput,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "UPDATE watchlists SET name = ");
    let values = [
        sql.bind(input.name.clone()),
        sql.bind(input.kind.as_str()),
        sql.bind(input.description.clone()),
        sql.bind(now),
    ];
    let p = sql.bind(id);
    sql.push(&format!(
        "{}, kind = {}, description = {}, updated_at = {} WHERE id = {p}",
        values[0], values[1], values[2], values[3]
    ));
    if db.execute(sql.statement()).await?.rows_affected() == 0 {
        return Ok(false);
    }
    let mut sql = Sql::new(db.get_database_backend(), "DELETE FROM watchlist_items WHERE watchlist_id = ");
    let p = sql.bind(id);
    sql.push(&p);
    db.execute(sql.statement()).await?;
    insert_items(db, id, &input.items).await?;
    Ok(true)
}

async fn insert_items(db: &impl ConnectionTrait, id: i64, items: &[WatchlistItem]) -> Result<(), DbErr> {
    for chunk in items.chunks(ITEMS_PER_INSERT) {
        let mut sql =
            Sql::new(db.get_database_backend(), "INSERT INTO watchlist_items (watchlist_id, value, label) VALUES ");
        for (n, item) in chunk.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            let a = sql.bind(id);
            let b = sql.bind(item.value.clone());
            let c = sql.bind(item.label.clone());
            sql.push(&format!("({a}, {b}, {c})"));
        }
        db.execute(sql.statement()).await?;
    }
    Ok(())
}

/// Deletes a watchlist and its items; false when it does not exist.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend, "DELETE FROM watchlist_items WHERE watchlist_id = ");
    let p = sql.bind(id);
    sql.push(&p);
    db.execute(sql.statement()).await?;
    let mut sql = Sql::new(backend, "DELETE FROM watchlists WHERE id = ");
    let p = sql.bind(id);
    sql.push(&p);
    Ok(db.execute(sql.statement()).await?.rows_affected() > 0)
}

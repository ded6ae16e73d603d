//! Saved searches (migration `saved_searches`): a name, the Events page's filter as JSON, the
//! owner, and whether everyone sees it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use super::sql::Sql;

/// A stored saved search.
#[derive(Clone, Debug, FromQueryResult)]
pub struct SavedSearchRow {
    pub id: i64,
    pub name: String,
    pub filter: String,
    pub shared: bool,
    pub owner_subject: String,
    pub owner_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct IdRow {
    id: i64,
}

const SELECT: &str = "SELECT id, name, filter, shared, owner_subject, owner_name, created_at FROM saved_searches";

/// The saved searches of `owner` and every shared one, by name.
pub async fn list_visible(db: &impl ConnectionTrait, owner: &str) -> Result<Vec<SavedSearchRow>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), format!("{SELECT} WHERE shared = "));
    let yes = sql.bind(true);
    let p = sql.bind(owner.to_string());
    sql.push(&format!("{yes} OR owner_subject = {p} ORDER BY name, id"));
    SavedSearchRow::find_by_statement(sql.statement()).all(db).await
}

/// One saved search.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<SavedSearchRow>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), format!("{SELECT} WHERE id = "));
    let p = sql.bind(id);
    sql.push(&p);
    SavedSearchRow::find_by_statement(sql.statement()).one(db).await
}

/// Whether `owner` has a saved search called `name`.
pub async fn name_taken(db: &impl ConnectionTrait, owner: &str, name: &str) -> Result<bool, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT id FROM saved_searches WHERE owner_subject = ");
    let a = sql.bind(owner.to_string());
    let b = sql.bind(name.to_string());
    sql.push(&format!("{a} AND name = {b}"));
    Ok(IdRow::find_by_statement(sql.statement()).one(db).await?.is_some())
}

/// Stores a saved search; returns its id.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    filter_json: &str,
    shared: bool,
    owner: (&str, &str),
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "INSERT INTO saved_searches (name, filter, shared, owner_subject, owner_name, created_at) VALUES (",
    );
    let values = [
        sql.bind(name.to_string()),
        sql.bind(filter_json.to_string()),
        sql.bind(shared),
        sql.bind(owner.0.to_string()),
        sql.bind(owner.1.to_string()),
        sql.bind(now),
    ];
    sql.push(&format!("{}) RETURNING id", values.join(", ")));
    Ok(IdRow::find_by_statement(sql.statement())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom("the new saved search has no id".into()))?
        .id)
}

/// Deletes a saved search; false when it does not exist.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "DELETE FROM saved_searches WHERE id = ");
    let p = sql.bind(id);
    sql.push(&p);
    Ok(db.execute(sql.statement()).await?.rows_affected() > 0)
}

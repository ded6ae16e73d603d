//! Each person's settings (migration `user_preferences`): a JSON value per (subject, name).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use super::sql::Sql;

#[derive(FromQueryResult)]
struct ValueRow {
    value: String,
}

/// The value `subject` stored under `name`, if any.
pub async fn get(db: &impl ConnectionTrait, subject: &str, name: &str) -> Result<Option<String>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT value FROM user_preferences WHERE subject = ");
    let s = sql.bind(subject.to_string());
    let n = sql.bind(name.to_string());
    sql.push(&format!("{s} AND name = {n}"));
    Ok(ValueRow::find_by_statement(sql.statement()).one(db).await?.map(|r| r.value))
}

/// Stores `value` under (`subject`, `name`), replacing what was there.
pub async fn put(
    db: &impl ConnectionTrait,
    subject: &str,
    name: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql =
        Sql::new(db.get_database_backend(), "INSERT INTO user_preferences (subject, name, value, updated_at) VALUES (");
    let values =
        [sql.bind(subject.to_string()), sql.bind(name.to_string()), sql.bind(value.to_string()), sql.bind(now)];
    sql.push(&format!(
        "{}) ON CONFLICT (subject, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        values.join(", ")
    ));
    db.execute(sql.statement()).await.map(|_| ())
}

/// Forgets what `subject` stored under `name`.
pub async fn delete(db: &impl ConnectionTrait, subject: &str, name: &str) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "DELETE FROM user_preferences WHERE subject = ");
    let s = sql.bind(subject.to_string());
    let n = sql.bind(name.to_string());
    sql.push(&format!("{s} AND name = {n}"));
    db.execute(sql.statement()).await.map(|_| ())
}

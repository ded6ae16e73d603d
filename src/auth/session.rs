//! Browser sessions in AOC's own database (SQLite or PostgreSQL, so any replica serves any
//! request), through tower-sessions. The cookie is `HttpOnly`, `SameSite=Lax` (the callback from
//! the provider is a cross-site top-level navigation that must carry it) and, when AOC is served
//! over https, `Secure` with the `__Host-` prefix. The store's own expiry is the idle timeout;
//! the absolute lifetime is checked against the time of sign-in (`oidc`).

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::config::Settings;

/// The session store on whichever backend AOC runs.
#[derive(Clone, Debug)]
pub enum DbSessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl DbSessionStore {
    /// The store over AOC's database, its table created if missing (tower-sessions' own schema,
    /// outside AOC's migrations: `tower_sessions` on SQLite, `tower_sessions.session` on PostgreSQL).
    pub async fn open(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let store = match db.get_database_backend() {
            DbBackend::Sqlite => DbSessionStore::Sqlite(SqliteStore::new(db.get_sqlite_connection_pool().clone())),
            _ => DbSessionStore::Postgres(PostgresStore::new(db.get_postgres_connection_pool().clone())),
        };
        match &store {
            DbSessionStore::Sqlite(s) => s.migrate().await?,
            DbSessionStore::Postgres(s) => s.migrate().await?,
        }
        Ok(store)
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.create(record).await,
            DbSessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.save(record).await,
            DbSessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            DbSessionStore::Sqlite(s) => s.load(id).await,
            DbSessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.delete(id).await,
            DbSessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.delete_expired().await,
            DbSessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// The session cookie's name for these settings.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.public_url.as_ref().is_some_and(|p| p.scheme == "https") {
        "__Host-aoc_session"
    } else {
        "aoc_session"
    }
}

/// The session layer for these settings.
pub fn layer(store: DbSessionStore, settings: &Settings) -> SessionManagerLayer<DbSessionStore> {
    let https = settings.public_url.as_ref().is_some_and(|p| p.scheme == "https");
    SessionManagerLayer::new(store)
        .with_name(cookie_name(settings))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(settings.auth.session_idle_minutes))))
}

//! Storage: connecting to SQLite or PostgreSQL, running migrations, and the SeaORM entities.
//! Queries that serve a feature live with that feature's service in `services/`.

pub mod entities;
pub mod retention;
pub mod search;
pub mod synthetic;
pub mod writer;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseUrl;

/// SQLite has one writer at a time; writers that find it busy sleep and retry (the busy
/// handler), which wastes most of the time when several collectors write at once. AOC's
/// writers (the write path, the search indexer) queue here instead. PostgreSQL needs no queue.
static SQLITE_WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for this process's turn to write, on SQLite; `None` on PostgreSQL.
pub async fn write_turn(db: &impl ConnectionTrait) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if db.get_database_backend() == DbBackend::Sqlite {
        Some(SQLITE_WRITER.lock().await)
    } else {
        None
    }
}

/// A storage failure at start-up or in maintenance commands.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("could not connect to the database at {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// Opens a connection pool. For SQLite the file's directory is created first.
pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, StoreError> {
    if url.backend() == "sqlite" {
        if let Some(dir) = sqlite_dir(url.expose()) {
            std::fs::create_dir_all(&dir)
                .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
        }
    }
    let mut options = ConnectOptions::new(url.expose().to_string());
    options
        .max_connections(if url.backend() == "sqlite" { 8 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            // WAL lets readers work while the collector writes; NORMAL sync in WAL mode keeps
            // the file consistent on a crash (a re-collection restores the last batches, whose
            // watermarks rolled back with them) and avoids an fsync per transaction.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    let db = Database::connect(options).await.map_err(|source| StoreError::Connect { url: url.redacted(), source })?;
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await.map_err(StoreError::Migrate)
}

/// The directory of a `sqlite://path?mode=rwc` URL's file, when it has one.
fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).map(|p| p.to_path_buf())
}

/// The backend's name as users see it.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        DbBackend::MySql => "mysql",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_yield_the_directory_to_create() {
        assert_eq!(sqlite_dir("sqlite://data/aoc.db?mode=rwc"), Some("data".into()));
        assert_eq!(sqlite_dir("sqlite:///var/lib/aoc/aoc.db"), Some("/var/lib/aoc".into()));
        assert_eq!(sqlite_dir("sqlite://aoc.db"), None);
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
    }
}

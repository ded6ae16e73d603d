//! Storage: connecting to SQLite or PostgreSQL, running migrations, the SeaORM entities and every
//! query. `services` call these functions and own the transactions around them; no SQL lives
//! outside this module.

pub mod annotations;
pub mod app_names;
pub mod coverage;
pub mod detection;
pub mod entities;
pub mod export;
pub mod investigate;
pub mod partitions;
pub mod preferences;
pub mod query;
pub mod retention;
pub mod rollup;
pub mod saved_searches;
pub mod search;
pub mod sessions;
pub mod sql;
pub mod synthetic;
pub mod tokens;
pub mod watchlists;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseUrl;

/// SQLite has one writer at a time; writers that find it busy sleep and retry (the busy
/// handler), which wastes most of the time when several collectors write at once. And in WAL
/// mode a connection drops its whole page cache whenever another connection wrote since its last
/// transaction, so pool connections taking turns at writing each start cold and re-read every
/// index page they touch. AOC's bulk writers (the write path, the search indexer) therefore share
/// one dedicated connection per SQLite file, taken in turn; its cache stays warm. PostgreSQL
/// needs neither.
static SQLITE_WRITERS: std::sync::Mutex<Option<std::collections::HashMap<std::path::PathBuf, Arc<WriterSlot>>>> =
    std::sync::Mutex::new(None);

/// One SQLite file's writer connection, and the write-path batches waiting for it (see
/// `writer::store_batch`: a task of its own commits every waiting batch at once).
pub struct WriterSlot {
    conn: Arc<tokio::sync::Mutex<DatabaseConnection>>,
    pub(crate) pending: std::sync::Mutex<Vec<writer::Pending>>,
    /// Wakes the write-path task when a batch is queued.
    pub(crate) queued: tokio::sync::Notify,
    /// The write-path task (started on first use, and again if its runtime ended).
    pub(crate) task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WriterSlot {
    /// Waits for the writer connection.
    pub async fn lock(&self) -> tokio::sync::OwnedMutexGuard<DatabaseConnection> {
        self.conn.clone().lock_owned().await
    }
}

/// The connection bulk writes go through: on SQLite the file's dedicated writer connection, held
/// for as long as this value lives; on PostgreSQL the pool itself.
pub struct Writer<'a> {
    pool: &'a DatabaseConnection,
    dedicated: Option<tokio::sync::OwnedMutexGuard<DatabaseConnection>>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        self.dedicated.as_deref().unwrap_or(self.pool)
    }
}

/// Waits for this process's turn to write to `db` and returns the connection to write with.
pub async fn writer(db: &DatabaseConnection) -> Result<Writer<'_>, DbErr> {
    Ok(match sqlite_writer(db).await? {
        Some(slot) => Writer { pool: db, dedicated: Some(slot.lock().await) },
        None => Writer { pool: db, dedicated: None },
    })
}

/// The writer slot of `db`'s SQLite file, opened on first use; `None` on PostgreSQL and for
/// in-memory SQLite.
pub async fn sqlite_writer(db: &DatabaseConnection) -> Result<Option<Arc<WriterSlot>>, DbErr> {
    let DatabaseConnection::SqlxSqlitePoolConnection(_) = db else {
        return Ok(None);
    };
    let pool = db.get_sqlite_connection_pool();
    let options = pool.connect_options();
    let file = options.get_filename().to_path_buf();
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let existing = {
        let writers = SQLITE_WRITERS.lock().unwrap_or_else(|p| p.into_inner());
        writers.as_ref().and_then(|w| w.get(&file).cloned())
    };
    if let Some(slot) = existing {
        return Ok(Some(slot));
    }
    let single = sea_orm::sqlx::pool::PoolOptions::<sea_orm::sqlx::Sqlite>::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(600))
        .connect_with((*options).clone())
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))?;
    let conn = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(single);
    let mut writers = SQLITE_WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    // Another task may have opened one meanwhile: keep the first.
    let slot = writers
        .get_or_insert_with(Default::default)
        .entry(file)
        .or_insert_with(|| {
            Arc::new(WriterSlot {
                conn: Arc::new(tokio::sync::Mutex::new(conn)),
                pending: Default::default(),
                queued: tokio::sync::Notify::new(),
                task: Default::default(),
            })
        })
        .clone();
    Ok(Some(slot))
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
            // 16 KiB pages for a new database file (an existing one keeps its size): an event
            // row is ~4 KB, which with 4 KiB pages spills into overflow pages. Measured with
            // 250,000 such rows and the events indexes: 10,000 rows/s instead of 8,100, the
            // newest-50,000 read in 104 ms instead of 161, the file 18 % smaller.
            o.page_size(16_384)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // SQLite's default page cache is 2 MB: with the indexes a UI needs, the write
                // path then re-reads index pages from the OS for every batch. Pages are
                // allocated as used, so idle connections stay small.
                .pragma("cache_size", sqlite_cache_pragma())
                .pragma("temp_store", "memory")
                // Checkpoint every ~32 MB of WAL (2,000 pages of 16 KiB) instead of every
                // 1,000 pages: hot index pages are copied into the database file once per
                // checkpoint, not once per few batches.
                .pragma("wal_autocheckpoint", "2000")
        });
    let db = Database::connect(options).await.map_err(|source| StoreError::Connect { url: url.redacted(), source })?;
    Ok(db)
}

fn sqlite_cache_pragma() -> String {
    let mib: i64 = std::env::var("AOC_SQLITE_CACHE_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    format!("-{}", mib.clamp(2, 4096) * 1024)
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

/// Refreshes the planner's statistics of every table (`ANALYZE`; on PostgreSQL `VACUUM ANALYZE`,
/// which also marks pages all-visible for index-only scans).
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    let statement = if db.get_database_backend() == DbBackend::Postgres { "VACUUM ANALYZE" } else { "ANALYZE" };
    db.execute_unprepared(statement).await.map(|_| ())
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

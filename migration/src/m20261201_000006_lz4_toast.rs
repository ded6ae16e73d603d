//! PostgreSQL: compress the large text columns of `events` (the raw record and the flattened
//! fields, stored out of line as TOAST) with lz4 instead of the default pglz — cheaper to
//! compress on ingestion. Needs PostgreSQL 14+ built with lz4 (Debian's and the official images
//! are); elsewhere the columns keep pglz and the migration still succeeds. Rows already stored
//! keep their compression; new ones use lz4. SQLite: nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn set_compression(method: &str) -> String {
    format!(
        "DO $$ BEGIN \
         EXECUTE 'ALTER TABLE events ALTER COLUMN raw SET COMPRESSION {method}, ALTER COLUMN flattened SET COMPRESSION {method}'; \
         EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'events keep their TOAST compression: %', SQLERRM; \
         END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection().execute_unprepared(&set_compression("lz4")).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection().execute_unprepared(&set_compression("pglz")).await?;
        }
        Ok(())
    }
}

//! Maintenance of the stored events, run by an operator with `aoc maintenance ...`:
//! re-running normalization over the raw records ([`renormalize`]), finding and removing
//! records stored twice ([`dedupe`]), and checking the storage invariants ([`verify`]).
//!
//! Every command works in bounded batches (keyset on `events.id`), so it can run beside a live
//! server on a large database, and never prints or logs a raw record: reports name events by id.

pub mod dedupe;
pub mod renormalize;
pub mod verify;

pub use dedupe::{dedupe, DedupeReport};
pub use renormalize::{renormalize, RenormalizeOptions, RenormalizeReport};
pub use verify::{verify, VerifyReport, Violation};

use sea_orm::{DatabaseBackend, DbErr, Statement, Value};

/// The `watermarks.tenant_id` of AOC's own bookkeeping rows (no Microsoft tenant id starts with
/// an underscore), kept apart from collection watermarks by every check.
pub const MAINTENANCE_TENANT: &str = "_aoc";

/// How many example event ids a report lists per finding.
pub const EXAMPLES: usize = 20;

/// A maintenance command that could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// A statement written with `?` placeholders, numbered `$1, $2, ...` on PostgreSQL. The SQL text
/// must contain no other `?`.
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    if backend != DatabaseBackend::Postgres {
        return Statement::from_sql_and_values(backend, sql, values);
    }
    let mut numbered = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            numbered.push_str(&format!("${n}"));
        } else {
            numbered.push(c);
        }
    }
    Statement::from_sql_and_values(backend, numbered, values)
}

/// A comma-separated list of `n` placeholders, for `IN (...)`.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let pg = statement(DatabaseBackend::Postgres, "UPDATE t SET a = ? WHERE b IN (?, ?)", vec![]);
        assert_eq!(pg.sql, "UPDATE t SET a = $1 WHERE b IN ($2, $3)");
        let lite = statement(DatabaseBackend::Sqlite, "UPDATE t SET a = ? WHERE b IN (?, ?)", vec![]);
        assert_eq!(lite.sql, "UPDATE t SET a = ? WHERE b IN (?, ?)");
        assert_eq!(placeholders(3), "?, ?, ?");
    }
}

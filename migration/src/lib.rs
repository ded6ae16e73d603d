//! AOC's database schema, written once as sea-orm migrations that run unchanged on SQLite and
//! PostgreSQL. The server runs them at start-up and with `aoc migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial_schema;
mod m20261123_000002_collection_state;
mod m20261129_000003_search;
mod m20261130_000004_lean_event_indexes;
mod m20261130_000005_event_hours;
mod m20261201_000006_lz4_toast;
mod m20261201_000007_event_partitions;
mod m20261207_000008_detection;
mod m20261207_000009_export;
mod m20261207_000010_workspace;
mod m20261207_000011_investigation;
mod m20261207_000012_api_tokens;
mod m20261208_000013_rule_state;
mod m20261208_000014_rule_suppressions;
mod m20261208_000017_saved_searches;
mod m20261209_000018_overview_index;
mod m20261210_000019_app_names;
mod m20261210_000020_overview_groups;
mod m20261211_000021_user_preferences;
mod m20261211_000022_facet_sample_index;
mod m20261211_000023_search_cleanup_order;

/// Runs `statements` in order (the migrations written as SQL per backend share it).
pub(crate) async fn run(m: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        m.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Every migration of AOC, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial_schema::Migration),
            Box::new(m20261123_000002_collection_state::Migration),
            Box::new(m20261129_000003_search::Migration),
            Box::new(m20261130_000004_lean_event_indexes::Migration),
            Box::new(m20261130_000005_event_hours::Migration),
            Box::new(m20261201_000006_lz4_toast::Migration),
            Box::new(m20261201_000007_event_partitions::Migration),
            Box::new(m20261207_000008_detection::Migration),
            Box::new(m20261207_000009_export::Migration),
            Box::new(m20261207_000010_workspace::Migration),
            Box::new(m20261207_000011_investigation::Migration),
            Box::new(m20261207_000012_api_tokens::Migration),
            Box::new(m20261208_000013_rule_state::Migration),
            Box::new(m20261208_000014_rule_suppressions::Migration),
            Box::new(m20261208_000017_saved_searches::Migration),
            Box::new(m20261209_000018_overview_index::Migration),
            Box::new(m20261210_000019_app_names::Migration),
            Box::new(m20261210_000020_overview_groups::Migration),
            Box::new(m20261211_000021_user_preferences::Migration),
            Box::new(m20261211_000022_facet_sample_index::Migration),
            Box::new(m20261211_000023_search_cleanup_order::Migration),
        ]
    }
}

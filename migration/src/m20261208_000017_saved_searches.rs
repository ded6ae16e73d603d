//! Saved searches: a named Events-page filter, owned by the person who saved it and, when
//! `shared`, listed for everyone. The filter is kept as the JSON of the Events page's filter
//! fields, so a saved search opens exactly the search that was saved.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SavedSearches::Table)
                .col(ColumnDef::new(SavedSearches::Id).big_integer().not_null().auto_increment().primary_key())
                .col(string(SavedSearches::Name))
                .col(text(SavedSearches::Filter))
                .col(boolean(SavedSearches::Shared))
                .col(string(SavedSearches::OwnerSubject))
                .col(string(SavedSearches::OwnerName))
                .col(timestamp_with_time_zone(SavedSearches::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_saved_searches_owner_name")
                .table(SavedSearches::Table)
                .col(SavedSearches::OwnerSubject)
                .col(SavedSearches::Name)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SavedSearches::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SavedSearches {
    Table,
    Id,
    Name,
    Filter,
    Shared,
    OwnerSubject,
    OwnerName,
    CreatedAt,
}

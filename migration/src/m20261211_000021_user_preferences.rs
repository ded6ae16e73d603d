//! Each person's own settings, remembered across sessions and browsers: (subject, name) → a JSON
//! value. The Events table's columns (`event_columns`) are the first.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserPreferences::Table)
                .col(string(UserPreferences::Subject))
                .col(string(UserPreferences::Name))
                .col(text(UserPreferences::Value))
                .col(timestamp_with_time_zone(UserPreferences::UpdatedAt))
                .primary_key(Index::create().col(UserPreferences::Subject).col(UserPreferences::Name))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UserPreferences::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    Subject,
    Name,
    Value,
    UpdatedAt,
}

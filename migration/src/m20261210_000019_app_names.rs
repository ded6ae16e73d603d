//! The tenants' own application names: (tenant, application id) → display name, read from
//! Graph `/servicePrincipals` by the collector about once a day, so pages and search show and
//! find "Contoso HR Sync" where a record holds only its application id. Ids are stored
//! lower-cased; the display-name index serves `app:"Name"`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AppNames::Table)
                .col(string(AppNames::TenantId))
                .col(string(AppNames::AppId))
                .col(string(AppNames::DisplayName))
                .col(timestamp_with_time_zone(AppNames::UpdatedAt))
                .primary_key(Index::create().col(AppNames::TenantId).col(AppNames::AppId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_app_names_app_id").table(AppNames::Table).col(AppNames::AppId).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AppNames::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AppNames {
    Table,
    TenantId,
    AppId,
    DisplayName,
    UpdatedAt,
}

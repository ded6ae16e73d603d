//! Collection state shared by every AOC process on one database: per (tenant, source) leases,
//! so two processes never collect the same source at once and a dead process's lease passes on
//! when it expires; and the last known health of each source.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CollectionLeases::Table)
                .col(ColumnDef::new(CollectionLeases::TenantId).string().not_null())
                .col(ColumnDef::new(CollectionLeases::Source).string().not_null())
                .col(ColumnDef::new(CollectionLeases::Holder).string().not_null())
                .col(ColumnDef::new(CollectionLeases::ExpiresAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(CollectionLeases::TenantId).col(CollectionLeases::Source))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SourceStatus::Table)
                .col(ColumnDef::new(SourceStatus::TenantId).string().not_null())
                .col(ColumnDef::new(SourceStatus::Source).string().not_null())
                .col(ColumnDef::new(SourceStatus::State).string().not_null().default("ok"))
                .col(ColumnDef::new(SourceStatus::LastSuccessAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(SourceStatus::LastAttemptAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(SourceStatus::LastError).text().null())
                .col(ColumnDef::new(SourceStatus::LastErrorAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(SourceStatus::ConsecutiveFailures).integer().not_null().default(0))
                .col(ColumnDef::new(SourceStatus::UpdatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(SourceStatus::TenantId).col(SourceStatus::Source))
                .to_owned(),
        )
        .await?;
        // Recent arrivals of one tenant's source (health: records in the last hour).
        m.create_index(
            Index::create()
                .name("ix_events_tenant_source_ingested")
                .table(Events::Table)
                .col(Events::TenantId)
                .col(Events::Source)
                .col(Events::IngestedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_events_tenant_source_ingested").table(Events::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(SourceStatus::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(CollectionLeases::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CollectionLeases {
    Table,
    TenantId,
    Source,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SourceStatus {
    Table,
    TenantId,
    Source,
    State,
    LastSuccessAt,
    LastAttemptAt,
    LastError,
    LastErrorAt,
    ConsecutiveFailures,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    TenantId,
    Source,
    IngestedAt,
}

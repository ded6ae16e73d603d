//! Fewer random-key indexes on events, for ingestion speed.
//!
//! Every index whose key is random (a GUID) costs one page write per inserted event once the
//! table outgrows the cache, and these dominated the write path. Two of them were redundant:
//!
//! - the record id: the stored dedupe key is always `source:record id`, so a lookup by record id
//!   asks for the four possible dedupe keys. The unique index leads with the dedupe key for it
//!   (uniqueness is the same set of columns, so inserts keep `ON CONFLICT (tenant_id,
//!   dedupe_key)`).
//! - the correlation id: it is also a value of the raw record, so the full-text index finds the
//!   few candidates and the equality is checked on them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ux_events_dedupe_tenant")
                .table(Events::Table)
                .col(Events::DedupeKey)
                .col(Events::TenantId)
                .unique()
                .to_owned(),
        )
        .await?;
        for name in ["ux_events_tenant_dedupe", "ix_events_record_id", "ix_events_correlation"] {
            m.drop_index(Index::drop().name(name).table(Events::Table).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ux_events_tenant_dedupe")
                .table(Events::Table)
                .col(Events::TenantId)
                .col(Events::DedupeKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_events_record_id").table(Events::Table).col(Events::RecordId).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_events_correlation").table(Events::Table).col(Events::CorrelationId).to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ux_events_dedupe_tenant").table(Events::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    TenantId,
    DedupeKey,
    RecordId,
    CorrelationId,
}

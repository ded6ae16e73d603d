//! The first schema: connectors (tenants), events with their raw records, tags, comments, rules,
//! alerts, collection bookkeeping (watermarks, coverage windows, seen blobs), the export outbox,
//! browser sessions and AOC's own audit trail.
//!
//! Timestamps are `timestamp with time zone` (text in ISO form on SQLite, so text order is time
//! order). Identifiers that come from Microsoft are strings; AOC's own rows use integer keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
}
fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}
fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}
fn string(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}
fn string_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}
fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}
fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}
fn boolean(col: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().default(default).to_owned()
}
fn int(col: impl IntoIden, default: i32) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().default(default).to_owned()
}
fn big_int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Connectors: one row per monitored Microsoft 365 tenant. Secrets are stored encrypted by
        // the server (the *_ciphertext columns) and never returned by any API.
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(id(Tenants::Id))
                .col(string(Tenants::TenantId))
                .col(string(Tenants::DisplayName))
                .col(ColumnDef::new(Tenants::Cloud).string().not_null().default("worldwide"))
                .col(string(Tenants::ClientId))
                .col(ColumnDef::new(Tenants::AuthKind).string().not_null().default("secret"))
                .col(text_null(Tenants::SecretCiphertext))
                .col(text_null(Tenants::CertificatePem))
                .col(text_null(Tenants::PrivateKeyCiphertext))
                .col(ColumnDef::new(Tenants::Sources).string().not_null().default("unified,directory,signin,intune"))
                .col(boolean(Tenants::Enabled, true))
                .col(boolean(Tenants::IsDemo, false))
                .col(ts(Tenants::CreatedAt))
                .col(ts(Tenants::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_tenants_tenant_id")
                .table(Tenants::Table)
                .col(Tenants::TenantId)
                .unique()
                .to_owned(),
        )
        .await?;

        // Events: normalized fields beside the untouched raw record. (tenant_id, dedupe_key) is
        // the "nothing twice" invariant.
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(id(Events::Id))
                .col(string(Events::TenantId))
                .col(string(Events::Source))
                .col(string_null(Events::ContentType))
                .col(string(Events::RecordId))
                .col(string(Events::DedupeKey))
                .col(ts(Events::OccurredAt))
                .col(ts(Events::IngestedAt))
                .col(ColumnDef::new(Events::Service).string().not_null().default(""))
                .col(ColumnDef::new(Events::Operation).string().not_null().default(""))
                .col(ColumnDef::new(Events::Result).string().not_null().default(""))
                .col(string_null(Events::ActorDisplay))
                .col(string_null(Events::ActorUpn))
                .col(string_null(Events::ActorAppId))
                .col(string_null(Events::ActorIp))
                .col(ColumnDef::new(Events::Targets).text().not_null().default("[]"))
                .col(text_null(Events::TargetDisplay))
                .col(ColumnDef::new(Events::Summary).text().not_null().default(""))
                .col(ColumnDef::new(Events::Severity).small_integer().not_null().default(0))
                .col(string_null(Events::CorrelationId))
                .col(ColumnDef::new(Events::Flattened).text().not_null().default("{}"))
                .col(text(Events::Raw))
                .col(text_null(Events::NormalizeError))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ux_events_tenant_dedupe", &[Events::TenantId, Events::DedupeKey][..]),
            ("ix_events_time", &[Events::OccurredAt, Events::Id][..]),
            ("ix_events_tenant_time", &[Events::TenantId, Events::OccurredAt][..]),
            ("ix_events_service_time", &[Events::Service, Events::OccurredAt][..]),
            ("ix_events_operation_time", &[Events::Operation, Events::OccurredAt][..]),
            ("ix_events_actor_time", &[Events::ActorUpn, Events::OccurredAt][..]),
            ("ix_events_severity_time", &[Events::Severity, Events::OccurredAt][..]),
            ("ix_events_correlation", &[Events::CorrelationId][..]),
        ] {
            let mut idx = Index::create().name(name).table(Events::Table).to_owned();
            for c in cols {
                idx.col(c.clone());
            }
            if name.starts_with("ux_") {
                idx.unique();
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(EventTags::Table)
                .col(big_int(EventTags::EventId))
                .col(string(EventTags::Tag))
                .col(string(EventTags::CreatedBy))
                .col(ts(EventTags::CreatedAt))
                .primary_key(Index::create().col(EventTags::EventId).col(EventTags::Tag))
                .foreign_key(
                    ForeignKey::create()
                        .from(EventTags::Table, EventTags::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_event_tags_tag").table(EventTags::Table).col(EventTags::Tag).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Comments::Table)
                .col(id(Comments::Id))
                .col(big_int(Comments::EventId))
                .col(string(Comments::Author))
                .col(text(Comments::Body))
                .col(ts(Comments::CreatedAt))
                .col(ts_null(Comments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Comments::Table, Comments::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_comments_event").table(Comments::Table).col(Comments::EventId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Rules::Table)
                .col(id(Rules::Id))
                .col(string(Rules::Name))
                .col(ColumnDef::new(Rules::Description).text().not_null().default(""))
                .col(boolean(Rules::Enabled, true))
                .col(ColumnDef::new(Rules::Severity).small_integer().not_null().default(2))
                .col(ColumnDef::new(Rules::Kind).string().not_null().default("native"))
                .col(text(Rules::Definition))
                .col(string(Rules::CreatedBy))
                .col(ts(Rules::CreatedAt))
                .col(ts(Rules::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ux_rules_name").table(Rules::Table).col(Rules::Name).unique().to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table(Alerts::Table)
                .col(id(Alerts::Id))
                .col(big_int(Alerts::RuleId))
                .col(big_int(Alerts::EventId))
                .col(string(Alerts::TenantId))
                .col(ColumnDef::new(Alerts::Severity).small_integer().not_null().default(2))
                .col(string(Alerts::Title))
                .col(ColumnDef::new(Alerts::Status).string().not_null().default("open"))
                .col(ts(Alerts::CreatedAt))
                .col(string_null(Alerts::HandledBy))
                .col(ts_null(Alerts::HandledAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Alerts::Table, Alerts::RuleId)
                        .to(Rules::Table, Rules::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Alerts::Table, Alerts::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_alerts_rule_event")
                .table(Alerts::Table)
                .col(Alerts::RuleId)
                .col(Alerts::EventId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_alerts_status_time")
                .table(Alerts::Table)
                .col(Alerts::Status)
                .col(Alerts::CreatedAt)
                .to_owned(),
        )
        .await?;

        // Collection bookkeeping: how far each (tenant, source) has been collected ...
        m.create_table(
            Table::create()
                .table(Watermarks::Table)
                .col(string(Watermarks::TenantId))
                .col(string(Watermarks::Source))
                .col(ts(Watermarks::Position))
                .col(text_null(Watermarks::Cursor))
                .col(ts(Watermarks::UpdatedAt))
                .primary_key(Index::create().col(Watermarks::TenantId).col(Watermarks::Source))
                .to_owned(),
        )
        .await?;

        // ... which windows were planned, done, failed or parked (the coverage ledger) ...
        m.create_table(
            Table::create()
                .table(CoverageWindows::Table)
                .col(id(CoverageWindows::Id))
                .col(string(CoverageWindows::TenantId))
                .col(string(CoverageWindows::Source))
                .col(ColumnDef::new(CoverageWindows::ContentType).string().not_null().default(""))
                .col(ts(CoverageWindows::WindowStart))
                .col(ts(CoverageWindows::WindowEnd))
                .col(ColumnDef::new(CoverageWindows::State).string().not_null().default("planned"))
                .col(ColumnDef::new(CoverageWindows::RecordCount).big_integer().not_null().default(0))
                .col(int(CoverageWindows::Attempts, 0))
                .col(text_null(CoverageWindows::LastError))
                .col(ts(CoverageWindows::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_coverage_window")
                .table(CoverageWindows::Table)
                .col(CoverageWindows::TenantId)
                .col(CoverageWindows::Source)
                .col(CoverageWindows::ContentType)
                .col(CoverageWindows::WindowStart)
                .unique()
                .to_owned(),
        )
        .await?;

        // ... and which content blobs have already been stored, by contentId.
        m.create_table(
            Table::create()
                .table(SeenBlobs::Table)
                .col(string(SeenBlobs::TenantId))
                .col(string(SeenBlobs::ContentId))
                .col(string(SeenBlobs::ContentType))
                .col(ts(SeenBlobs::ContentCreated))
                .col(ColumnDef::new(SeenBlobs::RecordCount).big_integer().not_null().default(0))
                .col(ts(SeenBlobs::FetchedAt))
                .primary_key(Index::create().col(SeenBlobs::TenantId).col(SeenBlobs::ContentId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ExportOutbox::Table)
                .col(id(ExportOutbox::Id))
                .col(big_int(ExportOutbox::EventId))
                .col(string(ExportOutbox::Destination))
                .col(int(ExportOutbox::Attempts, 0))
                .col(ts(ExportOutbox::NextAttemptAt))
                .col(text_null(ExportOutbox::LastError))
                .col(ts(ExportOutbox::CreatedAt))
                .col(ts_null(ExportOutbox::DeliveredAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ExportOutbox::Table, ExportOutbox::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_export_outbox_event_destination")
                .table(ExportOutbox::Table)
                .col(ExportOutbox::EventId)
                .col(ExportOutbox::Destination)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_export_outbox_due")
                .table(ExportOutbox::Table)
                .col(ExportOutbox::DeliveredAt)
                .col(ExportOutbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;

        // Browser sessions (tower-sessions records, serialized by the server).
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(ColumnDef::new(Sessions::Id).string().not_null().primary_key())
                .col(ColumnDef::new(Sessions::Data).binary().not_null())
                .col(ts(Sessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_sessions_expiry").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned(),
        )
        .await?;

        // AOC's own audit trail: who changed a rule, tagged an event, edited a connector.
        m.create_table(
            Table::create()
                .table(AuditTrail::Table)
                .col(id(AuditTrail::Id))
                .col(ts(AuditTrail::OccurredAt))
                .col(string(AuditTrail::Actor))
                .col(string(AuditTrail::Action))
                .col(string(AuditTrail::TargetKind))
                .col(string_null(AuditTrail::TargetId))
                .col(ColumnDef::new(AuditTrail::Details).text().not_null().default("{}"))
                .col(string_null(AuditTrail::RequestId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_audit_trail_time").table(AuditTrail::Table).col(AuditTrail::OccurredAt).to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents so foreign keys never block the drop.
        m.drop_table(Table::drop().table(AuditTrail::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ExportOutbox::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(SeenBlobs::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(CoverageWindows::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Watermarks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Alerts::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Rules::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Comments::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(EventTags::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Events::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Tenants::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    TenantId,
    DisplayName,
    Cloud,
    ClientId,
    AuthKind,
    SecretCiphertext,
    CertificatePem,
    PrivateKeyCiphertext,
    Sources,
    Enabled,
    IsDemo,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum Events {
    Table,
    Id,
    TenantId,
    Source,
    ContentType,
    RecordId,
    DedupeKey,
    OccurredAt,
    IngestedAt,
    Service,
    Operation,
    Result,
    ActorDisplay,
    ActorUpn,
    ActorAppId,
    ActorIp,
    Targets,
    TargetDisplay,
    Summary,
    Severity,
    CorrelationId,
    Flattened,
    Raw,
    NormalizeError,
}

#[derive(DeriveIden)]
enum EventTags {
    Table,
    EventId,
    Tag,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    EventId,
    Author,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    Name,
    Description,
    Enabled,
    Severity,
    Kind,
    Definition,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    RuleId,
    EventId,
    TenantId,
    Severity,
    Title,
    Status,
    CreatedAt,
    HandledBy,
    HandledAt,
}

#[derive(DeriveIden)]
enum Watermarks {
    Table,
    TenantId,
    Source,
    Position,
    Cursor,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CoverageWindows {
    Table,
    Id,
    TenantId,
    Source,
    ContentType,
    WindowStart,
    WindowEnd,
    State,
    RecordCount,
    Attempts,
    LastError,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SeenBlobs {
    Table,
    TenantId,
    ContentId,
    ContentType,
    ContentCreated,
    RecordCount,
    FetchedAt,
}

#[derive(DeriveIden)]
enum ExportOutbox {
    Table,
    Id,
    EventId,
    Destination,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditTrail {
    Table,
    Id,
    OccurredAt,
    Actor,
    Action,
    TargetKind,
    TargetId,
    Details,
    RequestId,
}

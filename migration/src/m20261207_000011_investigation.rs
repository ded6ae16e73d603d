//! Watchlists: named lists of users, IP addresses, apps or domains under investigation (an
//! admin list exported from Entra, known IP ranges), usable in search as `watchlist:NAME`.
//! Items hold their value lower-cased, as search compares it. Nothing here points at events, so
//! retention and partitions are untouched.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Watchlists {
    Table,
    Id,
    Name,
    Kind,
    Description,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WatchlistItems {
    Table,
    WatchlistId,
    Value,
    Label,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Watchlists::Table)
                .col(ColumnDef::new(Watchlists::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Watchlists::Name).string().not_null())
                .col(ColumnDef::new(Watchlists::Kind).string().not_null())
                .col(ColumnDef::new(Watchlists::Description).text().not_null().default(""))
                .col(ColumnDef::new(Watchlists::CreatedBy).string().not_null())
                .col(ColumnDef::new(Watchlists::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Watchlists::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_watchlists_name")
                .table(Watchlists::Table)
                .col(Watchlists::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WatchlistItems::Table)
                .col(ColumnDef::new(WatchlistItems::WatchlistId).big_integer().not_null())
                .col(ColumnDef::new(WatchlistItems::Value).string().not_null())
                .col(ColumnDef::new(WatchlistItems::Label).text().null())
                .primary_key(Index::create().col(WatchlistItems::WatchlistId).col(WatchlistItems::Value))
                .foreign_key(
                    ForeignKey::create()
                        .from(WatchlistItems::Table, WatchlistItems::WatchlistId)
                        .to(Watchlists::Table, Watchlists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WatchlistItems::Table).if_exists().to_owned()).await?;
        m.drop_table(Table::drop().table(Watchlists::Table).if_exists().to_owned()).await
    }
}

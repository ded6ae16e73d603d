//! One module per page.

mod audit;
mod destinations;
mod event;
pub(crate) mod events;
pub(crate) mod investigate;
mod planned;
mod settings;
mod sources;
mod tokens;
mod watchlists;

pub use audit::AuditPage;
pub use destinations::DestinationsPage;
pub use event::EventDetailPage;
pub use events::EventsPage;
pub use investigate::InvestigatePage;
pub use planned::{AlertsPage, RulesPage};
pub use settings::SettingsPage;
pub use sources::SourcesPage;
pub use tokens::{SessionsPage, TokensPage};
pub use watchlists::WatchlistsPage;

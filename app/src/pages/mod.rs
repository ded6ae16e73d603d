//! One module per page.

mod alerts;
mod audit;
mod destinations;
mod event;
pub(crate) mod events;
pub(crate) mod investigate;
mod rules;
mod settings;
mod sources;
mod tokens;
mod watchlists;

pub use alerts::{AlertDetailPage, AlertsPage};
pub use audit::AuditPage;
pub use destinations::DestinationsPage;
pub use event::EventDetailPage;
pub use events::EventsPage;
pub use investigate::InvestigatePage;
pub use rules::{RuleEditorPage, RulesPage};
pub use settings::SettingsPage;
pub use sources::SourcesPage;
pub use tokens::{SessionsPage, TokensPage};
pub use watchlists::WatchlistsPage;

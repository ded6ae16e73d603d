//! One module per page.

mod event;
pub(crate) mod events;
pub(crate) mod investigate;
mod planned;
mod settings;
mod watchlists;

pub use event::EventDetailPage;
pub use events::EventsPage;
pub use investigate::InvestigatePage;
pub use planned::{AlertsPage, RulesPage, SourcesPage};
pub use settings::SettingsPage;
pub use watchlists::WatchlistsPage;

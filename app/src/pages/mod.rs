//! One module per page.

mod event;
pub(crate) mod events;
mod planned;
mod settings;
mod tokens;

pub use event::EventDetailPage;
pub use events::EventsPage;
pub use planned::{AlertsPage, RulesPage, SourcesPage};
pub use settings::SettingsPage;
pub use tokens::{SessionsPage, TokensPage};

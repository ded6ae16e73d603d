//! One module per page.

mod event;
pub(crate) mod events;
pub(crate) mod investigate;
mod planned;
mod settings;

pub use event::EventDetailPage;
pub use events::EventsPage;
pub use investigate::InvestigatePage;
pub use planned::{AlertsPage, RulesPage, SourcesPage};
pub use settings::SettingsPage;

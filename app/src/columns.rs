//! The Events table's columns, chosen and ordered by each person and remembered for them. A
//! column is one of AOC's normalized fields ([`BUILTIN`]) or any flattened field of the raw
//! record, named as search names it (`Parameters.ForwardTo`, `location.city`): a normalized
//! name wins where both exist. The time is always the first column (it opens the event); the
//! list holds the columns after it. Validation and editing live here, once, for the REST API
//! and the Events page.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Caller;
use crate::error::AppError;

/// The normalized columns: (key, heading).
pub const BUILTIN: &[(&str, &str)] = &[
    ("severity", "Severity"),
    ("service", "Service"),
    ("operation", "Operation"),
    ("actor", "Actor"),
    ("result", "Result"),
    ("summary", "Summary"),
    ("tenant", "Tenant"),
    ("source", "Source"),
    ("targets", "Targets"),
    ("ip", "Actor IP"),
    ("record_id", "Record id"),
];

/// The columns of someone who has not chosen.
pub const DEFAULT: &[&str] = &["severity", "service", "operation", "actor", "result", "summary"];

/// Most columns after the time.
pub const MAX_COLUMNS: usize = 20;
/// Longest column name, in characters.
pub const MAX_NAME_LEN: usize = 200;

/// The default columns, owned.
pub fn default_columns() -> Vec<String> {
    DEFAULT.iter().map(|c| c.to_string()).collect()
}

/// Whether `key` is a normalized column (otherwise it names a flattened field).
pub fn is_builtin(key: &str) -> bool {
    BUILTIN.iter().any(|(k, _)| *k == key)
}

/// A column's heading: a normalized column's name, or the flattened field's own name.
pub fn heading(key: &str) -> String {
    BUILTIN.iter().find(|(k, _)| *k == key).map(|(_, h)| h.to_string()).unwrap_or_else(|| key.to_string())
}

/// The flattened fields among `columns` (what a page must read for them).
pub fn flattened_fields(columns: &[String]) -> Vec<String> {
    columns.iter().filter(|c| !is_builtin(c)).cloned().collect()
}

/// Checks one column name: 1–200 characters, no control characters, no comma (lists are written
/// with commas).
pub fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(AppError::invalid_input("column", format!("a column's name has 1–{MAX_NAME_LEN} characters")));
    }
    if name.chars().any(|c| c.is_control() || c == ',') {
        return Err(AppError::invalid_input("column", "a column's name has no commas or control characters"));
    }
    if name == "time" {
        return Err(AppError::invalid_input("column", "the time is always the first column"));
    }
    Ok(name.to_string())
}

/// Checks a whole list: each name as [`check_name`], no name twice, at most [`MAX_COLUMNS`].
pub fn validate(columns: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::with_capacity(columns.len());
    for column in columns {
        let column = check_name(column)?;
        if out.contains(&column) {
            return Err(AppError::invalid_input("columns", format!("`{column}` is listed twice")));
        }
        out.push(column);
    }
    if out.len() > MAX_COLUMNS {
        return Err(AppError::invalid_input("columns", format!("at most {MAX_COLUMNS} columns (after the time)")));
    }
    Ok(out)
}

/// One change to a column list, as the Events page's column form sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnEdit {
    /// Adds a column at the end.
    Add(String),
    /// Removes the column at this place.
    Remove(usize),
    /// Moves the column at this place one to the left.
    Left(usize),
    /// Moves the column at this place one to the right.
    Right(usize),
    /// Back to [`DEFAULT`].
    Reset,
}

impl ColumnEdit {
    /// Reads `op` (`add`, `remove:N`, `left:N`, `right:N` or `reset`) and, for `add`, `column`.
    pub fn parse(op: &str, column: Option<&str>) -> Result<Self, AppError> {
        let bad = || AppError::invalid_input("op", "one of add, remove:N, left:N, right:N and reset");
        let place = |n: &str| n.parse::<usize>().map_err(|_| bad());
        match op.trim().split_once(':') {
            None if op.trim() == "add" => Ok(Self::Add(check_name(column.unwrap_or_default())?)),
            None if op.trim() == "reset" => Ok(Self::Reset),
            Some(("remove", n)) => Ok(Self::Remove(place(n)?)),
            Some(("left", n)) => Ok(Self::Left(place(n)?)),
            Some(("right", n)) => Ok(Self::Right(place(n)?)),
            _ => Err(bad()),
        }
    }

    /// `columns` after this change; a place beyond the list, or adding a column that is there,
    /// is an error naming it.
    pub fn apply(self, mut columns: Vec<String>) -> Result<Vec<String>, AppError> {
        let beyond = |n: usize| AppError::invalid_input("op", format!("there is no column at place {n}"));
        match self {
            Self::Add(column) => {
                if columns.contains(&column) {
                    return Err(AppError::invalid_input("column", format!("`{column}` is a column already")));
                }
                columns.push(column);
            }
            Self::Remove(n) if n < columns.len() => {
                columns.remove(n);
            }
            Self::Left(n) if n < columns.len() => columns.swap(n, n.saturating_sub(1)),
            Self::Right(n) if n < columns.len() => {
                let to = (n + 1).min(columns.len() - 1);
                columns.swap(n, to);
            }
            Self::Reset => columns = default_columns(),
            Self::Remove(n) | Self::Left(n) | Self::Right(n) => return Err(beyond(n)),
        }
        validate(&columns)
    }
}

/// Someone's Events columns as the page and the REST API show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventColumns {
    /// The columns after the time, in order.
    pub columns: Vec<String>,
    /// True while they are the defaults (nothing chosen yet, or reset).
    pub default: bool,
}

impl EventColumns {
    /// The columns of someone who has not chosen.
    pub fn defaults() -> Self {
        Self { columns: default_columns(), default: true }
    }
}

/// Each person's column choice, implemented over the database by the server.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ColumnService: Send + Sync {
    /// The caller's columns (the defaults when they chose none).
    async fn event_columns(&self, caller: &Caller) -> Result<EventColumns, AppError>;
    /// Remembers `columns` (validated) for the caller; `None` forgets the choice.
    async fn set_event_columns(&self, caller: &Caller, columns: Option<Vec<String>>) -> Result<EventColumns, AppError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn edits_add_remove_move_and_reset() {
        let start = cols(&["service", "operation"]);
        let added = ColumnEdit::parse("add", Some(" Parameters.ForwardTo ")).unwrap().apply(start.clone()).unwrap();
        assert_eq!(added, cols(&["service", "operation", "Parameters.ForwardTo"]));
        let left = ColumnEdit::parse("left:2", None).unwrap().apply(added.clone()).unwrap();
        assert_eq!(left, cols(&["service", "Parameters.ForwardTo", "operation"]));
        let first_left = ColumnEdit::parse("left:0", None).unwrap().apply(left.clone()).unwrap();
        assert_eq!(first_left, left, "the first column stays first");
        let right = ColumnEdit::parse("right:0", None).unwrap().apply(left.clone()).unwrap();
        assert_eq!(right, cols(&["Parameters.ForwardTo", "service", "operation"]));
        let last_right = ColumnEdit::parse("right:2", None).unwrap().apply(right.clone()).unwrap();
        assert_eq!(last_right, right, "the last column stays last");
        let removed = ColumnEdit::parse("remove:1", None).unwrap().apply(right).unwrap();
        assert_eq!(removed, cols(&["Parameters.ForwardTo", "operation"]));
        assert_eq!(ColumnEdit::parse("reset", None).unwrap().apply(removed).unwrap(), default_columns());
    }

    #[test]
    fn bad_edits_and_lists_are_named() {
        for (op, column) in
            [("add", None), ("add", Some("a,b")), ("add", Some("time")), ("swap:1", None), ("left:x", None)]
        {
            assert!(ColumnEdit::parse(op, column).is_err(), "{op} {column:?}");
        }
        let e = ColumnEdit::Remove(6).apply(default_columns()).unwrap_err();
        assert!(e.message.contains("place 6"), "{}", e.message);
        let e = ColumnEdit::Add("service".into()).apply(default_columns()).unwrap_err();
        assert!(e.message.contains("already"), "{}", e.message);
        let many: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("f{i}")).collect();
        assert!(validate(&many).is_err());
        assert!(validate(&cols(&["service", "service"])).unwrap_err().message.contains("twice"));
        assert!(validate(&["x".repeat(MAX_NAME_LEN + 1)]).is_err());
        assert!(validate(&cols(&["bad\u{7}"])).is_err());
    }

    #[test]
    fn headings_name_normalized_and_flattened_columns() {
        assert_eq!(heading("ip"), "Actor IP");
        assert_eq!(heading("Parameters.ForwardTo"), "Parameters.ForwardTo");
        assert_eq!(flattened_fields(&cols(&["service", "ClientIP"])), cols(&["ClientIP"]));
    }
}

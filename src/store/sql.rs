//! A small SQL text builder for the statements SeaORM's query builder cannot express as tuned
//! (full-text lookups, keyset pages, facets, histograms): every value is bound as a parameter
//! and placeholders are written for the backend.

use sea_orm::{DatabaseBackend, FromQueryResult, Statement, Value};

/// The `n` of a statement that counts (`COUNT(*) AS n`, `MAX(id) AS n`).
#[derive(Debug, FromQueryResult)]
pub struct Count {
    pub n: i64,
}

/// A SQL text with its bound values, placeholders written for the backend.
pub struct Sql {
    pub(crate) backend: DatabaseBackend,
    pub text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DatabaseBackend, text: impl Into<String>) -> Self {
        Self { backend, text: text.into(), values: Vec::new() }
    }

    /// Binds a value and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        if self.backend == DatabaseBackend::Postgres {
            format!("${}", self.values.len())
        } else {
            "?".to_string()
        }
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Case-insensitive LIKE for the backend.
pub(crate) fn ilike(backend: DatabaseBackend) -> &'static str {
    if backend == DatabaseBackend::Postgres {
        "ILIKE"
    } else {
        "LIKE"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }
}

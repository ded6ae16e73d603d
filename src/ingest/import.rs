//! `aoc import`: logs someone exported (from the API, a SIEM, or a Purview audit search) replayed
//! through the normal write path, so they are stored exactly once, searchable and evaluated by
//! the rules like collected records.
//!
//! Formats: JSON lines (one record per line), a JSON array of records (or one record), and the
//! Purview audit-search CSV export, whose `AuditData` column holds the Unified Audit Log record.
//! A line or cell that is not a JSON object is stored raw and flagged, like any record that cannot
//! be normalized; nothing is dropped silently.

use std::collections::BTreeMap;

use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::summary::{SourceState, SourceSummary};
use crate::normalize::{self, Source};
use crate::store::writer::{store_batch, EventRow, Subscribers};

/// Records stored per batch.
const BATCH: usize = 1_000;

/// The shape of an import file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Json,
    PurviewCsv,
}

impl Format {
    /// `jsonl`, `json` or `purview-csv`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json-lines" => Format::JsonLines,
            "json" => Format::Json,
            "purview-csv" | "csv" => Format::PurviewCsv,
            _ => return None,
        })
    }

    /// The format a file most likely has: `.csv` is a Purview export, a text starting with `[`
    /// a JSON array, a Graph page (`{"value": [...]}`) JSON, anything else JSON lines.
    pub fn guess(path: &str, text: &str) -> Self {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if path.to_ascii_lowercase().ends_with(".csv") {
            Format::PurviewCsv
        } else if start.starts_with('[')
            || (start.starts_with('{')
                && serde_json::from_str::<Value>(start).is_ok_and(|v| v.get("value").is_some_and(Value::is_array)))
        {
            Format::Json
        } else {
            Format::JsonLines
        }
    }
}

/// The records of a file, as raw JSON texts (a record that is not valid JSON is kept as its text,
/// to be stored raw and flagged).
pub fn records(text: &str, format: Format) -> Result<Vec<String>, String> {
    match format {
        Format::JsonLines => Ok(text
            .lines()
            .map(|l| l.trim().trim_start_matches('\u{feff}'))
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Format::Json => {
            let value: Value =
                serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| format!("not JSON: {e}"))?;
            match value {
                Value::Array(items) => Ok(items.iter().map(Value::to_string).collect()),
                // `{"value": [...]}`, as Graph pages are saved.
                Value::Object(ref o) if o.get("value").is_some_and(Value::is_array) => {
                    Ok(o["value"].as_array().map(|a| a.iter().map(Value::to_string).collect()).unwrap_or_default())
                }
                Value::Object(_) => Ok(vec![value.to_string()]),
                _ => Err("expected a JSON array of records or one record".into()),
            }
        }
        Format::PurviewCsv => {
            let mut reader =
                csv::ReaderBuilder::new().flexible(true).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            let headers = reader.headers().map_err(|e| format!("not CSV: {e}"))?.clone();
            let column = headers.iter().position(|h| h.trim().eq_ignore_ascii_case("AuditData")).ok_or_else(|| {
                format!(
                    "the CSV has no AuditData column (it has: {}); export the audit search from Purview as CSV",
                    headers.iter().take(12).collect::<Vec<_>>().join(", ")
                )
            })?;
            let mut out = Vec::new();
            for (i, row) in reader.records().enumerate() {
                let row = row.map_err(|e| format!("row {}: {e}", i + 2))?;
                if let Some(cell) = row.get(column).map(str::trim).filter(|c| !c.is_empty()) {
                    out.push(cell.to_string());
                }
            }
            Ok(out)
        }
    }
}

/// The Management API content type of a Unified Audit Log record (from its workload).
pub fn content_type_of(record: &Value) -> &'static str {
    match record.get("Workload").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase().as_str() {
        "exchange" => "Audit.Exchange",
        "sharepoint" | "onedrive" => "Audit.SharePoint",
        "azureactivedirectory" => "Audit.AzureActiveDirectory",
        _ => "Audit.General",
    }
}

/// The tenant a record names: `OrganizationId` (UAL), `tenantId`, `resourceTenantId` (Graph).
fn tenant_of(record: &Value) -> Option<String> {
    ["OrganizationId", "tenantId", "TenantId", "resourceTenantId"]
        .iter()
        .find_map(|k| record.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Stores the records of one file; counts go into `summaries` per tenant. `tenant` places every
/// record; otherwise a record's own tenant, else `fallback`.
pub async fn import(
    db: &DatabaseConnection,
    source: Source,
    tenant: Option<&str>,
    fallback: Option<&str>,
    raws: Vec<String>,
    summaries: &mut BTreeMap<String, SourceSummary>,
) -> Result<(), sea_orm::DbErr> {
    let now = chrono::Utc::now();
    let mut batches: BTreeMap<String, Vec<EventRow>> = BTreeMap::new();
    let mut unplaced = 0u64;
    for raw in raws {
        let parsed: Option<Value> = serde_json::from_str(&raw).ok();
        let Some(tenant_id) = tenant
            .map(str::to_string)
            .or_else(|| parsed.as_ref().and_then(tenant_of))
            .or_else(|| fallback.map(str::to_string))
        else {
            unplaced += 1;
            continue;
        };
        let content_type =
            (source == Source::Unified).then(|| parsed.as_ref().map_or("Audit.General", content_type_of));
        let normalized = normalize::normalize(source, content_type, &raw, &Default::default());
        let row = EventRow::new(&tenant_id, source, content_type, raw, normalized, now);
        let key = tenant_id.clone();
        let batch = batches.entry(tenant_id).or_default();
        batch.push(row);
        if batch.len() >= BATCH {
            let rows = std::mem::take(batch);
            store(db, source, &key, rows, summaries).await?;
        }
    }
    for (tenant_id, rows) in std::mem::take(&mut batches) {
        store(db, source, &tenant_id, rows, summaries).await?;
    }
    if unplaced > 0 {
        let summary = summaries
            .entry(format!("?/{}", source.as_str()))
            .or_insert_with(|| SourceSummary::new("?", source.as_str()));
        summary.fetched += unplaced;
        summary.failed += unplaced;
        summary.state = SourceState::Failing;
        summary.error = Some(format!(
            "{unplaced} records name no tenant (no OrganizationId or tenantId): give --tenant or set TENANT_ID"
        ));
    }
    Ok(())
}

async fn store(
    db: &DatabaseConnection,
    source: Source,
    tenant_id: &str,
    rows: Vec<EventRow>,
    summaries: &mut BTreeMap<String, SourceSummary>,
) -> Result<(), sea_orm::DbErr> {
    let fetched = rows.len() as u64;
    let outcome = store_batch(db, rows, &[], &Subscribers::default()).await?;
    summaries
        .entry(format!("{tenant_id}/{}", source.as_str()))
        .or_insert_with(|| SourceSummary::new(tenant_id, source.as_str()))
        .add(fetched, &outcome);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_gives_its_records_and_keeps_what_is_not_json() {
        let lines = "{\"Id\": \"a\"}\n\n  {\"Id\": \"b\"}\nnot json\n";
        assert_eq!(records(lines, Format::JsonLines).unwrap(), ["{\"Id\": \"a\"}", "{\"Id\": \"b\"}", "not json"]);
        assert_eq!(records("[{\"Id\": 1}, {\"Id\": 2}]", Format::Json).unwrap().len(), 2);
        assert_eq!(records("{\"value\": [{\"id\": 1}]}", Format::Json).unwrap().len(), 1);
        assert!(records("[1, 2", Format::Json).unwrap_err().contains("not JSON"));
        let csv = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n\
                   1,2026-11-16,1,Set-Mailbox,a@b,\"{\"\"Id\"\":\"\"x\"\",\"\"Operation\"\":\"\"Set-Mailbox\"\"}\"\n";
        assert_eq!(records(csv, Format::PurviewCsv).unwrap(), ["{\"Id\":\"x\",\"Operation\":\"Set-Mailbox\"}"]);
        let err = records("a,b\n1,2\n", Format::PurviewCsv).unwrap_err();
        assert!(err.contains("no AuditData column") && err.contains("a, b"), "{err}");
        assert_eq!(Format::guess("x.CSV", ""), Format::PurviewCsv);
        assert_eq!(Format::guess("x.json", " [ ]"), Format::Json);
        assert_eq!(Format::guess("x.json", "{}"), Format::JsonLines);
        assert_eq!(Format::guess("x.json", "{\"value\": [{}]}"), Format::Json);
    }

    #[test]
    fn unified_records_get_the_content_type_of_their_workload() {
        assert_eq!(content_type_of(&serde_json::json!({"Workload": "Exchange"})), "Audit.Exchange");
        assert_eq!(content_type_of(&serde_json::json!({"Workload": "OneDrive"})), "Audit.SharePoint");
        assert_eq!(content_type_of(&serde_json::json!({"Workload": "MicrosoftTeams"})), "Audit.General");
    }
}

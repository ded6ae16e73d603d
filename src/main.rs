//! `aoc`: the command-line entry point. `aoc` alone (or `aoc serve`) runs the server; the other
//! commands run one job against the same configuration and exit.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use aoc::config::Settings;
use aoc::startup::{shutdown_signal, Application};
use aoc::{store, telemetry};

/// AOC, the Admin Operations Center: collects Microsoft 365 and Entra ID audit logs, keeps every
/// record exactly once, and lets you search, tag, comment on and alert on them.
///
/// Configuration comes from environment variables and an optional .env file in the working
/// directory; see .env.example. With no configuration AOC listens on 127.0.0.1:3000 and keeps its
/// data in ./data/aoc.db (SQLite).
#[derive(Parser)]
#[command(name = "aoc", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server: pages, REST API, health and metrics (the default command).
    ///
    /// Migrates the database first. Stops gracefully on SIGINT or SIGTERM.
    Serve,
    /// Apply pending database migrations (or roll back, or show status), then exit.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Collect now from every configured tenant and source, then exit.
    ///
    /// Looks back HOURS (the Unified Audit Log reaches at most 7 days back, Graph 30 days).
    /// Records already stored are counted as duplicates, never stored twice. The detection rules
    /// run on what is stored (unless ALERTS_ENABLED=false). Exits non-zero when a source failed.
    Fetch {
        /// How many hours to look back.
        #[arg(long, default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=720))]
        hours: u32,
        /// Print the per-source summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay exported logs through the write path and the rules, exactly once like collection.
    ///
    /// FILE holds records exactly as Microsoft returns them: JSON lines, a JSON array (or a Graph
    /// page `{"value": [...]}`), or a Purview audit-search CSV export (its AuditData column).
    /// The tenant is the record's own (OrganizationId, tenantId) unless --tenant or TENANT_ID
    /// gives one. A record that cannot be read is stored raw and flagged. Prints the same summary
    /// as `aoc fetch`.
    Import {
        /// unified, directory, signin or intune.
        #[arg(long)]
        source: String,
        /// The tenant of every record (default: the record's own, else TENANT_ID).
        #[arg(long)]
        tenant: Option<String>,
        /// jsonl, json or purview-csv (default: .csv files are Purview exports, a text starting
        /// with `[` a JSON array, anything else JSON lines).
        #[arg(long)]
        format: Option<String>,
        /// Print the per-source summary as JSON.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Run the local Microsoft 365 simulator standalone: token endpoints, the Management
    /// Activity API and Graph audit resources, with a control API under /_sim/.
    ///
    /// Prints the simulated tenants and their test credentials at start-up (also served at
    /// GET /_sim/tenants). Stops on SIGINT or SIGTERM.
    Simulate(SimulateArgs),
    /// Run a benchmark and print its figures.
    Bench {
        #[command(subcommand)]
        which: BenchKind,
    },
    /// Insert synthetic events (deterministic from a seed) to try the UI or measure queries.
    ///
    /// They are stored under the tenant "synthetic.aoc.invalid" and marked "AocSynthetic" in
    /// their raw record, so they are never mistaken for collected data.
    Generate {
        /// How many events to insert.
        #[arg(long, default_value_t = 1000)]
        events: usize,
        /// Spread them over this many days before now.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Seed of the generator; the same seed gives the same events.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also store five records whose fields hold hostile strings (markup, right-to-left
        /// overrides, zero-width characters, 10,000-character values) under the tenant
        /// "hostile.aoc.invalid", to check that every page shows them inertly.
        #[arg(long)]
        hostile: bool,
    },
    /// Manage detection rules: load Sigma rules from files or folders.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Maintain the stored events: re-run normalization, find records stored twice, check the
    /// storage invariants.
    ///
    /// Safe beside a running server: work is done in short batches. Reports name events by id
    /// and never print a raw record.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// Load Sigma rules (YAML files, or folders searched for .yml/.yaml files) and print, per
    /// file, whether it was loaded or the exact reason it was refused.
    ///
    /// A rule whose Sigma id is stored already is updated (its enabled switch is kept). Rules
    /// under a `rules-threat-hunting` folder are loaded as hunting rules. Exits non-zero when
    /// a file was refused.
    Import {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Backtest a rule file (Sigma YAML, or AOC's JSON rule) over the stored events: how many
    /// alerts it would raise and on which events. Nothing is saved.
    Test {
        /// The rule file (.yml/.yaml: Sigma; .json: the body of POST /api/rules).
        file: std::path::PathBuf,
        /// How far back: 30m, 24h, 7d...
        #[arg(long, default_value = "7d")]
        since: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MaintenanceAction {
    /// Re-run normalization over the stored raw records and rewrite the normalized columns.
    ///
    /// Goes through the events by id, one transaction per batch, and remembers how far it got:
    /// an interrupted run continues where it stopped. An event's identity (tenant, record id,
    /// dedupe key) is never changed; events whose identity would now differ are reported.
    /// Synthetic events are skipped.
    Renormalize {
        /// Stop after this many events (run again to continue).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// Events per batch and transaction.
        #[arg(long, default_value_t = aoc::maintenance::renormalize::DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch_size: u64,
        /// Forget the progress of an interrupted run and start from the first event.
        #[arg(long)]
        restart: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report events stored more than once (remove them with --apply).
    ///
    /// Looks for events sharing a tenant and dedupe key, and for events holding the same record
    /// (tenant, source, record id) under different dedupe keys. With --apply, keeps the lowest id of each group and removes the others; their tags,
    /// comments, alerts and export entries move to the kept event.
    Dedupe {
        /// Remove the extra events.
        #[arg(long)]
        apply: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the storage invariants and print each violation; exits 1 when one is broken.
    ///
    /// Checks raw records (present, JSON unless stored with a normalization error), sources,
    /// dedupe keys, rows pointing at missing events, watermarks against the coverage ledger,
    /// coverage windows against the seen blobs, and the hourly counts. Events stored raw are
    /// counted, not violations.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the hourly event counts (what the histogram and facet totals read) from the
    /// events. Triggers keep them exact; run this when `verify` reports `hourly_counts`.
    Recount,
}

/// Flags of `aoc simulate`.
#[derive(clap::Args)]
struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5100")]
    addr: std::net::SocketAddr,
    /// Seed of tenants, credentials and activity: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of simulated tenants.
    #[arg(long, default_value_t = 2)]
    tenants: usize,
    /// Days of activity history that exist at start-up.
    #[arg(long, default_value_t = 8)]
    days: u32,
    /// Average events per tenant per day over all sources.
    #[arg(long, default_value_t = 2000)]
    events_per_day: u32,
    /// Leave out the attack scenarios woven into normal activity.
    #[arg(long)]
    no_scenarios: bool,
    /// Base URL clients reach the simulator at, if not http://ADDR (used in returned links).
    #[arg(long)]
    public_url: Option<String>,
    /// Management Activity API requests allowed per tenant and minute (AF429 beyond).
    #[arg(long, default_value_t = 2000)]
    budget_per_minute: u32,
    /// HTTP status of AF429 answers (Microsoft documents 403).
    #[arg(long, default_value_t = 403)]
    af429_status: u16,
    /// Content blobs per listing page before NextPageUri is sent.
    #[arg(long, default_value_t = 200)]
    page_size: usize,
    /// Seconds between two subscription starts of one content type (0: no throttle).
    #[arg(long, default_value_t = 900)]
    start_throttle_secs: u64,
    /// Graph auditLogs requests allowed per app and tenant per 10 s (0: unlimited).
    #[arg(long, default_value_t = 5)]
    graph_reports_limit: u32,
    /// Accept http:// webhook and notification URLs (Microsoft requires https).
    #[arg(long)]
    allow_http_webhooks: bool,
    /// Faults to inject from the start, as JSON in the shape of PUT /_sim/faults,
    /// e.g. '{"latency_ms":50,"random_5xx_rate":0.02,"oversized_blob_mb":200}'.
    #[arg(long)]
    faults: Option<String>,
}

#[derive(Subcommand)]
enum BenchKind {
    /// End-to-end ingestion from a simulator process over HTTP into a database, with peak memory.
    Ingest {
        /// Database to ingest into (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Average events per tenant per day in the simulator.
        #[arg(long, default_value_t = 100_000)]
        events_per_day: u32,
        /// Hours to collect.
        #[arg(long, default_value_t = 48)]
        hours: u32,
        /// Add one oversized blob of this many MB (and collect only the Unified Audit Log).
        #[arg(long, default_value_t = 0)]
        blob_mb: u32,
        /// Management API budget (requests per minute) enforced by the simulator and given to
        /// AOC; reports the time the budget allows and the most requests in any minute.
        #[arg(long)]
        budget: Option<u32>,
        /// Sources to collect, comma-separated (default: all four; only `unified` with
        /// --blob-mb or --budget). Sign-ins and directory audits share Microsoft's limit of 5
        /// requests per 10 s, so they measure the limit, not AOC.
        #[arg(long, value_delimiter = ',')]
        sources: Vec<String>,
        /// Run the full-text indexer beside collection (as the server does) and report when
        /// every event is searchable by its raw values.
        #[arg(long)]
        with_indexer: bool,
        /// Export destinations receiving every event (queued, not delivered): what export adds
        /// to the write path.
        #[arg(long, default_value_t = 0)]
        destinations: u32,
        /// Run the detection rules (the built-in pack) beside collection, as the server does,
        /// and report when every event has been evaluated.
        #[arg(long)]
        with_rules: bool,
    },
    /// Delivery throughput of the export worker into a local webhook receiver, and its memory
    /// with a slow receiver.
    Export {
        /// Database to use (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events to generate, queue and deliver.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Events per request.
        #[arg(long, default_value_t = 500)]
        batch_size: i32,
        /// Lanes (sources) delivered at once.
        #[arg(long, default_value_t = 2)]
        concurrency: i32,
        /// The receiver answers each request after this many milliseconds.
        #[arg(long, default_value_t = 0)]
        slow_ms: u64,
    },
    /// Rule evaluation throughput: every enabled rule (the built-in pack is stored first) over
    /// N stored events, loaded from the simulator if needed.
    Rules {
        /// Database (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events to evaluate.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
    },
    /// Query latency (p50, p95) on a database of N generated events, loaded if needed.
    Query {
        /// Database to query (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events the database should hold.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Timed runs per query.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// The server render of every page of the web UI over N generated events (loaded if
    /// needed; the data of `bench query`): p50 / p95 per page against the 50 ms target.
    Pages {
        /// Database to read (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events the database should hold.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Timed requests per page (after a tenth as many to warm up).
        #[arg(long, default_value_t = 40)]
        requests: usize,
    },
    /// The investigation overview (exact counts, failures, samples) over N generated events,
    /// loaded if needed (the same data as `bench query`).
    Overview {
        /// Database to query (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events the database should hold.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Timed runs per case.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The entity graph (aggregation, cap, layout) over N generated events, loaded if needed.
    Graph {
        /// Database to query (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events the database should hold.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Timed runs per case.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The sign-in map (read, locate, new countries, impossible travel) over N generated events,
    /// loaded if needed; GEOIP_DATABASE places addresses too.
    Map {
        /// Database to query (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Events the database should hold.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Timed runs per case.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// What sign-in costs per request: an existing session (against sign-in off) and bearer
    /// validation with a warm key cache.
    Auth {
        /// Database for the sessions (default: a temporary SQLite file).
        #[arg(long)]
        database_url: Option<String>,
        /// Timed requests per case.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Records per second the simulator serves over loopback (blobs and Graph pages).
    Simulator {
        /// Average events per tenant per day.
        #[arg(long, default_value_t = 400_000)]
        events_per_day: u32,
        /// Days of history to fetch.
        #[arg(long, default_value_t = 2)]
        days: u32,
        /// Blobs fetched at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List applied and pending migrations.
    Status,
}

fn main() -> ExitCode {
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            eprintln!("aoc: could not read .env: {error}");
            return ExitCode::from(2);
        }
    }
    let cli = Cli::parse();
    let command = match cli.command {
        Some(Command::Bench { which: BenchKind::Simulator { events_per_day, days, concurrency } }) => {
            telemetry::init(aoc::config::LogFormat::Text);
            let result = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(aoc::simulator::bench::run(events_per_day, days, concurrency)));
            return match result {
                Ok(report) => {
                    report.print();
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("aoc bench: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Bench {
            which:
                BenchKind::Ingest {
                    database_url,
                    events_per_day,
                    hours,
                    blob_mb,
                    budget,
                    sources,
                    with_indexer,
                    destinations,
                    with_rules,
                },
        }) => {
            telemetry::init(aoc::config::LogFormat::Text);
            let bench = aoc::ingest::bench::run(
                database_url,
                events_per_day,
                hours,
                blob_mb,
                budget,
                sources,
                with_indexer,
                destinations,
                with_rules,
            );
            let result = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(bench));
            return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("aoc bench: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Bench {
            which: BenchKind::Export { database_url, events, batch_size, concurrency, slow_ms },
        }) => {
            return run_bench(aoc::export::bench::run(database_url, events, batch_size, concurrency, slow_ms));
        }
        Some(Command::Bench { which: BenchKind::Auth { database_url, requests } }) => {
            return run_bench(aoc::auth::bench::run(database_url, requests));
        }
        Some(Command::Bench { which: BenchKind::Rules { database_url, events } }) => {
            return run_bench(aoc::services::bench::run_rules(database_url, events));
        }
        Some(Command::Bench { which: BenchKind::Pages { database_url, events, requests } }) => {
            return run_bench(aoc::services::pages_bench::run(database_url, events, requests));
        }
        Some(Command::Bench { which: BenchKind::Overview { database_url, events, runs } }) => {
            return run_bench(aoc::services::investigate_bench::run(database_url, events, runs));
        }
        Some(Command::Bench { which: BenchKind::Graph { database_url, events, runs } }) => {
            return run_bench(aoc::services::investigate_bench::run_graph(database_url, events, runs));
        }
        Some(Command::Bench { which: BenchKind::Map { database_url, events, runs } }) => {
            return run_bench(aoc::services::investigate_bench::run_map(database_url, events, runs));
        }
        Some(Command::Bench { which: BenchKind::Query { database_url, events, runs } }) => {
            return run_bench(aoc::services::bench::run(database_url, events, runs));
        }
        Some(Command::Simulate(args)) => {
            // The simulator stands apart from AOC: it reads none of AOC's settings.
            telemetry::init(aoc::config::LogFormat::Text);
            return match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => match rt.block_on(simulate(args)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("aoc simulate: {error:#}");
                        ExitCode::FAILURE
                    }
                },
                Err(error) => {
                    eprintln!("aoc: could not start the async runtime: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        other => other.unwrap_or(Command::Serve),
    };
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("aoc: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    // PostgreSQL partitions hold a day, a week or a month of events, by RETENTION_DAYS.
    aoc::store::partitions::configure(settings.retention_days);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("aoc: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("aoc: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            tracing::info!(database = %settings.database_url.redacted(), "starting AOC {}", env!("CARGO_PKG_VERSION"));
            let app = Application::build(settings).await?;
            let stop = shutdown_signal();
            tracing::info!("listening on http://{}", app.local_addr());
            app.run_until(stop).await.context("server error")?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate { action } => {
            let db = store::connect(&settings.database_url).await?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => {
                    let pending = Migrator::get_pending_migrations(&db).await?.len();
                    store::migrate(&db).await?;
                    println!("applied {pending} migration(s); the database is up to date");
                }
                MigrateAction::Down { steps } => {
                    Migrator::down(&db, Some(steps)).await.context("rollback failed")?;
                    println!("rolled back {steps} migration(s)");
                }
                MigrateAction::Status => {
                    for m in Migrator::get_applied_migrations(&db).await? {
                        println!("applied  {}", m.name());
                    }
                    for m in Migrator::get_pending_migrations(&db).await? {
                        println!("pending  {}", m.name());
                    }
                }
            }
            Ok(())
        }
        Command::Simulate(_) | Command::Bench { .. } => unreachable!("handled before settings are read"),
        Command::Fetch { hours, json } => {
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            let sim = if settings.collection.demo {
                let sim = aoc::simulator::spawn(
                    aoc::simulator::SimConfig { seed: 2026, tenants: 1, events_per_day: 3_000, ..Default::default() },
                    "127.0.0.1:0".parse()?,
                )
                .await?;
                Some(sim)
            } else {
                None
            };
            let collector = std::sync::Arc::new(aoc::ingest::build_collector(
                &settings.collection,
                db.clone(),
                sim.as_ref().map(aoc::startup::demo_connector),
            )?);
            // Tenants stored in the database (`/api/tenants`) are collected too.
            let tenants = aoc::tenants::TenantService::new(db.clone(), &settings, collector.clone(), None);
            tenants.sync().await?;
            if collector.connectors().is_empty() {
                anyhow::bail!("no tenant is configured: set TENANT_ID, CLIENT_ID and CLIENT_SECRET (or CLIENT_CERTIFICATE_PATH and CLIENT_PRIVATE_KEY_PATH), add one with POST /api/tenants, or set AOC_DEMO=true");
            }
            // Rules run on what this collection stores, as they do under `aoc serve`: a pass
            // whenever the write path announces new events, and one last pass at the end.
            let mut announcements = collector.subscribers.subscribe();
            let collection = collector.collect_all(Some(hours), true);
            tokio::pin!(collection);
            let summary = if settings.alerts_enabled {
                aoc::services::detection::seed_builtin(&db).await?;
                let summary = loop {
                    tokio::select! {
                        summary = &mut collection => break summary,
                        _ = announcements.recv() => {
                            if let Err(e) = aoc::services::detection::catch_up(&db).await {
                                tracing::error!(error = %e, "rule evaluation failed; it is retried");
                            }
                        }
                    }
                };
                let outcome = aoc::services::detection::catch_up(&db).await?;
                tracing::info!(events = outcome.events, alerts = outcome.alerts_created, "rules evaluated");
                summary
            } else {
                collection.await
            };
            print_summary(&summary, json)?;
            if let Some(sim) = sim {
                sim.stop();
            }
            if summary.sources.iter().any(|s| s.state == "failing" || s.state == "throttled") {
                anyhow::bail!("some sources failed; see above");
            }
            Ok(())
        }
        Command::Import { source, tenant, format, json, files } => {
            let source = aoc::normalize::Source::parse(&source)
                .ok_or_else(|| anyhow::anyhow!("--source must be unified, directory, signin or intune"))?;
            let format = match format.as_deref() {
                Some(f) => Some(
                    aoc::ingest::import::Format::parse(f)
                        .ok_or_else(|| anyhow::anyhow!("--format must be jsonl, json or purview-csv"))?,
                ),
                None => None,
            };
            if format == Some(aoc::ingest::import::Format::PurviewCsv) && source != aoc::normalize::Source::Unified {
                anyhow::bail!("Purview CSV exports hold Unified Audit Log records: use --source unified");
            }
            let fallback = std::env::var("TENANT_ID").ok().filter(|t| !t.trim().is_empty());
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            if settings.alerts_enabled {
                aoc::services::detection::seed_builtin(&db).await?;
            }
            let started_at = chrono::Utc::now();
            let clock = std::time::Instant::now();
            let mut summaries = std::collections::BTreeMap::new();
            let mut unreadable = Vec::new();
            for path in &files {
                let text = match std::fs::read_to_string(path) {
                    Ok(text) => text,
                    Err(e) => {
                        unreadable.push(format!("{}: {e}", path.display()));
                        continue;
                    }
                };
                let shape =
                    format.unwrap_or_else(|| aoc::ingest::import::Format::guess(&path.to_string_lossy(), &text));
                match aoc::ingest::import::records(&text, shape) {
                    Ok(records) => {
                        aoc::ingest::import::import(
                            &db,
                            source,
                            tenant.as_deref(),
                            fallback.as_deref(),
                            records,
                            &mut summaries,
                        )
                        .await?
                    }
                    Err(e) => unreadable.push(format!("{}: {e}", path.display())),
                }
            }
            if settings.alerts_enabled {
                let outcome = aoc::services::detection::catch_up(&db).await?;
                tracing::info!(events = outcome.events, alerts = outcome.alerts_created, "rules evaluated");
            }
            let seconds = clock.elapsed().as_secs_f64();
            let mut sources: Vec<aoc::ingest::summary::SourceSummary> = summaries.into_values().collect();
            for s in &mut sources {
                s.seconds = seconds;
            }
            let summary = aoc::ingest::summary::CollectSummary {
                hours: 0,
                started_at: started_at.to_rfc3339(),
                finished_at: chrono::Utc::now().to_rfc3339(),
                sources,
            };
            print_summary(&summary, json)?;
            for problem in &unreadable {
                eprintln!("not imported: {problem}");
            }
            if !unreadable.is_empty() || summary.sources.iter().any(|s| s.failed > 0) {
                anyhow::bail!("some records were not imported; see above");
            }
            Ok(())
        }
        Command::Maintenance { action } => {
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            maintenance(&db, action, &settings).await
        }
        Command::Rules { action: RulesAction::Import { paths, json } } => {
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            let caller = aoc::auth::Caller {
                subject: "cli".into(),
                display_name: "aoc rules import".into(),
                role: aoc::auth::Role::Admin,
                method: app::auth::AuthMethod::LocalAdmin,
            };
            let mut files = Vec::new();
            let mut outcomes = Vec::new();
            for (path, text) in aoc::services::detection::sigma_files(&paths) {
                match text {
                    Ok(text) => files.push((path, text)),
                    Err(reason) => outcomes.push(aoc::services::detection::ImportOutcome {
                        path,
                        status: "refused",
                        rule_id: None,
                        title: None,
                        sigma_id: None,
                        reason: Some(reason),
                    }),
                }
            }
            outcomes.extend(aoc::services::detection::import_sigma(&db, &caller, files).await);
            if json {
                println!("{}", serde_json::to_string_pretty(&outcomes)?);
            } else {
                for o in &outcomes {
                    match o.status {
                        "refused" => println!("refused  {}: {}", o.path, o.reason.as_deref().unwrap_or_default()),
                        status => println!(
                            "{status:<8} {}: {} (rule {})",
                            o.path,
                            o.title.as_deref().unwrap_or_default(),
                            o.rule_id.unwrap_or_default()
                        ),
                    }
                }
                let loaded = outcomes.iter().filter(|o| o.status != "refused").count();
                println!("{loaded} of {} file(s) loaded", outcomes.len());
            }
            if outcomes.iter().any(|o| o.status == "refused") {
                anyhow::bail!("some files were refused; see above");
            }
            Ok(())
        }
        Command::Rules { action: RulesAction::Test { file, since, json } } => {
            let span = aoc::rules::parse_span(&since).context("--since takes a span such as 30m, 24h or 7d")?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("could not read {}", file.display()))?;
            let input: aoc::services::detection::RuleInput = if file.extension().is_some_and(|e| e == "json") {
                serde_json::from_str(&text).context("the JSON rule is invalid")?
            } else {
                aoc::services::detection::RuleInput { sigma: Some(text), ..Default::default() }
            };
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            let until = chrono::Utc::now();
            let service = aoc::services::detection::DetectionService::new(db);
            let result =
                service.backtest(None, Some(input), until - span, until).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!(
                    "{} event(s) scanned in {:.2}s, {} match(es), {} alert(s){}",
                    result.events_scanned,
                    result.seconds,
                    result.matches,
                    result.alerts.len(),
                    if result.truncated { " (stopped at the event limit)" } else { "" }
                );
                for a in &result.alerts {
                    println!(
                        "  {} {:<40} {:>6} event(s) {} .. {}  e.g. {}",
                        a.tenant,
                        a.key,
                        a.count,
                        a.first_seen.format("%Y-%m-%d %H:%M"),
                        a.last_seen.format("%Y-%m-%d %H:%M"),
                        a.event_ids.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::Generate { events, days, seed, hostile } => {
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            let started = std::time::Instant::now();
            let inserted = store::synthetic::generate(&db, events, days, seed, chrono::Utc::now()).await?;
            println!(
                "inserted {inserted} synthetic event(s) of {events} in {:.1}s (tenant {})",
                started.elapsed().as_secs_f64(),
                store::synthetic::SYNTHETIC_TENANT
            );
            if hostile {
                let inserted = store::synthetic::generate_hostile(&db, days, chrono::Utc::now()).await?;
                println!("inserted {inserted} hostile record(s) (tenant {})", store::synthetic::HOSTILE_TENANT);
            }
            Ok(())
        }
    }
}

async fn maintenance(
    db: &sea_orm::DatabaseConnection,
    action: MaintenanceAction,
    settings: &aoc::config::Settings,
) -> anyhow::Result<()> {
    use aoc::maintenance;
    match action {
        MaintenanceAction::Renormalize { limit, batch_size, restart, json } => {
            // The environment tenant's TENANT_DOMAINS (collection also asks Graph; this does not).
            let tenant_domains = settings
                .collection
                .tenant_id
                .iter()
                .map(|tenant| (tenant.clone(), settings.collection.tenant_domains.clone()))
                .collect();
            let options = maintenance::RenormalizeOptions { limit, batch_size, restart, tenant_domains };
            let report = maintenance::renormalize(db, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
        MaintenanceAction::Dedupe { apply, json } => {
            let report = maintenance::dedupe(db, apply).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
        MaintenanceAction::Recount => {
            let rows = aoc::store::rollup::recount(db).await?;
            println!("hourly counts rebuilt: {rows} (tenant, source, hour) rows");
        }
        MaintenanceAction::Verify { json } => {
            let report = maintenance::verify(db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            if !report.is_ok() {
                anyhow::bail!("verify found {} violation(s)", report.violation_total());
            }
        }
    }
    Ok(())
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use aoc::simulator::{self, Faults, SimConfig};
    let faults: Faults = match &args.faults {
        Some(json) => serde_json::from_str(json).context("--faults is not valid fault JSON (see PUT /_sim/faults)")?,
        None => Faults::default(),
    };
    let config = SimConfig {
        seed: args.seed,
        tenants: args.tenants.max(1),
        history_days: args.days,
        events_per_day: args.events_per_day,
        scenarios: !args.no_scenarios,
        public_base_url: args.public_url.map(|u| u.trim_end_matches('/').to_string()),
        management_budget_per_minute: args.budget_per_minute,
        af429_status: args.af429_status,
        content_page_size: args.page_size.max(1),
        start_throttle_secs: args.start_throttle_secs,
        graph_reports_limit: args.graph_reports_limit,
        allow_http_webhooks: args.allow_http_webhooks,
        ..SimConfig::default()
    };
    let sim =
        simulator::spawn(config, args.addr).await.with_context(|| format!("could not listen on {}", args.addr))?;
    sim.state.runtime().faults = faults;
    let stop = shutdown_signal();
    println!("AOC Microsoft 365 simulator listening on {}", sim.base_url);
    println!("  token:      POST {0}/{{tenant}}/oauth2/v2.0/token (and /oauth2/token)", sim.base_url);
    println!("  management: {0}/api/v1.0/{{tenant}}/activity/feed/...", sim.base_url);
    println!(
        "  graph:      {0}/v1.0/auditLogs/directoryAudits | signIns, /v1.0/deviceManagement/auditEvents",
        sim.base_url
    );
    println!(
        "  control:    {0}/_sim/tenants, /_sim/faults, /_sim/ground-truth, /_sim/stats, /_sim/clock",
        sim.base_url
    );
    println!("Simulated tenants (test credentials, not real secrets):");
    for t in &sim.state.tenants {
        println!("  {} ({}) {}", t.model.tenant_id, t.model.domain, t.model.display_name);
        for app in &t.apps {
            println!(
                "    app {:<36} secret {}  roles [{}]  ({})",
                app.client_id,
                app.secret,
                app.roles.join(", "),
                app.display_name
            );
        }
    }
    println!(
        "Certificate credential: the same test certificate for every app; PEMs at GET {}/_sim/tenants",
        sim.base_url
    );
    stop.await;
    sim.stop();
    Ok(())
}

/// Runs a benchmark on a new runtime with text logs; its error is printed.
fn run_bench(bench: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    telemetry::init(aoc::config::LogFormat::Text);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(bench));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("aoc bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what a collection or an import did: a table, or the JSON summary.
fn print_summary(summary: &aoc::ingest::summary::CollectSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    println!(
        "{:<38} {:<10} {:>9} {:>9} {:>10} {:>6} {:>9}  state",
        "tenant", "source", "fetched", "inserted", "duplicates", "failed", "seconds"
    );
    for s in &summary.sources {
        println!(
            "{:<38} {:<10} {:>9} {:>9} {:>10} {:>6} {:>9.1}  {}",
            s.tenant_id, s.source, s.fetched, s.inserted, s.duplicates, s.failed, s.seconds, s.state
        );
        if s.normalize_errors > 0 {
            println!("    {} records could not be read and were stored raw, flagged", s.normalize_errors);
        }
        for w in &s.warnings {
            println!("    warning: {w}");
        }
        if let Some(e) = &s.error {
            println!("    error: {e}");
        }
    }
    Ok(())
}

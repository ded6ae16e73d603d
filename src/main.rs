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
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("aoc: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("aoc: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
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
        Command::Generate { events, days, seed } => {
            let db = store::connect(&settings.database_url).await?;
            store::migrate(&db).await?;
            let started = std::time::Instant::now();
            let inserted = store::synthetic::generate(&db, events, days, seed, chrono::Utc::now()).await?;
            println!(
                "inserted {inserted} synthetic event(s) of {events} in {:.1}s (tenant {})",
                started.elapsed().as_secs_f64(),
                store::synthetic::SYNTHETIC_TENANT
            );
            Ok(())
        }
    }
}

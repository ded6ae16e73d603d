//! The `aoc` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn aoc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoc"));
    // A clean environment apart from what the test sets: no stray DATABASE_URL or .env.
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serve_with_no_configuration_creates_its_sqlite_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = aoc()
        .current_dir(dir.path())
        .env("AOC_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if line.contains("listening on") {
            break;
        }
        assert!(Instant::now() < deadline, "server did not start");
    }
    assert!(dir.path().join("data/aoc.db").exists(), "the default database is created under ./data");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}\n{rest:?}");
    assert!(rest.iter().any(|l| l.contains("SIGTERM received")), "{rest:?}");
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = aoc().current_dir(dir.path()).env("FETCH_INTERVAL_MINUTES", "soon").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FETCH_INTERVAL_MINUTES"), "{stderr}");
    assert!(stderr.contains("whole number"), "{stderr}");
}

#[test]
fn serve_refuses_a_network_address_without_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = aoc().current_dir(dir.path()).env("AOC_LISTEN_ADDR", "0.0.0.0:3999").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AOC_ALLOW_UNAUTHENTICATED_NETWORK"), "{stderr}");
}

#[test]
fn migrate_applies_then_reports_status_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = aoc().current_dir(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let count = <migration::Migrator as migration::MigratorTrait>::migrations().len();
    assert!(run(&["migrate"]).contains(&format!("applied {count} migration")));
    assert!(run(&["migrate", "status"]).contains("applied  m20261122_000001_initial_schema"));
    run(&["migrate", "down", "--steps", &count.to_string()]);
    assert!(run(&["migrate", "status"]).contains("pending  m20261122_000001_initial_schema"));
}

#[test]
fn help_explains_every_command() {
    let out = aoc().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "migrate", "generate"] {
        assert!(help.contains(command), "{help}");
    }
}

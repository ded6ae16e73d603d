//! `aoc bench pages`: the server render of every page of the web UI on N generated events
//! (loaded if missing; the data of `bench query`). A real server is started in-process and each
//! page is fetched over HTTP as a browser's first request would be: the whole server-rendered
//! document, data included. Prints p50 / p95 per page against the 50 ms target.

use crate::config::DatabaseUrl;

/// The target: each page's server render p95, in milliseconds.
const TARGET_MS: f64 = 50.0;

/// Runs the benchmark with `requests` timed requests per page.
pub async fn run(database_url: Option<String>, events: u64, requests: usize) -> anyhow::Result<()> {
    let dir = super::bench::tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url.clone())).await?;
    crate::store::migrate(&db).await?;
    println!(
        "aoc bench pages: {}, target {events} events, {requests} requests per page",
        crate::store::backend_name(&db)
    );
    super::bench::load(&db, events).await?;
    crate::store::refresh_statistics(&db).await?;
    let newest: Option<i64> = crate::store::query::EventStore::new(db.clone())
        .page(&app::query::EventQuery::default(), None, 1, false)
        .await?
        .items
        .first()
        .map(|e| e.id);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let vars = [("AOC_LISTEN_ADDR", listen.as_str()), ("DATABASE_URL", url.as_str()), ("AOC_DEMO", "false")];
    let (tx, server) = crate::auth::bench::serve(&vars, &db).await?;
    let client = reqwest::Client::new();
    let mut pages = vec![
        "/events".to_string(),
        "/events?last=24h&service=Exchange".to_string(),
        "/events?search=forward*".to_string(),
        "/investigate?last=24h".to_string(),
        "/investigate".to_string(),
        "/investigate?last=24h&tab=graph".to_string(),
        "/alerts".to_string(),
        "/rules".to_string(),
        "/sources".to_string(),
        "/watchlists".to_string(),
        "/destinations".to_string(),
        "/audit".to_string(),
        "/settings".to_string(),
        "/settings/tokens".to_string(),
    ];
    if let Some(id) = newest {
        pages.insert(3, format!("/events/{id}"));
    }
    let mut missed = Vec::new();
    for page in &pages {
        let samples =
            crate::auth::bench::time_requests(&client, &format!("http://{listen}{page}"), None, requests).await?;
        let (p50, p95, _) = crate::auth::bench::percentiles(samples);
        let verdict = if p95 <= TARGET_MS { "met" } else { "NOT met" };
        println!("{page:<40} p50 {p50:>8.1} ms   p95 {p95:>8.1} ms   (≤ {TARGET_MS} ms: {verdict})");
        if p95 > TARGET_MS {
            missed.push(page.clone());
        }
    }
    if missed.is_empty() {
        println!("every page renders within {TARGET_MS} ms at p95");
    } else {
        println!("over {TARGET_MS} ms at p95: {}", missed.join(", "));
    }
    let _ = tx.send(());
    server.await??;
    Ok(())
}

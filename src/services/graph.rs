//! The entity graph, pure: from grouped events (actor, operation, targets, IP, count) to nodes and
//! weighted edges — actor → operation, operation → target, actor → IP — capped to the heaviest
//! edges, laid out by a deterministic force layout (Fruchterman–Reingold, fixed start, fixed
//! iterations) so the page can draw it as SVG before hydration, and written as GraphML.

use std::collections::HashMap;

use app::investigate::{EntityGraph, GraphEdge, GraphNode};

use crate::store::investigate::GraphRow;

/// Layout area.
pub const WIDTH: f32 = 1000.0;
pub const HEIGHT: f32 = 700.0;
const ITERATIONS: usize = 120;
/// Targets of one event taken into the graph.
const TARGETS_PER_EVENT: usize = 5;
/// Longest label kept.
const MAX_LABEL: usize = 120;

fn node_id(kind: &str, value: &str) -> String {
    format!("{kind}:{value}")
}

fn label(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_LABEL).collect()
}

/// The display names (else ids) of a stored targets JSON array.
fn target_names(json: &str) -> Vec<String> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|t| t.get("display").or_else(|| t.get("id")).and_then(|v| v.as_str()))
        .filter(|s| !s.trim().is_empty())
        .take(TARGETS_PER_EVENT)
        .map(label)
        .collect()
}

/// Builds the graph of `rows`, keeping the `edge_cap` heaviest edges (ties by name, so the same
/// events give the same graph). `kinds` names the node kinds drawn (empty: all); without
/// operations, actors link straight to their targets.
pub fn build(rows: &[GraphRow], edge_cap: u32, kinds: &[String]) -> EntityGraph {
    let shown = |kind: &str| kinds.is_empty() || kinds.iter().any(|k| k == kind);
    let (show_actor, show_operation, show_target, show_ip) =
        (shown("actor"), shown("operation"), shown("target"), shown("ip"));
    let mut total = 0u64;
    let mut nodes: HashMap<String, (String, String, u64)> = HashMap::new();
    // Edges are sorted below by count and names, so their map's order does not matter.
    let mut edges: HashMap<(String, String), u64> = HashMap::new();
    let mut add_node = |kind: &str, value: &str, n: u64| {
        let id = node_id(kind, value);
        nodes
            .entry(id.clone())
            .or_insert_with(|| {
                let shown = if kind == "actor" { app::appnames::display(value) } else { value.to_string() };
                (kind.to_string(), label(&shown), 0)
            })
            .2 += n;
        id
    };
    // The rows repeat few distinct targets lists: each is parsed once.
    let mut parsed: HashMap<&str, Vec<String>> = HashMap::new();
    for row in rows {
        let n = row.n.max(0) as u64;
        total += n;
        let actor_name = if row.actor.is_empty() { "(unknown actor)" } else { row.actor.as_str() };
        let actor = show_actor.then(|| add_node("actor", actor_name, n));
        let operation = show_operation.then(|| add_node("operation", &row.operation, n));
        if let (Some(a), Some(o)) = (&actor, &operation) {
            *edges.entry((a.clone(), o.clone())).or_default() += n;
        }
        if show_target {
            let targets = parsed.entry(row.targets.as_str()).or_insert_with(|| target_names(&row.targets));
            for target in targets.iter() {
                let target = add_node("target", target, n);
                if let Some(from) = operation.as_ref().or(actor.as_ref()) {
                    *edges.entry((from.clone(), target)).or_default() += n;
                }
            }
        }
        if let Some(ip) = row.ip.as_deref().filter(|ip| show_ip && !ip.is_empty()) {
            let ip = add_node("ip", ip, n);
            if let Some(a) = &actor {
                *edges.entry((a.clone(), ip)).or_default() += n;
            }
        }
    }
    let edges_total = edges.len() as u64;
    let mut edges: Vec<GraphEdge> =
        edges.into_iter().map(|((source, target), count)| GraphEdge { source, target, count }).collect();
    edges.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.source, &a.target).cmp(&(&b.source, &b.target))));
    edges.truncate(edge_cap as usize);
    let mut kept: Vec<String> = edges.iter().flat_map(|e| [e.source.clone(), e.target.clone()]).collect();
    kept.sort();
    kept.dedup();
    let mut nodes: Vec<GraphNode> = kept
        .into_iter()
        .filter_map(|id| {
            nodes.get(&id).map(|(kind, label, count)| GraphNode {
                id: id.clone(),
                kind: kind.clone(),
                label: label.clone(),
                count: *count,
                x: 0.0,
                y: 0.0,
                watchlists: Vec::new(),
            })
        })
        .collect();
    layout(&mut nodes, &edges);
    EntityGraph { total_events: total, nodes, edges, edges_total, edge_cap }
}

/// The watchlists an actor (`kind` "actor") or address ("ip") is on, as `watchlist:NAME` would
/// match it: `items` are (list name, kind, lower-case value); sorted, each once.
pub fn lists_of(items: &[(String, String, String)], kind: &str, value: &str) -> Vec<String> {
    let value = value.to_lowercase();
    let mut on: Vec<String> = items
        .iter()
        .filter(|(_, list_kind, item)| match (kind, list_kind.as_str()) {
            ("actor", "user" | "app") => *item == value,
            ("actor", "domain") => value.ends_with(&format!("@{item}")),
            ("ip", "ip") => *item == value,
            _ => false,
        })
        .map(|(name, _, _)| name.clone())
        .collect();
    on.sort();
    on.dedup();
    on
}

/// Marks the actor and address nodes that are on a watchlist (see [`lists_of`]).
pub fn mark_watchlists(graph: &mut EntityGraph, items: &[(String, String, String)]) {
    for node in &mut graph.nodes {
        let Some((kind, value)) = node.id.split_once(':') else { continue };
        node.watchlists = lists_of(items, kind, value);
    }
}

/// Shows application names on the actor nodes that are application ids with one (the tenants'
/// own applications; Microsoft's are named by [`build`]).
pub fn name_apps(graph: &mut EntityGraph, names: &super::app_names::AppNames) {
    for node in &mut graph.nodes {
        if let Some(name) = node.id.strip_prefix("actor:").and_then(|value| names.name(value)) {
            node.label = label(&name);
        }
    }
}

/// Fruchterman–Reingold from a fixed start (kinds in columns), so the same graph always gets the
/// same picture.
fn layout(nodes: &mut [GraphNode], edges: &[GraphEdge]) {
    let n = nodes.len();
    if n == 0 {
        return;
    }
    let column = |kind: &str| match kind {
        "ip" => 0.1,
        "actor" => 0.3,
        "operation" => 0.6,
        _ => 0.85,
    };
    let mut per_kind: HashMap<String, usize> = HashMap::new();
    let mut pos: Vec<(f32, f32)> = Vec::with_capacity(n);
    let kind_totals: HashMap<String, usize> = nodes.iter().fold(HashMap::new(), |mut m, node| {
        *m.entry(node.kind.clone()).or_default() += 1;
        m
    });
    for node in nodes.iter() {
        let i = per_kind.entry(node.kind.clone()).or_default();
        let of = kind_totals[&node.kind] as f32;
        pos.push((column(&node.kind) * WIDTH, (*i as f32 + 0.5) / of * HEIGHT));
        *i += 1;
    }
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, node)| (node.id.as_str(), i)).collect();
    let links: Vec<(usize, usize, f32)> = edges
        .iter()
        .filter_map(|e| {
            Some((*index.get(e.source.as_str())?, *index.get(e.target.as_str())?, (e.count as f32).ln_1p()))
        })
        .collect();
    let k = (WIDTH * HEIGHT / n as f32).sqrt() * 0.6;
    let mut temperature = WIDTH / 10.0;
    // Quadratic per step: large graphs get fewer steps.
    let iterations = if n > 600 { ITERATIONS / 4 } else { ITERATIONS };
    for _ in 0..iterations {
        let mut shift = vec![(0.0f32, 0.0f32); n];
        for a in 0..n {
            for b in (a + 1)..n {
                let (dx, dy) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
                let d2 = (dx * dx + dy * dy).max(0.01);
                let f = k * k / d2;
                shift[a].0 += dx * f;
                shift[a].1 += dy * f;
                shift[b].0 -= dx * f;
                shift[b].1 -= dy * f;
            }
        }
        for &(a, b, w) in &links {
            let (dx, dy) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
            let d = (dx * dx + dy * dy).sqrt().max(0.1);
            let f = d / k * (1.0 + w * 0.2);
            shift[a].0 -= dx * f;
            shift[a].1 -= dy * f;
            shift[b].0 += dx * f;
            shift[b].1 += dy * f;
        }
        for (p, s) in pos.iter_mut().zip(&shift) {
            let len = (s.0 * s.0 + s.1 * s.1).sqrt().max(0.01);
            let step = len.min(temperature);
            p.0 = (p.0 + s.0 / len * step).clamp(20.0, WIDTH - 20.0);
            p.1 = (p.1 + s.1 / len * step).clamp(20.0, HEIGHT - 20.0);
        }
        temperature = (temperature * 0.96).max(1.0);
    }
    for (node, p) in nodes.iter_mut().zip(pos) {
        node.x = (p.0 * 10.0).round() / 10.0;
        node.y = (p.1 * 10.0).round() / 10.0;
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The graph as GraphML (Gephi, yEd, Cytoscape).
pub fn graphml(graph: &EntityGraph) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n\
         <key id=\"kind\" for=\"node\" attr.name=\"kind\" attr.type=\"string\"/>\n\
         <key id=\"label\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>\n\
         <key id=\"count\" for=\"node\" attr.name=\"count\" attr.type=\"long\"/>\n\
         <key id=\"x\" for=\"node\" attr.name=\"x\" attr.type=\"float\"/>\n\
         <key id=\"y\" for=\"node\" attr.name=\"y\" attr.type=\"float\"/>\n\
         <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"long\"/>\n\
         <graph id=\"aoc\" edgedefault=\"directed\">\n",
    );
    for node in &graph.nodes {
        out.push_str(&format!(
            "<node id=\"{}\"><data key=\"kind\">{}</data><data key=\"label\">{}</data><data key=\"count\">{}</data>\
             <data key=\"x\">{}</data><data key=\"y\">{}</data></node>\n",
            xml_escape(&node.id),
            xml_escape(&node.kind),
            xml_escape(&node.label),
            node.count,
            node.x,
            node.y
        ));
    }
    for edge in &graph.edges {
        out.push_str(&format!(
            "<edge source=\"{}\" target=\"{}\"><data key=\"weight\">{}</data></edge>\n",
            xml_escape(&edge.source),
            xml_escape(&edge.target),
            edge.count
        ));
    }
    out.push_str("</graph>\n</graphml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(actor: &str, operation: &str, targets: &str, ip: Option<&str>, n: i64) -> GraphRow {
        GraphRow {
            actor: actor.into(),
            operation: operation.into(),
            targets: targets.into(),
            ip: ip.map(Into::into),
            n,
        }
    }

    #[test]
    fn edges_are_weighted_capped_heaviest_first_and_laid_out_the_same_way_twice() {
        let rows = vec![
            row("adele", "Set-Mailbox", r#"[{"display":"CEO mailbox"}]"#, Some("203.0.113.7"), 5),
            row("adele", "Set-Mailbox", r#"[{"display":"CEO mailbox"}]"#, None, 2),
            row("lee", "FileAccessed", r#"[{"id":"https://x/a.docx"}]"#, Some("198.51.100.2"), 1),
        ];
        let graph = build(&rows, 100, &[]);
        assert_eq!(graph.total_events, 8);
        let edge = |s: &str, t: &str| graph.edges.iter().find(|e| e.source == s && e.target == t).map(|e| e.count);
        assert_eq!(edge("actor:adele", "operation:Set-Mailbox"), Some(7));
        assert_eq!(edge("operation:Set-Mailbox", "target:CEO mailbox"), Some(7));
        assert_eq!(edge("actor:adele", "ip:203.0.113.7"), Some(5));
        assert_eq!(edge("operation:FileAccessed", "target:https://x/a.docx"), Some(1));
        assert_eq!(graph.edges_total, 6);
        assert_eq!(build(&rows, 100, &[]), graph, "deterministic");
        let capped = build(&rows, 2, &[]);
        assert_eq!(capped.edges.len(), 2);
        assert!(capped.edges.iter().all(|e| e.count == 7));
        assert_eq!(capped.nodes.len(), 3);
        assert!(graph.nodes.iter().all(|n| (0.0..=WIDTH).contains(&n.x) && (0.0..=HEIGHT).contains(&n.y)));
        let xml = graphml(&graph);
        assert!(xml.contains("<edge source=\"actor:adele\" target=\"operation:Set-Mailbox\"><data key=\"weight\">7"));
    }

    #[test]
    fn actors_and_addresses_on_watchlists_are_marked() {
        let rows = vec![row("Adele@Contoso.com", "Set-Mailbox", "[]", Some("203.0.113.7"), 1)];
        let mut graph = build(&rows, 100, &[]);
        let items = [
            ("admins".to_string(), "user".to_string(), "adele@contoso.com".to_string()),
            ("staff".to_string(), "domain".to_string(), "contoso.com".to_string()),
            ("bad_ips".to_string(), "ip".to_string(), "203.0.113.7".to_string()),
            ("other".to_string(), "user".to_string(), "set-mailbox".to_string()),
        ];
        mark_watchlists(&mut graph, &items);
        let on = |id: &str| graph.nodes.iter().find(|n| n.id == id).unwrap().watchlists.clone();
        assert_eq!(on("actor:Adele@Contoso.com"), ["admins", "staff"]);
        assert_eq!(on("ip:203.0.113.7"), ["bad_ips"]);
        assert!(on("operation:Set-Mailbox").is_empty(), "only actors and addresses");
    }

    #[test]
    fn hidden_kinds_leave_the_graph_and_actors_reach_targets_without_operations() {
        let rows = vec![
            row("adele", "Set-Mailbox", r#"[{"display":"CEO mailbox"}]"#, Some("203.0.113.7"), 5),
            row("lee", "FileAccessed", r#"[{"display":"CEO mailbox"}]"#, None, 2),
        ];
        let graph = build(&rows, 100, &["actor".into(), "target".into()]);
        assert!(graph.nodes.iter().all(|n| n.kind == "actor" || n.kind == "target"));
        let edge = |s: &str, t: &str| graph.edges.iter().find(|e| e.source == s && e.target == t).map(|e| e.count);
        assert_eq!(edge("actor:adele", "target:CEO mailbox"), Some(5));
        assert_eq!(edge("actor:lee", "target:CEO mailbox"), Some(2));
        assert_eq!(graph.edges.len(), 2);
        let no_ips = build(&rows, 100, &["actor".into(), "operation".into(), "target".into()]);
        assert!(no_ips.nodes.iter().all(|n| n.kind != "ip"));
        assert_eq!(no_ips.edges.len(), 4);
    }
}

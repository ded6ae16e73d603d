//! The sign-in map, pure: from events (address, sign-in location, time, person) to places on the
//! world map, the counts of events that cannot be placed, sign-ins from a country new for the
//! person, and impossible travel (two events of one person farther apart than
//! [`IMPOSSIBLE_SPEED_KMH`] allows). A sign-in's own coordinates win; then its country's centre;
//! then the IP database; private and reserved addresses are counted apart.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use app::investigate::{
    MapBasis, MapPoint, MapVisit, NewCountry, SignInMap, TravelPair, IMPOSSIBLE_SPEED_KMH, MAP_LIST_CAP, TRAVEL_MIN_KM,
};

use super::geo::{self, Address, GeoIp, Located};
use crate::store::investigate::{FirstSeenRow, MapRow};

/// Addresses listed per point.
const SAMPLE_IPS: usize = 5;
/// Longest city or country text kept.
const MAX_TEXT: usize = 100;

fn clean(text: Option<&str>) -> Option<String> {
    let text: String = text?.chars().filter(|c| !c.is_control()).take(MAX_TEXT).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A country code as AOC shows it: two letters, upper case.
fn country_code(text: Option<&str>) -> Option<String> {
    let code = text?.trim();
    (code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic())).then(|| code.to_ascii_uppercase())
}

fn is_failure(result: &str) -> bool {
    result.eq_ignore_ascii_case("failure") || result.eq_ignore_ascii_case("failed")
}

/// Looks addresses up once each.
pub struct Locator<'a> {
    geoip: Option<&'a GeoIp>,
    cache: HashMap<String, Option<Located>>,
}

/// Where an event is, or why it is not on the map.
#[derive(Clone, Debug, PartialEq)]
enum Place {
    At { basis: MapBasis, lat: f64, lon: f64, country: Option<String>, city: Option<String> },
    NonPublic,
    Unlocated,
    Nowhere,
}

impl<'a> Locator<'a> {
    pub fn new(geoip: Option<&'a GeoIp>) -> Self {
        Self { geoip, cache: HashMap::new() }
    }

    /// The country an address is in, per the IP database.
    fn address(&mut self, ip: &str) -> Result<Option<Located>, Address> {
        match geo::classify(ip) {
            Address::Public(addr) => {
                let geoip = self.geoip;
                Ok(self.cache.entry(ip.to_string()).or_insert_with(|| geoip.and_then(|g| g.locate(addr))).clone())
            }
            other => Err(other),
        }
    }

    fn place(
        &mut self,
        lat: Option<&str>,
        lon: Option<&str>,
        country: Option<&str>,
        city: Option<&str>,
        ip: Option<&str>,
    ) -> Place {
        let country = country_code(country);
        let city = clean(city);
        let number = |t: Option<&str>| t.and_then(|t| t.trim().parse::<f64>().ok());
        if let (Some(lat), Some(lon)) = (number(lat), number(lon)) {
            if geo::valid_coordinates(lat, lon) {
                return Place::At { basis: MapBasis::Coordinates, lat, lon, country, city };
            }
        }
        if let Some(c) = country.as_deref().and_then(geo::country) {
            return Place::At {
                basis: MapBasis::Country,
                lat: c.latitude,
                lon: c.longitude,
                country: Some(c.code.clone()),
                city: None,
            };
        }
        let Some(ip) = ip.map(str::trim).filter(|ip| !ip.is_empty()) else { return Place::Nowhere };
        match self.address(ip) {
            Ok(Some(located)) => {
                let (lat, lon) = match (located.coordinates, geo::country(&located.country)) {
                    (Some(c), _) => c,
                    (None, Some(c)) => (c.latitude, c.longitude),
                    (None, None) => return Place::Unlocated,
                };
                Place::At { basis: MapBasis::Address, lat, lon, country: Some(located.country), city: located.city }
            }
            Ok(None) | Err(Address::Invalid) | Err(Address::Public(_)) => Place::Unlocated,
            Err(Address::NonPublic) => Place::NonPublic,
        }
    }

    /// The country an event is from, if any (for the "new country" baseline).
    fn country_of(&mut self, country: Option<&str>, ip: Option<&str>) -> Option<String> {
        if let Some(code) = country_code(country) {
            return Some(code);
        }
        self.address(ip?).ok().flatten().map(|l| l.country)
    }
}

/// A search value in double quotes, when the query language can carry it.
fn quoted(value: &str) -> Option<String> {
    (!value.contains('"') && !value.chars().any(char::is_control) && value.len() <= 200).then(|| format!("\"{value}\""))
}

#[derive(Default)]
struct Acc {
    count: u64,
    failures: u64,
    ips: HashMap<String, u64>,
    users: HashSet<String>,
}

/// Key of a point: basis, position (to 0.001°), country, city.
type PointKey = (u8, i64, i64, Option<String>, Option<String>);

struct Event<'r> {
    row: &'r MapRow,
    lat: f64,
    lon: f64,
    basis: MapBasis,
    country: Option<String>,
    city: Option<String>,
}

impl Event<'_> {
    fn visit(&self) -> MapVisit {
        MapVisit {
            event_id: self.row.id,
            occurred_at: self.row.occurred_at,
            ip: self.row.ip.as_deref().and_then(|ip| clean(Some(ip))),
            country: self.country.clone(),
            city: self.city.clone(),
            latitude: self.lat,
            longitude: self.lon,
        }
    }
}

/// Builds the map of `rows` (newest first, as read); `first_seen` holds the addresses and
/// countries of the same people over all stored data up to the newest row; `capped` says more
/// events matched than `rows` holds.
pub fn build(
    rows: &[MapRow],
    first_seen: &[FirstSeenRow],
    locator: &mut Locator<'_>,
    event_cap: u32,
    capped: bool,
    watchlist_items: &[(String, String, String)],
) -> SignInMap {
    let mut map = SignInMap {
        events: rows.len() as u64,
        event_cap,
        capped,
        geoip_loaded: locator.geoip.is_some(),
        ..Default::default()
    };
    let mut points: BTreeMap<PointKey, Acc> = BTreeMap::new();
    let mut per_user: HashMap<(&str, &str), Vec<Event<'_>>> = HashMap::new();
    // Oldest first, so each person's events are in time order.
    for row in rows.iter().rev() {
        let place = locator.place(
            row.latitude.as_deref(),
            row.longitude.as_deref(),
            row.country.as_deref(),
            row.city.as_deref(),
            row.ip.as_deref(),
        );
        let Place::At { basis, lat, lon, country, city } = place else {
            match place {
                Place::NonPublic => map.private += 1,
                Place::Unlocated => map.unlocated += 1,
                _ => map.no_location += 1,
            }
            continue;
        };
        map.located += 1;
        let key =
            (basis as u8, (lat * 1000.0).round() as i64, (lon * 1000.0).round() as i64, country.clone(), city.clone());
        let acc = points.entry(key).or_default();
        acc.count += 1;
        if is_failure(&row.result) {
            acc.failures += 1;
        }
        if let Some(ip) = row.ip.as_deref().and_then(|ip| clean(Some(ip))) {
            *acc.ips.entry(ip).or_default() += 1;
        }
        if !row.actor.is_empty() {
            acc.users.insert(row.actor.clone());
            per_user.entry((row.tenant_id.as_str(), row.actor.as_str())).or_default().push(Event {
                row,
                lat,
                lon,
                basis,
                country,
                city,
            });
        }
    }
    map.points_total = points.len() as u64;
    let mut list: Vec<MapPoint> = points.into_iter().map(|(key, acc)| point(key, acc, watchlist_items)).collect();
    list.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| {
            (a.latitude, a.longitude).partial_cmp(&(b.latitude, b.longitude)).unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    list.truncate(MAP_LIST_CAP);
    map.points = list;

    let baseline = baselines(first_seen, locator);
    let mut new_countries = Vec::new();
    let mut travel = Vec::new();
    for ((tenant, user), events) in &per_user {
        let seen = baseline.get(&(tenant.to_string(), user.to_string()));
        let mut reported: HashSet<&str> = HashSet::new();
        for e in events {
            if let (Some(country), Some(seen)) = (e.country.as_deref(), seen) {
                let first = seen.get(country).copied();
                let at = e.row.occurred_at;
                // The first event from this country ever, for someone seen elsewhere before.
                let known: Vec<String> =
                    seen.iter().filter(|(c, t)| c.as_str() != country && **t < at).map(|(c, _)| c.clone()).collect();
                if first.is_none_or(|first| at <= first) && !known.is_empty() && reported.insert(country) {
                    let mut known = known;
                    known.sort();
                    known.truncate(10);
                    new_countries.push(NewCountry {
                        user: user.to_string(),
                        country: country.to_string(),
                        visit: e.visit(),
                        known_countries: known,
                        watchlists: super::graph::lists_of(watchlist_items, "actor", user),
                    });
                }
            }
        }
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let km = geo::distance_km((a.lat, a.lon), (b.lat, b.lon));
            if km < TRAVEL_MIN_KM {
                continue;
            }
            // A country's centre says little about where in the country someone is.
            let rough = a.basis != MapBasis::Coordinates || b.basis != MapBasis::Coordinates;
            if rough && a.country.is_some() && a.country == b.country {
                continue;
            }
            let seconds = (b.row.occurred_at - a.row.occurred_at).num_seconds().max(0);
            let speed = (seconds > 0).then(|| km / (seconds as f64 / 3600.0));
            if speed.is_none_or(|s| s > IMPOSSIBLE_SPEED_KMH) {
                travel.push(TravelPair {
                    user: user.to_string(),
                    from: a.visit(),
                    to: b.visit(),
                    distance_km: km.round() as u32,
                    speed_kmh: speed.map(|s| s.round().min(f64::from(u32::MAX)) as u32),
                    watchlists: super::graph::lists_of(watchlist_items, "actor", user),
                });
            }
        }
    }
    new_countries.sort_by(|a, b| b.visit.occurred_at.cmp(&a.visit.occurred_at).then_with(|| a.user.cmp(&b.user)));
    travel.sort_by(|a, b| b.to.occurred_at.cmp(&a.to.occurred_at).then_with(|| a.user.cmp(&b.user)));
    map.new_countries_total = new_countries.len() as u64;
    map.travel_total = travel.len() as u64;
    new_countries.truncate(MAP_LIST_CAP);
    travel.truncate(MAP_LIST_CAP);
    map.new_countries = new_countries;
    map.travel = travel;
    map
}

/// Per person, when each country was first seen.
fn baselines(
    rows: &[FirstSeenRow],
    locator: &mut Locator<'_>,
) -> HashMap<(String, String), HashMap<String, DateTime<Utc>>> {
    let mut out: HashMap<(String, String), HashMap<String, DateTime<Utc>>> = HashMap::new();
    for row in rows {
        let Some(country) = locator.country_of(row.country.as_deref(), row.ip.as_deref()) else { continue };
        let first =
            out.entry((row.tenant_id.clone(), row.actor.clone())).or_default().entry(country).or_insert(row.first_at);
        *first = (*first).min(row.first_at);
    }
    out
}

fn point(key: PointKey, acc: Acc, watchlist_items: &[(String, String, String)]) -> MapPoint {
    let (basis, lat, lon, country, city) = key;
    // The watchlists of anyone or any address seen here.
    let mut watchlists: Vec<String> = Vec::new();
    if !watchlist_items.is_empty() {
        for user in &acc.users {
            watchlists.extend(super::graph::lists_of(watchlist_items, "actor", user));
        }
        for ip in acc.ips.keys() {
            watchlists.extend(super::graph::lists_of(watchlist_items, "ip", ip));
        }
        watchlists.sort();
        watchlists.dedup();
    }
    let basis = match basis {
        0 => MapBasis::Coordinates,
        1 => MapBasis::Country,
        _ => MapBasis::Address,
    };
    let (latitude, longitude) = (lat as f64 / 1000.0, lon as f64 / 1000.0);
    let mut ips: Vec<(String, u64)> = acc.ips.into_iter().collect();
    ips.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let addresses = ips.len() as u64;
    let sample_ips: Vec<String> = ips.into_iter().take(SAMPLE_IPS).map(|(ip, _)| ip).collect();
    let by_address = sample_ips.first().and_then(|ip| quoted(ip)).map(|ip| format!("ip:{ip}"));
    let search = match basis {
        MapBasis::Coordinates | MapBasis::Country => match country.as_deref() {
            Some(code) => {
                let mut s = format!("location.countryOrRegion:{code}");
                if let Some(city) = city.as_deref().filter(|_| basis == MapBasis::Coordinates).and_then(quoted) {
                    s.push_str(&format!(" location.city:{city}"));
                }
                Some(s)
            }
            None => by_address,
        },
        // Located from addresses: the busiest one (the point lists the others).
        MapBasis::Address => by_address,
    };
    let (x, y) = geo::project(latitude, longitude);
    MapPoint {
        latitude,
        longitude,
        country_name: country.as_deref().and_then(geo::country).map(|c| c.name.clone()),
        country,
        city,
        basis,
        count: acc.count,
        failures: acc.failures,
        addresses,
        sample_ips,
        users: acc.users.len() as u64,
        watchlists,
        search,
        x,
        y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap().with_timezone(&Utc)
            + chrono::Duration::minutes(minutes)
    }

    fn signin(
        id: i64,
        user: &str,
        minutes: i64,
        place: Option<(&str, &str, f64, f64)>,
        ip: &str,
        result: &str,
    ) -> MapRow {
        MapRow {
            id,
            tenant_id: "t".into(),
            actor: user.into(),
            occurred_at: at(minutes),
            result: result.into(),
            ip: Some(ip.into()),
            latitude: place.map(|p| p.2.to_string()),
            longitude: place.map(|p| p.3.to_string()),
            country: place.map(|p| p.1.to_string()),
            city: place.map(|p| p.0.to_string()),
        }
    }

    const LONDON: (&str, &str, f64, f64) = ("London", "GB", 51.5072, -0.1276);
    const MOSCOW: (&str, &str, f64, f64) = ("Moscow", "RU", 55.7558, 37.6173);

    #[test]
    fn points_counts_new_countries_and_impossible_travel() {
        // Newest first, as read.
        let mut rows = vec![
            signin(1, "ann", 0, Some(LONDON), "198.51.100.1", "success"),
            signin(2, "ann", 30, Some(MOSCOW), "8.8.8.8", "failure"),
            signin(3, "bob", 10, Some(LONDON), "192.0.2.1", "success"),
            signin(4, "bob", 20, None, "10.0.0.1", "success"),
            signin(5, "bob", 25, None, "not-an-ip", "success"),
            MapRow { ip: None, ..signin(6, "bob", 26, None, "", "success") },
            signin(7, "cat", 40, Some(("", "fr", f64::NAN, 0.0)), "", "success"),
        ];
        rows.reverse();
        // ann was seen in GB a day earlier, never in RU.
        let seen = vec![
            FirstSeenRow {
                tenant_id: "t".into(),
                actor: "ann".into(),
                ip: None,
                country: Some("GB".into()),
                first_at: at(-1440),
            },
            FirstSeenRow {
                tenant_id: "t".into(),
                actor: "ann".into(),
                ip: None,
                country: Some("RU".into()),
                first_at: at(30),
            },
        ];
        let map = build(&rows, &seen, &mut Locator::new(None), 100, false, &[]);
        assert_eq!((map.events, map.located, map.private, map.unlocated, map.no_location), (7, 4, 1, 1, 1));
        let london = map.points.iter().find(|p| p.city.as_deref() == Some("London")).unwrap();
        assert_eq!((london.count, london.failures, london.users, london.addresses), (2, 0, 2, 2));
        assert_eq!(london.search.as_deref(), Some("location.countryOrRegion:GB location.city:\"London\""));
        assert_eq!(map.points[0].count, 2, "busiest first");
        let moscow = map.points.iter().find(|p| p.country.as_deref() == Some("RU")).unwrap();
        assert_eq!(moscow.failures, 1);
        assert_eq!(moscow.country_name.as_deref(), Some("Russia"));
        let france = map.points.iter().find(|p| p.country.as_deref() == Some("FR")).unwrap();
        assert_eq!(france.basis, MapBasis::Country, "bad coordinates fall back to the country's centre");
        assert_eq!(france.search.as_deref(), Some("location.countryOrRegion:FR"));

        assert_eq!(map.new_countries.len(), 1);
        assert_eq!((map.new_countries[0].user.as_str(), map.new_countries[0].country.as_str()), ("ann", "RU"));
        assert_eq!(map.new_countries[0].known_countries, ["GB"]);
        assert_eq!(map.travel.len(), 1);
        let pair = &map.travel[0];
        assert_eq!((pair.user.as_str(), pair.from.event_id, pair.to.event_id), ("ann", 1, 2));
        assert!((2400..2600).contains(&pair.distance_km));
        assert!(pair.speed_kmh.unwrap() > 4000);

        // On watchlists: ann by name (her points, her finding), an address by itself.
        let items = [
            ("suspects".to_string(), "user".to_string(), "ann".to_string()),
            ("known".to_string(), "ip".to_string(), "192.0.2.1".to_string()),
            ("other".to_string(), "user".to_string(), "zed".to_string()),
        ];
        let map = build(&rows, &seen, &mut Locator::new(None), 100, false, &items);
        let london = map.points.iter().find(|p| p.city.as_deref() == Some("London")).unwrap();
        assert_eq!(london.watchlists, ["known", "suspects"]);
        let moscow = map.points.iter().find(|p| p.country.as_deref() == Some("RU")).unwrap();
        assert_eq!(moscow.watchlists, ["suspects"]);
        let france = map.points.iter().find(|p| p.country.as_deref() == Some("FR")).unwrap();
        assert!(france.watchlists.is_empty());
        assert_eq!(map.new_countries[0].watchlists, ["suspects"]);
        assert_eq!(map.travel[0].watchlists, ["suspects"]);
    }

    #[test]
    fn slow_travel_and_countries_seen_before_are_not_findings() {
        let mut rows = vec![
            signin(1, "ann", 0, Some(LONDON), "", "success"),
            signin(2, "ann", 6 * 60, Some(MOSCOW), "", "success"),
        ];
        rows.reverse();
        let seen_at = |country: &str, minutes: i64| FirstSeenRow {
            tenant_id: "t".into(),
            actor: "ann".into(),
            ip: None,
            country: Some(country.into()),
            first_at: at(minutes),
        };
        let map = build(&rows, &[seen_at("GB", -120), seen_at("RU", -60)], &mut Locator::new(None), 100, true, &[]);
        assert!(map.travel.is_empty(), "2,500 km in 6 hours is a flight");
        assert!(map.new_countries.is_empty(), "both countries were seen before");
        assert!(map.capped);
        // Someone's first country is their baseline; the next one is new.
        let map = build(&rows, &[seen_at("GB", 0), seen_at("RU", 6 * 60)], &mut Locator::new(None), 100, false, &[]);
        assert_eq!(map.new_countries.len(), 1);
        assert_eq!(map.new_countries[0].country, "RU");
    }
}

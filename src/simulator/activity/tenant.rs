//! Who exists in a simulated tenant: users, administrators, guests, service principals and
//! devices, deterministic from the seed and the tenant's index.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// A person in the tenant.
#[derive(Clone, Debug)]
pub struct Person {
    pub object_id: String,
    pub upn: String,
    pub display_name: String,
    /// The PUID-like key UAL records carry in `UserKey`.
    pub user_key: String,
    pub city: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    /// The address the person usually signs in from (documentation ranges only).
    pub home_ip: String,
}

/// An application with a service principal in the tenant.
#[derive(Clone, Debug)]
pub struct ServicePrincipal {
    pub app_id: String,
    pub display_name: String,
}

/// A managed device.
#[derive(Clone, Debug)]
pub struct Device {
    pub id: String,
    pub display_name: String,
    pub os: String,
}

/// A simulated tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub index: usize,
    pub tenant_id: String,
    pub domain: String,
    pub display_name: String,
    pub users: Vec<Person>,
    pub admins: Vec<Person>,
    pub guests: Vec<Person>,
    pub service_principals: Vec<ServicePrincipal>,
    pub devices: Vec<Device>,
    /// Infrastructure of the attacker of the woven-in scenarios.
    pub attacker_ip: String,
    pub attacker_domain: String,
}

const COMPANIES: &[(&str, &str)] = &[
    ("contoso", "Contoso Ltd"),
    ("fabrikam", "Fabrikam Inc"),
    ("northwind", "Northwind Traders"),
    ("adatum", "Adatum Corporation"),
    ("tailspin", "Tailspin Toys"),
    ("woodgrove", "Woodgrove Bank"),
];
const FIRST: &[&str] = &[
    "Adele",
    "Alex",
    "Megan",
    "Lee",
    "Nestor",
    "Patti",
    "Pradeep",
    "Lidia",
    "Lynne",
    "Isaiah",
    "Johanna",
    "Grady",
    "Henrietta",
    "Joni",
    "Miriam",
    "Diego",
    "Irvin",
    "Christie",
    "Debra",
    "Allan",
];
const LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Bowen",
    "Gu",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Holloway",
    "Robbins",
    "Langer",
    "Lauer",
    "Archie",
    "Mueller",
    "Sherman",
    "Graham",
    "Soto",
    "Sink",
    "Cline",
    "Berg",
    "Deyoung",
];
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Seattle", "US", 47.61, -122.33),
    ("London", "GB", 51.51, -0.13),
    ("Lisbon", "PT", 38.72, -9.14),
    ("Berlin", "DE", 52.52, 13.40),
    ("Toronto", "CA", 43.65, -79.38),
];

/// A GUID-shaped string from the generator.
pub(super) fn guid(rng: &mut StdRng) -> String {
    let a: u128 = rng.random();
    let hex = format!("{a:032x}");
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// Builds tenant `index` of the run seeded with `seed`.
pub fn build_tenant(seed: u64, index: usize) -> Tenant {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (index as u64 + 1));
    let (slug, name) = COMPANIES[index % COMPANIES.len()];
    let suffix = if index < COMPANIES.len() { String::new() } else { (index / COMPANIES.len()).to_string() };
    let domain = format!("{slug}{suffix}.onmicrosoft.com");
    let tenant_id = guid(&mut rng);
    let person = |rng: &mut StdRng, i: usize, guest: bool| {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i * 7 + 3) % LAST.len()];
        let (city, country, lat, lon) = *CITIES.choose(rng).expect("cities");
        let local = format!(
            "{}.{}{}",
            first.to_lowercase(),
            last.to_lowercase(),
            if i >= FIRST.len() { i.to_string() } else { String::new() }
        );
        let upn = if guest { format!("{local}_partner.example#EXT#@{domain}") } else { format!("{local}@{domain}") };
        Person {
            object_id: guid(rng),
            upn,
            display_name: format!("{first} {last}"),
            user_key: format!("10032000{:08X}", rng.random::<u32>()),
            city: city.into(),
            country: country.into(),
            latitude: lat,
            longitude: lon,
            home_ip: format!("198.51.100.{}", rng.random_range(2..250)),
        }
    };
    let users: Vec<Person> = (0..30 + index % 3 * 10).map(|i| person(&mut rng, i, false)).collect();
    let mut admins: Vec<Person> = (0..3).map(|i| person(&mut rng, 100 + i, false)).collect();
    for (i, a) in admins.iter_mut().enumerate() {
        a.upn = format!("admin{}@{domain}", i + 1);
        a.display_name = format!("Tenant Admin {}", i + 1);
    }
    let guests: Vec<Person> = (0..3).map(|i| person(&mut rng, 200 + i, true)).collect();
    let service_principals = ["Contoso HR Sync", "Backup Connector", "Power Automate", "Salesforce"]
        .iter()
        .map(|n| ServicePrincipal { app_id: guid(&mut rng), display_name: n.to_string() })
        .collect();
    let devices = (0..20)
        .map(|i| Device {
            id: guid(&mut rng),
            display_name: format!("{}-{:03}", if i % 4 == 0 { "MBP" } else { "LAPTOP" }, i + 1),
            os: if i % 4 == 0 { "macOS".into() } else { "Windows".into() },
        })
        .collect();
    Tenant {
        index,
        tenant_id,
        domain,
        display_name: name.to_string(),
        users,
        admins,
        guests,
        service_principals,
        devices,
        attacker_ip: format!("203.0.113.{}", 66 + index % 100),
        attacker_domain: "evil-mail.example".into(),
    }
}

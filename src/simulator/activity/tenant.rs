//! Who exists in a simulated tenant: users, administrators, guests, service principals, devices,
//! and the sites, teams, groups and policies their activity touches, deterministic from the seed
//! and the tenant's index. Everything the hourly generator needs is computed here once, so
//! generating a record formats as little as possible.
//!
//! Addresses come only from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32) and names only from invented `.example` and
//! `onmicrosoft.com`-style domains.

use std::fmt;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::{Serialize, Serializer};

/// A person in the tenant: a member, an administrator account or a guest.
#[derive(Clone, Debug)]
pub struct Person {
    /// Entra object id (GUID).
    pub object_id: String,
    /// User principal name; for guests the `#EXT#` form.
    pub upn: String,
    /// Primary SMTP address; for guests their address at home.
    pub mail: String,
    /// Exchange alias (mailNickname).
    pub alias: String,
    /// Name as the directory shows it; admin accounts say "(Admin)", guests their company.
    pub display_name: String,
    /// The PUID-like key UAL records carry in `UserKey` (16 upper-case hex digits).
    pub user_key: String,
    /// The on-premises-style SID Exchange mailbox audit records carry.
    pub sid: String,
    /// The Exchange mailbox GUID.
    pub mailbox_guid: String,
    /// Entra `jobTitle`.
    pub job_title: String,
    /// Entra `department`.
    pub department: String,
    /// Where the person usually signs in from: the city of their office.
    pub city: String,
    /// State or region of `city`, as Graph's `location.state`.
    pub state: String,
    /// ISO 3166 alpha-2 country code, as Graph's `countryOrRegion`.
    pub country: String,
    /// Coordinates of `city`, as Graph's `geoCoordinates`.
    pub latitude: f64,
    pub longitude: f64,
    /// The IPv4 address the person usually comes from (documentation ranges only).
    pub home_ip: String,
    /// The IPv6 address the person sometimes comes from (2001:db8::/32).
    pub home_ipv6: String,
    /// Root of the person's OneDrive, with a trailing slash.
    pub onedrive_url: String,
}

/// An application with a service principal in the tenant.
#[derive(Clone, Debug)]
pub struct ServicePrincipal {
    /// The application (client) id.
    pub app_id: String,
    pub display_name: String,
    /// The service principal's object id.
    pub object_id: String,
}

/// A device registered in Entra and managed by Intune.
#[derive(Clone, Debug)]
pub struct Device {
    /// Entra device id.
    pub id: String,
    /// Host name, e.g. `LAPTOP-3F2A9C`.
    pub display_name: String,
    /// Operating system family as Graph reports it (`Windows`, `MacOs`, `iOS`, `Android`).
    pub os: String,
    /// Build or release, e.g. `10.0.22631.4460`.
    pub os_version: String,
    /// Index into `Tenant::users` of the device's primary user, if any.
    pub owner: Option<usize>,
    pub compliant: bool,
    /// `Azure AD joined`, `Azure AD registered` or `Hybrid Azure AD joined`.
    pub trust_type: String,
}

/// A simulated tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Position of the tenant in the simulator's list; part of every seed.
    pub index: usize,
    /// Lower-case GUID.
    pub tenant_id: String,
    /// The initial domain, e.g. `contoso-0.onmicrosoft.com`.
    pub domain: String,
    /// Company name, e.g. `Contoso Ltd`.
    pub display_name: String,
    /// Members (20 to 60); device `i` belongs to user `i`.
    pub users: Vec<Person>,
    /// Separate administrator accounts (`adm.<name>@`), two to four.
    pub admins: Vec<Person>,
    /// B2B guests (`<name>_<home domain>#EXT#@`), three to six.
    pub guests: Vec<Person>,
    /// The tenant's own and third-party applications (not Microsoft's first-party apps).
    pub service_principals: Vec<ServicePrincipal>,
    /// One per member plus a few shared devices.
    pub devices: Vec<Device>,
    /// Address of the attacker in the woven-in scenarios (password spray, mailbox takeover).
    pub attacker_ip: String,
    /// A second attacker address, far from the first and from the tenant (impossible travel).
    pub attacker_ip2: String,
    /// The attacker's mail domain (forwarding and exfiltration targets).
    pub attacker_domain: String,
    /// The attacker's multi-tenant application that users are lured into consenting to.
    pub attacker_app: ServicePrincipal,
    pub(super) sites: Vec<Site>,
    pub(super) teams: Vec<Team>,
    pub(super) groups: Vec<Group>,
    pub(super) policies: Vec<CaPolicy>,
    pub(super) servers: Vec<String>,
    /// Where the attacker's addresses geolocate.
    pub(super) attacker_places: [Place; 2],
    /// Tenants without Entra ID P2 get `hidden` risk levels in sign-ins.
    pub(super) premium: bool,
}

/// A place on the map.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
}

/// A SharePoint site with one document library.
#[derive(Clone, Debug)]
pub(super) struct Site {
    /// `https://<slug>.sharepoint.com/sites/<name>/`, with the trailing slash UAL uses.
    pub url: String,
    pub site_id: Guid,
    pub web_id: Guid,
    pub list_id: Guid,
    pub files: Vec<SiteFile>,
}

/// A file in a site's `Shared Documents` library.
#[derive(Clone, Debug)]
pub(super) struct SiteFile {
    pub name: String,
    pub extension: String,
    pub unique_id: Guid,
    /// The full URL (`ObjectId` of SharePoint records).
    pub url: String,
    /// Whether DLP policies care about it (payroll, contracts, card data).
    pub sensitive: bool,
}

/// A team and its standard channel.
#[derive(Clone, Debug)]
pub(super) struct Team {
    pub name: String,
    /// `19:<hex>@thread.tacv2`.
    pub thread: String,
}

/// A security or Microsoft 365 group.
#[derive(Clone, Debug)]
pub(super) struct Group {
    pub id: Guid,
    pub name: String,
}

/// A conditional access policy.
#[derive(Clone, Debug)]
pub(super) struct CaPolicy {
    pub id: Guid,
    pub name: &'static str,
    /// The grant control it enforces (`Mfa`, `Block`, `RequireCompliantDevice`).
    pub grant: &'static str,
    /// Report-only policies show as `reportOnly…` results in sign-ins.
    pub report_only: bool,
}

const COMPANIES: &[(&str, &str)] = &[
    ("contoso", "Contoso Ltd"),
    ("fabrikam", "Fabrikam Inc"),
    ("northwind", "Northwind Traders"),
    ("adatum", "Adatum Corporation"),
    ("tailspin", "Tailspin Toys"),
    ("woodgrove", "Woodgrove Bank"),
    ("litware", "Litware Inc"),
    ("proseware", "Proseware Inc"),
    ("wingtip", "Wingtip Toys"),
    ("alpineski", "Alpine Ski House"),
    ("cohowinery", "Coho Winery"),
    ("relecloud", "Relecloud"),
    ("lucernepub", "Lucerne Publishing"),
    ("margiestravel", "Margie's Travel"),
    ("treyresearch", "Trey Research"),
    ("fourthcoffee", "Fourth Coffee"),
    ("wideworldimporters", "Wide World Importers"),
    ("humongousins", "Humongous Insurance"),
    ("blueyonder", "Blue Yonder Airlines"),
    ("graphicdesigninst", "Graphic Design Institute"),
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
    "Aiko",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ines",
    "Jonas",
    "Kwame",
    "Lucia",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
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
    "Okafor",
    "Tanaka",
    "Rossi",
    "Novak",
    "Yilmaz",
    "Haddad",
    "Petrovic",
    "Kim",
    "Silva",
    "Lindqvist",
    "Mensah",
    "García",
    "Moreau",
    "Kowalski",
    "Nilsen",
    "Iyer",
    "Dubois",
    "Castillo",
    "Andersen",
    "O'Brien",
];

const TITLES: &[(&str, &str)] = &[
    ("Finance", "Accountant"),
    ("Finance", "Financial Analyst"),
    ("Sales", "Account Executive"),
    ("Sales", "Sales Manager"),
    ("Marketing", "Marketing Specialist"),
    ("Engineering", "Software Engineer"),
    ("Engineering", "Engineering Manager"),
    ("HR", "HR Business Partner"),
    ("Legal", "Counsel"),
    ("Operations", "Operations Coordinator"),
    ("IT", "Support Engineer"),
    ("Executive", "Chief Financial Officer"),
];

/// Offices and home towns of the tenants' people.
const CITIES: &[Place] = &[
    Place { city: "Seattle", state: "Washington", country: "US", lat: 47.6062, lon: -122.3321 },
    Place { city: "Redmond", state: "Washington", country: "US", lat: 47.674, lon: -122.1215 },
    Place { city: "Chicago", state: "Illinois", country: "US", lat: 41.8781, lon: -87.6298 },
    Place { city: "New York", state: "New York", country: "US", lat: 40.7128, lon: -74.006 },
    Place { city: "Toronto", state: "Ontario", country: "CA", lat: 43.6532, lon: -79.3832 },
    Place { city: "London", state: "England", country: "GB", lat: 51.5072, lon: -0.1276 },
    Place { city: "Dublin", state: "Dublin", country: "IE", lat: 53.3498, lon: -6.2603 },
    Place { city: "Lisbon", state: "Lisboa", country: "PT", lat: 38.7223, lon: -9.1393 },
    Place { city: "Berlin", state: "Berlin", country: "DE", lat: 52.52, lon: 13.405 },
    Place { city: "Amsterdam", state: "Noord-Holland", country: "NL", lat: 52.3676, lon: 4.9041 },
    Place { city: "Paris", state: "Ile-de-France", country: "FR", lat: 48.8566, lon: 2.3522 },
    Place { city: "Stockholm", state: "Stockholm", country: "SE", lat: 59.3293, lon: 18.0686 },
];

/// Where attackers' addresses geolocate: far from every office above.
const ATTACKER_PLACES: &[Place] = &[
    Place { city: "Moscow", state: "Moscow", country: "RU", lat: 55.7558, lon: 37.6173 },
    Place { city: "Lagos", state: "Lagos", country: "NG", lat: 6.5244, lon: 3.3792 },
    Place { city: "Singapore", state: "Singapore", country: "SG", lat: 1.3521, lon: 103.8198 },
    Place { city: "Sao Paulo", state: "Sao Paulo", country: "BR", lat: -23.5505, lon: -46.6333 },
    Place { city: "Pyongyang", state: "Pyongyang", country: "KP", lat: 39.0392, lon: 125.7625 },
];

const GUEST_DOMAINS: &[&str] = &["partner.example", "supplier.example", "agency.example", "consulting.example"];

const SITE_NAMES: &[&str] = &["finance", "hr", "marketing", "engineering", "legal", "sales", "projects"];

const FILE_STEMS: &[(&str, bool)] = &[
    ("Budget", true),
    ("Payroll", true),
    ("Roadmap", false),
    ("Contract", true),
    ("Team offsite", false),
    ("Board minutes", true),
    ("Customer list", true),
    ("Pricing", false),
    ("Onboarding guide", false),
    ("Invoice", true),
    ("Architecture", false),
    ("Campaign plan", false),
    ("Salary review", true),
    ("Release notes", false),
    ("Meeting notes", false),
    ("Forecast", true),
];

const EXTENSIONS: &[&str] = &["xlsx", "docx", "pptx", "pdf", "docx", "xlsx", "csv", "txt"];

const TEAM_NAMES: &[&str] =
    &["Finance Ops", "Sales EMEA", "Product Launch", "IT Helpdesk", "Leadership", "Engineering", "Marketing Crew"];

const GROUP_NAMES: &[&str] = &[
    "All Employees",
    "Finance Team",
    "VPN Users",
    "Sales",
    "Engineering",
    "MFA Exempt",
    "License - E5",
    "Contractors",
];

const APP_NAMES: &[&str] = &[
    "HR Sync",
    "Backup Connector",
    "Payroll Export",
    "Expense Reports",
    "Salesforce",
    "ServiceNow",
    "Zoom",
    "Adobe Acrobat Sign",
    "DocuSign",
    "GitHub Enterprise",
];

/// One step of splitmix64: a stable, well-mixed function of its input (never std's hasher,
/// whose output may change between Rust versions).
pub(super) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable seed from several values.
pub(super) fn stable_seed(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243f_6a88_85a3_08d3, |h, &p| mix(h ^ p))
}

/// FNV-1a of a string, for mixing names into seeds.
pub(super) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A GUID (version-4 layout) kept as 128 bits and printed lower-case with dashes only when
/// serialized, so records need not allocate for the many GUIDs they carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Guid(u128);

impl Guid {
    /// The GUID with the version and variant bits of a random (version 4) GUID set.
    pub(super) fn from_bits(bits: u128) -> Guid {
        Guid((bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62))
    }

    /// A fresh GUID from the generator.
    pub(super) fn random(rng: &mut StdRng) -> Guid {
        Guid::from_bits(rng.random())
    }

    /// A GUID that is a stable function of `parts`, for things that must keep their id without
    /// being stored (a user's OneDrive site, a role's object id in a tenant).
    pub(super) fn derived(parts: &[u64]) -> Guid {
        let h = stable_seed(parts);
        Guid::from_bits(u128::from(h) << 64 | u128::from(mix(h ^ 0x5555_5555)))
    }

    fn write<'b>(&self, buf: &'b mut [u8; 36]) -> &'b str {
        uuid::Uuid::from_u128(self.0).hyphenated().encode_lower(buf)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write(&mut [0u8; 36]))
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.write(&mut [0u8; 36]))
    }
}

fn guid(rng: &mut StdRng) -> String {
    Guid::random(rng).to_string()
}

/// Builds tenant `index` of the run seeded with `seed`.
pub fn build_tenant(seed: u64, index: usize) -> Tenant {
    let tenant_seed = stable_seed(&[seed, index as u64, fnv("tenant")]);
    let mut rng = StdRng::seed_from_u64(tenant_seed);
    let tenant_id = Guid::derived(&[tenant_seed]).to_string();
    let (company, name) = COMPANIES[index % COMPANIES.len()];
    let slug = format!("{company}-{index}");
    let domain = format!("{slug}.onmicrosoft.com");
    let sharepoint_root = format!("https://{slug}.sharepoint.com");
    let mysite_root = format!("https://{slug}-my.sharepoint.com");

    // Two or three offices; people live near one of them.
    let mut city_order: Vec<usize> = (0..CITIES.len()).collect();
    city_order.shuffle(&mut rng);
    let offices: Vec<(Place, String)> = city_order[..rng.random_range(2..=3)]
        .iter()
        .enumerate()
        .map(|(o, &c)| (CITIES[c], format!("198.51.100.{}", 10 + (index * 11 + o * 67) % 230)))
        .collect();

    let user_count = rng.random_range(20..=60);
    let admin_count = rng.random_range(2..=4);
    let guest_count = rng.random_range(3..=6);
    let names = rand::seq::index::sample(&mut rng, FIRST.len() * LAST.len(), user_count + admin_count + guest_count);
    let mut names = names.into_iter().map(|n| (FIRST[n / LAST.len()], LAST[n % LAST.len()]));

    let person = |rng: &mut StdRng, n: usize, first: &str, last: &str, kind: Kind| {
        let local = format!("{}.{}", ascii_lower(first), ascii_lower(last));
        let (office, office_ip) = offices.choose(rng).expect("a tenant has offices");
        let home_ip =
            if rng.random_bool(0.7) { office_ip.clone() } else { format!("192.0.2.{}", rng.random_range(1..255)) };
        let (title_department, title) = *TITLES.choose(rng).expect("titles");
        let (upn, mail, display_name, alias) = match kind {
            Kind::Member => {
                (format!("{local}@{domain}"), format!("{local}@{domain}"), format!("{first} {last}"), local)
            }
            Kind::Admin => {
                let alias = format!("adm.{local}");
                (format!("{alias}@{domain}"), format!("{alias}@{domain}"), format!("{first} {last} (Admin)"), alias)
            }
            Kind::Guest => {
                let home = GUEST_DOMAINS.choose(rng).expect("guest domains");
                let mail = format!("{local}@{home}");
                let alias = format!("{local}_{home}#EXT#");
                (format!("{alias}@{domain}"), mail, format!("{first} {last} ({home})"), alias)
            }
        };
        let onedrive_url = format!("{mysite_root}/personal/{}/", upn.replace(['@', '.', '#'], "_"));
        let sid_tail: u32 = rng.random_range(1_000..99_999);
        Person {
            object_id: guid(rng),
            user_key: format!("1003{:012X}", rng.random::<u64>() & 0xffff_ffff_ffff),
            sid: format!(
                "S-1-5-21-{}-{}-{}-{sid_tail}",
                1_000_000_000 + index * 7919,
                2_100_000_000 - index,
                3_000_000_007u64
            ),
            mailbox_guid: guid(rng),
            job_title: if kind == Kind::Admin { "IT Administrator".into() } else { title.into() },
            department: if kind == Kind::Admin { "IT".into() } else { title_department.into() },
            city: office.city.into(),
            state: office.state.into(),
            country: office.country.into(),
            latitude: office.lat,
            longitude: office.lon,
            home_ip,
            home_ipv6: format!("2001:db8:{:x}:{:x}::{:x}", index % 0xffff, n / 256 + 1, n % 256 + 16),
            onedrive_url,
            upn,
            mail,
            alias,
            display_name,
        }
    };
    let mut next = |rng: &mut StdRng, n: usize, kind: Kind| {
        let (first, last) = names.next().expect("enough distinct names were sampled");
        person(rng, n, first, last, kind)
    };
    let users: Vec<Person> = (0..user_count).map(|n| next(&mut rng, n, Kind::Member)).collect();
    let admins: Vec<Person> = (0..admin_count).map(|n| next(&mut rng, 1000 + n, Kind::Admin)).collect();
    let guests: Vec<Person> = (0..guest_count).map(|n| next(&mut rng, 2000 + n, Kind::Guest)).collect();

    let mut app_names = APP_NAMES.to_vec();
    app_names.shuffle(&mut rng);
    let service_principals: Vec<ServicePrincipal> = app_names[..rng.random_range(4..=7)]
        .iter()
        .map(|n| {
            let display_name = if n.starts_with("HR") || n.starts_with("Payroll") {
                format!("{} {n}", name.split(' ').next().unwrap_or(name))
            } else {
                n.to_string()
            };
            ServicePrincipal { app_id: guid(&mut rng), display_name, object_id: guid(&mut rng) }
        })
        .collect();

    let devices: Vec<Device> = (0..user_count + 4)
        .map(|i| {
            let owner = (i < user_count).then_some(i);
            let (os, os_version, prefix, trust) = match rng.random_range(0..10) {
                0..=5 => ("Windows", "10.0.22631.4460", "LAPTOP", "Azure AD joined"),
                6 => ("Windows", "10.0.19045.5131", "DESKTOP", "Hybrid Azure AD joined"),
                7 => ("MacOs", "14.6.1", "MBP", "Azure AD registered"),
                8 => ("iOS", "17.6.1", "IPHONE", "Azure AD registered"),
                _ => ("Android", "14", "ANDROID", "Azure AD registered"),
            };
            Device {
                id: guid(&mut rng),
                display_name: format!("{prefix}-{:06X}", rng.random::<u32>() & 0xff_ffff),
                os: os.into(),
                os_version: os_version.into(),
                owner,
                compliant: rng.random_bool(0.93),
                trust_type: trust.into(),
            }
        })
        .collect();

    let sites = SITE_NAMES[..rng.random_range(4..=SITE_NAMES.len())]
        .iter()
        .map(|site_name| {
            let url = format!("{sharepoint_root}/sites/{site_name}/");
            // Enough distinct files that a mass download of 60 stays within one site.
            let files = (0..64)
                .map(|f| {
                    let (stem, sensitive) = FILE_STEMS[(f + site_name.len()) % FILE_STEMS.len()];
                    let extension = EXTENSIONS[(f * 7 + site_name.len()) % EXTENSIONS.len()];
                    let name = if f < FILE_STEMS.len() {
                        format!("{stem} 2026.{extension}")
                    } else {
                        format!("{stem} {:03}.{extension}", f)
                    };
                    SiteFile {
                        url: format!("{url}Shared Documents/{name}"),
                        name,
                        extension: extension.into(),
                        unique_id: Guid::random(&mut rng),
                        sensitive,
                    }
                })
                .collect();
            Site {
                url,
                site_id: Guid::random(&mut rng),
                web_id: Guid::random(&mut rng),
                list_id: Guid::random(&mut rng),
                files,
            }
        })
        .collect();

    let teams = TEAM_NAMES[..rng.random_range(3..=TEAM_NAMES.len())]
        .iter()
        .map(|n| Team {
            name: n.to_string(),
            thread: format!("19:{:016x}{:016x}@thread.tacv2", rng.random::<u64>(), rng.random::<u64>()),
        })
        .collect();
    let groups = GROUP_NAMES.iter().map(|n| Group { id: Guid::random(&mut rng), name: n.to_string() }).collect();
    let policies = vec![
        CaPolicy {
            id: Guid::random(&mut rng),
            name: "Require MFA for administrators",
            grant: "Mfa",
            report_only: false,
        },
        CaPolicy {
            id: Guid::random(&mut rng),
            name: "Block legacy authentication",
            grant: "Block",
            report_only: false,
        },
        CaPolicy { id: Guid::random(&mut rng), name: "Require MFA for all users", grant: "Mfa", report_only: false },
        CaPolicy {
            id: Guid::random(&mut rng),
            name: "Require compliant device (report-only)",
            grant: "RequireCompliantDevice",
            report_only: true,
        },
    ];
    let servers = (0..4)
        .map(|_| {
            format!(
                "{}PR{:02}MB{:04} (15.20.{}.{:03})",
                ["AM0", "DB9", "VI1", "CH0", "BN8"][rng.random_range(0..5)],
                rng.random_range(1..20),
                rng.random_range(1000..9999),
                8000 + rng.random_range(0..300),
                rng.random_range(1..30)
            )
        })
        .collect();

    let first_place = rng.random_range(0..ATTACKER_PLACES.len());
    let second_place = (first_place + rng.random_range(1..ATTACKER_PLACES.len())) % ATTACKER_PLACES.len();
    let attacker_app = ServicePrincipal {
        app_id: guid(&mut rng),
        display_name: ["Mail Archiver Pro", "PDF Viewer Plus", "Secure Doc Share", "Calendar Sync Tool"]
            [rng.random_range(0..4)]
        .into(),
        object_id: guid(&mut rng),
    };

    Tenant {
        index,
        tenant_id,
        display_name: name.to_string(),
        users,
        admins,
        guests,
        service_principals,
        devices,
        attacker_ip: format!("203.0.113.{}", 20 + index % 100),
        attacker_ip2: format!("203.0.113.{}", 150 + index % 100),
        attacker_domain: "evil-mail.example".into(),
        attacker_app,
        sites,
        teams,
        groups,
        policies,
        servers,
        attacker_places: [ATTACKER_PLACES[first_place], ATTACKER_PLACES[second_place]],
        premium: index % 4 != 3,
        domain,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Member,
    Admin,
    Guest,
}

/// Lower-case ASCII letters of a name, for mail addresses (`Tomás` → `tomas`, `O'Brien` → `obrien`).
fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'á' | 'à' => Some('a'),
            'é' => Some('e'),
            'í' => Some('i'),
            'ó' => Some('o'),
            'ú' => Some('u'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_same_seed_and_index_build_the_same_tenant() {
        let a = build_tenant(7, 3);
        let b = build_tenant(7, 3);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_ne!(build_tenant(8, 3).tenant_id, a.tenant_id, "another seed, another tenant");
    }

    #[test]
    fn tenants_differ_by_index_in_id_domain_and_company() {
        let tenants: Vec<Tenant> = (0..8).map(|i| build_tenant(1, i)).collect();
        let ids: HashSet<&str> = tenants.iter().map(|t| t.tenant_id.as_str()).collect();
        let domains: HashSet<&str> = tenants.iter().map(|t| t.domain.as_str()).collect();
        assert_eq!((ids.len(), domains.len()), (8, 8));
        assert_eq!(tenants[0].domain, "contoso-0.onmicrosoft.com");
        assert_eq!(tenants[1].domain, "fabrikam-1.onmicrosoft.com");
        for t in &tenants {
            assert!(uuid::Uuid::parse_str(&t.tenant_id).is_ok());
            assert_eq!(t.tenant_id, t.tenant_id.to_lowercase());
        }
    }

    #[test]
    fn a_tenant_has_people_apps_and_devices_in_realistic_numbers() {
        for i in 0..10 {
            let t = build_tenant(42, i);
            assert!((20..=60).contains(&t.users.len()), "{}", t.users.len());
            assert!((2..=4).contains(&t.admins.len()));
            assert!((3..=6).contains(&t.guests.len()));
            assert!(t.service_principals.len() >= 4);
            assert!(t.devices.len() > t.users.len());
            let upns: HashSet<&str> =
                t.users.iter().chain(&t.admins).chain(&t.guests).map(|p| p.upn.as_str()).collect();
            assert_eq!(upns.len(), t.users.len() + t.admins.len() + t.guests.len(), "UPNs are unique");
            assert!(t.guests.iter().all(|g| g.upn.contains("#EXT#@") && g.upn.ends_with(&t.domain)));
            assert!(t.users.iter().all(|u| u.upn.ends_with(&format!("@{}", t.domain)) && u.upn.is_ascii()));
            assert!(t.users.iter().all(|u| u.user_key.len() == 16));
        }
    }

    #[test]
    fn addresses_come_from_documentation_ranges_only() {
        let t = build_tenant(5, 2);
        let documented = |ip: &str| {
            ["192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:"].iter().any(|prefix| ip.starts_with(prefix))
        };
        for p in t.users.iter().chain(&t.admins).chain(&t.guests) {
            assert!(documented(&p.home_ip) && documented(&p.home_ipv6), "{} {}", p.home_ip, p.home_ipv6);
            assert!(p.home_ip.parse::<std::net::Ipv4Addr>().is_ok());
            assert!(p.home_ipv6.parse::<std::net::Ipv6Addr>().is_ok());
        }
        assert!(documented(&t.attacker_ip) && documented(&t.attacker_ip2));
        assert_ne!(t.attacker_ip, t.attacker_ip2);
        assert!(t.attacker_domain.ends_with(".example"));
    }
}

//! Display names of Microsoft first-party applications, by application (client) id, so the
//! pages show "Microsoft Teams" where a record holds `1fec8e78-…`, and search understands
//! `app:"Microsoft Teams"`. Built in (no lookup at run time); the names of the tenant's own
//! apps are read from Graph on the server and travel with the data (`actor_name`,
//! `actor_app_name`, a facet value's `label`).

/// (application id, display name), lower-case ids.
pub const FIRST_PARTY: &[(&str, &str)] = &[
    ("00000002-0000-0000-c000-000000000000", "Windows Azure Active Directory"),
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    ("00000004-0000-0ff1-ce00-000000000000", "Skype for Business Online"),
    ("00000005-0000-0ff1-ce00-000000000000", "Office 365 Yammer"),
    ("00000006-0000-0ff1-ce00-000000000000", "Microsoft Office 365 Portal"),
    ("00000007-0000-0000-c000-000000000000", "Dynamics CRM Online"),
    ("00000009-0000-0000-c000-000000000000", "Power BI Service"),
    ("0000000a-0000-0000-c000-000000000000", "Microsoft Intune"),
    ("0000000c-0000-0000-c000-000000000000", "Microsoft App Access Panel"),
    ("00000012-0000-0000-c000-000000000000", "Microsoft Rights Management Services"),
    ("00b41c95-dab0-4487-9791-b9d2c32c80f2", "Office 365 Management"),
    ("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure CLI"),
    ("14d82eec-204b-4c2f-b7e8-296a70dab67e", "Microsoft Graph Command Line Tools"),
    ("1950a258-227b-4e31-a9cf-717495945fc2", "Microsoft Azure PowerShell"),
    ("1b730954-1685-4b74-9bfd-dac224a7b894", "Azure Active Directory PowerShell"),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"),
    ("29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker"),
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    ("5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "Microsoft Teams Web Client"),
    ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"),
    ("9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "Microsoft Intune Company Portal"),
    ("9bc3ab49-b65d-410a-85ad-de819febfddc", "Microsoft SharePoint Online Management Shell"),
    ("a0c73c16-a7e3-4564-9a95-2bdf47383716", "Microsoft Exchange Online Remote PowerShell"),
    ("ab9b8c07-8f02-4f72-87fa-80105867a763", "OneDrive SyncEngine"),
    ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
    ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    ("d4ebce55-015a-49b5-a083-c84d1797ae8c", "Microsoft Intune Enrollment"),
    ("de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"),
    ("fb78d390-0c51-40cd-8e17-fdbfab77341b", "Microsoft Exchange REST API Based Powershell"),
    ("fc780465-2017-40d4-a0c5-307022471b92", "Microsoft Defender for Endpoint"),
];

/// The display name of a first-party application id.
pub fn name_of(app_id: &str) -> Option<&'static str> {
    let id = app_id.trim().to_ascii_lowercase();
    FIRST_PARTY.iter().find(|(i, _)| *i == id).map(|(_, name)| *name)
}

/// The ids of the first-party applications called `name` (case-insensitive); empty when none.
pub fn ids_named(name: &str) -> Vec<&'static str> {
    let name = name.trim();
    FIRST_PARTY.iter().filter(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(id, _)| *id).collect()
}

/// `text` as shown: the application's name when `text` is a known application id.
pub fn display(text: &str) -> String {
    name_of(text).map(str::to_string).unwrap_or_else(|| text.to_string())
}

/// An application id with its name, when known: `Microsoft Teams (1fec8e78-…)`.
pub fn with_name(app_id: &str) -> String {
    match name_of(app_id) {
        Some(name) => format!("{name} ({app_id})"),
        None => app_id.to_string(),
    }
}

/// An application id with the name the server found for it (the tenant's own applications) or
/// Microsoft's: `Contoso HR Sync (3f2c…)`.
pub fn with_found_name(app_id: &str, found: Option<&str>) -> String {
    match found {
        Some(name) => format!("{name} ({app_id})"),
        None => with_name(app_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_resolve_both_ways() {
        assert_eq!(name_of("1FEC8E78-BCE4-4AAF-AB1B-5451CC387264"), Some("Microsoft Teams"));
        assert_eq!(ids_named("microsoft teams"), vec!["1fec8e78-bce4-4aaf-ab1b-5451cc387264"]);
        assert_eq!(display("not-an-app"), "not-an-app");
        let mut ids: Vec<&str> = FIRST_PARTY.iter().map(|(i, _)| *i).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FIRST_PARTY.len(), "ids are unique");
        assert!(FIRST_PARTY.iter().all(|(i, _)| i.len() == 36 && *i == i.to_ascii_lowercase()));
    }
}

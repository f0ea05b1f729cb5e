//! The redirect audit: every OAuth connector still on the global redirect
//! URI, with its name, publisher and stack owner, as JSON or an HTML table.
//!
//! The platform sets `redirectMode` per parameter set, so a connector with
//! `connectionParameterSets` has a row for each set that signs in on the
//! global URI; its sets on `GlobalPerConnector` have none. The sets of one
//! connector share its per-connector redirect URI, `/redirect/{connector}`:
//! the platform's URI names the connector only, and a sign-in's `state`
//! tells which connection (and so which set) it belongs to.

use serde::Serialize;

use sluice_package::{Package, RedirectMode};

/// One connector that still uses the global redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// The connector id (its folder).
    pub connector: String,
    /// Its display name (`info.title`), else its id.
    pub name: String,
    /// `publisher`.
    pub publisher: Option<String>,
    /// `stackOwner`.
    pub stack_owner: Option<String>,
    /// The parameter set that signs in on the global URI, for a connector
    /// with `connectionParameterSets`.
    pub parameter_set: Option<String>,
    /// `redirectMode` as the package gives it (`Global` when absent).
    pub redirect_mode: String,
    /// The redirect URI its sign-ins use now, when the gateway signs in.
    pub redirect_uri: Option<String>,
    /// What to do about it.
    pub action: String,
}

/// The audit over some packages, sorted by connector id (and, within one,
/// in the order of its sets); `redirect_uri` gives the URI a mode has for a
/// connector, when the gateway signs in.
pub fn audit<'a>(
    packages: impl IntoIterator<Item = &'a Package>,
    redirect_uri: impl Fn(&str, RedirectMode) -> Option<String>,
) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    for package in packages {
        // `None` stands for a connector without sets.
        let sets: Vec<Option<&str>> = match &package.properties.parameter_sets {
            Some(sets) => sets.sets.iter().map(|s| Some(s.name.as_str())).collect(),
            None => vec![None],
        };
        for set in sets {
            if !package.signs_in(set) || package.redirect_mode(set) != RedirectMode::Global {
                continue;
            }
            let mode = package.oauth_settings(set).and_then(|o| o.redirect_mode.clone());
            let set_note = set.map(|set| format!(" for parameter set `{set}`")).unwrap_or_default();
            entries.push(AuditEntry {
                connector: package.id.clone(),
                name: package.definition.title.clone().unwrap_or_else(|| package.id.clone()),
                publisher: package.properties.publisher.clone(),
                stack_owner: package.properties.stack_owner.clone(),
                parameter_set: set.map(str::to_string),
                redirect_mode: mode.unwrap_or_else(|| "Global".into()),
                redirect_uri: redirect_uri(&package.id, RedirectMode::Global),
                action: format!(
                    "set \"redirectMode\": \"GlobalPerConnector\"{set_note} in apiProperties.json and register the redirect URI ending /redirect/{} with the identity provider",
                    package.id
                ),
            });
        }
    }
    // Stable: a connector's sets stay in file order.
    entries.sort_by(|a, b| a.connector.cmp(&b.connector));
    entries
}

/// The audit as a standalone HTML page.
pub fn render_html(entries: &[AuditEntry], cutoff: Option<chrono::NaiveDate>) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sluice: redirect audit</title>\n\
         <style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}\
         th,td{border:1px solid #ccc;padding:.4rem .7rem;text-align:left}th{background:#f3f3f3}</style></head><body>\n\
         <h1>OAuth connectors on the global redirect URI</h1>\n",
    );
    match cutoff {
        Some(date) => html.push_str(&format!("<p>From {date}, these connectors refuse new sign-ins.</p>\n")),
        None => html.push_str("<p>No cut-off date is configured.</p>\n"),
    }
    if entries.is_empty() {
        html.push_str("<p>None: every OAuth connector uses its own redirect URI.</p>\n");
    } else {
        html.push_str("<table>\n<tr><th>Connector</th><th>Parameter set</th><th>Name</th><th>Publisher</th><th>Stack owner</th><th>Redirect mode</th><th>Redirect URI</th><th>Action</th></tr>\n");
        for entry in entries {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&entry.connector),
                escape(entry.parameter_set.as_deref().unwrap_or("")),
                escape(&entry.name),
                escape(entry.publisher.as_deref().unwrap_or("")),
                escape(entry.stack_owner.as_deref().unwrap_or("")),
                escape(&entry.redirect_mode),
                escape(entry.redirect_uri.as_deref().unwrap_or("")),
                escape(&entry.action),
            ));
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_package_text() {
        let entry = AuditEntry {
            connector: "x".into(),
            name: "<script>alert(1)</script>".into(),
            publisher: Some("A & B".into()),
            stack_owner: None,
            parameter_set: Some("<b>set</b>".into()),
            redirect_mode: "Global".into(),
            redirect_uri: None,
            action: "do it".into(),
        };
        let html = render_html(&[entry], None);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("A &amp; B"));
        assert!(html.contains("&lt;b&gt;set&lt;/b&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn industrial_app_store_is_listed_with_its_publisher() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/Industrial_App_Store"));
        let package = sluice_package::load_package(dir).unwrap();
        let entries = audit([&package], |_, _| None);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].connector, "Industrial_App_Store");
        assert!(entries[0].publisher.is_some());
    }
}

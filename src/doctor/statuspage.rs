//! The status page: the API key and page id answer, and every component a service names is on
//! the page. One request (`GET /pages/{id}/components`) does both: Statuspage allows one
//! request per second per key, and a wrong page id or key answers it with 404 or 401 as
//! `GET /pages/{id}` would.

use serde_json::Value;

use super::{Check, Context};

const PAGE: &str = "status page";
const COMPONENTS: &str = "status page components";

pub async fn checks(cx: &Context<'_>) -> Vec<Check> {
    let settings = cx.settings;
    let configured: Vec<(String, &str)> = settings
        .file
        .services
        .iter()
        .flat_map(|(service, c)| c.statuspage_components.iter().map(move |id| (id.clone(), service.as_str())))
        .collect();
    let (Some(key), Some(page)) = (&settings.statuspage_api_key, &settings.statuspage_page_id) else {
        let why = "no STATUSPAGE_API_KEY (status page updates go to warroom's in-process sandbox page)";
        return vec![Check::skip(PAGE, why), Check::skip(COMPONENTS, why)];
    };
    let url = format!("{}/pages/{page}/components", settings.statuspage_api_url);
    let answer = cx.http.get(url).header("authorization", format!("OAuth {}", key.expose())).send().await;
    let components = match answer {
        Err(e) => {
            let found = if e.is_timeout() { "no answer in time" } else { "could not connect" };
            return vec![
                Check::fail(PAGE, format!("{}: {found}", settings.statuspage_api_url), "check STATUSPAGE_API_URL"),
                Check::skip(COMPONENTS, "the page did not answer"),
            ];
        }
        Ok(response) => {
            let status = response.status().as_u16();
            match (status, response.json::<Value>().await) {
                (200, Ok(Value::Array(components))) => components,
                (status, _) => {
                    let (found, fix) = refusal(status, page);
                    return vec![Check::fail(PAGE, found, fix), Check::skip(COMPONENTS, "the page did not answer")];
                }
            }
        }
    };
    let count = plural(components.len(), "component");
    let mut checks = vec![Check::pass(PAGE, format!("page {page} answers ({count})"))];
    let on_page = |id: &str| components.iter().any(|c| c["id"] == id);
    let missing: Vec<String> = configured
        .iter()
        .filter(|(id, _)| !on_page(id))
        .map(|(id, service)| format!("{id} ([services.{service}])"))
        .collect();
    checks.push(if configured.is_empty() {
        Check::pass(COMPONENTS, "no service names a component")
    } else if missing.is_empty() {
        Check::pass(COMPONENTS, format!("{} configured, all on the page", plural(configured.len(), "component")))
    } else {
        let listed: Vec<String> = components
            .iter()
            .take(10)
            .map(|c| format!("{} ({})", c["id"].as_str().unwrap_or("?"), c["name"].as_str().unwrap_or("?")))
            .collect();
        Check::fail(
            COMPONENTS,
            format!("not on page {page}: {}", missing.join(", ")),
            format!(
                "set statuspage_components to ids of the page's components ({})",
                if listed.is_empty() { "it has none".to_string() } else { listed.join(", ") }
            ),
        )
    });
    checks
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// What a refused `GET` means and what to do.
fn refusal(status: u16, page: &str) -> (String, String) {
    match status {
        401 | 403 => (
            format!("the API key is refused (HTTP {status})"),
            "set STATUSPAGE_API_KEY to a key from manage.statuspage.io → your avatar → API info".into(),
        ),
        404 => (
            format!("there is no page {page} for this key (HTTP 404)"),
            "set STATUSPAGE_PAGE_ID to the id in the page's address (manage.statuspage.io/pages/<id>)".into(),
        ),
        429 => ("rate limited (HTTP 429)".into(), "run warroom doctor again in a few seconds".into()),
        status => (format!("HTTP {status}"), "check STATUSPAGE_API_URL and Statuspage's own status".into()),
    }
}

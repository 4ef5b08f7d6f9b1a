//! The console's pages: one Handlebars registry with HTML escaping (`{{x}}` is escaped; the
//! layout's `{{{body}}}` is the page already rendered), the layout every page shares (the
//! navigation, who is signed in, sign-out) and the headers every console answer carries. A
//! page plugs in with one line in [`TEMPLATES`] and renders through [`render`].

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;

use super::session::Viewer;

/// Every console template: `(name, source)`, compiled into the binary (a page cannot be
/// missing at run time; a unit test renders each).
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/console/layout.hbs")),
    ("message", include_str!("../../templates/console/message.hbs")),
    ("signin", include_str!("../../templates/console/signin.hbs")),
    ("incidents", include_str!("../../templates/console/incidents.hbs")),
    ("insights", include_str!("../../templates/console/insights.hbs")),
    ("incident", include_str!("../../templates/console/incident.hbs")),
];

static PAGES: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    for (name, source) in TEMPLATES {
        // The templates are part of the binary: one that does not compile is a build defect
        // the unit test below catches.
        registry.register_template_string(name, *source).expect("a console template compiles");
    }
    registry
});

/// The section of the console a page belongs to (highlighted in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Incidents,
    Insights,
}

/// Renders `template` with `data` inside the layout, as the answer to a page request.
pub fn render(viewer: &Viewer, section: Section, title: &str, template: &str, data: &impl Serialize) -> Response {
    match render_html(viewer, section, title, template, data) {
        Ok(html) => with_headers(Html(html).into_response()),
        Err(e) => {
            tracing::error!("console page {template} did not render: {e}");
            with_headers((StatusCode::INTERNAL_SERVER_ERROR, "This page could not be rendered.").into_response())
        }
    }
}

/// Renders `template` inside the layout for nobody signed in (the sign-in's own pages): no
/// navigation, no name, no sign-out.
pub fn render_public(status: StatusCode, title: &str, template: &str, data: &impl Serialize) -> Response {
    let rendered = PAGES.render(template, data).and_then(|body| {
        PAGES.render("layout", &json!({ "title": title, "viewer": null, "section": null, "body": body }))
    });
    match rendered {
        Ok(html) => with_headers((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!("console page {template} did not render: {e}");
            with_headers((StatusCode::INTERNAL_SERVER_ERROR, "This page could not be rendered.").into_response())
        }
    }
}

/// A short page saying `message` (a refusal, a missing incident) with `status`.
pub fn message(viewer: &Viewer, status: StatusCode, title: &str, message: &str) -> Response {
    let mut response = render(viewer, Section::Incidents, title, "message", &json!({ "message": message }));
    *response.status_mut() = status;
    response
}

fn render_html(
    viewer: &Viewer,
    section: Section,
    title: &str,
    template: &str,
    data: &impl Serialize,
) -> Result<String, handlebars::RenderError> {
    let body = PAGES.render(template, data)?;
    PAGES.render("layout", &json!({ "title": title, "viewer": viewer, "section": section, "body": body }))
}

/// The headers of every console answer: not cached (the pages show who is signed in and what
/// they may see), not framed, nothing but this site's own scripts and styles.
pub fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> Viewer {
        Viewer { user_id: "U0BOB".into(), team_id: "T0".into(), name: "bob <b>".into(), email: None }
    }

    #[test]
    fn the_layout_escapes_what_people_wrote_and_shows_who_is_signed_in() {
        let html =
            render_html(&viewer(), Section::Incidents, "<t>", "message", &json!({ "message": "<script>" })).unwrap();
        assert!(html.contains("bob &lt;b&gt;") && html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("action=\"/auth/logout\""), "a sign-out form");
    }

    #[test]
    fn a_public_page_shows_nobody_signed_in() {
        let data = json!({ "message": "<m>", "href": "/auth/slack/login?next=%2Fconsole", "action": "Sign in" });
        let response = render_public(StatusCode::BAD_REQUEST, "Sign in", "signin", &data);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let html = PAGES.render("signin", &data).unwrap();
        assert!(html.contains("&lt;m&gt;") && html.contains("class=\"button\""), "{html}");
        let page = PAGES.render("layout", &json!({ "title": "t", "viewer": null, "section": null, "body": "" }));
        assert!(!page.unwrap().contains("/auth/logout"), "no sign-out when nobody is signed in");
    }

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(PAGES.get_template(name).is_some(), "{name}");
        }
    }
}

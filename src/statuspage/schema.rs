//! The shapes of the incident requests warroom sends to Statuspage, as the API publishes them.
//!
//! The sandbox status page checks every request body it receives against these shapes, so that a
//! misspelt field, a wrong type or a status the API does not know fails a test instead of a real
//! incident. The schemas are the request bodies of the published OpenAPI spec
//! (`specs/statuspage-v1.openapi.yaml`), extracted with their `$ref`s inlined into
//! `specs/statuspage-incident-requests.json` by `scripts/extract-statuspage-schema` (CI checks that
//! the file is current), so warroom needs neither a YAML parser nor a JSON-schema crate: the small
//! validator here supports exactly the keywords that file contains, and a test fails if it ever
//! contains another. The file is stricter than the spec in two ways, both said in its `$comment`:
//! `incident.components` is a map from component id to status (the spec's known defect models it
//! as one literal `component_id` property), and unknown fields are refused in the body and in
//! `incident`.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The extracted schemas: `{"$comment": ..., "create": schema, "update": schema}`.
const REQUESTS: &str = include_str!("../../specs/statuspage-incident-requests.json");

/// A request to Statuspage whose body has a published shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `POST /pages/{page_id}/incidents`
    Create,
    /// `PATCH /pages/{page_id}/incidents/{incident_id}`
    Update,
}

#[derive(Deserialize)]
struct Schemas {
    create: Value,
    update: Value,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        serde_json::from_str(REQUESTS).expect(
            "specs/statuspage-incident-requests.json has `create` and `update` schemas \
             (regenerate it with scripts/extract-statuspage-schema)",
        )
    })
}

fn schema(request: Request) -> &'static Value {
    match request {
        Request::Create => &schemas().create,
        Request::Update => &schemas().update,
    }
}

/// Checks `body` against the published shape of `request`'s body. On failure, one message per
/// violation, each starting with the JSON path it is about, like `incident.name: required` or
/// `incident.components.8kbf7d35c070: "down" is not one of operational, ...`.
pub fn check(request: Request, body: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    validate(schema(request), body, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks `value` against any `schema` written in the same JSON-schema subset (warroom's own
/// report schema uses it too; `type` may also be a list, for nullable fields).
pub fn check_against(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    validate(schema, value, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Appends to `errors` every way `value` (found at `path`, "" for the body itself) violates
/// `schema`. Supports exactly `type`, `properties`, `required`, `additionalProperties` (false or a
/// schema), `enum` (of strings) and `items`; `tests::only_supported_keywords` fails if the
/// extracted file uses anything else.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let here = if path.is_empty() { "(body)" } else { path };
    let expected: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(any)) => any.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !expected.is_empty() && !expected.iter().any(|t| has_type(value, t)) {
        errors.push(format!("{here}: expected {}, got {}", expected.join(" or "), type_name(value)));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
            errors.push(format!("{here}: {value} is not one of {}", allowed.join(", ")));
        }
    }
    if let Value::Object(fields) = value {
        let required = schema.get("required").and_then(Value::as_array).into_iter().flatten();
        for name in required.filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                errors.push(format!("{}: required", child(path, name)));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let field_path = child(path, name);
            match (properties.and_then(|properties| properties.get(name)), schema.get("additionalProperties")) {
                (Some(property), _) => validate(property, field, &field_path, errors),
                (None, Some(Value::Bool(false))) => errors.push(format!("{field_path}: unknown field")),
                (None, Some(additional @ Value::Object(_))) => validate(additional, field, &field_path, errors),
                (None, _) => {}
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, element) in items.iter().enumerate() {
            validate(item, element, &format!("{here}[{i}]"), errors);
        }
    }
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The keywords `validate` enforces.
    const KEYWORDS: &[&str] = &["type", "properties", "required", "additionalProperties", "enum", "items"];
    /// The values of `type` that `has_type` knows.
    const TYPES: &[&str] = &["object", "array", "string", "boolean", "integer", "number"];

    fn create_body() -> Value {
        json!({
            "incident": {
                "name": "Major Outage - inference-gateway",
                "status": "investigating",
                "body": "We are investigating errors on the inference gateway.",
                "impact_override": "critical",
                "component_ids": ["8kbf7d35c070"],
                "components": {"8kbf7d35c070": "major_outage"},
                "deliver_notifications": true,
                "metadata": {"warroom": {"incident_id": "5f0c2a9e-8d1b-4c3f-9a7e-2b6d1e0f4a11", "number": "INC-1"}}
            }
        })
    }

    fn update_body() -> Value {
        json!({
            "incident": {
                "status": "resolved",
                "body": "The inference gateway is serving normally again.",
                "components": {"8kbf7d35c070": "operational"},
                "deliver_notifications": true
            }
        })
    }

    /// The messages, sorted (the order of an object's fields is serde_json's, not the body's).
    fn errors(request: Request, body: &Value) -> Vec<String> {
        let mut errors = check(request, body).expect_err("the body should be refused");
        errors.sort();
        errors
    }

    #[test]
    fn valid_bodies_pass() {
        assert_eq!(check(Request::Create, &create_body()), Ok(()));
        assert_eq!(check(Request::Update, &update_body()), Ok(()));
    }

    #[test]
    fn a_status_the_api_does_not_know_is_refused() {
        let mut body = update_body();
        body["incident"]["status"] = json!("down");
        let statuses = "investigating, identified, monitoring, resolved, scheduled, in_progress, verifying, completed";
        assert_eq!(errors(Request::Update, &body), [format!(r#"incident.status: "down" is not one of {statuses}"#)]);
    }

    #[test]
    fn unknown_fields_are_refused_in_the_body_and_in_the_incident() {
        let mut body = update_body();
        body["incident"]["naem"] = json!("Major Outage");
        body["incidnet"] = json!({});
        assert_eq!(errors(Request::Update, &body), ["incident.naem: unknown field", "incidnet: unknown field"]);
    }

    #[test]
    fn a_wrong_type_is_refused() {
        let mut body = create_body();
        body["incident"]["deliver_notifications"] = json!("true");
        body["incident"]["component_ids"] = json!(["8kbf7d35c070", 42]);
        assert_eq!(
            errors(Request::Create, &body),
            [
                "incident.component_ids[1]: expected string, got integer",
                "incident.deliver_notifications: expected boolean, got string",
            ]
        );
        assert_eq!(errors(Request::Create, &json!([])), ["(body): expected object, got array"]);
    }

    #[test]
    fn a_component_status_the_api_does_not_know_is_refused() {
        let mut body = create_body();
        body["incident"]["components"]["8kbf7d35c070"] = json!("down");
        body["incident"]["components"]["0frwxtbsbr91"] = json!("");
        let statuses = "operational, under_maintenance, degraded_performance, partial_outage, major_outage";
        assert_eq!(
            errors(Request::Create, &body),
            [
                format!(r#"incident.components.0frwxtbsbr91: "" is not one of {statuses}"#),
                format!(r#"incident.components.8kbf7d35c070: "down" is not one of {statuses}"#),
            ]
        );
    }

    #[test]
    fn the_name_is_required_on_create_only() {
        let mut body = create_body();
        body["incident"].as_object_mut().unwrap().remove("name");
        assert_eq!(errors(Request::Create, &body), ["incident.name: required"]);
        assert_eq!(check(Request::Update, &body), Ok(()));
    }

    #[test]
    fn integers_and_numbers() {
        let schema =
            json!({"type": "object", "properties": {"count": {"type": "integer"}, "ratio": {"type": "number"}}});
        let mut errors = Vec::new();
        validate(&schema, &json!({"count": 3, "ratio": 0.5}), "", &mut errors);
        validate(&schema, &json!({"count": u64::MAX, "ratio": -2}), "", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        validate(&schema, &json!({"count": 1.5, "ratio": "1"}), "", &mut errors);
        assert_eq!(errors, ["count: expected integer, got number", "ratio: expected number, got string"]);
    }

    /// Fails if the extracted file uses a keyword (or a `type`, or an `enum` member) that
    /// `validate` would silently ignore.
    #[test]
    fn only_supported_keywords() {
        fn walk(schema: &Value, path: &str) {
            let keywords = schema.as_object().unwrap_or_else(|| panic!("{path}: schema is not an object"));
            assert!(!keywords.is_empty(), "{path}: empty schema");
            for (keyword, value) in keywords {
                let at = format!("{path}/{keyword}");
                match keyword.as_str() {
                    "type" => assert!(value.as_str().is_some_and(|t| TYPES.contains(&t)), "{at}: unsupported {value}"),
                    "enum" | "required" => {
                        let members = value.as_array().unwrap_or_else(|| panic!("{at}: not an array"));
                        assert!(members.iter().all(Value::is_string), "{at}: not all strings: {value}");
                    }
                    "properties" => {
                        let properties = value.as_object().unwrap_or_else(|| panic!("{at}: not an object"));
                        for (name, property) in properties {
                            walk(property, &format!("{at}/{name}"));
                        }
                    }
                    "items" => walk(value, &at),
                    "additionalProperties" => match value {
                        Value::Bool(false) => {}
                        Value::Object(_) => walk(value, &at),
                        _ => panic!("{at}: only false or a schema is supported, not {value}"),
                    },
                    _ => panic!("{at}: keyword not supported by validate (supported: {KEYWORDS:?})"),
                }
            }
        }
        walk(&schemas().create, "create");
        walk(&schemas().update, "update");
    }
}

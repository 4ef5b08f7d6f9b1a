//! The sandbox as Sign in with Slack's OpenID provider: the authorize page
//! (`/openid/connect/authorize`, on the control surface: "sign in to the sandbox workspace as"
//! alice, bob or carol) and the Web API method `openid.connect.token`, with Slack's checks and
//! error codes: the client and its secret, the redirect URL the app lists, a code used once,
//! bound to its client and redirect URL, good for ten minutes of the workspace's clock. The ID
//! token is a JWT like Slack's, signed HS256 with the client secret (Slack signs RS256).
//!
//! Tests can make the next ID token carry another nonce, another team, or be expired already
//! ([`Workspace::spoil_next_id_token`]), like the workspace's other injected faults.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State as Shared};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::web_api::{After, Answer};
use super::{State, Workspace, BOT_USER, TEAM_ID};

/// The sandbox Slack app's client ID (warroom uses it in sandbox mode).
pub const CLIENT_ID: &str = "1000000000001.2000000000002";
/// Its client secret. Not a secret: the sandbox runs on this machine only.
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
/// The sandbox workspace's name, in the ID token.
pub const TEAM_NAME: &str = "warroom sandbox";

/// How long a code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::minutes(10);
/// How long an ID token is good for (Slack's: five minutes).
const ID_TOKEN_LIFETIME: Duration = Duration::minutes(5);

/// How the next ID token is spoiled (a test hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoiled {
    /// Its nonce is not the one the sign-in sent.
    OtherNonce,
    /// It is another workspace's.
    OtherTeam,
    /// It expired before it was issued.
    Expired,
}

/// The provider's state: the redirect URLs the app lists, the codes handed out.
#[derive(Debug, Default)]
pub(super) struct Provider {
    redirect_urls: Vec<String>,
    codes: HashMap<String, Code>,
    spoil: Option<Spoiled>,
}

#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    user: String,
    nonce: Option<String>,
    issued: DateTime<Utc>,
}

impl Workspace {
    /// Lists `url` among the sandbox app's redirect URLs (warroom's callback is listed by
    /// default: `{warroom}/auth/slack/callback`).
    pub fn allow_redirect_url(&self, url: &str) {
        self.with(|s| s.openid.redirect_urls.push(url.to_string()));
    }

    /// Spoils the next ID token `openid.connect.token` issues, as `how`.
    pub fn spoil_next_id_token(&self, how: Spoiled) {
        self.with(|s| s.openid.spoil = Some(how));
    }

    fn redirect_allowed(&self, s: &State, url: &str) -> bool {
        let warroom = self.urls.lock().unwrap_or_else(|e| e.into_inner()).0.clone();
        url == format!("{warroom}/auth/slack/callback") || s.openid.redirect_urls.iter().any(|u| u == url)
    }
}

/// What the authorize page was asked for, checked.
struct Asked {
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
}

/// Why the authorize page refuses: a page of its own (the app or its redirect URL is wrong, so
/// there is nowhere to send the browser back to), or Slack's `error` sent back.
enum Refusal {
    Page(String),
    Back(String, &'static str),
}

fn check(ws: &Workspace, params: &HashMap<String, String>) -> Result<Asked, Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        return Err(Refusal::Page("Invalid client_id parameter".into()));
    }
    let redirect_uri = get("redirect_uri").to_string();
    if !ws.read(|s| ws.redirect_allowed(s, &redirect_uri)) {
        return Err(Refusal::Page(format!(
            "redirect_uri did not match any configured URIs. Passed URI: {redirect_uri}"
        )));
    }
    let back = |error| Err(Refusal::Back(redirect_uri.clone(), error));
    if get("response_type") != "code" {
        return back("unsupported_response_type");
    }
    let scopes: Vec<&str> = get("scope").split([' ', ',']).filter(|s| !s.is_empty()).collect();
    if !scopes.contains(&"openid") || scopes.iter().any(|s| !["openid", "email", "profile"].contains(s)) {
        return back("invalid_scope");
    }
    let nonce = params.get("nonce").filter(|n| !n.is_empty()).cloned();
    Ok(Asked { redirect_uri, state: get("state").to_string(), nonce })
}

/// `{redirect_uri}?a=..&b=..`, keeping a query the URL has.
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    (StatusCode::FOUND, [(header::LOCATION, format!("{redirect_uri}{sep}{query}"))]).into_response()
}

fn refused(refusal: Refusal, state: &str) -> Response {
    match refusal {
        Refusal::Page(why) => html(StatusCode::BAD_REQUEST, &format!("<p class=\"error\">{}</p>", escape(&why))),
        Refusal::Back(uri, error) => back_to(&uri, &[("error", error), ("state", state)]),
    }
}

fn params(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// `GET /openid/connect/authorize?...`: the page to choose who signs in.
pub(super) async fn authorize(Shared(ws): Shared<Arc<Workspace>>, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    if let Err(refusal) = check(&ws, &params) {
        return refused(refusal, params.get("state").map_or("", String::as_str));
    }
    let hidden: String = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "team"]
        .iter()
        .filter_map(|k| params.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v)))
        .collect();
    let buttons: String = ws
        .users()
        .into_iter()
        .filter(|u| u.id != BOT_USER)
        .map(|u| {
            format!("<button type=\"submit\" name=\"user\" value=\"{}\">{}</button>", escape(&u.id), escape(&u.name))
        })
        .collect();
    let body = format!(
        "<h1>Sign in to the sandbox workspace as</h1>\
         <form method=\"post\" action=\"authorize\">{hidden}<div class=\"people\">{buttons}</div>\
         <button type=\"submit\" name=\"cancel\" value=\"1\" class=\"cancel\">Cancel</button></form>"
    );
    html(StatusCode::OK, &body)
}

/// `POST /openid/connect/authorize`: the person chose (or cancelled); back to the app with a code.
pub(super) async fn choose(Shared(ws): Shared<Arc<Workspace>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let state = form.get("state").cloned().unwrap_or_default();
    let asked = match check(&ws, &form) {
        Ok(asked) => asked,
        Err(refusal) => return refused(refusal, &state),
    };
    if form.contains_key("cancel") {
        return back_to(&asked.redirect_uri, &[("error", "access_denied"), ("state", &asked.state)]);
    }
    let user = form.get("user").cloned().unwrap_or_default();
    if user == BOT_USER || !ws.users().iter().any(|u| u.id == user) {
        return html(StatusCode::BAD_REQUEST, "<p class=\"error\">No such person in the sandbox workspace.</p>");
    }
    let code = format!("{}.{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let issued = ws.clock.now();
    let entry = Code {
        client_id: CLIENT_ID.into(),
        redirect_uri: asked.redirect_uri.clone(),
        user,
        nonce: asked.nonce,
        issued,
    };
    ws.with(|s| s.openid.codes.insert(code.clone(), entry));
    back_to(&asked.redirect_uri, &[("code", &code), ("state", &asked.state)])
}

fn html(status: StatusCode, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · sandbox Slack</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:28em;margin:3em auto;padding:0 1em}}\
         .people button{{display:block;width:100%;margin:.5em 0;padding:.7em;font:inherit;cursor:pointer}}\
         .cancel{{margin-top:1em;background:none;border:0;color:#555;text-decoration:underline;cursor:pointer}}\
         .error{{color:#b91c1c}}</style></head><body>{body}</body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page)
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `openid.connect.token`: the code exchanged for an access token and the ID token. Needs no
/// bot token: the client ID and secret authenticate it.
pub(super) fn token(s: &mut State, params: &Value, now: DateTime<Utc>) -> Answer {
    let p = |k: &str| params[k].as_str().unwrap_or("");
    let answer = |body: Value| Answer { status: 200, retry_after: None, body, after: After::Answer };
    let refuse = |error: &str| answer(json!({ "ok": false, "error": error }));
    if p("client_id") != CLIENT_ID {
        return refuse("invalid_client_id");
    }
    if p("client_secret") != CLIENT_SECRET {
        return refuse("bad_client_secret");
    }
    if !matches!(p("grant_type"), "" | "authorization_code") {
        return refuse("invalid_grant_type");
    }
    // Used once: taken out whatever follows.
    let Some(code) = s.openid.codes.remove(p("code")) else { return refuse("invalid_code") };
    if code.client_id != p("client_id") || now - code.issued > CODE_LIFETIME {
        return refuse("invalid_code");
    }
    if code.redirect_uri != p("redirect_uri") {
        return refuse("bad_redirect_uri");
    }
    let Some(user) = s.users.iter().find(|u| u.id == code.user).cloned() else { return refuse("invalid_code") };
    let mut claims = json!({
        "iss": "https://slack.com", "sub": user.id, "aud": CLIENT_ID,
        "exp": (now + ID_TOKEN_LIFETIME).timestamp(), "iat": now.timestamp(), "auth_time": now.timestamp(),
        "nonce": code.nonce, "https://slack.com/user_id": user.id,
        "https://slack.com/team_id": TEAM_ID, "https://slack.com/team_name": TEAM_NAME,
        "https://slack.com/team_domain": "warroom-sandbox",
        "email": user.email, "email_verified": user.email.is_some(),
        "name": user.name, "given_name": user.name, "family_name": "", "locale": "en-US",
    });
    match s.openid.spoil.take() {
        Some(Spoiled::OtherNonce) => claims["nonce"] = json!("a-nonce-this-sign-in-never-sent"),
        Some(Spoiled::OtherTeam) => {
            claims["https://slack.com/team_id"] = json!("T0ELSEWHERE");
            claims["https://slack.com/team_name"] = json!("another workspace");
        }
        Some(Spoiled::Expired) => {
            claims["iat"] = json!((now - ID_TOKEN_LIFETIME * 2).timestamp());
            claims["exp"] = json!((now - ID_TOKEN_LIFETIME).timestamp());
        }
        None => {}
    }
    let access_token = format!("xoxp-sandbox-{}", uuid::Uuid::new_v4().simple());
    answer(json!({ "ok": true, "access_token": access_token, "token_type": "Bearer",
                   "id_token": sign(&claims, CLIENT_SECRET) }))
}

/// A JWT of `claims`, HS256 with `secret`.
fn sign(claims: &Value, secret: &str) -> String {
    let header = base64url(br#"{"alg":"HS256","typ":"JWT","kid":"sandbox"}"#);
    let payload = base64url(claims.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", base64url(&mac.finalize().into_bytes()))
}

/// Unpadded base64url (RFC 4648 §5), as JWTs write their parts.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE")]
        {
            assert_eq!(base64url(plain.as_bytes()), encoded);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn the_id_token_is_an_hs256_jwt_signed_with_the_client_secret() {
        let jwt = sign(&json!({ "sub": "U0BOB" }), "k");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(parts[2], base64url(&mac.finalize().into_bytes()));
    }
}

//! Slack as an OpenID Connect provider: the authorize URL the browser is sent to, the code
//! exchange through the Web API method `openid.connect.token`, and the checks on the ID token
//! it answers with (issuer, audience, expiry, nonce, workspace).
//!
//! The ID token's signature is not verified: warroom receives it straight from Slack's token
//! endpoint, over TLS, in the answer to a request authenticated with the client secret — which
//! OpenID Connect Core 3.1.3.7 (6) accepts in place of the signature check. So there is no
//! JWKS fetch and no RSA code here (README, departures).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::secret::Secret;

/// The issuer Slack puts in every ID token.
pub const ISSUER: &str = "https://slack.com";

/// Where a sign-in fails, each said in words a person understands (never with the code, a
/// token or the secret in them).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    #[error("Slack could not be reached to finish signing in ({0}).")]
    Unreachable(String),
    #[error("Slack refused to finish the sign-in: {0}")]
    Refused(String),
    #[error("Slack's answer could not be read ({0}).")]
    Unreadable(&'static str),
    #[error("The sign-in was meant for another app (its audience is not this warroom's client).")]
    WrongAudience,
    #[error("The sign-in did not come from Slack (its issuer is not {ISSUER}).")]
    WrongIssuer,
    #[error("The sign-in from Slack has expired.")]
    Expired,
    #[error("The sign-in from Slack does not belong to this sign-in attempt (its nonce does not match).")]
    WrongNonce,
    #[error("You signed in to another Slack workspace; only members of this warroom's workspace may sign in.")]
    WrongTeam,
}

/// Slack's `error` codes from `openid.connect.token`, in words.
fn refusal_words(code: &str) -> String {
    let why = match code {
        "invalid_code" => "the sign-in code is not valid (it expired, or was used already)",
        "code_already_used" => "the sign-in code was used already",
        "bad_client_secret" => "warroom's SLACK_CLIENT_SECRET is not this app's client secret",
        "invalid_client_id" => "warroom's SLACK_CLIENT_ID is not a Slack app's client ID",
        "bad_redirect_uri" => {
            "the redirect URL does not match the one the sign-in started with (check WARROOM_PUBLIC_URL)"
        }
        "invalid_grant_type" => "the grant type was refused",
        "ratelimited" => "too many sign-ins at once; try again in a minute",
        _ => "",
    };
    if why.is_empty() {
        format!("{code}.")
    } else {
        format!("{why} ({code}).")
    }
}

/// This warroom as a Slack app that signs people in.
#[derive(Debug, Clone)]
pub struct Provider {
    pub client_id: String,
    pub client_secret: Secret,
    /// `SLACK_OIDC_URL`, without the trailing slash.
    pub oidc_url: String,
    /// `{SLACK_API_URL}/openid.connect.token`.
    pub token_url: String,
    /// `{WARROOM_PUBLIC_URL}/auth/slack/callback`.
    pub redirect_uri: String,
}

/// Who Slack says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub team_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// The ID token's claims warroom reads (Slack sends more).
#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: Option<String>,
    aud: Audience,
    exp: i64,
    nonce: Option<String>,
    #[serde(rename = "https://slack.com/user_id")]
    user_id: Option<String>,
    #[serde(rename = "https://slack.com/team_id")]
    team_id: Option<String>,
    name: Option<String>,
    email: Option<String>,
}

/// `aud`: one client, or (as the JWT spec allows) a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, client_id: &str) -> bool {
        match self {
            Audience::One(aud) => aud == client_id,
            Audience::Many(auds) => auds.iter().any(|a| a == client_id),
        }
    }
}

/// What Slack checks the ID token against: the nonce stored with the sign-in, the workspace,
/// and now (the injected clock).
pub struct Expected<'a> {
    pub nonce: &'a str,
    pub team_id: &'a str,
    pub now: DateTime<Utc>,
}

impl Provider {
    /// Where the browser is sent to sign in. `team` (the workspace's ID) skips Slack's
    /// workspace picker.
    pub fn authorize_url(&self, state: &str, nonce: &str, team: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile")
            .append_pair("client_id", &self.client_id)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("redirect_uri", &self.redirect_uri);
        if let Some(team) = team {
            query.append_pair("team", team);
        }
        // `%20` rather than `+` between the scopes, as Slack's own links write them.
        let query = query.finish().replace('+', "%20");
        format!("{}/openid/connect/authorize?{query}", self.oidc_url)
    }

    /// Exchanges the callback's `code` for the ID token (`openid.connect.token`, a form POST
    /// authenticated with the client secret). Returns the token, not yet checked.
    pub async fn exchange(&self, http: &reqwest::Client, code: &str) -> Result<String, SignInError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("grant_type", "authorization_code"),
        ];
        // The error's text never carries the form (reqwest names only the URL, without a body).
        let answer = http.post(&self.token_url).form(&form).send().await.map_err(|e| {
            SignInError::Unreachable(if e.is_timeout() { "timed out".into() } else { "no connection".into() })
        })?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|_| SignInError::Unreadable("not JSON"))?;
        if body["ok"] != true {
            let code = body["error"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_string);
            return Err(SignInError::Refused(refusal_words(&code)));
        }
        body["id_token"].as_str().map(str::to_string).ok_or(SignInError::Unreadable("no id_token"))
    }

    /// Reads the ID token and checks it was issued by Slack, to this client, not expired, for
    /// this sign-in (its nonce) and in this workspace.
    pub fn check(&self, id_token: &str, expected: &Expected<'_>) -> Result<Person, SignInError> {
        let claims = decode(id_token)?;
        if claims.iss != ISSUER {
            return Err(SignInError::WrongIssuer);
        }
        if !claims.aud.names(&self.client_id) {
            return Err(SignInError::WrongAudience);
        }
        if claims.exp <= expected.now.timestamp() {
            return Err(SignInError::Expired);
        }
        if claims.nonce.as_deref() != Some(expected.nonce) {
            return Err(SignInError::WrongNonce);
        }
        let team_id = claims.team_id.ok_or(SignInError::WrongTeam)?;
        if team_id != expected.team_id {
            return Err(SignInError::WrongTeam);
        }
        let user_id = claims.user_id.or(claims.sub).ok_or(SignInError::Unreadable("no user in the ID token"))?;
        let name = claims.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| user_id.clone());
        Ok(Person { user_id, team_id, name, email: claims.email })
    }
}

/// The JWT's claims (its middle part), without checking its signature (see the module doc).
fn decode(jwt: &str) -> Result<Claims, SignInError> {
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignInError::Unreadable("the ID token is not a JWT"));
    };
    let bytes = base64url_decode(payload).ok_or(SignInError::Unreadable("the ID token is not a JWT"))?;
    serde_json::from_slice(&bytes).map_err(|_| SignInError::Unreadable("the ID token's claims are incomplete"))
}

/// Unpadded base64url (RFC 4648 §5), as JWTs write their parts; `None` for any other byte.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut bits = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            bits |= value(*c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&bits.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn provider() -> Provider {
        Provider {
            client_id: "123.456".into(),
            client_secret: Secret::new("s3cret"),
            oidc_url: "https://slack.com".into(),
            token_url: "https://slack.com/api/openid.connect.token".into(),
            redirect_uri: "https://warroom.example.com/auth/slack/callback".into(),
        }
    }

    fn b64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let mut buf = [0u8; 3];
            buf[..chunk.len()].copy_from_slice(chunk);
            let n = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    fn jwt(claims: serde_json::Value) -> String {
        format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(claims.to_string().as_bytes()))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({ "iss": "https://slack.com", "sub": "U0BOB", "aud": "123.456", "exp": 2_000_000_000,
            "nonce": "n1", "https://slack.com/user_id": "U0BOB", "https://slack.com/team_id": "T0",
            "name": "bob", "email": "bob@example.com" })
    }

    fn expected() -> Expected<'static> {
        Expected { nonce: "n1", team_id: "T0", now: Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap() }
    }

    #[test]
    fn the_authorize_url_names_the_client_the_scopes_and_the_callback() {
        let url = provider().authorize_url("st", "no", Some("T0"));
        assert_eq!(
            url,
            "https://slack.com/openid/connect/authorize?response_type=code&scope=openid%20email%20profile\
             &client_id=123.456&state=st&nonce=no\
             &redirect_uri=https%3A%2F%2Fwarroom.example.com%2Fauth%2Fslack%2Fcallback&team=T0"
        );
    }

    #[test]
    fn a_good_id_token_names_the_person() {
        let person = provider().check(&jwt(claims()), &expected()).unwrap();
        assert_eq!(person.user_id, "U0BOB");
        assert_eq!((person.name.as_str(), person.email.as_deref()), ("bob", Some("bob@example.com")));
    }

    #[test]
    fn each_wrong_claim_is_refused_for_its_reason() {
        let cases = [
            ("iss", serde_json::json!("https://evil.example"), SignInError::WrongIssuer),
            ("aud", serde_json::json!("999.999"), SignInError::WrongAudience),
            ("exp", serde_json::json!(1_700_000_000), SignInError::Expired),
            ("nonce", serde_json::json!("other"), SignInError::WrongNonce),
            ("https://slack.com/team_id", serde_json::json!("T1"), SignInError::WrongTeam),
        ];
        for (claim, value, error) in cases {
            let mut c = claims();
            c[claim] = value;
            assert_eq!(provider().check(&jwt(c), &expected()).unwrap_err(), error, "{claim}");
        }
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        for token in ["", "a.b", "a.b.c.d", "a.!!!.c", "a.e30.c", "a.x.c"] {
            assert!(matches!(provider().check(token, &expected()), Err(SignInError::Unreadable(_))), "{token}");
        }
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..10u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(97) ^ 0xfe).collect();
            assert_eq!(base64url_decode(&b64(&bytes)).unwrap(), bytes);
        }
    }
}

//! Tokens as an OP makes them: ID tokens (with the fake OP's `Tweaks`) and back-channel
//! logout tokens, and sending a logout token the way an OP does.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::browser::{urlencode, Resp};
use super::op::{FakeOp, OpState, SigningKey, CLIENT_ID};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sign_id_token(s: &OpState, nonce: &str) -> String {
    let t = &s.tweaks;
    let now = now();
    let mut claims = json!({
        "iss": t.iss.clone().unwrap_or_else(|| s.issuer.clone()),
        "sub": "user-123",
        "aud": t.aud.clone().unwrap_or_else(|| json!(CLIENT_ID)),
        "exp": now + t.exp_offset.unwrap_or(300),
        "iat": now + t.iat_offset.unwrap_or(0),
        "auth_time": now,
        "nonce": t.nonce.clone().unwrap_or_else(|| nonce.to_string()),
        "sid": "op-session-1",
        "name": "Test User",
        "email": "test@example.com",
    });
    if let Some(azp) = &t.azp {
        claims["azp"] = json!(azp);
    }
    if t.omit_sub {
        claims.as_object_mut().unwrap().remove("sub");
    }
    if t.omit_nonce {
        claims.as_object_mut().unwrap().remove("nonce");
    }
    if t.omit_sid {
        claims.as_object_mut().unwrap().remove("sid");
    }
    for name in &t.omit {
        claims.as_object_mut().unwrap().remove(*name);
    }
    for (k, v) in &t.extra_claims {
        claims[k] = v.clone();
    }
    if t.alg_none {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        return format!("{h}.{p}.");
    }
    if let Some(secret) = &t.hs256_secret {
        return jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
    }
    let key = t.sign_with.clone().unwrap_or_else(|| s.signing.clone());
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.enc).unwrap()
}

/// The `events` member of a back-channel logout token (OIDC Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token from `op`: `iss`, `aud`, `iat`, `exp`, a fresh `jti` and the event;
/// no `sid` or `sub` until `claims` adds them. Signed with the OP's key, no `typ`.
pub struct LogoutToken {
    claims: Value,
    typ: Option<String>,
    key: SigningKey,
}

impl LogoutToken {
    pub fn new(op: &FakeOp) -> Self {
        let now = now();
        LogoutToken {
            claims: json!({
                "iss": op.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
                "jti": format!("jti-{}", rand::random::<u64>()),
                "events": { LOGOUT_EVENT: {} },
            }),
            typ: None,
            key: op.with(|s| s.signing.clone()),
        }
    }

    /// Sets each claim of `patch`; a `null` removes that claim.
    pub fn claims(mut self, patch: Value) -> Self {
        for (k, v) in patch.as_object().expect("a JSON object") {
            if v.is_null() {
                self.claims.as_object_mut().unwrap().remove(k);
            } else {
                self.claims[k] = v.clone();
            }
        }
        self
    }

    /// The JWT header's `typ`.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_string);
        self
    }

    pub fn signed_with(mut self, key: SigningKey) -> Self {
        self.key = key;
        self
    }

    pub fn encode(&self) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key.kid.clone());
        header.typ = self.typ.clone();
        jsonwebtoken::encode(&header, &self.claims, &self.key.enc).unwrap()
    }
}

/// POSTs `token` to `{base}/bff/backchannel-logout` as an OP does: no cookies, no CSRF
/// header, no Origin.
pub async fn send_logout_token(base: &str, token: &str) -> Resp {
    let mut res = awc::Client::default()
        .post(format!("{base}/bff/backchannel-logout"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(format!("logout_token={}", urlencode(token)))
        .await
        .unwrap();
    let body = res.body().await.unwrap().to_vec();
    Resp {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        set_cookies: vec![],
        body,
    }
}

//! issue 13: `POST /admin/sessions/end {"sub"|"sid"}`: ends a user's (or an OP session's)
//! sessions everywhere, through the same record a back-channel logout makes.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::bff::backchannel::{record, By};
use crate::error::BffError;
use crate::state::AppState;

/// The largest body accepted (a `sub` or `sid` and some JSON around it).
pub const MAX_BODY: usize = 4096;
/// OIDC Core §2: a `sub` is at most 255 ASCII characters.
pub const MAX_SUB: usize = 255;
/// An OP session id (`sid`): no bound in the specification; 1024 is far above any seen.
pub const MAX_SID: usize = 1024;

/// What to end.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Sub(String),
    Sid(String),
}

impl Target {
    fn by(&self) -> By<'_> {
        match self {
            Target::Sub(v) => By::Sub(v),
            Target::Sid(v) => By::Sid(v),
        }
    }

    fn json(&self) -> Value {
        match self {
            Target::Sub(v) => json!({ "sub": v }),
            Target::Sid(v) => json!({ "sid": v }),
        }
    }
}

const SHAPE: &str =
    r#"the body must be a JSON object with exactly one of "sub" or "sid", a string"#;

/// The body as a [`Target`], or the 400 sentence saying what is wrong.
pub fn parse_target(body: &[u8]) -> Result<Target, BffError> {
    let bad = |s: &str| BffError::BadRequest(s.to_string());
    let map: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| BffError::Invalid("the body is not a JSON object", e.to_string()))?;
    if let Some(other) = map.keys().find(|k| *k != "sub" && *k != "sid") {
        return Err(BffError::BadRequest(format!(
            "unknown field {:?}: {SHAPE}",
            other.chars().take(40).collect::<String>()
        )));
    }
    let (name, value, max) = match (map.get("sub"), map.get("sid")) {
        (Some(v), None) => ("sub", v, MAX_SUB),
        (None, Some(v)) => ("sid", v, MAX_SID),
        (Some(_), Some(_)) => return Err(bad("give sub or sid, not both")),
        (None, None) => return Err(bad(SHAPE)),
    };
    let Value::String(text) = value else {
        return Err(bad(SHAPE));
    };
    if text.is_empty() {
        return Err(BffError::BadRequest(format!("{name} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(BffError::BadRequest(format!(
            "{name} is longer than {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(BffError::BadRequest(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(if name == "sub" {
        Target::Sub(text.clone())
    } else {
        Target::Sid(text.clone())
    })
}

pub async fn end(
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, BffError> {
    let mut payload = payload.into_inner();
    let body = crate::middleware::body_deadline::read_whole(
        &mut payload,
        MAX_BODY,
        state.config.limits.body_timeout,
    )
    .await?;
    let target = parse_target(&body)?;
    // `record` logs the one line (channel `admin`, the sub or sid) and counts it in
    // `bff_logouts_total{channel="admin"}`.
    let matched = record(&state, "admin", target.by(), crate::util::now()).await?;
    Ok(HttpResponse::Ok().json(json!({
        "ended": target.json(),
        // Known where sessions are indexed (Redis session mode); `null` in cookie mode,
        // where every instance refuses the matching cookies from now on.
        "sessions": matched,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> String {
        match parse_target(body.as_bytes()) {
            Ok(t) => format!("ok {t:?}"),
            Err(e) => {
                let (status, code) = e.parts();
                assert_eq!(status, 400, "{body}");
                assert!(!e.public_message().contains("line 1"), "{body}");
                code.to_string()
            }
        }
    }

    #[test]
    fn exactly_one_of_sub_or_sid() {
        assert_eq!(
            parse_target(br#"{"sub":"alice"}"#).unwrap(),
            Target::Sub("alice".into())
        );
        assert_eq!(
            parse_target(br#"{"sid":"op-1"}"#).unwrap(),
            Target::Sid("op-1".into())
        );
        let long_sub = format!(r#"{{"sub":"{}"}}"#, "a".repeat(MAX_SUB + 1));
        let max_sub = format!(r#"{{"sub":"{}"}}"#, "a".repeat(MAX_SUB));
        let long_sid = format!(r#"{{"sid":"{}"}}"#, "a".repeat(MAX_SID + 1));
        assert!(parse_target(max_sub.as_bytes()).is_ok());
        for bad in [
            "",
            "not json",
            "[]",
            r#""alice""#,
            "{}",
            r#"{"sub":"a","sid":"b"}"#,
            r#"{"sub":""}"#,
            r#"{"sub":null}"#,
            r#"{"sub":7}"#,
            r#"{"sid":["x"]}"#,
            r#"{"sub":"a\nb"}"#,
            r#"{"sub":"a\u0000"}"#,
            r#"{"user":"alice"}"#,
            r#"{"sub":"alice","extra":1}"#,
            &long_sub,
            &long_sid,
        ] {
            assert_eq!(code(bad), "invalid_request", "{bad}");
        }
    }
}

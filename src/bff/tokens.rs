//! The token operations the SPA can ask for: refresh now, revoke (RFC 7009), introspect
//! (RFC 7662) and userinfo (OIDC Core 5.3). Answers never contain a token.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::BffError;
use crate::oidc::token;
use crate::session::refresh::Fresh;
use crate::state::AppState;
use crate::state::OpClient;

fn with_cookies(
    mut res: actix_web::HttpResponseBuilder,
    cookies: Option<crate::session::cookies::CookieSet>,
) -> actix_web::HttpResponseBuilder {
    for c in cookies.into_iter().flatten() {
        res.cookie(c);
    }
    res
}

/// `POST /bff/refresh`: the refresh-token grant now; answers the session summary.
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    let mut session = state.sessions.load(&req).await?;
    let cookies = match state.keep_fresh(&req, &http, &mut session, true).await? {
        Fresh::Current(c) => c,
        Fresh::Ended(ended) => return Ok(ended),
    };
    let idle = state.config.session.idle_timeout.as_secs();
    Ok(with_cookies(HttpResponse::Ok(), cookies)
        .json(session.summary(idle, state.config.sender.tls_client.is_some())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    token: String,
}

/// `POST /bff/revoke` `{"token": "access_token" | "refresh_token"}`: RFC 7009, then the
/// token leaves the session.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, BffError> {
    let which = match body.token.as_str() {
        "access_token" => "access_token",
        "refresh_token" => "refresh_token",
        _ => {
            return Err(BffError::BadRequest(
                "token must be \"access_token\" or \"refresh_token\"".into(),
            ))
        }
    };
    let mut session = state.sessions.load(&req).await?;
    let meta = state.provider.metadata()?;
    if meta.revocation_endpoint.is_none() {
        return Err(crate::oidc::OidcError::Unsupported("token revocation").into());
    }
    let held = if which == "access_token" {
        session.access_token.take()
    } else {
        session.refresh_token.take()
    };
    if let Some(t) = held {
        token::revoke(&http.0, &meta, &state.config, &t, which).await?;
        tracing::info!(token = which, "token revoked");
    }
    if which == "access_token" {
        session.access_token_expires_at = None;
    }
    let cookies = state.sessions.save(&req, &session).await?;
    Ok(with_cookies(HttpResponse::NoContent(), Some(cookies)).finish())
}

/// `POST /bff/introspect`: RFC 7662 on the session's access token.
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    let session = state.sessions.load(&req).await?;
    let meta = state.provider.metadata()?;
    if meta.introspection_endpoint.is_none() {
        return Err(crate::oidc::OidcError::Unsupported("token introspection").into());
    }
    // A revoked (dropped) access token is, in RFC 7662's words, not active.
    let Some(access) = session.access_token.as_deref() else {
        return Ok(HttpResponse::Ok().json(json!({ "active": false })));
    };
    let answer = token::introspect(&http.0, &meta, &state.config, access).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /bff/userinfo`: the OP's userinfo, whose `sub` must be the ID token's.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    let mut session = state.sessions.load(&req).await?;
    let cookies = match state.keep_fresh(&req, &http, &mut session, false).await? {
        Fresh::Current(c) => c,
        Fresh::Ended(ended) => return Ok(ended),
    };
    let meta = state.provider.metadata()?;
    let access = session
        .access_token
        .as_deref()
        .ok_or(BffError::NoAccessToken)?;
    let presented = token::Presented::new(
        access,
        state.provider.dpop(),
        session.dpop_jkt.is_some(),
        session.dpop_jkt.as_deref(),
    );
    let claims = token::userinfo(&http.0, &meta, presented).await?;
    if claims.get("sub").and_then(Value::as_str) != Some(session.sub.as_str()) {
        return Err(BffError::UserinfoSubMismatch);
    }
    Ok(with_cookies(HttpResponse::Ok(), cookies).json(json!(claims)))
}

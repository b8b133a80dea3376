//! `POST /bff/logout`: ends the session here (remembered as ended until its cookie
//! would expire), revokes the refresh token, and answers the OP's end-session URL.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use url::Url;

use super::{current_session, Http};
use crate::app::AppState;
use crate::error::BffError;
use crate::oidc::token;
use crate::session::Session;

/// The RP-initiated logout URL (OIDC RP-Initiated Logout 1.0 §2), or
/// `post_logout_redirect_uri` when the OP has no end-session endpoint.
pub fn logout_url(
    end_session: Option<&str>,
    id_token_hint: Option<&str>,
    config: &crate::config::Config,
) -> String {
    let Some(endpoint) = end_session.and_then(|e| Url::parse(e).ok()) else {
        return config.post_logout_redirect_uri.to_string();
    };
    let mut url = endpoint;
    {
        let mut q = url.query_pairs_mut();
        if let Some(hint) = id_token_hint {
            q.append_pair("id_token_hint", hint);
        }
        q.append_pair(
            "post_logout_redirect_uri",
            config.post_logout_redirect_uri.as_str(),
        )
        .append_pair("client_id", &config.client_id);
    }
    url.to_string()
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<Http>,
) -> Result<HttpResponse, BffError> {
    let session: Option<Session> = current_session(&req, &state).await.ok();
    let meta = state.provider.metadata().ok();
    if let Some(s) = &session {
        super::end(&state, s).await?;
        if let (Some(meta), Some(rt)) = (&meta, &s.refresh_token) {
            if meta.revocation_endpoint.is_some() {
                match token::revoke(&http.0, meta, &state.config, rt, "refresh_token").await {
                    Ok(()) => tracing::info!("refresh token revoked at logout"),
                    Err(e) => {
                        tracing::warn!(error = %e, "refresh token revocation at logout failed")
                    }
                }
            }
        }
    }
    let url = logout_url(
        meta.as_ref()
            .and_then(|m| m.end_session_endpoint.as_deref()),
        session.as_ref().map(|s| s.id_token.as_str()),
        &state.config,
    );
    let mut res = HttpResponse::Ok();
    for c in state.cookies.clear_session(&req) {
        res.cookie(c);
    }
    res.cookie(state.cookies.clear_login());
    tracing::info!(had_session = session.is_some(), "logout");
    Ok(res.json(json!({ "logoutUrl": url })))
}

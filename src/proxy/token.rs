//! issue 11: route tokens. The bearer a route sends: the session's access token, its
//! exchange (RFC 8693), or a client-credentials token of the BFF's own, by the route's
//! `token` type; grant failures logged here, once per grant.

use crate::config::{Route, TokenMode};
use crate::error::BffError;
use crate::oidc::token::Presented;
use crate::oidc::{client_credentials, token_exchange, OidcError};
use crate::session::route_tokens::{exchange_key, Got, Kind, RouteToken};
use crate::session::Session;
use crate::state::{AppState, OpClient};
use crate::util::{hex_sha256, now};

/// The life of a client token whose answer has no `expires_in` (seconds).
pub const CLIENT_TOKEN_DEFAULT_LIFE: u64 = 60;
/// The longest an exchanged token without `expires_in` is used (seconds; never past the
/// session's access token).
pub const EXCHANGED_DEFAULT_LIFE: u64 = 60;

/// What a request sent upstream, for the retry on `invalid_token`.
pub enum SentKind {
    User,
    /// A client token, by its cache key.
    Client(String),
    /// An exchanged token, by its cache key.
    Exchanged(String),
}

pub struct Sent {
    pub token: String,
    pub kind: SentKind,
    /// issue 12: the DPoP key's thumbprint when the token is DPoP-bound (then it goes as
    /// `Authorization: DPoP` with a proof).
    pub dpop_jkt: Option<String>,
}

impl Sent {
    /// How the token is presented upstream.
    pub fn presented<'a>(&'a self, dpop: Option<&'a crate::oidc::dpop::Dpop>) -> Presented<'a> {
        Presented::new(
            &self.token,
            dpop,
            self.dpop_jkt.is_some(),
            self.dpop_jkt.as_deref(),
        )
    }
}

/// The bearer for `route`, given the request's (freshened) session, if it has one.
/// `user` without a session: 401; `user_or_none`: nothing; `user_or_client`: the client
/// token; `client`: always the client token; `none`: nothing.
pub async fn bearer_for(
    state: &AppState,
    http: &OpClient,
    route: &Route,
    session: Option<&Session>,
) -> Result<Option<Sent>, BffError> {
    match (route.token, session) {
        (TokenMode::None, _) => Ok(None),
        (TokenMode::Client, _) | (TokenMode::UserOrClient, None) => {
            client_token(state, http, route).await.map(Some)
        }
        (TokenMode::User, None) => Err(BffError::NotAuthenticated),
        (TokenMode::UserOrNone, None) => Ok(None),
        (_, Some(s)) => {
            let Some(at) = s.access_token.as_deref() else {
                return Ok(None);
            };
            if route.exchange.is_some() {
                exchanged(state, http, route, s, at).await.map(Some)
            } else {
                Ok(Some(Sent {
                    token: at.to_string(),
                    kind: SentKind::User,
                    dpop_jkt: s.dpop_jkt.clone(),
                }))
            }
        }
    }
}

/// The cache key of `route`'s client token: equal parameters share a token.
fn client_key(state: &AppState, route_params_key: &str) -> String {
    let c = &state.config;
    format!(
        "cc:{}",
        hex_sha256(&format!(
            "{}\0{}\0client_credentials\0{route_params_key}",
            c.provider.issuer, c.client.id
        ))
    )
}

async fn client_token(state: &AppState, http: &OpClient, route: &Route) -> Result<Sent, BffError> {
    let Some(params) = route.client.as_ref() else {
        return Err(BffError::ClientToken(OidcError::Unsupported(
            "a client token on this route",
        )));
    };
    let key = client_key(state, &params.key);
    let prefix = route.prefix.as_str();
    let fetch = async {
        let meta = state.provider.metadata()?;
        let dpop = state.provider.dpop();
        match client_credentials::grant(&http.0, &meta, &state.config, dpop, params).await {
            Ok(t) => {
                tracing::debug!(route = prefix, kind = "client", expires_in = ?t.expires_in, "route token issued");
                let life = t.expires_in.unwrap_or(CLIENT_TOKEN_DEFAULT_LIFE);
                let dpop_jkt = state.provider.bound_jkt(t.dpop_bound());
                Ok((
                    RouteToken {
                        token: t.access_token,
                        dpop_jkt,
                    },
                    life,
                ))
            }
            Err(e) => {
                log_failure(prefix, Kind::Client, &e);
                Err(BffError::ClientToken(e))
            }
        }
    };
    let got = cached(state, &key, Kind::Client, fetch).await?;
    Ok(Sent {
        token: got.token,
        kind: SentKind::Client(key),
        dpop_jkt: got.dpop_jkt,
    })
}

async fn exchanged(
    state: &AppState,
    http: &OpClient,
    route: &Route,
    session: &Session,
    subject: &str,
) -> Result<Sent, BffError> {
    let Some(params) = route.exchange.as_ref() else {
        return Err(BffError::TokenExchange(OidcError::Unsupported(
            "token exchange on this route",
        )));
    };
    // The key holds the current access token's digest: a refresh orphans the old entry
    // (and `AppState::forget_exchanged` drops it).
    let key = exchange_key(&session.id, subject, &params.key);
    let prefix = route.prefix.as_str();
    let at_left = session
        .access_token_expires_at
        .map(|exp| exp.saturating_sub(now()));
    let fetch = async {
        let meta = state.provider.metadata()?;
        let dpop = state.provider.dpop();
        match token_exchange::exchange(&http.0, &meta, &state.config, dpop, subject, params).await {
            Ok((token, expires_in, bound)) => {
                tracing::debug!(route = prefix, kind = "exchange", expires_in = ?expires_in, "route token issued");
                let life = expires_in.unwrap_or_else(|| {
                    at_left.map_or(EXCHANGED_DEFAULT_LIFE, |l| l.min(EXCHANGED_DEFAULT_LIFE))
                });
                let dpop_jkt = state.provider.bound_jkt(bound);
                Ok((RouteToken { token, dpop_jkt }, life))
            }
            Err(e) => {
                log_failure(prefix, Kind::Exchange, &e);
                Err(BffError::TokenExchange(e))
            }
        }
    };
    let got = cached(state, &key, Kind::Exchange, fetch).await?;
    Ok(Sent {
        token: got.token,
        kind: SentKind::Exchanged(key),
        dpop_jkt: got.dpop_jkt,
    })
}

async fn cached(
    state: &AppState,
    key: &str,
    kind: Kind,
    fetch: impl std::future::Future<Output = Result<(RouteToken, u64), BffError>>,
) -> Result<RouteToken, BffError> {
    let counter = &crate::metrics::get().route_tokens;
    let skew = state.config.session.refresh_skew.as_secs();
    match state
        .route_tokens
        .get(key, kind, state.store.as_ref(), &state.sealer, skew, fetch)
        .await
    {
        Ok((token, got)) => {
            if got != Got::Issued {
                tracing::debug!(kind = kind.label(), outcome = got.label(), "route token");
            }
            counter
                .with_label_values(&[kind.label(), got.label()])
                .inc();
            Ok(token)
        }
        Err(e) => Err(e),
    }
}

/// One line per failed grant: the OP's `error` and sanitised `error_description`, or
/// our sentence for timeouts and network failures. Never a token or secret.
fn log_failure(route: &str, kind: Kind, e: &OidcError) {
    let counter = &crate::metrics::get().route_tokens;
    match e {
        OidcError::Status {
            status,
            error,
            description,
            detail,
            ..
        } => {
            counter.with_label_values(&[kind.label(), "refused"]).inc();
            tracing::warn!(
                route,
                kind = kind.label(),
                endpoint = "token",
                status,
                error = error.as_deref().unwrap_or(""),
                error_description = description.as_deref().unwrap_or(""),
                answer = detail.as_deref().unwrap_or(""),
                "the OpenID Provider refused the route token grant"
            );
        }
        other => {
            counter.with_label_values(&[kind.label(), "error"]).inc();
            tracing::warn!(route, kind = kind.label(), error = %other, "route token grant failed");
        }
    }
}

/// After an upstream refused a client token: drop it (if still cached) so the retry
/// gets a new one.
pub async fn drop_client_token(state: &AppState, key: &str, sent: &str) -> Result<(), BffError> {
    state
        .route_tokens
        .invalidate(key, sent, state.store.as_ref(), &state.sealer)
        .await
}

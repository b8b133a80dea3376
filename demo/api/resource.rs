//! Issue 11: endpoints of the demo API that need a token issued for its resource
//! indicator (`DEMO_API_RESOURCE`, default `urn:oidc-bff:demo-api`), as the demo OP
//! issues them by client credentials or token exchange. Still RFC 7662 introspection
//! (the tokens are opaque): `aud` and `sub` come from the OP's answer.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{caller, invalid_token, Api};

/// The resource indicator (audience) these endpoints accept.
pub struct Resource(pub String);

impl Resource {
    pub fn from_env() -> Self {
        Resource(super::env("DEMO_API_RESOURCE", "urn:oidc-bff:demo-api"))
    }
}

/// What a token must be to be let in.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    /// A client-credentials token: no `sub`.
    Client,
    /// A user's token (an exchanged one): a `sub`.
    User,
}

/// Introspects the bearer and checks its audience and kind; `Err` is the 401 to send.
async fn require_audience(
    req: &HttpRequest,
    api: &Api,
    client: &awc::Client,
    resource: &Resource,
    needs: Needs,
) -> Result<Value, HttpResponse> {
    let info = caller(req, api, client).await?;
    let aud_ok = match info.get("aud") {
        Some(Value::String(a)) => *a == resource.0,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&resource.0)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid_token("wrong audience"));
    }
    let has_sub = info.get("sub").and_then(Value::as_str).is_some();
    match (needs, has_sub) {
        (Needs::Client, true) => Err(invalid_token(
            "this endpoint takes a client token, not a user's",
        )),
        (Needs::User, false) => Err(invalid_token("this endpoint takes a user's token")),
        _ => Ok(info),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn scopes(info: &Value) -> Option<Vec<&str>> {
    info.get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split(' ').collect())
}

fn expires_in(info: &Value) -> Option<u64> {
    info.get("exp")
        .and_then(Value::as_u64)
        .map(|e| e.saturating_sub(now()))
}

/// `GET /app/status`: called by the BFF as the application (client credentials).
pub async fn app_status(
    req: HttpRequest,
    api: web::Data<Api>,
    client: web::Data<awc::Client>,
    resource: web::Data<Resource>,
) -> HttpResponse {
    match require_audience(&req, &api, &client, &resource, Needs::Client).await {
        Ok(info) => HttpResponse::Ok().json(json!({
            "message": "Hello, application: the demo API is up",
            "caller": { "client_id": info.get("client_id") },
            "aud": info.get("aud"),
            "scopes": scopes(&info),
            "tokenExpiresIn": expires_in(&info),
        })),
        Err(res) => res,
    }
}

/// `GET /orders/list`: called with a user's token exchanged for this resource.
pub async fn orders_list(
    req: HttpRequest,
    api: web::Data<Api>,
    client: web::Data<awc::Client>,
    resource: web::Data<Resource>,
) -> HttpResponse {
    match require_audience(&req, &api, &client, &resource, Needs::User).await {
        Ok(info) => {
            let sub = info.get("sub").and_then(Value::as_str).unwrap_or_default();
            HttpResponse::Ok().json(json!({
                "message": "Your orders, from the demo API",
                "caller": { "sub": sub, "client_id": info.get("client_id") },
                "aud": info.get("aud"),
                "scopes": scopes(&info),
                "tokenExpiresIn": expires_in(&info),
                "orders": orders_of(sub),
            }))
        }
        Err(res) => res,
    }
}

/// A small, stable list per user (demo data).
fn orders_of(sub: &str) -> Vec<Value> {
    let items: &[(&str, u32)] = match sub {
        "demo-user-1" => &[("Demo mug", 1), ("Sticker pack", 3)],
        "demo-user-2" => &[("Example notebook", 2)],
        _ => &[],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, (item, quantity))| {
            json!({"id": format!("{sub}-order-{}", i + 1), "item": item, "quantity": quantity})
        })
        .collect()
}

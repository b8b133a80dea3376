//! Readiness (`/healthz`: discovery done and, in Redis mode, Redis reachable) and
//! liveness (`/healthz/live`).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let mut missing = Vec::new();
    if !state.provider.is_ready() {
        missing.push("discovery");
    }
    if let Some(what) = state.store.check().await {
        missing.push(what);
    }
    let body = if missing.is_empty() {
        json!({"status": "ready"})
    } else {
        json!({"status": "not_ready", "missing": missing})
    };
    let mut res = if missing.is_empty() {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "live"}))
}

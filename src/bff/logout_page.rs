//! `GET /bff/logout/end`: the page `POST /bff/logout` sends the browser to. It reads the
//! logout hand-off cookie (which only this path receives), clears it, and sends the
//! RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2) to the OP's end-session
//! endpoint: by default as an auto-submitted `<form method="post">` whose one script the
//! page's CSP allows by nonce, so the ID token is in no URL; with
//! `end_session_method: "get"` as a 302 with the same parameters, for OPs that take
//! only GET.

use actix_web::{web, HttpRequest, HttpResponse};
use url::Url;

use crate::error::BffError;
use crate::oidc::logout::{self, EndSession, Handoff};
use crate::state::AppState;
use crate::util::{now, random_id};

/// Text for an HTML attribute value or element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn redirect(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Found();
    res.insert_header(("Location", to.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"));
    res
}

/// Whether the browser is loading this page as a top-level document. Browsers set
/// `Sec-Fetch-Mode`/`Sec-Fetch-Dest` themselves (scripts cannot), so a `fetch()` or an
/// `<iframe>` from a script on our origin cannot read the page and its ID token. A client
/// that sends neither (a browser from before 2023) is let through.
fn is_top_level_navigation(req: &HttpRequest) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header("sec-fetch-mode"), header("sec-fetch-dest")) {
        (None, None) => true,
        (mode, dest) => mode == Some("navigate") && dest == Some("document"),
    }
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, BffError> {
    if !is_top_level_navigation(&req) {
        // The hand-off cookie stays for the real navigation.
        return Err(BffError::Invalid(
            "this page must be opened by navigating to it",
            "logout page requested by a script or a frame".into(),
        ));
    }
    Ok(page(&req, &state))
}

fn page(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let clear = state.cookies.clear_logout();
    let handoff: Option<Handoff> = state.cookies.open_logout(req, &state.sealer, now());
    let endpoint = state
        .provider
        .metadata()
        .ok()
        .and_then(|m| m.end_session_endpoint.clone())
        .and_then(|e| Url::parse(&e).ok());
    // Only a logout this browser just asked for (POST /bff/logout, CSRF-checked) goes on
    // to the OP; anything else lands where a finished logout would.
    let (Some(handoff), Some(endpoint)) = (handoff, endpoint) else {
        tracing::info!("logout page without a pending logout");
        return redirect(state.config.client.post_logout_redirect_uri.as_str())
            .cookie(clear)
            .finish();
    };
    let params = logout::params(
        &handoff,
        &state.config.client.id,
        &state.config.client.post_logout_redirect_uri,
    );
    tracing::info!(
        method = ?state.config.provider.end_session_method,
        has_id_token_hint = handoff.id_token_hint.is_some(),
        "sending the logout to the OP"
    );
    match logout::request(endpoint, state.config.provider.end_session_method, params) {
        EndSession::Redirect(url) => redirect(url.as_str()).cookie(clear).finish(),
        EndSession::Form { action, fields } => form_page(&action, &fields, clear),
    }
}

/// The auto-submitted form that posts the end-session request to the OP.
fn form_page(
    action: &Url,
    fields: &[(&'static str, String)],
    clear: actix_web::cookie::Cookie<'static>,
) -> HttpResponse {
    let nonce = random_id(16);
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            )
        })
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Signing out</title></head>\
         <body><form id=\"bff-logout-form\" method=\"post\" action=\"{action}\">{inputs}\
         <p>Signing you out at the identity provider&hellip;</p>\
         <noscript><button id=\"bff-logout-continue\" type=\"submit\">Continue</button></noscript>\
         </form><script nonce=\"{nonce}\">document.getElementById(\"bff-logout-form\").submit();</script>\
         </body></html>",
        action = escape(action.as_str()),
    );
    // No form-action: after the POST the OP may redirect through its own pages, and a
    // browser checks those redirects against form-action too. The form's target and
    // fields are ours alone (HTML-escaped), and no other script may run. `sandbox` gives
    // the page an opaque origin, so a window our SPA's scripts open cannot read it.
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'; sandbox allow-scripts allow-forms"
            ),
        ))
        .cookie(clear)
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_attribute_breakers() {
        assert_eq!(escape(r#"a"b'c<d>&e"#), "a&quot;b&#39;c&lt;d&gt;&amp;e");
    }
}

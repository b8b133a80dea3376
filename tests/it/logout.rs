//! Issue 9: logout keeps the ID token from the browser. `POST /bff/logout` answers a
//! `logoutUrl` on the BFF; that page sends the RP-initiated logout to the OP as an
//! auto-submitted POST form (CSP nonce), or by a GET redirect with
//! `end_session_method: "get"`. The ID token travels only in a sealed cookie scoped to
//! that page. (The real demo OP is driven by e2e/logout.test.mjs.)

use std::collections::BTreeMap;

use crate::support::*;
use serde_json::{json, Value};

fn id_token(op: &FakeOp) -> String {
    op.last_issued("ey").expect("an ID token was issued")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `name -> value` of the page's hidden inputs.
fn hidden_inputs(html: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        assert!(tag.contains("type=\"hidden\""), "{tag}");
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            let len = tag[start..].find('"').unwrap();
            unescape(&tag[start..start + len])
        };
        out.insert(attr("name"), attr("value"));
    }
    out
}

fn logout_set_cookie(res: &Resp) -> Option<String> {
    res.set_cookies
        .iter()
        .find(|c| c.starts_with("bff-logout="))
        .cloned()
}

#[actix_web::test]
async fn logout_posts_a_form_to_the_op_and_no_url_holds_the_id_token() {
    let (op, bff) =
        pair(json!({"post_logout_redirect_uri": "http://127.0.0.1:1/bye?x=1&y=2"})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let token = id_token(&op);

    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200);
    let body = String::from_utf8_lossy(&res.body).to_string();
    assert!(!body.contains(&token), "the logout answer has no ID token");
    assert!(!body.contains("id_token_hint"), "{body}");
    let logout_url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    assert_eq!(logout_url, format!("{}/bff/logout/end", bff.base));
    // The hand-off cookie: sealed (no token in clear), HttpOnly, Strict, this page only.
    let sc = logout_set_cookie(&res).expect("a logout cookie");
    assert!(!sc.contains(&token));
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/bff/logout/end",
        "Max-Age=60",
    ] {
        assert!(sc.contains(attr), "{attr} in {sc}");
    }
    assert_eq!(
        b.jar.keys().collect::<Vec<_>>(),
        vec!["bff-logout"],
        "the session and login cookies are cleared"
    );

    let page = b.get(&logout_url).await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    let csp = page.header("content-security-policy").unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a script nonce in the CSP")
        .to_string();
    assert!(nonce.len() >= 16, "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains(&format!(
            "<form id=\"bff-logout-form\" method=\"post\" action=\"{}/session/end\">",
            op.issuer
        )),
        "{html}"
    );
    // Every script carries the nonce; none runs without it.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{html}");
    assert!(
        scripts[0].starts_with(&format!(" nonce=\"{nonce}\">")),
        "{html}"
    );
    assert!(!html.contains(" on"), "no inline event handlers: {html}");
    let inputs = hidden_inputs(&html);
    assert_eq!(
        inputs.keys().collect::<Vec<_>>(),
        vec![
            "client_id",
            "id_token_hint",
            "post_logout_redirect_uri",
            "state"
        ]
    );
    assert_eq!(inputs["id_token_hint"], token);
    assert_eq!(inputs["client_id"], CLIENT_ID);
    assert_eq!(
        inputs["post_logout_redirect_uri"],
        "http://127.0.0.1:1/bye?x=1&y=2"
    );
    assert!(inputs["state"].len() >= 16);
    // The page clears the hand-off: shown again, it has nothing to send.
    assert!(b.jar.is_empty(), "the page cleared the logout cookie");
    let again = b.get(&logout_url).await;
    assert_eq!(again.status, 302);
    assert_eq!(again.location(), "http://127.0.0.1:1/bye?x=1&y=2");
    assert_eq!(b.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn end_session_method_get_redirects_with_the_same_parameters() {
    let (op, bff) = pair(json!({"end_session_method": "get"})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let token = id_token(&op);
    let res = b.post("/bff/logout", None).await;
    let logout_url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    assert_eq!(logout_url, format!("{}/bff/logout/end", bff.base));
    assert!(!String::from_utf8_lossy(&res.body).contains(&token));
    let page = b.get(&logout_url).await;
    assert_eq!(page.status, 302);
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    let to = page.location();
    assert!(
        to.starts_with(&format!("{}/session/end?", op.issuer)),
        "{to}"
    );
    assert_eq!(query_param(&to, "id_token_hint"), Some(token));
    assert_eq!(query_param(&to, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        query_param(&to, "post_logout_redirect_uri"),
        Some(format!("{}/", bff.base))
    );
    assert!(query_param(&to, "state").is_some_and(|s| s.len() >= 16));
    assert!(b.jar.is_empty(), "the logout cookie is cleared");
}

#[actix_web::test]
async fn the_page_without_a_pending_logout_goes_to_post_logout_redirect_uri() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/logout/end").await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), format!("{}/", bff.base));
    // A forged or foreign hand-off cookie counts as none.
    b.jar
        .insert("bff-logout".into(), "AQAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let res = b.get("/bff/logout/end").await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), format!("{}/", bff.base));
    // Signed out already: the logout still goes to the OP, without id_token_hint.
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200);
    let page = b.get(res.json()["logoutUrl"].as_str().unwrap()).await;
    assert_eq!(page.status, 200);
    let inputs = hidden_inputs(&String::from_utf8_lossy(&page.body));
    assert!(!inputs.contains_key("id_token_hint"));
    assert_eq!(inputs["client_id"], CLIENT_ID);
}

#[test]
fn a_bad_end_session_method_names_the_key() {
    let v: Value = settings(
        "https://op.example",
        5443,
        json!({"end_session_method": "put"}),
    );
    let err = oidc_bff::config::Config::from_value(v, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.key, "end_session_method");
    assert!(!err.to_string().contains('\n'));
    let v: Value = settings("https://op.example", 5443, json!({}));
    let env = BTreeMap::from([("BFF_END_SESSION_METHOD".to_string(), "get".to_string())]);
    let c = oidc_bff::config::Config::from_value(v, &env).unwrap();
    assert_eq!(
        c.provider.end_session_method,
        oidc_bff::config::EndSessionMethod::Get
    );
}

#[actix_web::test]
async fn scripts_and_frames_cannot_read_the_logout_page() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let token = id_token(&op);
    let res = b.post("/bff/logout", None).await;
    let logout_url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    // What a browser sends for `fetch()` and for an `<iframe>` on our own origin.
    for (mode, dest) in [
        ("cors", "empty"),
        ("same-origin", "empty"),
        ("navigate", "iframe"),
        ("no-cors", "script"),
    ] {
        let page = b
            .request(
                "GET",
                &logout_url,
                &[
                    ("Sec-Fetch-Mode", mode),
                    ("Sec-Fetch-Dest", dest),
                    ("Sec-Fetch-Site", "same-origin"),
                ],
                None,
            )
            .await;
        assert_eq!(page.status, 400, "{mode}/{dest}");
        assert_eq!(page.json()["error"], "invalid_request");
        assert!(!String::from_utf8_lossy(&page.body).contains(&token));
        assert!(page.header("location").is_none());
    }
    // The hand-off is still there for the real navigation, whose page is sandboxed.
    let page = b
        .request(
            "GET",
            &logout_url,
            &[
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            None,
        )
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        hidden_inputs(&String::from_utf8_lossy(&page.body))["id_token_hint"],
        token
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("sandbox allow-scripts allow-forms"), "{csp}");
}

//! Issue 9: the login-state cookie stays within what a browser keeps (4,096 bytes)
//! whatever the input, so an attacker page that opens `/bff/login?returnUrl=/AAAA…`
//! again and again cannot break the victim's own login.

use crate::support::*;
use serde_json::json;

const MAX_RETURN_URL: usize = 1024;

/// The `bff-login` Set-Cookie of a response: it must fit a browser.
fn login_set_cookie(res: &Resp) -> String {
    let sc = res
        .set_cookies
        .iter()
        .find(|c| c.starts_with("bff-login="))
        .cloned()
        .expect("the login cookie is set");
    assert!(
        sc.len() <= 4096,
        "Set-Cookie bff-login is {} bytes (over 4,096)",
        sc.len()
    );
    sc
}

#[actix_web::test]
async fn an_attacker_opening_long_logins_never_breaks_the_newest_login() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    // Longest accepted returnUrl, with characters JSON escapes (doubling their size).
    let long = format!("/{}", "\"A".repeat((MAX_RETURN_URL - 1) / 2));
    assert!(long.len() <= MAX_RETURN_URL);
    for i in 0..12 {
        // Every other stored login parameter at its maximum, too.
        let body = json!({"returnUrl": long, "maxAge": u64::MAX}).to_string();
        let res = b.post("/bff/login", Some(&body)).await;
        assert_eq!(
            res.status,
            200,
            "POST {i}: {}",
            String::from_utf8_lossy(&res.body)
        );
        login_set_cookie(&res);
        let plain = format!("/{}", "A".repeat(MAX_RETURN_URL - 1));
        let res = b
            .get(&format!("/bff/login?returnUrl={}", urlencode(&plain)))
            .await;
        assert_eq!(res.status, 302, "GET {i}");
        login_set_cookie(&res);
    }
    // The victim's own login, started last, still completes.
    let victim_url = format!("/mine/{}", "B".repeat(MAX_RETURN_URL - 6));
    let callback = b.authorize(&victim_url).await;
    let res = b.get(&callback).await;
    assert_eq!(res.status, 302);
    assert_eq!(
        res.location(),
        victim_url,
        "signed in where the victim asked"
    );
    assert_eq!(b.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn a_victim_login_survives_a_long_login_started_after_it() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/orders?id=3").await;
    let long = format!("/{}", "A".repeat(MAX_RETURN_URL - 1));
    let res = b
        .get(&format!("/bff/login?returnUrl={}", urlencode(&long)))
        .await;
    login_set_cookie(&res);
    let res = b.get(&callback).await;
    assert_eq!(res.location(), "/orders?id=3");
}

#[actix_web::test]
async fn an_over_long_return_url_is_refused_by_post_and_ignored_by_get() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let too_long = format!("/{}", "A".repeat(MAX_RETURN_URL));
    let body = json!({ "returnUrl": too_long }).to_string();
    let res = b.post("/bff/login", Some(&body)).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"], "invalid_request");
    assert!(
        res.set_cookies.iter().all(|c| !c.starts_with("bff-login=")),
        "nothing stored"
    );
    // GET is a navigation: the login goes on, and lands on `/`.
    let callback = b.authorize(&too_long).await;
    let res = b.get(&callback).await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), "/");
}

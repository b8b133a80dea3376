//! Issue 9: `/bff/user` leaves the OP session id (`sid`) out of the claims; front-channel
//! logout by `sid` keeps working as the spec says.

use crate::support::*;
use serde_json::json;

#[actix_web::test]
async fn user_claims_have_no_sid_and_front_channel_logout_still_works() {
    let (op, bff) = pair(json!({})).await;
    op.with(|s| {
        s.tweaks
            .extra_claims
            .insert("sid".into(), json!("op-session-fc"))
    });
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200);
    let claims = user.json()["claims"].clone();
    assert_eq!(claims["sub"], "user-123", "other claims stay: {claims}");
    assert!(claims.get("sid").is_none(), "no sid for the page: {claims}");
    assert!(
        !String::from_utf8_lossy(&user.body).contains("op-session-fc"),
        "the sid value appears nowhere in the answer"
    );

    let mut op_iframe = Browser::new(&bff.base);
    let res = op_iframe
        .get(&format!(
            "/bff/frontchannel-logout?iss={}&sid=op-session-fc",
            urlencode(&op.issuer)
        ))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(b.get("/bff/user").await.status, 401, "that session ended");
}

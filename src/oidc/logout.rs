//! RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2): what a logout hands on to the
//! OP's end-session endpoint, and the request that carries it (a GET URL or a POST form).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::EndSessionMethod;
use crate::util::random_id;

/// What `POST /bff/logout` hands to the logout page, sealed in the logout cookie.
#[derive(Clone, Serialize, Deserialize)]
pub struct Handoff {
    /// The session's ID token, for `id_token_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_hint: Option<String>,
    /// The RP-initiated logout's `state` (random per logout).
    pub state: String,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("has_id_token_hint", &self.id_token_hint.is_some())
            .finish_non_exhaustive()
    }
}

impl Handoff {
    /// A new logout: the session's ID token (if any) as the hint, and a random `state`.
    pub fn new(id_token_hint: Option<String>) -> Self {
        Handoff {
            id_token_hint,
            state: random_id(16),
        }
    }
}

/// How the end-session request reaches the OP. No `Debug`: it carries the ID token.
pub enum EndSession {
    /// A redirect to this URL (the parameters in its query).
    Redirect(Url),
    /// A form the browser posts to `action`.
    Form {
        action: Url,
        fields: Vec<(&'static str, String)>,
    },
}

/// The end-session parameters, in the order of RP-Initiated Logout 1.0 §2: the hint when
/// there is one, then `client_id`, `post_logout_redirect_uri` and `state`.
pub fn params(
    handoff: &Handoff,
    client_id: &str,
    post_logout_redirect_uri: &Url,
) -> Vec<(&'static str, String)> {
    let mut p = Vec::with_capacity(4);
    if let Some(hint) = &handoff.id_token_hint {
        p.push(("id_token_hint", hint.clone()));
    }
    p.push(("client_id", client_id.to_string()));
    p.push((
        "post_logout_redirect_uri",
        post_logout_redirect_uri.to_string(),
    ));
    p.push(("state", handoff.state.clone()));
    p
}

/// The request to `endpoint` per `end_session_method`: `get` puts the parameters in the
/// URL, `post` in a form (so the ID token is in no URL).
pub fn request(
    endpoint: Url,
    method: EndSessionMethod,
    params: Vec<(&'static str, String)>,
) -> EndSession {
    match method {
        EndSessionMethod::Get => {
            let mut url = endpoint;
            url.query_pairs_mut().extend_pairs(&params);
            EndSession::Redirect(url)
        }
        EndSessionMethod::Post => EndSession::Form {
            action: endpoint,
            fields: params,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn handoff(hint: Option<&str>) -> Handoff {
        Handoff {
            id_token_hint: hint.map(str::to_string),
            state: "st".into(),
        }
    }

    #[test]
    fn get_carries_the_parameters_in_order_in_the_url_keeping_the_endpoints_query() {
        let p = params(
            &handoff(Some("idt")),
            "client",
            &url("https://app.example/bye"),
        );
        let got = request(url("https://op.example/end?x=1"), EndSessionMethod::Get, p);
        let EndSession::Redirect(got) = got else {
            panic!("GET is a redirect")
        };
        assert_eq!(
            got.as_str(),
            "https://op.example/end?x=1&id_token_hint=idt&client_id=client\
             &post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=st"
        );
    }

    #[test]
    fn post_is_a_form_to_the_endpoint_and_the_hint_is_left_out_when_there_is_none() {
        let p = params(&handoff(None), "client", &url("https://app.example/bye"));
        let got = request(url("https://op.example/end"), EndSessionMethod::Post, p);
        let EndSession::Form { action, fields } = got else {
            panic!("POST is a form")
        };
        assert_eq!(action.as_str(), "https://op.example/end");
        assert_eq!(
            fields,
            vec![
                ("client_id", "client".to_string()),
                ("post_logout_redirect_uri", "https://app.example/bye".into()),
                ("state", "st".into()),
            ]
        );
    }

    #[test]
    fn each_logout_has_its_own_state_and_no_debug_shows_the_hint() {
        let a = Handoff::new(Some("secret-id-token".into()));
        let b = Handoff::new(None);
        assert_ne!(a.state, b.state);
        assert_eq!(a.state.len(), 22);
        assert!(!format!("{a:?}").contains("secret-id-token"));
    }
}

//! Header rewriting both ways: hop-by-hop and client-claimed headers dropped, forwarding
//! headers by trust in the peer, the route's own headers and the bearer token added.

use std::net::IpAddr;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::HttpResponseBuilder;

use crate::config::Route;

/// Headers never forwarded in either direction (RFC 9110 7.6.1 hop-by-hop, and more).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
];

/// Request headers the browser sends that never reach an upstream.
const DROPPED_REQUEST: &[&str] = &[
    "cookie",
    "authorization",
    // issue 12: the proof is ours, made for the upstream URL.
    "dpop",
    "host",
    "x-csrf",
    "x-request-id",
    "content-length",
    // issue 13: the BFF sends its own trace context (continuing a valid incoming one).
    "traceparent",
    "tracestate",
];

/// Headers that claim something about the client or the original request (its address,
/// scheme, host, port, URL or prefix). Believed only from a peer in `trusted_proxies`;
/// from anyone else they are removed (issue 9). `X-Forwarded-For/-Proto/-Host` are
/// handled apart: the BFF always sends its own.
const CLIENT_CLAIMS: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-protocol",
    "x-url-scheme",
    "front-end-https",
    "x-forwarded",
    "forwarded-for",
    "x-forwarded-for-original",
    "x-original-forwarded-for",
    "x-original-host",
    "x-host",
    "x-http-host-override",
    "x-forwarded-client-cert",
    "x-client-cert",
    "ssl-client-cert",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "fastly-client-ip",
    "akamai-client-ip",
    "x-cluster-client-ip",
    "x-proxyuser-ip",
    "x-envoy-external-address",
    "x-appengine-user-ip",
    "x-azure-clientip",
    "x-azure-socketip",
];

/// What the BFF knows about the hop it received a request on.
pub struct Hop<'a> {
    /// The TCP peer's address.
    pub peer: Option<IpAddr>,
    /// The peer is in `trusted_proxies`.
    pub trusted: bool,
    /// `base_url`'s scheme and `host[:port]`.
    pub proto: &'a str,
    pub host: &'a str,
}

impl Hop<'_> {
    pub fn is_trusted(trusted_proxies: &[ipnet::IpNet], peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|p| {
            let p = p.to_canonical();
            trusted_proxies.iter().any(|n| n.contains(&p))
        })
    }
}

/// `base_url`'s `host[:port]` (the port only when not the scheme's default).
pub fn public_host(base: &url::Url) -> String {
    match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// issue 12: what a request presents upstream: `Authorization` (`Bearer …` or
/// `DPoP …`) and, for a DPoP-bound token, the proof made for this request.
pub struct Credentials {
    pub authorization: String,
    pub proof: Option<String>,
}

/// The upstream request's headers from the browser's. The route's configured headers
/// (and `Ocp-Apim-Subscription-Key` from `subscription_key`) replace any the client sent
/// under those names; forwarding headers follow `hop` (see [`Hop`]).
pub fn request_headers(
    incoming: &HeaderMap,
    hop: &Hop<'_>,
    route: &Route,
    credentials: Option<&Credentials>,
    request_id: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let named = connection_named(incoming);
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(incoming.len() + 6);
    let mut xff: Option<String> = None;
    let (mut has_proto, mut has_host) = (false, false);
    for (name, value) in incoming.iter() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || DROPPED_REQUEST.contains(&n)
            || named.iter().any(|c| c == n)
            || route.headers.iter().any(|(owned, _)| owned == name)
        {
            continue;
        }
        match n {
            "x-forwarded-for" => {
                if hop.trusted {
                    if let Ok(v) = value.to_str() {
                        xff = Some(match xff {
                            Some(prev) => format!("{prev}, {v}"),
                            None => v.to_string(),
                        });
                    }
                }
                continue;
            }
            "x-forwarded-proto" | "x-forwarded-host" if !hop.trusted => continue,
            "x-forwarded-proto" => has_proto = true,
            "x-forwarded-host" => has_host = true,
            _ if !hop.trusted && CLIENT_CLAIMS.contains(&n) => continue,
            _ => {}
        }
        out.push((name.clone(), value.clone()));
    }
    if let Some(peer) = hop.peer {
        let peer = peer.to_canonical();
        let v = match xff {
            Some(prev) => format!("{prev}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(v) = HeaderValue::try_from(v) {
            out.push((HeaderName::from_static("x-forwarded-for"), v));
        }
    }
    if !has_proto {
        if let Ok(v) = HeaderValue::from_str(hop.proto) {
            out.push((HeaderName::from_static("x-forwarded-proto"), v));
        }
    }
    if !has_host {
        if let Ok(v) = HeaderValue::from_str(hop.host) {
            out.push((HeaderName::from_static("x-forwarded-host"), v));
        }
    }
    if let Ok(v) = HeaderValue::try_from(request_id) {
        out.push((HeaderName::from_static("x-request-id"), v));
    }
    for (n, v) in &route.headers {
        out.push((n.clone(), v.clone()));
    }
    if let Some(c) = credentials {
        if let Ok(v) = HeaderValue::try_from(c.authorization.as_str()) {
            out.push((header::AUTHORIZATION, v));
        }
        if let Some(Ok(v)) = c.proof.as_deref().map(HeaderValue::try_from) {
            out.push((HeaderName::from_static("dpop"), v));
        }
    }
    out
}

/// Copies the upstream answer's headers to `out`, without hop-by-hop headers, those the
/// upstream's `Connection` names, `Set-Cookie` (never the upstream's) and `Content-Length`
/// (set from the body).
pub fn copy_response_headers(out: &mut HttpResponseBuilder, upstream: &HeaderMap) {
    let named = connection_named(upstream);
    for (name, value) in upstream.iter() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || n == "set-cookie"
            || n == "content-length"
            || named.iter().any(|c| c == n)
        {
            continue;
        }
        out.append_header((name.clone(), value.clone()));
    }
}

/// True for an upstream answer that says the token is no good (a `Bearer` or, issue 12,
/// a `DPoP` challenge with `invalid_token`).
pub(crate) fn is_invalid_token(res: &awc::ClientResponse<impl Sized>) -> bool {
    res.status() == 401
        && res
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                use crate::oidc::challenge::has_error;
                has_error(v, "bearer", "invalid_token") || has_error(v, "dpop", "invalid_token")
            })
}

/// issue 12: an upstream 401 asking for a DPoP nonce (RFC 9449 9): the nonce it gave is
/// noted for its origin; whether it was a valid new one (then a retry can carry it).
pub(crate) fn wants_dpop_nonce(
    res: &awc::ClientResponse<impl Sized>,
    dpop: &crate::oidc::dpop::Dpop,
    url: &str,
) -> bool {
    dpop_nonce_demanded(res.status().as_u16(), res.headers(), dpop, url)
}

/// [`wants_dpop_nonce`] from an answer's status and headers (a refused WebSocket
/// upgrade has no `ClientResponse`).
pub(crate) fn dpop_nonce_demanded(
    status: u16,
    headers: &HeaderMap,
    dpop: &crate::oidc::dpop::Dpop,
    url: &str,
) -> bool {
    let fresh = dpop.note(url, headers);
    fresh
        && headers
            .get_all(header::WWW_AUTHENTICATE)
            .filter_map(|v| v.to_str().ok())
            .any(|v| crate::oidc::dpop::api_wants_nonce(status, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::route::tests::route;

    #[test]
    fn trust_is_by_peer_address() {
        let nets: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(Hop::is_trusted(&nets, ip("10.2.3.4")));
        assert!(Hop::is_trusted(&nets, ip("::ffff:10.2.3.4")), "IPv4-mapped");
        assert!(Hop::is_trusted(&nets, ip("::1")));
        assert!(!Hop::is_trusted(&nets, ip("11.0.0.1")));
        assert!(!Hop::is_trusted(&nets, None));
        assert!(!Hop::is_trusted(&[], ip("127.0.0.1")));
    }

    #[test]
    fn header_rewriting() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("cookie", "bff-session=secret"),
            ("authorization", "Bearer browser"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "5"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "x"),
            ("x-forwarded-for", "10.0.0.1"),
            ("accept", "application/json"),
            ("host", "bff.example"),
            ("x-csrf", "1"),
        ] {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        let r = route("/api", "https://api.example", true);
        let hop = Hop {
            peer: Some("127.0.0.1".parse().unwrap()),
            trusted: false,
            proto: "https",
            host: "bff.example:8443",
        };
        let creds = Credentials {
            authorization: "Bearer tok".into(),
            proof: None,
        };
        let out = request_headers(&h, &hop, &r, Some(&creds), "rid-1");
        let get = |n: &str| {
            out.iter()
                .filter(|(k, _)| k.as_str() == n)
                .map(|(_, v)| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        for gone in [
            "cookie",
            "connection",
            "x-secret",
            "keep-alive",
            "te",
            "upgrade",
            "proxy-authorization",
            "host",
            "x-csrf",
        ] {
            assert!(get(gone).is_empty(), "{gone} must be removed");
        }
        assert_eq!(get("authorization"), vec!["Bearer tok"]);
        // Issue 9: an untrusted peer's X-Forwarded-For is dropped; X-Forwarded-Host is
        // `base_url`'s, never the `Host` header.
        assert_eq!(get("x-forwarded-for"), vec!["127.0.0.1"]);
        assert_eq!(get("x-forwarded-proto"), vec!["https"]);
        assert_eq!(get("x-forwarded-host"), vec!["bff.example:8443"]);
        assert_eq!(get("x-request-id"), vec!["rid-1"]);
        assert_eq!(get("x-key"), vec!["k"]);
        assert_eq!(get("accept"), vec!["application/json"]);
    }
}

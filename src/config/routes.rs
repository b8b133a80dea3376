//! The `proxy` section: `/api` routes (built here from `routes`, or the default route
//! from `api_endpoint`), the upstream deadlines, and the trusted proxies in front of us.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::source::{type_message, Source};
use super::{parse_url, ConfigError};

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `/api` routes, longest prefix first.
    pub routes: Vec<Route>,
    /// `proxy_connect_timeout`.
    pub connect_timeout: Duration,
    /// `proxy_timeout`: the upstream's answer, and the longest an upload may stall.
    pub timeout: Duration,
    // Issue 9 (the proxy edge).
    /// Peers whose `X-Forwarded-*`/`Forwarded`/client-IP headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

use super::grant::{parse_exchange, RawGrant};
pub use super::grant::{GrantParams, TokenMode};

/// One `/api` route: requests under `prefix` go to `upstream`.
#[derive(Clone)]
pub struct Route {
    pub prefix: String,
    pub upstream: Url,
    /// issue 10: `upstream`'s scheme://authority and path, worked out once at start.
    pub base: String,
    pub token: TokenMode,
    pub strip_prefix: bool,
    /// Sent upstream, replacing the client's: values may be API keys.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    // issue 11: WebSocket
    /// Whether `Upgrade: websocket` requests are proxied (else 400).
    pub websocket: bool,
    // issue 11: route tokens, resource indicators
    /// The client-credentials grant's parameters (`client`, `user_or_client`).
    pub client: Option<GrantParams>,
    /// The token exchange's parameters, when `token_exchange` is set.
    pub exchange: Option<GrantParams>,
}

/// Header values (API keys, like `subscription_key`) are not printed, only their names.
impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Route")
            .field("prefix", &self.prefix)
            .field("upstream", &self.upstream.as_str())
            .field("token", &self.token)
            .field("strip_prefix", &self.strip_prefix)
            .field("websocket", &self.websocket)
            .field("client", &self.client)
            .field("exchange", &self.exchange)
            .field("headers", &names)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: String,
    upstream: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default = "default_true")]
    strip_prefix: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    // issue 11: WebSocket
    #[serde(default = "default_true")]
    websocket: bool,
    // issue 11: route tokens, resource indicators
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    resource: Option<Value>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    token_exchange: Option<Value>,
}

fn default_true() -> bool {
    true
}

pub(super) fn validate(src: &Source) -> Result<ProxyConfig, ConfigError> {
    let api_endpoint = src
        .str("api_endpoint")
        .map(|t| parse_url("api_endpoint", &t))
        .transpose()?;
    Ok(ProxyConfig {
        routes: parse_routes(
            src.json("routes"),
            api_endpoint.as_ref(),
            src.str("subscription_key").as_deref(),
        )?,
        connect_timeout: src.secs("proxy_connect_timeout", 5, 1)?,
        timeout: src.secs("proxy_timeout", 30, 1)?,
        trusted_proxies: parse_trusted_proxies(src.list("trusted_proxies").unwrap_or_default())?,
    })
}

/// Issue 9: `trusted_proxies` entries are IP addresses or CIDRs (IPv4 or IPv6).
fn parse_trusted_proxies(list: Vec<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|entry| {
            let text = entry.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| ipv4_if_mapped(net).trunc())
                .map_err(|_| {
                    ConfigError::new(
                        "trusted_proxies",
                        format!("`{text}` is not an IP address or CIDR"),
                    )
                })
        })
        .collect()
}

/// An IPv4-mapped IPv6 entry (`::ffff:10.0.0.1`, `::ffff:10.0.0.0/104`) as the IPv4
/// address or network it names: peers are compared in canonical form, so a mapped
/// entry would never match. Wider IPv6 networks stay IPv6.
fn ipv4_if_mapped(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(ipnet::IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

fn parse_routes(
    raw: Option<Value>,
    api_endpoint: Option<&Url>,
    subscription_key: Option<&str>,
) -> Result<Vec<Route>, ConfigError> {
    let list: Vec<RawRoute> = match (raw, api_endpoint) {
        (Some(v), _) => serde_json::from_value(v)
            .map_err(|e| ConfigError::new("routes", type_message(&e.to_string())))?,
        (None, Some(api)) => vec![default_route(api, subscription_key)],
        (None, None) => Vec::new(),
    };
    let mut routes: Vec<Route> = Vec::with_capacity(list.len());
    for (i, r) in list.into_iter().enumerate() {
        let route = route(i, r)?;
        if routes.iter().any(|x| x.prefix == route.prefix) {
            return Err(route_error(
                i,
                format!("prefix {} appears twice", route.prefix),
            ));
        }
        routes.push(route);
    }
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    Ok(routes)
}

/// Without `routes`: `/api` → `api_endpoint`, with the tutorial's API-gateway key.
fn default_route(api: &Url, subscription_key: Option<&str>) -> RawRoute {
    let mut headers = BTreeMap::new();
    if let Some(key) = subscription_key {
        headers.insert("Ocp-Apim-Subscription-Key".to_string(), key.to_string());
    }
    RawRoute {
        prefix: "/api".into(),
        upstream: api.to_string(),
        token: None,
        strip_prefix: true,
        headers,
        websocket: true,
        scope: None,
        resource: None,
        audience: None,
        token_exchange: None,
    }
}

fn route_error(i: usize, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::new("routes", format!("route {i}: {message}"))
}

/// Route `i` of the list, checked.
fn route(i: usize, r: RawRoute) -> Result<Route, ConfigError> {
    let prefix = r.prefix.trim_end_matches('/').to_string();
    if !(prefix == "/api" || prefix.starts_with("/api/"))
        || prefix.contains("..")
        || prefix.contains('%')
    {
        return Err(route_error(i, "prefix must be /api or start with /api/"));
    }
    let upstream = parse_url("routes", &r.upstream)?;
    if upstream.query().is_some() {
        return Err(route_error(i, "upstream must not have a query"));
    }
    let (token, client, exchange) = route_tokens(&r).map_err(|m| route_error(i, m))?;
    let mut headers = Vec::new();
    for (name, value) in r.headers {
        let n = HeaderName::try_from(name.as_str())
            .map_err(|_| route_error(i, format!("`{name}` is not a header name")))?;
        let v = HeaderValue::try_from(value.as_str())
            .map_err(|_| route_error(i, format!("header `{name}` has an invalid value")))?;
        headers.push((n, v));
    }
    Ok(Route {
        prefix,
        base: crate::util::url_base(&upstream),
        upstream,
        token,
        strip_prefix: r.strip_prefix,
        headers,
        websocket: r.websocket,
        client,
        exchange,
    })
}

/// issue 11: route tokens. The route's token type and its grants' parameters.
fn route_tokens(
    r: &RawRoute,
) -> Result<(TokenMode, Option<GrantParams>, Option<GrantParams>), String> {
    let token = match r.token.as_deref() {
        None => TokenMode::User,
        Some(t) => TokenMode::parse(t).ok_or_else(|| {
            format!("token `{t}` is not user, user_or_none, none, client or user_or_client")
        })?,
    };
    let raw = RawGrant {
        scope: r.scope.as_deref(),
        resource: r.resource.as_ref(),
        audience: r.audience.as_deref(),
    };
    let exchange = parse_exchange(r.token_exchange.as_ref(), &raw)?;
    if exchange.is_some() && !token.uses_user() {
        return Err(
            "token_exchange needs a user token (token user, user_or_none or user_or_client)".into(),
        );
    }
    if !token.uses_client() && exchange.is_none() && !raw.is_empty() {
        return Err(
            "scope, resource and audience apply to client tokens and token exchange only".into(),
        );
    }
    let client = if token.uses_client() {
        Some(raw.params(None)?)
    } else {
        None
    };
    Ok((token, client, exchange))
}

//! Routing an `/api` path: the longest matching prefix of `routes`, and the upstream URL
//! that always stays under the route's base.

use crate::config::Route;

/// The longest-prefix route for `path`, and what follows the prefix (`""` or `/…`).
pub fn route_for<'a>(routes: &'a [Route], path: &'a str) -> Option<(&'a Route, &'a str)> {
    routes.iter().find_map(|r| {
        let rest = path.strip_prefix(r.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some((r, rest))
    })
}

/// The upstream URL: the route's base (worked out at start), then the remainder (or the
/// whole path when the prefix is kept), then the query. It always stays under the
/// upstream's base.
pub fn upstream_url(route: &Route, path: &str, rest: &str, query: &str) -> String {
    let tail = if route.strip_prefix { rest } else { path };
    let mut url = String::with_capacity(route.base.len() + 2 + tail.len() + query.len());
    url.push_str(&route.base);
    if tail.is_empty() {
        url.push('/');
    } else {
        url.push_str(tail);
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::TokenMode;
    use actix_web::http::header::{HeaderName, HeaderValue};

    /// A route for unit tests, with one configured header.
    pub(in crate::proxy) fn route(prefix: &str, upstream: &str, strip: bool) -> Route {
        let upstream = url::Url::parse(upstream).unwrap();
        Route {
            prefix: prefix.into(),
            base: crate::util::url_base(&upstream),
            upstream,
            token: TokenMode::User,
            strip_prefix: strip,
            headers: vec![(
                HeaderName::from_static("x-key"),
                HeaderValue::from_static("k"),
            )],
            websocket: true,
            client: None,
            exchange: None,
        }
    }

    #[test]
    fn longest_prefix_wins_and_stays_under_the_base() {
        let routes = vec![
            route("/api/orders", "https://orders.example:8443/v2/", true),
            route("/api", "https://api.example", true),
        ];
        let (r, rest) = route_for(&routes, "/api/orders/7").unwrap();
        assert_eq!(
            upstream_url(r, "/api/orders/7", rest, "a=1"),
            "https://orders.example:8443/v2/7?a=1"
        );
        let (r, rest) = route_for(&routes, "/api/ordersx").unwrap();
        assert_eq!(
            upstream_url(r, "/api/ordersx", rest, ""),
            "https://api.example/ordersx"
        );
        let (r, rest) = route_for(&routes, "/api").unwrap();
        assert_eq!(upstream_url(r, "/api", rest, ""), "https://api.example/");
        assert!(route_for(&routes, "/apix").is_none());
        let keep = route("/api", "https://api.example/base", false);
        assert_eq!(
            upstream_url(&keep, "/api/x", "/x", ""),
            "https://api.example/base/api/x"
        );
    }
}

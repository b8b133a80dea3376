//! Cookie names and attributes (`__Host-` on https, HttpOnly, Secure, SameSite), and
//! reading/writing the sealed session and login-state cookies with chunking.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite as CookieSameSite};
use actix_web::HttpRequest;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::chunk::{self, CHUNK_SIZE};
use super::{Sealer, SessionError};
use crate::config::{Config, SameSite};

/// Builds and reads the BFF's cookies for one configuration.
pub struct CookieJar {
    pub session_name: String,
    pub login_name: String,
    /// The logout hand-off (issue 9): the ID token on its way from `POST /bff/logout` to
    /// the logout page, sent to that page's path only.
    pub logout_name: String,
    secure: bool,
    session_same_site: CookieSameSite,
    max_chunks: usize,
}

/// The request's cookies as `(name, value)` slices of its `Cookie` headers, without
/// copying or percent-decoding (our values are URL-safe base64). This is the hot path of
/// every proxied request: actix's own parser decodes and copies every cookie. A header
/// with a byte `HeaderValue::to_str` refuses (not visible ASCII or tab) is skipped whole,
/// as before; the check and the `;` search run over whole words (issue 14, lever 6),
/// where `to_str` and `str::split` went a byte at a time (3.8 µs for a 3.8 KB header).
pub fn cookie_pairs(req: &HttpRequest) -> impl Iterator<Item = (&str, &str)> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| visible_ascii(v.as_bytes()))
        .flat_map(split_semicolons)
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            let v = v.trim();
            Some((
                n.trim(),
                v.strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v),
            ))
        })
}

/// `bytes` as text when every byte is visible ASCII or a tab (what `HeaderValue::to_str`
/// accepts). No early exit inside a 64-byte block, so the compiler checks it in vectors.
fn visible_ascii(bytes: &[u8]) -> Option<&str> {
    let ok = bytes.chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & ((b' '..=b'~').contains(&b) | (b == b'\t'))
        })
    });
    if ok {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// The `;`-separated pieces of a header value, found with `memchr`.
fn split_semicolons(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b';', r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Opens the first cookie called `name` (a one-piece sealed cookie: login state, logout
/// hand-off); anything unreadable or expired counts as absent.
fn open_one<T: DeserializeOwned>(
    name: &str,
    req: &HttpRequest,
    sealer: &Sealer,
    now: u64,
) -> Option<T> {
    let (_, value) = cookie_pairs(req).find(|(n, _)| *n == name)?;
    sealer.open(name, value, now).ok().map(|(v, _)| v)
}

/// The most a browser keeps of one cookie (RFC 6265bis §5.7: name plus value; we count
/// the whole `Set-Cookie` value, attributes included, to stay clear of every browser).
pub const MAX_BROWSER_COOKIE: usize = 4096;

/// Whether a browser will keep `cookie` (see [`MAX_BROWSER_COOKIE`]).
pub fn fits_browser(cookie: &Cookie<'_>) -> bool {
    cookie.to_string().len() <= MAX_BROWSER_COOKIE
}

/// Cookies to add to a response.
pub type CookieSet = Vec<Cookie<'static>>;

impl CookieJar {
    pub fn new(config: &Config) -> Self {
        let prefix = if config.server.https { "__Host-" } else { "" };
        Self {
            session_name: format!("{prefix}bff-session"),
            login_name: format!("{prefix}bff-login"),
            // `__Host-` requires `Path=/`; `__Secure-` keeps the Secure guarantee while
            // the cookie travels only to the logout page.
            logout_name: if config.server.https {
                "__Secure-bff-logout".to_string()
            } else {
                "bff-logout".to_string()
            },
            secure: config.server.secure_cookies,
            session_same_site: match config.session.same_site {
                SameSite::Strict => CookieSameSite::Strict,
                SameSite::Lax => CookieSameSite::Lax,
            },
            max_chunks: config.session.max_cookie_chunks,
        }
    }

    fn build(
        &self,
        name: String,
        value: String,
        max_age: i64,
        same_site: CookieSameSite,
    ) -> Cookie<'static> {
        let mut c = Cookie::new(name, value);
        c.set_http_only(true);
        c.set_secure(self.secure);
        c.set_path("/");
        c.set_same_site(same_site);
        c.set_max_age(CookieDuration::seconds(max_age.max(0)));
        c
    }

    fn removal(&self, name: String, same_site: CookieSameSite) -> Cookie<'static> {
        self.build(name, String::new(), 0, same_site)
    }

    /// Names of the session cookies (plain and chunks) the request carries.
    fn present_session_names(&self, req: &HttpRequest) -> Vec<String> {
        cookie_pairs(req)
            .map(|(n, _)| n)
            .filter(|n| {
                *n == self.session_name
                    || n.strip_prefix(self.session_name.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .map(str::to_string)
            .collect()
    }

    /// The joined sealed session value from the request, if any.
    pub fn read_session_raw(&self, req: &HttpRequest) -> Result<Option<String>, SessionError> {
        // One pass over the Cookie headers, keeping only our session cookies (a lookup per
        // chunk name would rescan a 12 KB header for every chunk).
        let ours: Vec<(&str, &str)> = cookie_pairs(req)
            .filter(|(n, _)| {
                n.strip_prefix(self.session_name.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
            .collect();
        chunk::join(
            &self.session_name,
            |n| ours.iter().find(|(name, _)| *name == n).map(|(_, v)| *v),
            self.max_chunks,
        )
    }

    /// The session cookie's name (`__Host-bff-session` over https).
    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    /// Opens the session cookie. `Ok(None)` when the browser has none.
    pub fn open_session<T: DeserializeOwned>(
        &self,
        req: &HttpRequest,
        sealer: &Sealer,
        now: u64,
    ) -> Result<Option<(T, u64)>, SessionError> {
        match self.read_session_raw(req)? {
            None => Ok(None),
            Some(raw) => sealer.open(&self.session_name, &raw, now).map(Some),
        }
    }

    /// Cookies that store `value` sealed until `expires_at`, chunked when large, and
    /// delete any stale plain/chunk cookies the request carried.
    pub fn write_session<T: Serialize>(
        &self,
        req: &HttpRequest,
        sealer: &Sealer,
        value: &T,
        expires_at: u64,
        now: u64,
    ) -> Result<CookieSet, SessionError> {
        let sealed = sealer.seal(&self.session_name, value, expires_at);
        let parts = chunk::split(&sealed, CHUNK_SIZE);
        if parts.len() > self.max_chunks {
            return Err(SessionError::TooLarge);
        }
        let max_age = expires_at.saturating_sub(now) as i64;
        let mut out: CookieSet = Vec::with_capacity(parts.len() + 1);
        let names: Vec<String> = if parts.len() == 1 {
            vec![self.session_name.clone()]
        } else {
            (0..parts.len())
                .map(|i| chunk::chunk_name(&self.session_name, i))
                .collect()
        };
        for (name, part) in names.iter().zip(parts) {
            out.push(self.build(
                name.clone(),
                part.to_string(),
                max_age,
                self.session_same_site,
            ));
        }
        for stale in self.present_session_names(req) {
            if !names.contains(&stale) {
                out.push(self.removal(stale, self.session_same_site));
            }
        }
        Ok(out)
    }

    /// Deletes every session cookie the request carried (and the plain name regardless).
    pub fn clear_session(&self, req: &HttpRequest) -> CookieSet {
        let mut names = self.present_session_names(req);
        if !names.contains(&self.session_name) {
            names.push(self.session_name.clone());
        }
        names
            .into_iter()
            .map(|n| self.removal(n, self.session_same_site))
            .collect()
    }

    /// Opens the login-state cookie; anything unreadable counts as absent.
    pub fn open_login<T: DeserializeOwned>(
        &self,
        req: &HttpRequest,
        sealer: &Sealer,
        now: u64,
    ) -> Option<T> {
        open_one(&self.login_name, req, sealer, now)
    }

    pub fn write_login<T: Serialize>(
        &self,
        sealer: &Sealer,
        value: &T,
        expires_at: u64,
        now: u64,
    ) -> Cookie<'static> {
        let sealed = sealer.seal(&self.login_name, value, expires_at);
        self.build(
            self.login_name.clone(),
            sealed,
            expires_at.saturating_sub(now) as i64,
            CookieSameSite::Lax,
        )
    }

    pub fn clear_login(&self) -> Cookie<'static> {
        self.removal(self.login_name.clone(), CookieSameSite::Lax)
    }

    /// The sealed logout hand-off: `HttpOnly`, `SameSite=Strict`, `Path` = the logout
    /// page, alive `max_age` seconds.
    pub fn write_logout<T: Serialize>(
        &self,
        sealer: &Sealer,
        value: &T,
        now: u64,
        max_age: u64,
    ) -> Cookie<'static> {
        let sealed = sealer.seal(&self.logout_name, value, now + max_age);
        let mut c = self.build(
            self.logout_name.clone(),
            sealed,
            max_age as i64,
            CookieSameSite::Strict,
        );
        c.set_path(LOGOUT_PAGE_PATH);
        c
    }

    /// Opens the logout hand-off; anything unreadable or expired counts as absent.
    pub fn open_logout<T: DeserializeOwned>(
        &self,
        req: &HttpRequest,
        sealer: &Sealer,
        now: u64,
    ) -> Option<T> {
        open_one(&self.logout_name, req, sealer, now)
    }

    pub fn clear_logout(&self) -> Cookie<'static> {
        let mut c = self.removal(self.logout_name.clone(), CookieSameSite::Strict);
        c.set_path(LOGOUT_PAGE_PATH);
        c
    }
}

/// The BFF's logout page: it sends the RP-initiated logout to the OP (issue 9).
pub const LOGOUT_PAGE_PATH: &str = "/bff/logout/end";

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn visible_ascii_agrees_with_to_str_for_every_byte_anywhere() {
        for b in 0..=255u8 {
            for at in [0, 1, 63, 64, 65, 200] {
                let mut v = vec![b'a'; 201];
                v[at] = b;
                let Ok(h) = HeaderValue::from_bytes(&v) else {
                    continue; // not a header value at all (CR, LF, NUL)
                };
                assert_eq!(visible_ascii(h.as_bytes()), h.to_str().ok(), "{b} at {at}");
            }
        }
    }

    #[test]
    fn split_semicolons_is_str_split() {
        for v in ["", ";", "a", "a;b", "a; b;", ";;a;;", "x=1; y=\"2\"; z"] {
            let ours: Vec<&str> = split_semicolons(v).collect();
            let std: Vec<&str> = v.split(';').collect();
            assert_eq!(ours, std, "{v:?}");
        }
    }

    #[test]
    fn pairs_skip_a_header_with_an_obs_text_byte_and_read_the_rest() {
        let req = actix_web::test::TestRequest::default()
            .append_header(("cookie", HeaderValue::from_bytes(b"a=1; \xffb=2").unwrap()))
            .append_header(("cookie", "c=\"3\"; d = 4 ;e"))
            .to_http_request();
        let pairs: Vec<(&str, &str)> = cookie_pairs(&req).collect();
        assert_eq!(pairs, vec![("c", "3"), ("d", "4")]);
    }
}

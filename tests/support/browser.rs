//! A browser-like client: a cookie jar, no redirect following, and the few steps of a
//! sign-in.

use std::collections::BTreeMap;

use serde_json::Value;

/// A response as the test sees it.
pub struct Resp {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub set_cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn location(&self) -> String {
        self.header("location").unwrap_or_default()
    }
}

/// A browser: a cookie jar, no redirect following.
pub struct Browser {
    pub base: String,
    pub jar: BTreeMap<String, String>,
    client: awc::Client,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            jar: BTreeMap::new(),
            client: awc::Client::builder().disable_redirects().finish(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, set_cookies: &[String]) {
        for sc in set_cookies {
            let c = actix_web::cookie::Cookie::parse(sc.clone()).unwrap();
            let expired =
                c.max_age().is_some_and(|m| m.whole_seconds() <= 0) || c.value().is_empty();
            if expired {
                self.jar.remove(c.name());
            } else {
                self.jar.insert(c.name().to_string(), c.value().to_string());
            }
        }
    }

    pub async fn request(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{}", self.base, url)
        };
        let mut req = self.client.request(method.parse().unwrap(), &url);
        // Only send our cookies to our host.
        if url.starts_with(&self.base) && !self.jar.is_empty() {
            req = req.insert_header(("Cookie", self.cookie_header()));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => {
                req.insert_header(("Content-Type", "application/json"))
                    .send_body(b.to_string())
                    .await
            }
            None => req.send().await,
        }
        .expect("request");
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let body = res.body().limit(256 * 1024 * 1024).await.unwrap().to_vec();
        if url.starts_with(&self.base) {
            self.absorb(&set_cookies);
        }
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            set_cookies,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Resp {
        self.request("GET", url, &[], None).await
    }

    pub async fn post(&mut self, url: &str, body: Option<&str>) -> Resp {
        self.request("POST", url, &[("X-CSRF", "1")], body).await
    }

    /// `GET /bff/login` → the OP's `/authorize` → back to the callback URL (not followed).
    pub async fn authorize(&mut self, return_url: &str) -> String {
        let res = self
            .get(&format!("/bff/login?returnUrl={}", urlencode(return_url)))
            .await;
        assert_eq!(res.status, 302, "login redirects");
        let op = self.get(&res.location()).await;
        assert_eq!(op.status, 302, "fake OP redirects back");
        op.location()
    }

    /// A full sign-in; returns the callback's response.
    pub async fn login(&mut self) -> Resp {
        let callback = self.authorize("/").await;
        self.get(&callback).await
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// GETs every URL at once, each with `headers` (the caller's own `Cookie`, no jar);
/// their statuses, in order.
pub async fn get_all_at_once(
    urls: impl IntoIterator<Item = String>,
    headers: &[(&str, &str)],
) -> Vec<u16> {
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .finish();
    let calls = urls.into_iter().map(|url| {
        let mut req = client.get(url);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        async move { req.send().await.map(|r| r.status().as_u16()) }
    });
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

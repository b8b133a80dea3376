//! issue 11: route tokens, resource indicators. The parameters of a client-credentials
//! grant or a token exchange (`scope`, `resource`, `audience`, `requested_token_type`),
//! checked; and the route's `token` type. Read by `routes.rs` and (`resource`) `client.rs`.

use serde_json::Value;
use url::Url;

/// Whether a route sends the user's token, a client token of the BFF's own, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    /// `user` (alias `required`): the session's token; 401 without a session.
    User,
    /// `user_or_none` (alias `optional`): the session's token when signed in.
    UserOrNone,
    /// `none`: never a token.
    None,
    /// `client`: a client-credentials token; no session needed.
    Client,
    /// `user_or_client`: the session's token when signed in, else a client token.
    UserOrClient,
}

impl TokenMode {
    pub fn parse(text: &str) -> Option<TokenMode> {
        Some(match text {
            "user" | "required" => TokenMode::User,
            "user_or_none" | "optional" => TokenMode::UserOrNone,
            "none" => TokenMode::None,
            "client" => TokenMode::Client,
            "user_or_client" => TokenMode::UserOrClient,
            _ => return Option::None,
        })
    }

    /// Whether the route can send the session's token (so it may exchange it).
    pub fn uses_user(self) -> bool {
        matches!(
            self,
            TokenMode::User | TokenMode::UserOrNone | TokenMode::UserOrClient
        )
    }

    /// Whether the route can send a client token.
    pub fn uses_client(self) -> bool {
        matches!(self, TokenMode::Client | TokenMode::UserOrClient)
    }
}

/// What a client-credentials grant or a token exchange asks for. Strings are sent
/// exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantParams {
    pub scope: Option<String>,
    pub resource: Vec<String>,
    pub audience: Option<String>,
    /// Token exchange only.
    pub requested_token_type: Option<String>,
    /// Digest of the canonical parameters (scope items sorted): equal parameters, equal key.
    pub key: String,
}

impl GrantParams {
    pub fn new(
        scope: Option<String>,
        resource: Vec<String>,
        audience: Option<String>,
        requested_token_type: Option<String>,
    ) -> Self {
        let mut items: Vec<&str> = scope.iter().flat_map(|s| s.split(' ')).collect();
        items.sort_unstable();
        items.dedup();
        // Parts are joined with NUL: validation refuses control characters in every part.
        let key = crate::util::hex_sha256(&format!(
            "scope\0{}\0resource\0{}\0audience\0{}\0rtt\0{}",
            items.join(" "),
            resource.join("\0"),
            audience.as_deref().unwrap_or(""),
            requested_token_type.as_deref().unwrap_or("")
        ));
        GrantParams {
            scope,
            resource,
            audience,
            requested_token_type,
            key,
        }
    }
}

/// `scope`: space-separated items of RFC 6749 3.3 characters, none empty.
pub fn check_scope(text: &str) -> Result<(), String> {
    let ok_char = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
    if text.is_empty()
        || text
            .split(' ')
            .any(|item| item.is_empty() || !item.bytes().all(ok_char))
    {
        return Err("scope has an invalid character".into());
    }
    Ok(())
}

/// `resource`: a string or a non-empty list of absolute URIs without fragment, each once.
pub fn parse_resource(value: &Value) -> Result<Vec<String>, String> {
    let list: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err("resource must be a string or a list of strings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("resource must be a string or a list of strings".into()),
    };
    check_resources(&list)?;
    Ok(list)
}

pub fn check_resources(list: &[String]) -> Result<(), String> {
    if list.is_empty() {
        return Err("resource must not be an empty list".into());
    }
    for (i, r) in list.iter().enumerate() {
        if r.chars().any(|c| c.is_whitespace() || c.is_control()) || Url::parse(r).is_err() {
            return Err(format!("resource `{r}` is not an absolute URI"));
        }
        if r.contains('#') {
            return Err(format!("resource `{r}` must not have a fragment"));
        }
        if list[..i].contains(r) {
            return Err(format!("resource `{r}` appears twice"));
        }
    }
    Ok(())
}

pub fn check_audience(text: &str) -> Result<(), String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("audience must not be empty or contain spaces".into());
    }
    Ok(())
}

/// A route's grant keys as written (`token_exchange` is `bool` or this object).
pub struct RawGrant<'a> {
    pub scope: Option<&'a str>,
    pub resource: Option<&'a Value>,
    pub audience: Option<&'a str>,
}

impl RawGrant<'_> {
    pub fn is_empty(&self) -> bool {
        self.scope.is_none() && self.resource.is_none() && self.audience.is_none()
    }

    pub fn params(&self, requested_token_type: Option<String>) -> Result<GrantParams, String> {
        if let Some(s) = self.scope {
            check_scope(s)?;
        }
        let resource = self
            .resource
            .map(parse_resource)
            .transpose()?
            .unwrap_or_default();
        if let Some(a) = self.audience {
            check_audience(a)?;
        }
        Ok(GrantParams::new(
            self.scope.map(str::to_string),
            resource,
            self.audience.map(str::to_string),
            requested_token_type,
        ))
    }
}

/// `token_exchange`: `false`/absent → none; `true` → the route's parameters; an object
/// → each of its keys overrides the route's.
pub fn parse_exchange(
    value: Option<&Value>,
    route: &RawGrant,
) -> Result<Option<GrantParams>, String> {
    match value {
        None | Some(Value::Bool(false)) | Some(Value::Null) => Ok(None),
        Some(Value::Bool(true)) => route.params(None).map(Some),
        Some(Value::Object(map)) => {
            for k in map.keys() {
                if !["audience", "resource", "scope", "requested_token_type"].contains(&k.as_str())
                {
                    return Err(format!("token_exchange: unknown key `{k}`"));
                }
            }
            let string = |k: &str| -> Result<Option<&str>, String> {
                match map.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.as_str())),
                    Some(_) => Err(format!("token_exchange.{k} must be a string")),
                }
            };
            let rtt = string("requested_token_type")?;
            if let Some(t) = rtt {
                if t.chars().any(|c| c.is_whitespace() || c.is_control()) || Url::parse(t).is_err()
                {
                    return Err("token_exchange.requested_token_type is not an absolute URI".into());
                }
            }
            let merged = RawGrant {
                scope: string("scope")?.or(route.scope),
                resource: map
                    .get("resource")
                    .filter(|v| !v.is_null())
                    .or(route.resource),
                audience: string("audience")?.or(route.audience),
            };
            merged.params(rtt.map(str::to_string)).map(Some)
        }
        Some(_) => Err("token_exchange must be true, false or an object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_items_are_rfc6749_characters() {
        assert!(check_scope("api:read api:write").is_ok());
        assert!(check_scope("a  b").is_err());
        assert!(check_scope("a\"b").is_err());
        assert!(check_scope("a\\b").is_err());
        assert!(check_scope("").is_err());
    }

    #[test]
    fn resources_are_absolute_once_without_fragment() {
        assert_eq!(
            parse_resource(&json!("urn:x:y")).unwrap(),
            vec!["urn:x:y".to_string()]
        );
        assert!(parse_resource(&json!("relative/path")).is_err());
        assert!(parse_resource(&json!("https://a.example/#f")).is_err());
        assert!(parse_resource(&json!([])).is_err());
        assert!(parse_resource(&json!(["urn:a", "urn:a"])).is_err());
        assert!(parse_resource(&json!(["urn:a b"])).is_err());
        // Sent as written, not normalised.
        assert_eq!(
            parse_resource(&json!("HTTPS://API.example")).unwrap(),
            vec!["HTTPS://API.example".to_string()]
        );
    }

    #[test]
    fn equal_parameters_equal_key() {
        let a = GrantParams::new(Some("b a".into()), vec!["urn:r".into()], None, None);
        let b = GrantParams::new(Some("a b".into()), vec!["urn:r".into()], None, None);
        let c = GrantParams::new(Some("a b".into()), vec!["urn:s".into()], None, None);
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
    }

    #[test]
    fn exchange_object_overrides_route_keys() {
        let res = json!("urn:route");
        let route = RawGrant {
            scope: Some("a"),
            resource: Some(&res),
            audience: None,
        };
        let p = parse_exchange(Some(&json!({"scope": "b"})), &route)
            .unwrap()
            .unwrap();
        assert_eq!(p.scope.as_deref(), Some("b"));
        assert_eq!(p.resource, vec!["urn:route".to_string()]);
        assert!(parse_exchange(Some(&json!(false)), &route)
            .unwrap()
            .is_none());
        assert!(parse_exchange(Some(&json!({"x": 1})), &route)
            .unwrap_err()
            .contains("unknown key `x`"));
    }
}

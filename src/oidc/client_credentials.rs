//! issue 11: the client-credentials grant (RFC 6749 4.4) for `client` routes, with the
//! BFF's own client authentication (every method `token::authenticated` supports) and
//! the route's `scope`, `resource` (RFC 8707, one pair per value) and `audience`.

use super::dpop::Dpop;
use super::token::{check_token_type, token_grant, Form, TokenResponse};
use super::{Metadata, OidcError};
use crate::config::{Config, GrantParams};

/// The grant's fields (after client authentication).
pub fn form(params: &GrantParams) -> Form {
    let mut form: Form = vec![("grant_type", "client_credentials".to_string())];
    if let Some(s) = &params.scope {
        form.push(("scope", s.clone()));
    }
    form.extend(params.resource.iter().map(|r| ("resource", r.clone())));
    if let Some(a) = &params.audience {
        form.push(("audience", a.clone()));
    }
    form
}

/// Asks the token endpoint for a client token.
pub async fn grant(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&Dpop>,
    params: &GrantParams,
) -> Result<TokenResponse, OidcError> {
    let tokens: TokenResponse = token_grant(client, meta, config, dpop, form(params)).await?;
    check_token_type(&tokens, config, dpop.is_some())?;
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_has_each_parameter_once_and_each_resource() {
        let p = GrantParams::new(
            Some("api:read".into()),
            vec!["urn:a".into(), "urn:b".into()],
            Some("aud".into()),
            None,
        );
        let f = form(&p);
        assert_eq!(
            f,
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("scope", "api:read".to_string()),
                ("resource", "urn:a".to_string()),
                ("resource", "urn:b".to_string()),
                ("audience", "aud".to_string()),
            ]
        );
        let bare = form(&GrantParams::new(None, vec![], None, None));
        assert_eq!(bare.len(), 1);
    }
}

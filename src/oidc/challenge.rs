//! `WWW-Authenticate` challenges (RFC 9110 11.6.1): a header value read into schemes and
//! their parameters, quoted strings honoured, so a resource server's `error` is found in
//! its own challenge and not in another's `error_description`.

/// One challenge: its scheme (as sent) and its `name=value` parameters (names as sent,
/// quoted values unquoted). A `token68` challenge has no parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The parameter `name` (case-insensitive, RFC 9110 11.2).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(String),
    Eq,
    Comma,
}

/// The words, `=`, commas and quoted strings of a header value (an unclosed quoted
/// string runs to the end: what came before it still counts).
fn lex(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => {}
            ',' => out.push(Tok::Comma),
            '=' => out.push(Tok::Eq),
            '"' => {
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        c => value.push(c),
                    }
                }
                out.push(Tok::Quoted(value));
            }
            _ => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if matches!(d, ' ' | '\t' | ',' | '=' | '"') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                out.push(Tok::Word(&s[i..end]));
            }
        }
    }
    out
}

/// The challenges of one `WWW-Authenticate` value.
pub fn parse(value: &str) -> Vec<Challenge> {
    let toks = lex(value);
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match (&toks[i], toks.get(i + 1)) {
            // `name = value`: a parameter of the current challenge.
            (Tok::Word(name), Some(Tok::Eq)) if !out.is_empty() => {
                let value = match toks.get(i + 2) {
                    Some(Tok::Word(w)) => Some(w.to_string()),
                    Some(Tok::Quoted(q)) => Some(q.clone()),
                    _ => None,
                };
                if let (Some(v), Some(c)) = (&value, out.last_mut()) {
                    c.params.push((name.to_string(), v.clone()));
                }
                i += if value.is_some() { 3 } else { 2 };
            }
            // A word that starts a challenge: its scheme. A token68 after it (a word, maybe
            // with `=` padding, then a comma or the end) is skipped.
            (Tok::Word(scheme), _) => {
                out.push(Challenge {
                    scheme: scheme.to_string(),
                    params: Vec::new(),
                });
                i += 1;
                if let Some(Tok::Word(_)) = toks.get(i) {
                    let mut j = i + 1;
                    while matches!(toks.get(j), Some(Tok::Eq)) {
                        j += 1;
                    }
                    if matches!(toks.get(j), None | Some(Tok::Comma)) && j > i + 1
                        || !matches!(toks.get(i + 1), Some(Tok::Eq))
                    {
                        i = j;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether any challenge of `value` has scheme `scheme` (case-insensitive) and
/// `error` = `error`.
pub fn has_error(value: &str, scheme: &str, error: &str) -> bool {
    parse(value)
        .iter()
        .any(|c| c.scheme.eq_ignore_ascii_case(scheme) && c.param("error") == Some(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_params_and_quotes() {
        let c = parse(
            r#"Bearer realm="a, DPoP error=use_dpop_nonce", error="invalid_token", DPoP algs="ES256 PS256", error=use_dpop_nonce"#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].param("realm"), Some("a, DPoP error=use_dpop_nonce"));
        assert_eq!(c[0].param("ERROR"), Some("invalid_token"));
        assert_eq!(c[1].scheme, "DPoP");
        assert_eq!(c[1].param("algs"), Some("ES256 PS256"));
        assert_eq!(c[1].param("error"), Some("use_dpop_nonce"));
    }

    #[test]
    fn token68_escapes_and_broken_values() {
        let c = parse(r#"Basic dXNlcjpwYXNz==, DPoP error="a \"quoted\" one""#);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "Basic");
        assert!(c[0].params.is_empty());
        assert_eq!(c[1].param("error"), Some(r#"a "quoted" one"#));
        // An unclosed quoted string runs to the end; what came before still counts.
        let c = parse(r#"DPoP error="use_dpop_nonce", error_description="bad \""#);
        assert_eq!(c[0].param("error"), Some("use_dpop_nonce"), "{c:?}");
        assert_eq!(c[0].param("error_description"), Some("bad \""));
        // token68 with padding, then a challenge with parameters.
        let c = parse(r#"Negotiate a2V5==, Bearer error="invalid_token""#);
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[0].params.is_empty());
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert!(parse("").is_empty());
        assert!(parse("=,=").is_empty());
    }

    #[test]
    fn errors_belong_to_their_own_scheme() {
        let v = r#"Bearer error_description="try DPoP error=use_dpop_nonce", DPoP error="invalid_token""#;
        assert!(!has_error(v, "dpop", "use_dpop_nonce"));
        assert!(has_error(v, "dpop", "invalid_token"));
        assert!(has_error(
            r#"dpop error="use_dpop_nonce""#,
            "DPoP",
            "use_dpop_nonce"
        ));
        // What the proxy's invalid_token check sees (Bearer or DPoP, `error` only).
        let invalid = |v: &str| {
            has_error(v, "bearer", "invalid_token") || has_error(v, "dpop", "invalid_token")
        };
        assert!(invalid("Bearer error=invalid_token"));
        assert!(invalid(r#"Bearer realm="x",error="invalid_token""#));
        assert!(invalid(r#"Basic realm="a", Bearer error="invalid_token""#));
        assert!(!invalid(r#"Bearer error_description="invalid_token""#));
        assert!(!invalid(r#"Bearer error="insufficient_scope""#));
    }
}

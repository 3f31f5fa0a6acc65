//! Writes a browser makes from another site are refused, whatever they carry: a form on
//! another site posting to the desk's or the portal's sign-in (login CSRF: the victim ends up
//! signed in to the attacker's account), or to any other page or API route. Browsers say
//! where a request comes from: `Sec-Fetch-Site: cross-site`, and `Origin` on every POST; a
//! request whose `Origin` is not this server's (its public URL, or the `Host` it was sent to)
//! is refused with 403. Programs that are not browsers send neither header and are not
//! affected (the API with a bearer token; curl). Pages also carry each session's CSRF token:
//! this check is the one that holds before there is a session, and a second one after.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::problem::Problem;

/// Refuses a write a browser sends from another site; passes everything else on.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !safe && let Some(why) = cross_site(req.headers(), &state.0.origin) {
        return Problem::new(StatusCode::FORBIDDEN, "cross-site", why).into_response();
    }
    next.run(req).await
}

/// Why a write is from another site, if it is.
fn cross_site(headers: &HeaderMap, own: &str) -> Option<&'static str> {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if value("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Some("a page of another site cannot send this (Sec-Fetch-Site: cross-site)");
    }
    let origin = value(header::ORIGIN.as_str())?;
    let host = value(header::HOST.as_str());
    if same_origin(origin, own) || host.is_some_and(|h| origin_is_host(origin, h)) {
        None
    } else {
        Some("a page of another origin cannot send this (Origin is not this server's)")
    }
}

/// An origin's scheme, host (lowercase) and port (the scheme's default when not given).
fn parts(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split('/').next()?;
    let (host, port) = authority_parts(authority, default)?;
    Some((scheme, host, port))
}

/// A `Host` value's host (lowercase) and port, `default` when it names none.
fn authority_parts(authority: &str, default: u16) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        (format!("[{addr}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    Some((host.to_ascii_lowercase(), port))
}

fn same_origin(a: &str, b: &str) -> bool {
    matches!((parts(a), parts(b)), (Some(x), Some(y)) if x == y)
}

/// Whether `origin` names the host the request was sent to.
fn origin_is_host(origin: &str, host: &str) -> bool {
    let Some((_, o_host, o_port)) = parts(origin) else {
        return false;
    };
    let default = if origin.trim().to_ascii_lowercase().starts_with("https:") {
        443
    } else {
        80
    };
    authority_parts(host.trim(), default).is_some_and(|(h, p)| h == o_host && p == o_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, axum::http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_write_from_another_site_is_told_apart_from_the_servers_own_and_from_programs() {
        let own = "https://service.shop.example";
        for (pairs, refused) in [
            (vec![], false),
            (vec![("host", "service.shop.example")], false),
            (vec![("origin", "https://service.shop.example")], false),
            (vec![("origin", "https://SERVICE.shop.example:443")], false),
            (
                vec![
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080"),
                ],
                false,
            ),
            (
                vec![("origin", "http://[::1]:8080"), ("host", "[::1]:8080")],
                false,
            ),
            (vec![("sec-fetch-site", "same-origin")], false),
            (vec![("sec-fetch-site", "none")], false),
            (vec![("sec-fetch-site", "cross-site")], true),
            (vec![("origin", "https://evil.example")], true),
            (vec![("origin", "null")], true),
            (vec![("origin", "http://service.shop.example")], true),
            (
                vec![("origin", "https://service.shop.example.evil.example")],
                true,
            ),
            (
                vec![("origin", "http://127.0.0.1:1"), ("host", "127.0.0.1:8080")],
                true,
            ),
            (
                vec![
                    ("origin", "https://a.shop.example"),
                    ("sec-fetch-site", "same-site"),
                ],
                true,
            ),
        ] {
            assert_eq!(
                cross_site(&headers(&pairs), own).is_some(),
                refused,
                "{pairs:?}"
            );
        }
    }
}

//! Who is calling. An integration sends `Authorization: Bearer act_…` (an API token); a person
//! carries the `aftercare_session` cookie (`Secure; HttpOnly; SameSite=Lax`). A write made with
//! the cookie must also carry the session's CSRF token in `X-CSRF-Token`, which a page from
//! another site cannot read: a forged form post is refused (and before that, any write a
//! browser sends from another site: [`crate::origin`]). Handlers that need a caller take
//! [`Caller`]; without valid credentials the answer is 401.

use aftercare_app::AppError;
use aftercare_app::accounts::{self, Principal};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};

use crate::AppState;
use crate::hashing::Unavailable;
use crate::problem::Problem;

/// The session cookie's name.
pub const COOKIE: &str = "aftercare_session";
/// The header a cookie-authenticated write carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        // Checked once per request: the idempotency layer may have done it already.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let cookie = session_cookie(&parts.headers);
        let csrf_sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let now = state.now();
        let found = state
            .pool()
            .run(move |store| {
                // One or two look-ups on every request: each its own statement, without the
                // round trips of a transaction around them.
                store.autocommit(
                    |tx| -> Result<Option<(Principal, Option<String>)>, aftercare_app::AppError> {
                        if let Some(t) = bearer {
                            return Ok(accounts::token(tx, &t)?.map(|p| (p, None)));
                        }
                        if let Some(c) = cookie {
                            return Ok(
                                accounts::session(tx, &c, now)?.map(|(p, csrf)| (p, Some(csrf)))
                            );
                        }
                        Ok(None)
                    },
                )
            })
            .await?;
        let Some((principal, csrf)) = found else {
            return Err(unauthenticated());
        };
        if writes
            && let Some(expected) = csrf
            && csrf_sent.as_deref() != Some(expected.as_str())
        {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a write with the session cookie needs its CSRF token in `X-CSRF-Token`",
            ));
        }
        Ok(Caller(principal))
    }
}

pub fn unauthenticated() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in, or send an API token as `Authorization: Bearer …`",
    )
}

/// Why a password did not sign anyone in.
#[derive(Debug)]
pub enum SignInRefused {
    /// A wrong password or account, a throttled try, or a failure of the database.
    App(AppError),
    /// Every password-checking thread is busy and their queue is full.
    Busy,
}

impl From<SignInRefused> for Problem {
    fn from(r: SignInRefused) -> Self {
        match r {
            SignInRefused::App(e) => e.into(),
            SignInRefused::Busy => {
                Problem::busy("too many sign-ins at once: try again in a second", 1)
            }
        }
    }
}

/// Signs a staff member in with a password. A place in the hashing queue is taken first (none
/// free: [`SignInRefused::Busy`] at once, before the database is touched); the throttle and
/// the account's hash are read and the try counted on a database connection
/// ([`accounts::begin_sign_in`]); the connection is given back and the password checked on a
/// hashing thread ([`crate::hashing`]); then the outcome is settled
/// ([`accounts::finish_sign_in`]).
pub async fn sign_in_with_password(
    state: &AppState,
    email: String,
    password: String,
    from: String,
) -> Result<accounts::NewSession, SignInRefused> {
    let hashers = &state.0.hashers;
    let slot = hashers.slot().map_err(|_| SignInRefused::Busy)?;
    let now = state.now();
    let attempt = state
        .pool()
        .run(move |store| accounts::begin_sign_in(store, &email, &from, now))
        .await
        .map_err(SignInRefused::App)?;
    let (attempt, verified) = hashers
        .run(slot, move || {
            let verified = attempt.verify(&password);
            (attempt, verified)
        })
        .await
        .map_err(|e| match e {
            Unavailable::Busy => SignInRefused::Busy,
            Unavailable::Lost => {
                SignInRefused::App(AppError::Config("a password check was lost".into()))
            }
        })?;
    state
        .pool()
        .run(move |store| accounts::finish_sign_in(store, attempt, verified, now))
        .await
        .map_err(SignInRefused::App)
}

/// The session cookie's value, if the request carries it.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(token: &str, max_age_secs: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Lax")
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

/// The client's address for sign-in throttling: the TCP peer's; when the peer is one of the
/// configured proxies (`--trusted-proxy`), the nearest address in `X-Forwarded-For` that is
/// not one of them. A client may write anything at the front of that header; only what the
/// proxies appended is believed, and from anyone else the header is ignored. An IPv6 client is
/// counted by its /64, which one subscriber usually holds whole.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[Cidr]) -> String {
    let Some(mut client) = peer.map(|p| p.to_canonical()) else {
        return "unknown".into();
    };
    let trusted = |ip: IpAddr| proxies.iter().any(|c| c.contains(ip));
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut hops = forwarded.iter().rev();
    while trusted(client) {
        let Some(ip) = hops.next().and_then(|h| parse_hop(h)) else {
            break;
        };
        client = ip;
    }
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!(
            "{}/64",
            Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))
        ),
    }
}

/// One address of `X-Forwarded-For`: `192.0.2.1`, `2001:db8::1`, or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address ([`client_address`]) of a request, for handlers.
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress(client_address(
            peer,
            &parts.headers,
            &state.0.trusted_proxies,
        )))
    }
}

/// A range of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not an address range: expected ADDRESS/BITS, like 10.0.0.0/8, \
                 2001:db8::/32, or one address"
            )
        };
        let (addr, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = net.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

impl Cidr {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix(
                u128::from(n.to_bits()),
                u128::from(a.to_bits()),
                32,
                self.bits,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(n.to_bits(), a.to_bits(), 128, self.bits),
            _ => false,
        }
    }
}

/// Whether `a` and `b`, numbers of `width` bits, agree in their first `bits` bits.
fn prefix(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let shift = width.saturating_sub(u32::from(bits));
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", axum::http::HeaderValue::from_static(v));
        h
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_configured_proxy() {
        let proxies: Vec<Cidr> = ["10.0.0.0/8", "2001:db8:ffff::/48"]
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e: String| unreachable!("{e}")))
            .collect();
        let peer = |s: &str| s.parse::<IpAddr>().ok();
        let xff = forwarded("203.0.113.9, 198.51.100.7, 10.1.2.3");
        // From anyone else, the header is ignored.
        assert_eq!(
            client_address(peer("192.0.2.1"), &xff, &proxies),
            "192.0.2.1"
        );
        assert_eq!(client_address(peer("192.0.2.1"), &xff, &[]), "192.0.2.1");
        // From a proxy: the nearest address that is not a proxy; what the client wrote in
        // front of it is not believed.
        assert_eq!(
            client_address(peer("10.9.9.9"), &xff, &proxies),
            "198.51.100.7"
        );
        assert_eq!(
            client_address(
                peer("::ffff:10.9.9.9"),
                &forwarded("junk, 192.0.2.8"),
                &proxies
            ),
            "192.0.2.8"
        );
        // Through proxies only: the farthest one they name.
        assert_eq!(
            client_address(peer("10.9.9.9"), &forwarded("10.0.0.1"), &proxies),
            "10.0.0.1"
        );
        // A proxy that names nothing usable: the proxy itself.
        assert_eq!(
            client_address(peer("10.9.9.9"), &forwarded("nonsense"), &proxies),
            "10.9.9.9"
        );
        assert_eq!(
            client_address(peer("10.9.9.9"), &HeaderMap::new(), &proxies),
            "10.9.9.9"
        );
        // IPv6 by its /64.
        assert_eq!(
            client_address(
                peer("2001:db8:ffff::1"),
                &forwarded("[2001:db8:1:2:3:4:5:6]:443"),
                &proxies
            ),
            "2001:db8:1:2::/64"
        );
        assert_eq!(client_address(None, &xff, &proxies), "unknown");
    }

    #[test]
    fn address_ranges_are_read_and_matched() {
        let c = |s: &str| s.parse::<Cidr>();
        assert!(c("10.0.0.0/8").is_ok_and(|r| r.contains([10, 200, 0, 1].into())));
        assert!(c("10.0.0.0/8").is_ok_and(|r| !r.contains([11, 0, 0, 1].into())));
        assert!(
            c("127.0.0.1").is_ok_and(
                |r| r.contains([127, 0, 0, 1].into()) && !r.contains([127, 0, 0, 2].into())
            )
        );
        assert!(c("0.0.0.0/0").is_ok_and(|r| r.contains([192, 0, 2, 1].into())));
        assert!(
            c("::/0")
                .is_ok_and(|r| r.contains("2001:db8::1".parse().unwrap_or(IpAddr::V4(0.into()))))
        );
        assert!(
            c("10.0.0.0/8")
                .is_ok_and(|r| !r.contains("2001:db8::1".parse().unwrap_or(IpAddr::V4(0.into()))))
        );
        for bad in ["10.0.0/8", "10.0.0.0/33", "::/129", "proxy", ""] {
            let e = c(bad).err().unwrap_or_default();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }
}

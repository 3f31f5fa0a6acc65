//! The webhook dispatcher: a task of the server that claims due deliveries (under a lease,
//! so several servers send each one once), posts them signed, and records each attempt.
//!
//! Where a delivery may go: by default only to public addresses ([`is_public`]), so a
//! subscription cannot make the server reach its own network. The HTTP client resolves a
//! target's name with [`Checked`], which refuses the name if any of its addresses is not
//! public and otherwise hands the client exactly the addresses it checked: the client
//! connects to those, and never resolves the name a second time (a name that answers a
//! public address to the check and a private one to the connection, DNS rebinding, gets
//! nowhere). A target written as an address is checked as it is. No proxy is used, so the
//! connection is the one checked. The delivery log records the reason, never the address
//! a name led to. `--webhooks-to-private` lifts all this for a server whose receivers live
//! on its own network, and for tests on loopback. Redirects are not followed.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aftercare_app::webhooks::{self, Due};
use jiff::Timestamp;
use tokio::sync::{Notify, watch};

use crate::pool::Pool;

/// Deliveries claimed at a time.
const BATCH: i64 = 32;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the delivery log says of a target on a private network (never the address).
const PRIVATE_TARGET: &str = "the target resolves to a private address: refused (this server sends webhooks to public addresses only)";
/// What the delivery log says of a name that has no address.
const UNRESOLVED: &str = "the target's name does not resolve";

/// How the dispatcher runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Whether targets on loopback and private networks are allowed.
    pub to_private: bool,
    /// Look for due deliveries this often (and whenever woken).
    pub every: Duration,
}

/// Runs until `stop` turns true; sends in flight finish first.
pub async fn run(
    pool: Arc<Pool>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    settings: Settings,
) {
    let allowed: Option<fn(IpAddr) -> bool> = (!settings.to_private).then_some(is_public);
    let sender = match Sender::new(allowed, system_lookup(), TIMEOUT) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client; nothing will be sent");
            return;
        }
    };
    while !*stop.borrow() {
        let claimed = pool
            .run(|store| webhooks::claim(store, Timestamp::now(), BATCH))
            .await;
        let n = match claimed {
            Ok(due) => {
                let n = due.len();
                let mut sends = tokio::task::JoinSet::new();
                for d in due {
                    sends.spawn(send(Arc::clone(&sender), d));
                }
                while let Some(done) = sends.join_next().await {
                    let Ok((id, outcome, millis)) = done else {
                        continue;
                    };
                    match &outcome {
                        Ok(status) => tracing::info!(delivery = id, status, millis, "webhook sent"),
                        Err(e) => {
                            tracing::warn!(delivery = id, error = %e, "webhook not delivered")
                        }
                    }
                    if let Err(e) = pool
                        .run(move |store| {
                            webhooks::record(store, id, outcome, millis, Timestamp::now())
                        })
                        .await
                    {
                        tracing::error!(delivery = id, error = %e, "webhook attempt not recorded; it is sent again when its lease ends");
                    }
                }
                n
            }
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot claim deliveries; retrying");
                0
            }
        };
        if i64::try_from(n).unwrap_or(i64::MAX) >= BATCH {
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(settings.every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One attempt: the delivery's id, the receiver's status or why there was none, and how long.
async fn send(sender: Arc<Sender>, d: Due) -> (i64, Result<u16, String>, i64) {
    let started = Instant::now();
    let outcome = sender.attempt(&d).await;
    let millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    (d.id, outcome, millis)
}

/// A name's addresses, as the system's resolver (or a test) gives them.
pub(crate) type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system's resolver (`getaddrinfo`, on tokio's blocking threads).
fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    })
}

/// Posts deliveries: the HTTP client, and which addresses it may reach (`None`: any).
pub(crate) struct Sender {
    client: reqwest::Client,
    allowed: Option<fn(IpAddr) -> bool>,
}

impl Sender {
    /// A sender whose client resolves names with `lookup`, through [`Checked`] when only
    /// `allowed` addresses may be reached.
    pub(crate) fn new(
        allowed: Option<fn(IpAddr) -> bool>,
        lookup: Lookup,
        timeout: Duration,
    ) -> Result<Sender, reqwest::Error> {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("Aftercare-Webhooks/", env!("CARGO_PKG_VERSION")));
        let client = match allowed {
            // A proxy would resolve and connect on its own: the check would not hold.
            Some(allowed) => builder
                .no_proxy()
                .dns_resolver(Checked { lookup, allowed })
                .build()?,
            None => builder.build()?,
        };
        Ok(Sender { client, allowed })
    }

    async fn attempt(&self, d: &Due) -> Result<u16, String> {
        let url = reqwest::Url::parse(&d.url).map_err(|e| format!("the URL is not valid: {e}"))?;
        // An address in the URL is connected to as it is, without the resolver: checked here.
        // (The URL parser writes every form of an IPv4 address, `2130706433` too, dotted.)
        if let Some(allowed) = self.allowed {
            let host = url.host_str().ok_or("the URL has no host")?;
            let literal = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>();
            if literal.is_ok_and(|ip| !allowed(ip)) {
                return Err(PRIVATE_TARGET.to_string());
            }
        }
        let t = Timestamp::now().as_second();
        let signature = webhooks::sign(&d.secret, t, &d.body)?;
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Aftercare-Event-Id", &d.event_id)
            .header("Aftercare-Event", &d.event)
            .header("Aftercare-Signature", signature)
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| {
                if let Some(r) = refusal(&e) {
                    r.to_string()
                } else if e.is_timeout() {
                    format!("no answer within {} s", TIMEOUT.as_secs())
                } else if e.is_connect() {
                    "cannot connect to the receiver".to_string()
                } else {
                    "the request failed before an answer".to_string()
                }
            })?;
        Ok(response.status().as_u16())
    }
}

/// Why [`Checked`] refused a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Private,
    Unresolved,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Private => PRIVATE_TARGET,
            Refusal::Unresolved => UNRESOLVED,
        })
    }
}

impl std::error::Error for Refusal {}

/// The refusal of [`Checked`] inside a client's error, if that is why it failed.
fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut at = Some(e);
    while let Some(e) = at {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(*r);
        }
        at = e.source();
    }
    None
}

/// The HTTP client's resolver when only some addresses may be reached: looks the name up
/// once, refuses it if any of its addresses is not `allowed`, and gives the client exactly
/// the addresses it checked to connect to.
struct Checked {
    lookup: Lookup,
    allowed: fn(IpAddr) -> bool,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (lookup, allowed) = (Arc::clone(&self.lookup), self.allowed);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let refused = |r: Refusal| -> Box<dyn std::error::Error + Send + Sync> { Box::new(r) };
            let ips = lookup(host)
                .await
                .map_err(|_| refused(Refusal::Unresolved))?;
            if ips.is_empty() {
                return Err(refused(Refusal::Unresolved));
            }
            if ips.iter().any(|ip| !allowed(*ip)) {
                return Err(refused(Refusal::Private));
            }
            // Port 0: the client puts the URL's.
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Whether an address is one on the public internet: not one of IANA's special-purpose
/// addresses (RFC 6890 and its successors), and not an IPv6 address that embeds an IPv4 one
/// that is not public either. Stricter than "globally reachable" where being reachable
/// is no use to a webhook (all of 192.0.0.0/24 and 2001::/23, the 6to4 relays).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 networks that are not public, as (address, prefix length).
const NOT_PUBLIC_V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network" (RFC 791)
    ([10, 0, 0, 0], 8),      // private (RFC 1918)
    ([100, 64, 0, 0], 10),   // shared address space, carrier-grade NAT (RFC 6598)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata services
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments (RFC 6890)
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated, RFC 7526)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the broadcast address
];

fn is_public_v4(v4: std::net::Ipv4Addr) -> bool {
    let a = u128::from(u32::from(v4));
    !NOT_PUBLIC_V4
        .iter()
        .any(|(net, len)| in_prefix(a, u128::from(u32::from_be_bytes(*net)), *len, 32))
}

/// IPv6 networks inside global unicast (2000::/3) that are not public; outside it, only
/// NAT64 and IPv4-mapped addresses of a public IPv4 one are.
const NOT_PUBLIC_V6: &[(u128, u32)] = &[
    (0x2001_0000 << 96, 23), // IETF protocol assignments: Teredo, benchmarking, ORCHID…
    (0x2001_0db8 << 96, 32), // documentation
    (0x3fff_0000 << 96, 20), // documentation (RFC 9637)
];

fn is_public_v6(v6: std::net::Ipv6Addr) -> bool {
    let a = u128::from(v6);
    // IPv4-mapped (::ffff:0:0/96) and the well-known NAT64 prefix (64:ff9b::/96, RFC 6052):
    // the IPv4 address they stand for decides.
    if in_prefix(a, 0xffff << 32, 96, 128) || in_prefix(a, 0x0064_ff9b << 96, 96, 128) {
        return is_public_v4(embedded_v4(a, 0));
    }
    // 6to4 (2002::/16, RFC 3056): the IPv4 address after the prefix decides.
    if in_prefix(a, 0x2002 << 112, 16, 128) {
        return is_public_v4(embedded_v4(a, 80));
    }
    // Everything else outside global unicast 2000::/3 is not public: unspecified, loopback,
    // IPv4-compatible (deprecated), local-use NAT64 (64:ff9b:1::/48), discard-only
    // (100::/64), SRv6 (5f00::/16), unique local (fc00::/7), link-local (fe80::/10),
    // site-local (fec0::/10, deprecated), multicast (ff00::/8).
    in_prefix(a, 0x2000 << 112, 3, 128)
        && !NOT_PUBLIC_V6
            .iter()
            .any(|(net, len)| in_prefix(a, *net, *len, 128))
}

/// The IPv4 address in the 32 bits of `a` that end `shift` bits from its right.
fn embedded_v4(a: u128, shift: u32) -> std::net::Ipv4Addr {
    // Masked to 32 bits, so it fits; were it not, the broadcast address is not public.
    std::net::Ipv4Addr::from(u32::try_from((a >> shift) & 0xffff_ffff).unwrap_or(u32::MAX))
}

/// Whether the `bits`-bit address `a` is in `net`/`len`.
fn in_prefix(a: u128, net: u128, len: u32, bits: u32) -> bool {
    let host = bits.saturating_sub(len);
    a.checked_shr(host) == net.checked_shr(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A receiver on `listener`: answers 200 to every post and counts them.
    fn receiver(listener: std::net::TcpListener) -> Arc<AtomicUsize> {
        let got = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                count.fetch_add(1, Ordering::SeqCst);
                let _ = reader.into_inner().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        got
    }

    fn due(url: String) -> Due {
        Due {
            id: 1,
            url,
            secret: "whsec_test".to_string(),
            event_id: "evt_1".to_string(),
            event: "case.open".to_string(),
            body: "{}".to_string(),
        }
    }

    /// A name that answers an allowed address to its first look-up and a refused one to
    /// every later one (DNS rebinding): the post goes to the address checked, and the name is
    /// looked up once. Both receivers are on loopback, on one port; here 127.0.0.1 stands for
    /// a public address and 127.0.0.2 for a private one.
    #[tokio::test]
    async fn a_delivery_goes_to_the_address_that_was_checked() {
        let public = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = public.local_addr().unwrap().port();
        let private = std::net::TcpListener::bind(("127.0.0.2", port)).unwrap();
        let (to_public, to_private) = (receiver(public), receiver(private));
        let lookups = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&lookups);
        let lookup: Lookup = Arc::new(move |_host: String| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let ip: IpAddr = if n == 0 {
                [127, 0, 0, 1]
            } else {
                [127, 0, 0, 2]
            }
            .into();
            Box::pin(async move { Ok(vec![ip]) })
        });
        let allowed: fn(IpAddr) -> bool = |ip| ip == IpAddr::from([127, 0, 0, 1]);
        let sender = Sender::new(Some(allowed), lookup, Duration::from_secs(5)).unwrap();
        let outcome = sender
            .attempt(&due(format!("http://hooks.example.test:{port}/hook")))
            .await;
        assert_eq!(outcome, Ok(200));
        assert_eq!(
            to_public.load(Ordering::SeqCst),
            1,
            "the checked address got it"
        );
        assert_eq!(
            to_private.load(Ordering::SeqCst),
            0,
            "the rebound address got it"
        );
        assert_eq!(
            lookups.load(Ordering::SeqCst),
            1,
            "the name was looked up again"
        );
        // The next connection looks the name up again, and is refused: the log says why,
        // not where the name led.
        let sender = Sender::new(
            Some(allowed),
            {
                let lookup: Lookup = Arc::new(|_host: String| {
                    Box::pin(async { Ok(vec![IpAddr::from([127, 0, 0, 2])]) })
                });
                lookup
            },
            Duration::from_secs(5),
        )
        .unwrap();
        let outcome = sender
            .attempt(&due(format!("http://hooks.example.test:{port}/hook")))
            .await;
        assert_eq!(outcome, Err(PRIVATE_TARGET.to_string()));
        assert_eq!(to_private.load(Ordering::SeqCst), 0);
        // An address written in the URL is checked as it is.
        let outcome = sender
            .attempt(&due(format!("http://127.0.0.2:{port}/hook")))
            .await;
        assert_eq!(outcome, Err(PRIVATE_TARGET.to_string()));
        let outcome = sender
            .attempt(&due(format!("http://127.0.0.1:{port}/hook")))
            .await;
        assert_eq!(outcome, Ok(200));
        assert_eq!(to_private.load(Ordering::SeqCst), 0);
        assert_eq!(to_public.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn only_internet_addresses_are_public() {
        for private in [
            // IPv4: this network, private, loopback, link-local, shared (CGNAT), IETF
            // protocol assignments, documentation, 6to4 relays, benchmarking, multicast,
            // reserved, broadcast.
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.9",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6: unspecified, loopback, IPv4-mapped and IPv4-compatible forms of private
            // ones, NAT64 of a private one, local-use NAT64, discard-only, IETF protocol
            // assignments (Teredo, benchmarking, ORCHID), documentation, 6to4 of a private
            // one, SRv6, unique local, link-local, site-local, multicast.
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            "::2",
            "64:ff9b::7f00:1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "64:ff9b:1:ffff::8.8.8.8",
            "100::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::",
            "2002::",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(
                !is_public(private.parse().unwrap()),
                "{private} is not public"
            );
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:200::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81b::200e",
            "3ffe:ffff::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }
}

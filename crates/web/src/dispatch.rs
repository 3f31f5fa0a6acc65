//! The webhook dispatcher: a task of the server that claims due deliveries (under a lease,
//! so several servers send each one once), posts them signed, and records each attempt.
//!
//! Where a delivery may go: by default only to public addresses. The host is resolved before
//! each attempt and refused if any of its addresses is loopback, private, link-local or
//! otherwise not routable on the internet, so a subscription cannot make the server probe
//! its own network (`--webhooks-to-private` lifts this for a server whose receivers live on
//! its own network, and for tests on loopback). Redirects are not followed.

use std::net::IpAddr;
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
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("Aftercare-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
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
                    sends.spawn(send(client.clone(), d, settings.to_private));
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
async fn send(
    client: reqwest::Client,
    d: Due,
    to_private: bool,
) -> (i64, Result<u16, String>, i64) {
    let started = Instant::now();
    let outcome = attempt(&client, &d, to_private).await;
    let millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    (d.id, outcome, millis)
}

async fn attempt(client: &reqwest::Client, d: &Due, to_private: bool) -> Result<u16, String> {
    let url = reqwest::Url::parse(&d.url).map_err(|e| format!("the URL is not valid: {e}"))?;
    if !to_private {
        public_target(&url).await?;
    }
    let t = Timestamp::now().as_second();
    let signature = webhooks::sign(&d.secret, t, &d.body)?;
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Aftercare-Event-Id", &d.event_id)
        .header("Aftercare-Event", &d.event)
        .header("Aftercare-Signature", signature)
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if e.is_connect() {
                "cannot connect to the receiver".to_string()
            } else {
                "the request failed before an answer".to_string()
            }
        })?;
    Ok(response.status().as_u16())
}

/// Refuses a target any of whose addresses is not a public one.
async fn public_target(url: &reqwest::Url) -> Result<(), String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| format!("cannot resolve `{host}`"))?;
    let mut any = false;
    for a in addrs {
        any = true;
        if !is_public(a.ip()) {
            return Err(format!(
                "`{host}` is at {}, not a public address: refused (the server allows only public targets)",
                a.ip()
            ));
        }
    }
    if any {
        Ok(())
    } else {
        Err(format!("`{host}` has no address"))
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
    use super::is_public;

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

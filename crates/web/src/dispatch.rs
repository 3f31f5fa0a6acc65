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

/// Whether an address is routable on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking (RFC 2544)
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_internet_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}

//! Webhooks: case events posted to the URLs a seller's staff subscribed.
//!
//! A delivery is a row written in the same transaction as the change it reports (the outbox
//! pattern): an event is never lost, nor sent for a change that rolled back. A dispatcher
//! (in the server) claims due rows under a lease, so several servers deliver each event once
//! while they all run; posts each one signed; and records every attempt. A failed attempt
//! is tried again after an exponential back-off, up to [`MAX_ATTEMPTS`]; the delivery log
//! keeps every attempt, and staff can ask for a delivery again.
//!
//! What a receiver gets (see [`sign`]):
//! - the body: `{"id": "evt_case-12-3", "type": "case.approve", "created_at": "…", "data": {"case": {…}}}`;
//!   the id names the audit event (case 12's third), the same for every subscription and every retry;
//! - `Aftercare-Event-Id` (the same for every attempt, for de-duplication), `Aftercare-Event`;
//! - `Aftercare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
//!   with the subscription's secret, so a receiver checks both origin and freshness.

use aftercare_domain::case::ACTIONS;
use aftercare_store::{Dialect, Store, Tx, Val};
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Value as J, json};
use sha2::Sha256;

use crate::AppError;
use crate::accounts::{Principal, Role, Sellers};
use crate::audit::{self, Event};
use crate::time::{from_micros, micros};

/// Attempts before a delivery is given up (about eleven hours of back-off in all).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed delivery is left to its dispatcher before another may take it.
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);
/// Subscriptions per seller at most.
const MAX_PER_SELLER: i64 = 32;

/// The events a subscription may name, besides `*` (all of them).
pub fn event_names() -> Vec<String> {
    let mut v = vec![
        "case.open".to_string(),
        "case.decide".to_string(),
        "case.service_level_breached".to_string(),
        "case.ship_by_reminder".to_string(),
        "case.quote_reminder".to_string(),
    ];
    v.extend(ACTIONS.iter().map(|a| format!("case.{}", a.as_str())));
    v
}

/// A subscription, as its seller's staff see it (never its secret).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: i64,
    pub seller: String,
    pub url: String,
    /// Event types sent (`*`: every one).
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    /// Set once disabled: nothing more is sent.
    pub disabled_at: Option<Timestamp>,
}

/// A new subscription and its signing secret, shown this once.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Created {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Keys the HMAC-SHA256 signature of every delivery. Shown once.
    pub secret: String,
}

/// One event for one subscription, with its attempts.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event: String,
    pub case_id: Option<i64>,
    pub created_at: Timestamp,
    pub attempts: i64,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: &'static str,
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub log: Vec<Attempt>,
}

/// One try at posting a delivery.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    pub at: Timestamp,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub millis: i64,
}

/// Managers and admins (with `webhooks:write` on a token) manage their sellers' webhooks:
/// who acts, and for which sellers.
fn manager(who: &Principal) -> Result<(String, &Sellers), AppError> {
    let sellers = crate::accounts::staff_with(
        who,
        &[Role::Manager, Role::Admin],
        "webhooks:write",
        "manage webhooks (managers and admins do)",
    )?;
    Ok((who.actor(), sellers))
}

/// Subscribes `url` to `events` of `seller`'s cases. The URL is checked for form here (an
/// `http` or `https` address with a host); where it may point is checked by the dispatcher
/// when it sends.
pub fn subscribe(
    store: &mut Store,
    who: &Principal,
    seller: &str,
    url: &str,
    events: &[String],
    now: Timestamp,
) -> Result<Created, AppError> {
    let (actor, sellers) = manager(who)?;
    if !sellers.includes(seller) {
        return Err(AppError::invalid(
            "seller",
            format!("`{seller}` is not a seller you work for"),
        ));
    }
    check_url(url)?;
    let known = event_names();
    if events.is_empty() {
        return Err(AppError::invalid(
            "events",
            "name at least one event, or `*` for all",
        ));
    }
    for e in events {
        if e != "*" && !known.contains(e) {
            return Err(AppError::invalid(
                "events",
                format!("`{e}` is not an event: {}", known.join(", ")),
            ));
        }
    }
    let secret = format!("whsec_{}", crate::accounts::secret()?);
    store.tx(|tx| -> Result<Created, AppError> {
        let n = tx
            .query_one(
                "SELECT COUNT(*) FROM webhooks WHERE seller = ? AND disabled_at IS NULL",
                &[seller.into()],
            )?
            .int(0)?;
        if n >= MAX_PER_SELLER {
            return Err(AppError::Refused(format!(
                "{seller} has {n} webhooks already; disable one first"
            )));
        }
        let id = tx
            .query_one(
                "INSERT INTO webhooks (seller, url, secret, events, created_by, created_at)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    seller.into(),
                    url.into(),
                    (&secret).into(),
                    events.join(" ").into(),
                    (&actor).into(),
                    Val::Int(micros(now)),
                ],
            )?
            .int(0)?;
        audit::append(
            tx,
            now,
            &Event::new(
                &actor,
                "webhook",
                id,
                "create",
                json!({"seller": seller, "url": url, "events": events}),
            ),
        )?;
        Ok(Created {
            webhook: Webhook {
                id,
                seller: seller.to_string(),
                url: url.to_string(),
                events: events.to_vec(),
                created_by: actor.clone(),
                created_at: now,
                disabled_at: None,
            },
            secret: secret.clone(),
        })
    })
}

/// The form of a target: `http(s)://host[:port]/…`, no credentials, no spaces, not too long.
fn check_url(url: &str) -> Result<(), AppError> {
    let bad = |why: &str| Err(AppError::invalid("url", format!("`{url}` {why}")));
    if url.len() > 2000 {
        return Err(AppError::invalid("url", "longer than 2000 characters"));
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return bad("is not an http:// or https:// address");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains spaces or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return bad("carries credentials; put a secret in the path or rely on the signature");
    }
    if authority.is_empty() || authority.starts_with(':') {
        return bad("has no host");
    }
    Ok(())
}

fn webhook_of(r: &aftercare_store::Row) -> Result<Webhook, AppError> {
    Ok(Webhook {
        id: r.int(0)?,
        seller: r.text(1)?,
        url: r.text(2)?,
        events: r.text(3)?.split(' ').map(str::to_string).collect(),
        created_by: r.text(4)?,
        created_at: from_micros(r.int(5)?)?,
        disabled_at: r.opt_int(6)?.map(from_micros).transpose()?,
    })
}

const WEBHOOK_COLUMNS: &str = "id, seller, url, events, created_by, created_at, disabled_at";

/// The caller's sellers' subscriptions, newest first.
pub fn list(store: &mut Store, who: &Principal) -> Result<Vec<Webhook>, AppError> {
    let (_, sellers) = manager(who)?;
    let all = store.read(|tx| -> Result<Vec<Webhook>, AppError> {
        tx.query(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id DESC"),
            &[],
        )?
        .iter()
        .map(webhook_of)
        .collect()
    })?;
    Ok(all
        .into_iter()
        .filter(|w| sellers.includes(&w.seller))
        .collect())
}

/// A subscription of one of the caller's sellers; another seller's is "not found".
fn owned(tx: &mut dyn Tx, sellers: &Sellers, id: i64) -> Result<Webhook, AppError> {
    let not_found = || AppError::NotFound {
        what: "webhook",
        key: id.to_string(),
    };
    let w = tx
        .query_opt(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"),
            &[Val::Int(id)],
        )?
        .ok_or_else(not_found)?;
    let w = webhook_of(&w)?;
    if sellers.includes(&w.seller) {
        Ok(w)
    } else {
        Err(not_found())
    }
}

/// Stops a subscription: nothing more is queued or sent for it.
pub fn disable(
    store: &mut Store,
    who: &Principal,
    id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let (actor, sellers) = manager(who)?;
    store.tx(|tx| -> Result<(), AppError> {
        let w = owned(tx, sellers, id)?;
        if w.disabled_at.is_some() {
            return Ok(());
        }
        tx.exec(
            "UPDATE webhooks SET disabled_at = ? WHERE id = ?",
            &[Val::Int(micros(now)), Val::Int(id)],
        )?;
        audit::append(tx, now, &Event::new(&actor, "webhook", id, "disable", None))?;
        Ok(())
    })
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event, case_id, created_at, attempts, \
    next_attempt_at, delivered_at, gave_up_at, last_status, last_error";

fn delivery_of(r: &aftercare_store::Row) -> Result<Delivery, AppError> {
    let delivered_at = r.opt_int(8)?.map(from_micros).transpose()?;
    let gave_up = r.opt_int(9)?.is_some();
    Ok(Delivery {
        id: r.int(0)?,
        webhook_id: r.int(1)?,
        event_id: r.text(2)?,
        event: r.text(3)?,
        case_id: r.opt_int(4)?,
        created_at: from_micros(r.int(5)?)?,
        attempts: r.int(6)?,
        status: match (delivered_at.is_some(), gave_up) {
            (true, _) => "delivered",
            (false, true) => "failed",
            _ => "pending",
        },
        next_attempt_at: if delivered_at.is_some() || gave_up {
            None
        } else {
            Some(from_micros(r.int(7)?)?)
        },
        delivered_at,
        last_status: r.opt_int(10)?,
        last_error: r.opt_text(11)?,
        log: Vec::new(),
    })
}

/// A subscription's deliveries, newest first, each with its attempts: the delivery log.
pub fn deliveries(
    store: &mut Store,
    who: &Principal,
    webhook_id: i64,
    limit: i64,
) -> Result<Vec<Delivery>, AppError> {
    let (_, sellers) = manager(who)?;
    store.read(|tx| -> Result<Vec<Delivery>, AppError> {
        owned(tx, sellers, webhook_id)?;
        let mut out = tx
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?"
                ),
                &[Val::Int(webhook_id), Val::Int(limit.clamp(1, 500))],
            )?
            .iter()
            .map(delivery_of)
            .collect::<Result<Vec<_>, _>>()?;
        for d in &mut out {
            d.log = tx
                .query(
                    "SELECT at, status, error, millis FROM webhook_attempts WHERE delivery_id = ? ORDER BY id",
                    &[Val::Int(d.id)],
                )?
                .iter()
                .map(|r| -> Result<Attempt, AppError> {
                    Ok(Attempt {
                        at: from_micros(r.int(0)?)?,
                        status: r.opt_int(1)?,
                        error: r.opt_text(2)?,
                        millis: r.int(3)?,
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    })
}

/// Sends a delivery again, now: a failed one after its receiver is fixed, or a delivered
/// one a receiver lost. Its event id stays the same.
pub fn redeliver(
    store: &mut Store,
    who: &Principal,
    delivery_id: i64,
    now: Timestamp,
) -> Result<Delivery, AppError> {
    let (actor, sellers) = manager(who)?;
    store.tx(|tx| -> Result<Delivery, AppError> {
        let not_found = || AppError::NotFound {
            what: "delivery",
            key: delivery_id.to_string(),
        };
        let webhook_id = tx
            .query_opt(
                "SELECT webhook_id FROM webhook_deliveries WHERE id = ?",
                &[Val::Int(delivery_id)],
            )?
            .ok_or_else(not_found)?
            .int(0)?;
        let w = owned(tx, sellers, webhook_id).map_err(|_| not_found())?;
        if w.disabled_at.is_some() {
            return Err(AppError::Refused(format!(
                "webhook {webhook_id} is disabled: nothing is sent to it"
            )));
        }
        tx.exec(
            "UPDATE webhook_deliveries SET delivered_at = NULL, gave_up_at = NULL, lease_until = NULL,
               next_attempt_at = ? WHERE id = ?",
            &[Val::Int(micros(now)), Val::Int(delivery_id)],
        )?;
        audit::append(
            tx,
            now,
            &Event::new(&actor, "webhook_delivery", delivery_id, "redeliver", None),
        )?;
        let r = tx.query_one(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?"),
            &[Val::Int(delivery_id)],
        )?;
        delivery_of(&r)
    })
}

/// Queues `event` about a case for every live subscription of `seller` that wants it,
/// inside the caller's transaction. `event_id` is the same for every subscription.
pub(crate) fn queue(
    tx: &mut dyn Tx,
    seller: &str,
    event: &str,
    event_id: &str,
    case_id: i64,
    data: J,
    now: Timestamp,
) -> Result<(), AppError> {
    let body = json!({
        "id": event_id,
        "type": event,
        "created_at": now.to_string(),
        "data": data,
    })
    .to_string();
    // One statement whatever the subscriptions: a delivery for each of the seller's live
    // webhooks whose event list (space-separated) names the event or `*`.
    let named = format!(
        "% {} %",
        event
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    tx.exec_later(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event, case_id, payload, created_at, next_attempt_at)
         SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)
         FROM webhooks
         WHERE seller = ? AND disabled_at IS NULL
           AND (' ' || events || ' ' LIKE '% * %' OR ' ' || events || ' ' LIKE ? ESCAPE '\\')",
        &[
            event_id.into(),
            event.into(),
            Val::Int(case_id),
            (&body).into(),
            Val::Int(micros(now)),
            Val::Int(micros(now)),
            seller.into(),
            named.into(),
        ],
    )?;
    Ok(())
}

/// A delivery claimed for sending.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub event: String,
    pub body: String,
}

/// Claims up to `batch` due deliveries for [`LEASE`]: until then no other dispatcher takes
/// them. A dispatcher that dies leaves them to be taken once the lease runs out.
pub fn claim(store: &mut Store, now: Timestamp, batch: i64) -> Result<Vec<Due>, AppError> {
    store.tx(|tx| -> Result<Vec<Due>, AppError> {
        let lock = if tx.dialect() == Dialect::Postgres {
            " FOR UPDATE OF d SKIP LOCKED"
        } else {
            ""
        };
        let rows = tx.query(
            &format!(
                "SELECT d.id, w.url, w.secret, d.event_id, d.event, d.payload
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL AND d.next_attempt_at <= ?
                   AND (d.lease_until IS NULL OR d.lease_until <= ?) AND w.disabled_at IS NULL
                 ORDER BY d.next_attempt_at, d.id LIMIT ?{lock}"
            ),
            &[
                Val::Int(micros(now)),
                Val::Int(micros(now)),
                Val::Int(batch),
            ],
        )?;
        let until = micros(now + LEASE);
        let mut due = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.int(0)?;
            tx.exec(
                "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?",
                &[Val::Int(until), Val::Int(id)],
            )?;
            due.push(Due {
                id,
                url: r.text(1)?,
                secret: r.text(2)?,
                event_id: r.text(3)?,
                event: r.text(4)?,
                body: r.text(5)?,
            });
        }
        Ok(due)
    })
}

/// The wait before attempt `n + 1` after `n` failed ones: 10 s, 20 s, 40 s… at most 6 h.
pub fn backoff(failed: i64) -> SignedDuration {
    let secs = 10i64.saturating_mul(1i64 << failed.clamp(1, 20).saturating_sub(1));
    SignedDuration::from_secs(secs.min(6 * 3600))
}

/// Records one attempt: a 2xx answer delivers it; anything else (another status, no answer)
/// schedules the next attempt, or gives up after [`MAX_ATTEMPTS`].
pub fn record(
    store: &mut Store,
    id: i64,
    outcome: Result<u16, String>,
    millis: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let (status, error) = match &outcome {
        Ok(s) => (
            Some(i64::from(*s)),
            (!(200..300).contains(s)).then(|| format!("the receiver answered {s}")),
        ),
        Err(e) => (None, Some(e.clone())),
    };
    store.tx(|tx| -> Result<(), AppError> {
        tx.exec(
            "INSERT INTO webhook_attempts (delivery_id, at, status, error, millis) VALUES (?, ?, ?, ?, ?)",
            &[
                Val::Int(id),
                Val::Int(micros(now)),
                status.into(),
                error.clone().into(),
                Val::Int(millis),
            ],
        )?;
        match &error {
            None => tx.exec(
                "UPDATE webhook_deliveries SET delivered_at = ?, attempts = attempts + 1, lease_until = NULL,
                   last_status = ?, last_error = NULL WHERE id = ?",
                &[Val::Int(micros(now)), status.into(), Val::Int(id)],
            )?,
            Some(why) => {
                let attempts = tx
                    .query_one(
                        "SELECT attempts FROM webhook_deliveries WHERE id = ?",
                        &[Val::Int(id)],
                    )?
                    .int(0)?
                    + 1;
                let gave_up = (attempts >= MAX_ATTEMPTS).then(|| micros(now));
                tx.exec(
                    "UPDATE webhook_deliveries SET attempts = ?, lease_until = NULL, last_status = ?, last_error = ?,
                       next_attempt_at = ?, gave_up_at = ? WHERE id = ?",
                    &[
                        Val::Int(attempts),
                        status.into(),
                        why.as_str().into(),
                        Val::Int(micros(now + backoff(attempts))),
                        gave_up.into(),
                        Val::Int(id),
                    ],
                )?
            }
        };
        Ok(())
    })
}

/// The `Aftercare-Signature` header of `body` sent at `t` (unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &str, t: i64, body: &str) -> Result<String, String> {
    // HMAC takes keys of any length; the error cannot happen, but is not unwrapped.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|e| format!("cannot sign: {e}"))?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!(
        "t={t},v1={}",
        aftercare_store::hex(&mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            aftercare_store::hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = sign("whsec_x", 1_700_000_000, "{}").unwrap();
        assert!(s.starts_with("t=1700000000,v1="), "{s}");
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, sign("whsec_y", 1_700_000_000, "{}").unwrap());
        assert_ne!(s, sign("whsec_x", 1_700_000_001, "{}").unwrap());
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_six_hours() {
        let secs: Vec<i64> = (1..=13).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(&secs[..4], &[10, 20, 40, 80]);
        assert_eq!(secs[12], 6 * 3600);
        assert!(secs.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_target_is_an_http_address_with_a_host_and_no_credentials() {
        for ok in [
            "http://127.0.0.1:9000/hook",
            "https://example.com",
            "https://h.example/x?y=1",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "example.com/hook",
            "https://user:pw@example.com/",
            "https:///path",
            "http://:80/",
            "https://exa mple.com",
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.starts_with("url: "), "{bad}: {e}");
        }
    }
}

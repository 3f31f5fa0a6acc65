//! Safe retries: a POST sent with an `Idempotency-Key` is done once. The first request with a
//! key claims it; its response is kept; the same request again gets that response replayed; a
//! different request with the same key is refused; a second request while the first is still
//! in flight is told to wait. Keys are per caller (a hash of their credentials) and kept a day.
//!
//! The claim and the response are two short transactions around the work itself. A claim
//! left in flight by a server that died is taken over after [`ABANDONED_AFTER_SECONDS`]: the
//! work is then done again, which the use cases that move money make harmless with their own
//! keys (a case's refund is recorded once under `case-<id>-refund`).

use aftercare_store::{Store, Val};
use jiff::{Timestamp, ToSpan};

use crate::AppError;
use crate::time::micros;

/// A claim older than this, never completed, was abandoned (its server died).
pub const ABANDONED_AFTER_SECONDS: i64 = 60;
/// How long a key is remembered.
pub const KEPT_HOURS: i64 = 24;

/// A response kept for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// What to do with a request that carries a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time (or taking over an abandoned claim): do the work, then [`complete`].
    Proceed,
    /// Done before: send this again.
    Replay(Kept),
    /// The same key with another request.
    Mismatch,
    /// The same request is being done right now.
    InFlight,
}

/// Claims `key` for `owner` and a request whose hash is `request`.
pub fn claim(
    store: &mut Store,
    owner: &str,
    key: &str,
    request: &str,
    now: Timestamp,
) -> Result<Claim, AppError> {
    store.tx(|tx| -> Result<Claim, AppError> {
        let old = now.checked_sub(KEPT_HOURS.hours()).unwrap_or(now);
        tx.exec("DELETE FROM idempotency WHERE created_at < ?", &[Val::Int(micros(old))])?;
        let inserted = tx.exec(
            "INSERT INTO idempotency (owner_hash, idem_key, request_hash, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (owner_hash, idem_key) DO NOTHING",
            &[owner.into(), key.into(), request.into(), Val::Int(micros(now))],
        )?;
        if inserted == 1 {
            return Ok(Claim::Proceed);
        }
        let r = tx.query_one(
            "SELECT request_hash, status, content_type, location, body, created_at FROM idempotency
             WHERE owner_hash = ? AND idem_key = ?",
            &[owner.into(), key.into()],
        )?;
        if r.text(0)? != request {
            return Ok(Claim::Mismatch);
        }
        if let Some(status) = r.opt_int(1)? {
            return Ok(Claim::Replay(Kept {
                status: u16::try_from(status).unwrap_or(500),
                content_type: r.opt_text(2)?,
                location: r.opt_text(3)?,
                body: r.opt_text(4)?.unwrap_or_default(),
            }));
        }
        let abandoned = now
            .checked_sub(ABANDONED_AFTER_SECONDS.seconds())
            .unwrap_or(now);
        if r.int(5)? > micros(abandoned) {
            return Ok(Claim::InFlight);
        }
        // Taken over: whoever holds it now is this request.
        let taken = tx.exec(
            "UPDATE idempotency SET created_at = ? WHERE owner_hash = ? AND idem_key = ? AND status IS NULL AND created_at = ?",
            &[Val::Int(micros(now)), owner.into(), key.into(), Val::Int(r.int(5)?)],
        )?;
        Ok(if taken == 1 { Claim::Proceed } else { Claim::InFlight })
    })
}

/// Keeps the response to a claimed request (a failure of the server's own is not kept: the
/// claim is released, so a retry does the work).
pub fn complete(
    store: &mut Store,
    owner: &str,
    key: &str,
    kept: Option<&Kept>,
) -> Result<(), AppError> {
    store.tx(|tx| -> Result<(), AppError> {
        match kept {
            Some(k) => tx.exec(
                "UPDATE idempotency SET status = ?, content_type = ?, location = ?, body = ? WHERE owner_hash = ? AND idem_key = ?",
                &[
                    Val::Int(i64::from(k.status)),
                    k.content_type.clone().into(),
                    k.location.clone().into(),
                    (&k.body).into(),
                    owner.into(),
                    key.into(),
                ],
            )?,
            None => tx.exec(
                "DELETE FROM idempotency WHERE owner_hash = ? AND idem_key = ? AND status IS NULL",
                &[owner.into(), key.into()],
            )?,
        };
        Ok(())
    })
}

//! The e-mail outbox. A message is a row written in the same transaction as the change that
//! causes it (a sign-in link, a case approved, a quote sent), so a change is never made
//! without its message nor a message sent for a change that rolled back. A sender delivers
//! the rows: into a folder of `.eml` files by default, or over SMTP. Each row is claimed
//! under a row lock (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several servers deliver each
//! message once; a message whose delivery fails is tried again later, up to a limit.

use std::path::PathBuf;

use aftercare_store::{Dialect, Store, Tx, Val};
use jiff::Timestamp;

use crate::AppError;
use crate::time::micros;

/// Delivery attempts before a message is left for an operator.
pub const MAX_ATTEMPTS: i64 = 8;

/// One message.
#[derive(Clone, Debug)]
pub struct Email {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
}

/// Puts a message in the outbox, inside the caller's transaction.
pub fn queue(
    tx: &mut dyn Tx,
    to: &str,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    tx.exec_later(
        "INSERT INTO outbox_emails (to_addr, subject, body, created_at) VALUES (?, ?, ?, ?)",
        &[
            to.into(),
            subject.into(),
            body.into(),
            Val::Int(micros(now)),
        ],
    )?;
    Ok(())
}

/// Something that delivers a message.
pub trait Sender: Send + Sync {
    fn send(&self, from: &str, email: &Email) -> Result<(), String>;
}

/// Writes each message as an RFC 5322 file `<id>.eml` into a folder (the default: nothing
/// leaves the machine, and a person can open them with any mail program).
#[derive(Debug)]
pub struct Folder(pub PathBuf);

impl Sender for Folder {
    fn send(&self, from: &str, e: &Email) -> Result<(), String> {
        std::fs::create_dir_all(&self.0).map_err(|err| format!("{}: {err}", self.0.display()))?;
        let path = self.0.join(format!("{:08}.eml", e.id));
        let text = format!(
            "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}.{}@aftercare.invalid>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            header(&e.to),
            header(&e.subject),
            jiff::fmt::rfc2822::to_string(&e.created_at.to_zoned(jiff::tz::TimeZone::UTC))
                .unwrap_or_default(),
            e.id,
            e.created_at.as_second(),
            e.body.replace('\n', "\r\n"),
        );
        // Written aside and renamed, so a reader never sees half a message.
        let tmp = path.with_extension("eml.part");
        std::fs::write(&tmp, text).map_err(|err| format!("{}: {err}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|err| format!("{}: {err}", path.display()))
    }
}

/// A header value on one line; one with characters beyond ASCII as an RFC 2047 encoded word
/// (`=?utf-8?B?…?=`), as mail programs expect (a Chinese subject, say).
fn header(s: &str) -> String {
    use base64::Engine;
    let line: String = s.chars().filter(|c| !c.is_control()).collect();
    if line.is_ascii() {
        line
    } else {
        format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(line.as_bytes())
        )
    }
}

/// What a delivery round did.
#[derive(Debug, Default)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
}

/// How long a claimed message is left to its sender before another may take it.
pub const LEASE_SECONDS: i64 = 120;

/// Delivers up to `batch` waiting messages. They are claimed under a lease in one short
/// transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several servers never claim the
/// same message), sent with no transaction open, and each outcome recorded in its own.
pub fn deliver(
    store: &mut Store,
    sender: &dyn Sender,
    from: &str,
    now: Timestamp,
    batch: i64,
) -> Result<Delivered, AppError> {
    let claimed = store.tx(|tx| -> Result<Vec<Email>, AppError> {
        let lock = if tx.dialect() == Dialect::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let rows = tx.query(
            &format!(
                "SELECT id, to_addr, subject, body, created_at FROM outbox_emails
                 WHERE sent_at IS NULL AND attempts < ? AND (lease_until IS NULL OR lease_until <= ?)
                 ORDER BY id LIMIT ?{lock}"
            ),
            &[Val::Int(MAX_ATTEMPTS), Val::Int(micros(now)), Val::Int(batch)],
        )?;
        let until = micros(now) + LEASE_SECONDS * 1_000_000;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let e = Email {
                id: r.int(0)?,
                to: r.text(1)?,
                subject: r.text(2)?,
                body: r.text(3)?,
                created_at: crate::time::from_micros(r.int(4)?)?,
            };
            tx.exec(
                "UPDATE outbox_emails SET lease_until = ? WHERE id = ?",
                &[Val::Int(until), Val::Int(e.id)],
            )?;
            out.push(e);
        }
        Ok(out)
    })?;
    let mut done = Delivered::default();
    for e in claimed {
        let outcome = sender.send(from, &e);
        store.tx(|tx| -> Result<(), AppError> {
            match &outcome {
                Ok(()) => tx.exec(
                    "UPDATE outbox_emails SET sent_at = ?, attempts = attempts + 1, last_error = NULL, lease_until = NULL
                     WHERE id = ?",
                    &[Val::Int(micros(now)), Val::Int(e.id)],
                )?,
                Err(why) => tx.exec(
                    // Tried again after a minute, then two, three… (eight tries over about
                    // half an hour), so a mail server that is down for a while is waited for.
                    "UPDATE outbox_emails SET attempts = attempts + 1, last_error = ?,
                       lease_until = ? + 60000000 * (attempts + 1) WHERE id = ?",
                    &[why.as_str().into(), Val::Int(micros(now)), Val::Int(e.id)],
                )?,
            };
            Ok(())
        })?;
        match outcome {
            Ok(()) => done.sent += 1,
            Err(_) => done.failed += 1,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::header;

    #[test]
    fn a_header_beyond_ascii_is_an_encoded_word_and_never_two_lines() {
        assert_eq!(header("Your sign-in link"), "Your sign-in link");
        assert_eq!(header("a\r\nBcc: x@y"), "aBcc: x@y");
        let zh = header("您的登录链接");
        assert!(zh.starts_with("=?utf-8?B?") && zh.ends_with("?="), "{zh}");
        use base64::Engine;
        let inner = zh.trim_start_matches("=?utf-8?B?").trim_end_matches("?=");
        let back = base64::engine::general_purpose::STANDARD
            .decode(inner)
            .unwrap();
        assert_eq!(String::from_utf8(back).unwrap(), "您的登录链接");
    }
}

//! E-mail over SMTP (lettre): the outbox's sender when the server is given an SMTP URL.
//! `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://user:password@host`
//! (TLS from the start), or plain `smtp://host:25` to a relay on a trusted network; see
//! lettre's `SmtpTransport::from_url`.

use std::time::Duration;

use aftercare_app::outbox::{Email, Sender};
use lettre::message::header::ContentType;
use lettre::{Message, SmtpTransport, Transport};

/// Sends each message to an SMTP server.
pub struct Smtp {
    transport: SmtpTransport,
}

impl std::fmt::Debug for Smtp {
    // Never the URL: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Smtp")
    }
}

impl Smtp {
    pub fn from_url(url: &str) -> Result<Smtp, String> {
        let transport = SmtpTransport::from_url(url)
            .map_err(|e| format!("the SMTP URL is not valid: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Smtp { transport })
    }
}

impl Sender for Smtp {
    fn send(&self, from: &str, e: &Email) -> Result<(), String> {
        let message = Message::builder()
            .from(
                from.parse()
                    .map_err(|err| format!("the From address `{from}` is not valid: {err}"))?,
            )
            .to(e
                .to
                .parse()
                .map_err(|err| format!("the address of message {} is not valid: {err}", e.id))?)
            .subject(e.subject.clone())
            .date(std::time::SystemTime::from(e.created_at))
            .message_id(Some(format!(
                "<{}.{}@aftercare.invalid>",
                e.id,
                e.created_at.as_second()
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(e.body.clone())
            .map_err(|err| format!("message {} cannot be built: {err}", e.id))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|err| format!("the SMTP server did not take message {}: {err}", e.id))
    }
}

//! What a recorded change to a case sets off, in the change's own transaction: the seller's
//! webhook events and the customer's e-mail. Use cases call [`announce`] once they have
//! recorded the change and its audit event; nothing here changes a case.

use aftercare_policy::value::Money;
use aftercare_store::{Tx, Val};
use jiff::Timestamp;
use serde_json::json;

use crate::audit;
use crate::case::Case;
use crate::time::from_micros;
use crate::{AppError, Policies};

/// Tells the world about a change to a case, inside the change's own transaction: the
/// seller's webhooks (event `case.<event>`, its id the audit event's) and, for the moves a
/// customer waits on, an e-mail to the customer.
pub(crate) fn announce(
    tx: &mut dyn Tx,
    policies: &Policies,
    case: &Case,
    event: &str,
    event_of: &audit::Appended,
    now: Timestamp,
) -> Result<(), AppError> {
    let policy = policies.get(&case.policy_id)?;
    let name = format!("case.{event}");
    if let Some(seller) = &policy.seller {
        crate::webhooks::queue(
            tx,
            seller,
            &name,
            &event_of.event_id(),
            case.id,
            json!({"case": {
                "id": case.id,
                "kind": case.kind.as_str(),
                "state": case.state.as_str(),
                "seller": seller,
                "policy": case.policy_id,
                "order_no": case.order_no,
                "serial": case.serial,
                "authorisation": case.authorisation,
                "ship_by": case.ship_by.map(|d| d.to_string()),
                "updated_at": case.updated_at.to_string(),
            }}),
            now,
        )?;
    }
    let Some((to, lang)) = customer_email(tx, case)? else {
        return Ok(());
    };
    let reference = lang.reference(case.authorisation.as_deref(), case.id);
    let ship_by = case.ship_by.map(|d| lang.date(d));
    let quote = if matches!(event, "quote" | "quote_reminder") {
        open_quote(tx, case, policy.tz(), lang)?
    } else {
        None
    };
    let mail = crate::mail_words::CaseMail {
        reference: &reference,
        policy: &policy.title,
        ship_by: ship_by.as_deref(),
        quote,
    };
    if let Some((subject, body)) = crate::mail_words::case_mail(lang, event, &mail) {
        crate::outbox::queue(tx, &to, &subject, &body, now)?;
    }
    Ok(())
}

/// A case's open quote: its amount and, when it expires, its last day to pay (it expires
/// at the end of that day), as an e-mail writes it.
pub(crate) fn open_quote(
    tx: &mut dyn Tx,
    case: &Case,
    tz: &jiff::tz::TimeZone,
    lang: crate::mail_words::MailLang,
) -> Result<Option<(Money, Option<String>)>, AppError> {
    let Some(r) = tx.query_opt(
        "SELECT currency, total_minor, expires_at FROM quotes WHERE case_id = ? AND status = 'open' ORDER BY id DESC",
        &[Val::Int(case.id)],
    )?
    else {
        return Ok(None);
    };
    let currency = aftercare_policy::value::Currency::parse(&r.text(0)?)
        .map_err(|e| AppError::corrupt("quotes.currency", e))?;
    let amount = Money {
        minor: r.int(1)?,
        currency,
    };
    let last_day = match r.int(2)? {
        i64::MAX => None,
        us => Some(
            lang.date(
                from_micros(us.saturating_sub(1))?
                    .to_zoned(tz.clone())
                    .date(),
            ),
        ),
    };
    Ok(Some((amount, last_day)))
}

/// The address of a case's customer (the case's, else its order's), unless erased.
pub(crate) fn customer_email(
    tx: &mut dyn Tx,
    case: &Case,
) -> Result<Option<(String, crate::mail_words::MailLang)>, AppError> {
    let r = tx.query_opt(
        "SELECT email, lang, country FROM customers WHERE erased_at IS NULL AND id = COALESCE(?, (SELECT customer_id FROM orders WHERE order_no = ?))",
        &[case.customer_id.into(), case.order_no.clone().into()],
    )?;
    let Some(r) = r else { return Ok(None) };
    let lang =
        crate::mail_words::MailLang::of(r.opt_text(1)?.as_deref(), r.opt_text(2)?.as_deref());
    Ok(r.opt_text(0)?.filter(|e| !e.is_empty()).map(|e| (e, lang)))
}

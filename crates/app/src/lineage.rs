//! Warranty lineage: what happened to each unit, as [`crate::repairs`] records it. A repair
//! records the parts it replaced, each with the warranty its policy gives (IMASK: a part gets
//! max(the unit's remaining warranty, 90 days); parts of a paid repair 90 days); a replacement
//! unit joins the registry pointing at the unit it replaces, with its own warranty end (IMASK:
//! a new 12 months; an accessory recalculated). Failed repairs are counted per unit and feed
//! the next decision (`history.failed_repairs`). A serial's look-up shows its whole chain and
//! history.

use aftercare_store::{Store, Tx, Val};
use serde_json::{Value as J, json};

use crate::AppError;
use crate::error::stored_json;
use crate::time::from_micros;

/// The serials from `serial` back to the unit first sold, each replacement followed by the
/// unit it replaced (bounded, in case of a cycle in bad data).
pub(crate) fn chain(tx: &mut dyn Tx, serial: &str) -> Result<Vec<String>, AppError> {
    let rows = tx.query(CHAIN, &[serial.into()])?;
    chain_of_rows(serial, &rows)
}

/// One statement however long the chain: a recursive walk, bounded at 100 links.
pub(crate) const CHAIN: &str = "WITH RECURSIVE up (serial, replaces, depth) AS (
       SELECT serial, replaces, 0 FROM units WHERE serial = ?
       UNION ALL
       SELECT u.serial, u.replaces, up.depth + 1 FROM units u
       JOIN up ON u.serial = up.replaces WHERE up.depth < 100
     )
     SELECT serial FROM up ORDER BY depth";

/// [`chain`] from the rows of [`CHAIN`].
pub(crate) fn chain_of_rows(
    serial: &str,
    rows: &[aftercare_store::Row],
) -> Result<Vec<String>, AppError> {
    let mut chain = vec![serial.to_string()];
    for r in rows.iter().skip(1) {
        let s = r.text(0)?;
        if chain.contains(&s) {
            break;
        }
        chain.push(s);
    }
    Ok(chain)
}

/// A serial's first sale: order number, order date, delivery date (from the order's shipments
/// when it has any, as decisions take it) and channel, then how many times it was sold.
pub(crate) fn first_sale(
    tx: &mut dyn Tx,
    serial: &str,
) -> Result<Option<aftercare_store::Row>, AppError> {
    Ok(tx.query_opt(FIRST_SALE, &[serial.into()])?)
}

pub(crate) const FIRST_SALE: &str = concat!(
    "SELECT o.order_no, o.ordered_at, ",
    crate::registry::order_delivered_sql!(),
    ", o.channel, COUNT(*) OVER ()
     FROM order_lines l JOIN orders o ON o.order_no = l.order_no WHERE l.serial = ?
     ORDER BY o.ordered_at, o.order_no LIMIT 1"
);

/// Everything about a serial: the unit, the units it replaced back to the one first sold,
/// its first sale (a resale does not restart the warranty), parts with their warranty,
/// repairs and cases.
pub fn lookup(store: &mut Store, serial: &str) -> Result<J, AppError> {
    store.tx(|tx| -> Result<J, AppError> {
        let unit = tx
            .query_opt(
                "SELECT u.serial, u.sku, k.name, k.class, u.manufactured_on, u.genuine, u.origin,
                   u.replaces, u.warranty_until,
                   (SELECT COUNT(*) FROM repairs r WHERE r.serial = u.serial AND r.outcome = 'failed')
                 FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                &[serial.into()],
            )?
            .ok_or_else(|| AppError::not_found("serial", serial))?;
        let failed = unit.int(9)?;
        let chain = chain(tx, serial)?;
        let root = chain.last().cloned().unwrap_or_else(|| serial.to_string());
        let (first_sale, sales) = match first_sale(tx, &root)? {
            Some(s) => (
                json!({"order_no": s.text(0)?, "ordered_on": s.text(1)?, "delivered_on": s.opt_text(2)?, "channel": s.text(3)?}),
                s.int(4)?,
            ),
            None => (J::Null, 0),
        };
        let parts = tx
            .query(
                "SELECT part, installed_on, warranty_until, repair_id FROM unit_parts WHERE serial = ? ORDER BY id",
                &[serial.into()],
            )?
            .iter()
            .map(|r| Ok(json!({"part": r.text(0)?, "installed_on": r.text(1)?, "warranty_until": r.text(2)?, "repair": r.opt_int(3)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        // The events of every unit in the chain, the first sold first.
        let marks = vec!["?"; chain.len()].join(", ");
        let params: Vec<Val> = chain.iter().map(Into::into).collect();
        let mut events = tx.query(
            &format!(
                "SELECT serial, at, kind, case_id, detail, id FROM unit_events
                 WHERE serial IN ({marks})"
            ),
            &params,
        )?;
        let position = |s: &str| chain.iter().rev().position(|c| c == s);
        let mut keyed = Vec::with_capacity(events.len());
        for r in events.drain(..) {
            keyed.push((position(&r.text(0)?), r.int(5)?, r));
        }
        keyed.sort_by_key(|(p, id, _)| (*p, *id));
        let mut history = Vec::with_capacity(keyed.len());
        for (_, _, r) in keyed {
            history.push(json!({
                "serial": r.text(0)?,
                "at": from_micros(r.int(1)?)?.to_string(),
                "event": r.text(2)?,
                "case": r.opt_int(3)?,
                "detail": stored_json("unit_events.detail", &r.text(4)?)?,
            }));
        }
        let cases = tx
            .query("SELECT id, kind, state FROM cases WHERE serial = ? ORDER BY id", &[serial.into()])?
            .iter()
            .map(|r| Ok(json!({"id": r.int(0)?, "kind": r.text(1)?, "state": r.text(2)?})))
            .collect::<Result<Vec<J>, AppError>>()?;
        Ok(json!({
            "serial": unit.text(0)?,
            "sku": unit.text(1)?,
            "name": unit.text(2)?,
            "class": unit.text(3)?,
            "manufactured_on": unit.opt_text(4)?,
            "genuine": unit.bool(5)?,
            "origin": unit.text(6)?,
            "replaces": unit.opt_text(7)?,
            "warranty_until": unit.opt_text(8)?,
            "lineage": chain,
            "first_sale": first_sale,
            "times_sold": sales,
            "failed_repairs": failed,
            "parts": parts,
            "cases": cases,
            "history": history,
        }))
    })
}

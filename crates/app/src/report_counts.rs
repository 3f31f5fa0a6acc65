//! The counts reports read, kept by the write path (migration 15): a module of its own, below
//! `cases` (which calls it as a case opens) and `reports` (which reads what it keeps), so
//! neither depends on the other.

use aftercare_store::{Tx, Val};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::AppError;

/// Counts are split over this many rows per policy, week and kind (see the migration).
const SLOTS: i64 = 8;
/// The Monday (UTC) of the week `at` falls in.
pub fn week_of(at: Timestamp) -> Date {
    let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let back = i64::from(day.weekday().to_monday_zero_offset());
    day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day)
}

/// Counts a case just opened: called by `cases::open` in its transaction.
pub(crate) fn count_opened(
    tx: &mut dyn Tx,
    policy_id: &str,
    kind: &str,
    case_id: i64,
    at: Timestamp,
) -> Result<(), AppError> {
    tx.exec(
        "INSERT INTO report_opened (policy_id, week, kind, slot, opened) VALUES (?, ?, ?, ?, 1)
         ON CONFLICT (policy_id, week, kind, slot) DO UPDATE SET opened = report_opened.opened + 1",
        &[
            policy_id.into(),
            week_of(at).to_string().into(),
            kind.into(),
            Val::Int(case_id.rem_euclid(SLOTS)),
        ],
    )?;
    Ok(())
}

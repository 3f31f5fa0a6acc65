//! Instants as stored (microseconds since 1970 UTC) and back.

use jiff::Timestamp;

use crate::AppError;

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp, AppError> {
    Timestamp::from_microsecond(us)
        .map_err(|e| AppError::corrupt("timestamp", format!("`{us}` µs is out of range: {e}")))
}

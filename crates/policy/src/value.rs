//! Values of the policy language: money in minor units, calendar periods, fractions, and the
//! `Value` an expression evaluates to.

use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;

use crate::schema::{EnumKind, Type};

/// An ISO 4217 currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        match b {
            [a, b, c]
                if b.is_ascii_uppercase() && a.is_ascii_uppercase() && c.is_ascii_uppercase() =>
            {
                Ok(Self([*a, *b, *c]))
            }
            _ => Err(format!(
                "`{s}` is not an ISO 4217 currency code (three capital letters, like `EUR`)"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point (ISO 4217 minor unit).
    pub fn exponent(&self) -> u32 {
        // On the bytes, not the text: compared as integers, not strings.
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first three words of `s` as `str::split_whitespace` finds them. ASCII text (every
/// amount a registry or a form writes) is split on its bytes: decoding it char by char cost
/// what-if more than the rest of reading an amount.
fn words(s: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    if !s.is_ascii() {
        let mut w = s.split_whitespace();
        return (w.next(), w.next(), w.next());
    }
    // `char::is_whitespace` on ASCII: the ASCII whitespace and the vertical tab.
    let space = |b: &u8| b.is_ascii_whitespace() || *b == 0x0B;
    let b = s.as_bytes();
    let mut out = [None; 3];
    let mut at = 0;
    for slot in &mut out {
        while b.get(at).is_some_and(space) {
            at += 1;
        }
        let start = at;
        while b.get(at).is_some_and(|c| !space(c)) {
            at += 1;
        }
        if at > start {
            *slot = s.get(start..at);
        }
    }
    let [a, b, c] = out;
    (a, b, c)
}

/// An amount of money: integer minor units and a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parses `"129.00 EUR"`. The number may have at most the currency's minor digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (Some(num), Some(cur), None) = words(s) else {
            return Err(format!(
                "`{s}` is not an amount: write the number and the currency, like `129.00 EUR`"
            ));
        };
        let currency = Currency::parse(cur)?;
        let exp = currency.exponent();
        let (neg, digits) = match num.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, num),
        };
        // One pass over the digits: the whole number and its decimals as one integer, and
        // how many decimals; an overflow is told only once the text is known to be a number.
        let (mut value, mut overflow) = (0i64, false);
        let (mut whole, mut decimals): (u32, Option<u32>) = (0, None);
        let mut valid = true;
        for &c in digits.as_bytes() {
            match (c, &mut decimals) {
                (b'0'..=b'9', d) => {
                    match value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i64::from(c - b'0')))
                    {
                        Some(v) => value = v,
                        None => overflow = true,
                    }
                    match d {
                        Some(n) => *n += 1,
                        None => whole += 1,
                    }
                }
                (b'.', d @ None) => *d = Some(0),
                _ => valid = false,
            }
        }
        let decimals = decimals.unwrap_or(0);
        if !valid || whole == 0 || decimals > exp {
            return Err(format!(
                "`{num}` is not an amount of {currency}: use digits with at most {exp} decimals"
            ));
        }
        let minor = (decimals..exp).try_fold(value, |v, _| v.checked_mul(10));
        let Some(minor) = minor.filter(|_| !overflow) else {
            return Err(format!("`{num}` is too large an amount"));
        };
        Ok(Self {
            minor: if neg { -minor } else { minor },
            currency,
        })
    }

    /// This amount times `fraction` (millionths), rounded half away from zero.
    pub fn scale(self, fraction: Fraction) -> Self {
        let p = i128::from(self.minor) * i128::from(fraction.0);
        let q = 1_000_000i128;
        let rounded = if p >= 0 {
            (p + q / 2) / q
        } else {
            (p - q / 2) / q
        };
        Self {
            minor: i64::try_from(rounded).unwrap_or(i64::MAX),
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            decimal(self.minor, self.currency.exponent()),
            self.currency
        )
    }
}

/// `minor` units written as a decimal number with `exp` digits after the point: `12345, 2` is
/// `123.45`, `-5, 3` is `-0.005`, `700, 0` is `700` (what [`Money`] shows before its code).
pub fn decimal(minor: i64, exp: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exp == 0 {
        return format!("{sign}{abs}");
    }
    let div = 10u64.pow(exp);
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = exp as usize
    )
}

/// A share between 0 and 1, in millionths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fraction(pub u32);

impl Fraction {
    pub const ONE: Fraction = Fraction(1_000_000);

    pub fn from_f64(x: f64) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&x) {
            return Err(format!("`{x}` is not a fraction between 0 and 1"));
        }
        Ok(Self((x * 1_000_000.0).round() as u32))
    }

    pub fn complement(self) -> Self {
        Self(Self::ONE.0.saturating_sub(self.0))
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{:.6}", f64::from(self.0) / 1_000_000.0);
        f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The unit of a calendar period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Hour,
    Day,
    Month,
    Year,
}

/// A calendar period such as `7 days` or `12 months`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    pub n: u32,
    pub unit: Unit,
}

impl Period {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split_whitespace();
        let bad = || {
            format!(
                "`{s}` is not a period: write a number and a unit, like `7 days`, `12 months`, `1 year` or `24 hours`"
            )
        };
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let n: u32 = n.parse().map_err(|_| bad())?;
        let unit = Self::unit(unit).ok_or_else(bad)?;
        Ok(Self { n, unit })
    }

    pub fn unit(word: &str) -> Option<Unit> {
        Some(match word {
            "hour" | "hours" => Unit::Hour,
            "day" | "days" => Unit::Day,
            "month" | "months" => Unit::Month,
            "year" | "years" => Unit::Year,
            _ => return None,
        })
    }

    /// Whether `day` falls within this period of `from`: `day <= from + self`, the test of
    /// every window. Day periods compare day numbers instead of building the last day;
    /// `None` where [`Period::add_to`] gives none.
    pub fn reaches(self, from: Date, day: Date) -> Option<bool> {
        if self.unit != Unit::Day {
            return self.add_to(from, 1).map(|last| day <= last);
        }
        let last = days_from_civil(from).checked_add(i64::from(self.n))?;
        (last <= MAX_DAY).then(|| days_from_civil(day) <= last)
    }

    /// `date + self`, clamped to the month's end for months and years. Hours are not
    /// calendar arithmetic and give `None`, as does leaving jiff's range of dates.
    pub fn add_to(self, date: Date, sign: i64) -> Option<Date> {
        let n = i64::from(self.n) * sign;
        match self.unit {
            Unit::Day => {
                let days = days_from_civil(date).checked_add(n)?;
                civil_from_days(days)
            }
            Unit::Month | Unit::Year => {
                let months = if self.unit == Unit::Year {
                    n.checked_mul(12)?
                } else {
                    n
                };
                let total = i64::from(date.year()) * 12 + i64::from(date.month() - 1) + months;
                let year = i16::try_from(total.div_euclid(12)).ok()?;
                let month = i8::try_from(total.rem_euclid(12) + 1).ok()?;
                let last = Date::new(year, month, 1).ok()?.days_in_month();
                Date::new(year, month, date.day().min(last)).ok()
            }
            Unit::Hour => None,
        }
    }
}

/// The day number of 9999-12-31, jiff's last date.
const MAX_DAY: i64 = 2_932_896;

/// Years are shifted by this many (25 eras of 400 years) so that day arithmetic is unsigned:
/// jiff's years run from -9999, and unsigned division by a constant is a multiply where
/// `div_euclid` on signed values is not.
const SHIFT_YEARS: i32 = 10_000;
/// The day number of the shifted calendar's 0000-03-01, relative to 1970-01-01.
const SHIFT_DAYS: i64 = 719_468 + 25 * 146_097;

/// Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's `days_from_civil`.
fn days_from_civil(d: Date) -> i64 {
    let (m, day) = (
        u32::from(d.month().unsigned_abs()),
        u32::from(d.day().unsigned_abs()),
    );
    let y = u32::try_from(i32::from(d.year()) + SHIFT_YEARS).unwrap_or(0) - u32::from(m <= 2);
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i64::from(era) * 146_097 + i64::from(doe) - SHIFT_DAYS
}

/// The inverse of [`days_from_civil`]; `None` outside jiff's range of dates.
fn civil_from_days(z: i64) -> Option<Date> {
    let z = u32::try_from(z.checked_add(SHIFT_DAYS)?).ok()?;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = i64::from(yoe + era * 400 + u32::from(month <= 2)) - i64::from(SHIFT_YEARS);
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (one, many) = match self.unit {
            Unit::Hour => ("hour", "hours"),
            Unit::Day => ("day", "days"),
            Unit::Month => ("month", "months"),
            Unit::Year => ("year", "years"),
        };
        write!(f, "{} {}", self.n, if self.n == 1 { one } else { many })
    }
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Fraction(Fraction),
    Date(Date),
    Instant(jiff::Timestamp),
    Duration(Period),
    Money(Money),
    Text(Arc<str>),
    Country([u8; 2]),
    Enum(EnumKind, u8),
    Set(EnumKind, u64),
    TextList(Arc<[Arc<str>]>),
    NameList(Arc<[u8]>),
}

impl Value {
    pub fn ty(&self) -> Type {
        match self {
            Self::Bool(_) => Type::Bool,
            Self::Int(_) => Type::Int,
            Self::Fraction(_) => Type::Fraction,
            Self::Date(_) => Type::Date,
            Self::Instant(_) => Type::Instant,
            Self::Duration(_) => Type::Duration,
            Self::Money(_) => Type::Money,
            Self::Text(_) => Type::Text,
            Self::Country(_) => Type::Country,
            Self::Enum(k, _) => Type::Enum(*k),
            Self::Set(k, _) => Type::Set(*k),
            Self::TextList(_) => Type::TextList,
            Self::NameList(_) => Type::NameList,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Fraction(x) => write!(f, "{x}"),
            Self::Date(d) => write!(f, "{d}"),
            Self::Instant(t) => write!(f, "{t}"),
            Self::Duration(p) => write!(f, "{p}"),
            Self::Money(m) => write!(f, "{m}"),
            Self::Text(t) => write!(f, "{t}"),
            Self::Country(c) => f.write_str(std::str::from_utf8(c).unwrap_or("??")),
            Self::Enum(k, i) => f.write_str(k.variant(*i)),
            Self::Set(k, bits) => {
                let names: Vec<&str> = (0..64u8)
                    .filter(|i| bits & (1u64 << i) != 0)
                    .map(|i| k.variant(i))
                    .collect();
                write!(f, "[{}]", names.join(", "))
            }
            Self::TextList(items) => {
                let names: Vec<&str> = items.iter().map(|s| &**s).collect();
                write!(f, "[{}]", names.join(", "))
            }
            Self::NameList(items) => write!(f, "{} names", items.len()),
        }
    }
}

/// The first instant of `day` in `tz` (the later one when a gap skips midnight), without
/// building a `Zoned`, which would clone the time zone.
pub fn start_of_day(day: Date, tz: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    tz.to_ambiguous_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .ok()
}

/// A time zone with its UTC offsets tabulated from 1970 to 2200, so that "which day is it
/// there" is a binary search and a division. Every decision asks it at least once, and jiff
/// works a zone's daylight-saving rule out afresh on each call (about 500 instructions past the
/// zone's last listed transition). Outside the table it asks jiff.
#[derive(Clone, Debug)]
pub struct Zone {
    tz: jiff::tz::TimeZone,
    /// From this second (Unix time) on, this offset in seconds; the first entry is the offset
    /// at [`Zone::FROM`].
    table: Vec<(i64, i32)>,
}

impl Zone {
    /// 1970-01-01T00:00:00Z.
    const FROM: i64 = 0;
    /// 2200-01-01T00:00:00Z.
    const UNTIL: i64 = 7_258_118_400;

    pub fn new(tz: jiff::tz::TimeZone) -> Self {
        let mut table = Vec::new();
        if let (Ok(from), Ok(until)) = (
            jiff::Timestamp::from_second(Self::FROM),
            jiff::Timestamp::from_second(Self::UNTIL),
        ) {
            table.push((Self::FROM, tz.to_offset(from).seconds()));
            for t in tz.following(from) {
                if t.timestamp() >= until {
                    break;
                }
                table.push((t.timestamp().as_second(), t.offset().seconds()));
            }
        }
        Self { tz, table }
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }

    /// The civil date of an instant in this zone.
    pub fn date(&self, t: jiff::Timestamp) -> Date {
        let s = t.as_second();
        if (Self::FROM..Self::UNTIL).contains(&s) {
            let i = self.table.partition_point(|(from, _)| *from <= s);
            if let Some((_, off)) = i.checked_sub(1).and_then(|i| self.table.get(i))
                && let Some(d) = civil_from_days((s + i64::from(*off)).div_euclid(86_400))
            {
                return d;
            }
        }
        self.tz.to_datetime(t).date()
    }
}

#[cfg(test)]
mod tests {

    /// Money::parse as it was first written (split, then checked, then parsed), to hold the
    /// one-pass reader to.
    fn parse_as_first_written(s: &str) -> Result<Money, String> {
        let mut parts = s.split_whitespace();
        let (Some(num), Some(cur), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{s}` is not an amount: write the number and the currency, like `129.00 EUR`"
            ));
        };
        let currency = Currency::parse(cur)?;
        let exp = currency.exponent();
        let (neg, digits) = match num.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, num),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let valid = !int.is_empty()
            && int.bytes().all(|c| c.is_ascii_digit())
            && frac.bytes().all(|c| c.is_ascii_digit())
            && (frac.len() as u32) <= exp;
        if !valid {
            return Err(format!(
                "`{num}` is not an amount of {currency}: use digits with at most {exp} decimals"
            ));
        }
        let too_big = || format!("`{num}` is too large an amount");
        let mut minor: i64 = int.parse().map_err(|_| too_big())?;
        for _ in 0..exp {
            minor = minor.checked_mul(10).ok_or_else(too_big)?;
        }
        let mut f: i64 = 0;
        for (i, c) in frac.bytes().enumerate() {
            f += i64::from(c - b'0') * 10i64.pow(exp - 1 - i as u32);
        }
        minor = minor.checked_add(f).ok_or_else(too_big)?;
        Ok(Money {
            minor: if neg { -minor } else { minor },
            currency,
        })
    }

    proptest::proptest! {
        /// The one-pass reader reads (and refuses, with the same words) what the first did.
        #[test]
        fn money_is_read_as_it_first_was(
            s in "-?-?[0-9]{0,21}(\\.[0-9.]{0,4})?[-+.0-9a]? ?(EUR|JPY|KWD|eur|E)?"
        ) {
            proptest::prop_assert_eq!(Money::parse(&s), parse_as_first_written(&s), "{:?}", s);
        }
    }

    proptest::proptest! {
        /// Amounts are split into words as `split_whitespace` splits them, ASCII or not.
        #[test]
        fn words_are_split_whitespaces_first_three(
            s in "[0-9 .A-Z\\t\\n\\x0B\\x0C\\r\\u{a0}\\u{2003}é-]{0,16}"
        ) {
            let mut w = s.split_whitespace();
            proptest::prop_assert_eq!(super::words(&s), (w.next(), w.next(), w.next()), "{:?}", s);
        }
    }
    use super::*;
    use jiff::civil::date;

    /// The table gives jiff's date for every hour across DST changes and the table's edges.
    #[test]
    fn zone_dates_match_jiff() {
        for name in [
            "UTC",
            "Europe/Berlin",
            "Asia/Shanghai",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "America/St_Johns",
        ] {
            let tz = jiff::tz::TimeZone::get(name).unwrap();
            let zone = Zone::new(tz.clone());
            let mut checks = 0;
            for start in [
                -86_400 * 3,
                0,
                1_700_000_000,
                1_998_000_000,
                Zone::UNTIL - 86_400 * 3,
            ] {
                for h in 0..(24 * 400) {
                    let t = jiff::Timestamp::from_second(start + h * 3_600 + 59).unwrap();
                    assert_eq!(zone.date(t), tz.to_datetime(t).date(), "{name} at {t}");
                    checks += 1;
                }
            }
            assert!(checks > 40_000);
        }
        let fixed = jiff::tz::TimeZone::fixed(jiff::tz::offset(-5));
        let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(
            Zone::new(fixed.clone()).date(t),
            fixed.to_datetime(t).date()
        );
    }

    #[test]
    fn money_parses_and_prints_in_minor_units() {
        let m = Money::parse("129.5 EUR").unwrap();
        assert_eq!(m.minor, 12950);
        assert_eq!(m.to_string(), "129.50 EUR");
        assert_eq!(Money::parse("499 JPY").unwrap().to_string(), "499 JPY");
        assert_eq!(Money::parse("1.234 KWD").unwrap().minor, 1234);
    }

    #[test]
    fn money_rejects_too_many_decimals_and_bad_codes() {
        assert!(
            Money::parse("1.234 EUR")
                .unwrap_err()
                .contains("at most 2 decimals")
        );
        assert!(Money::parse("1.5 JPY").is_err());
        assert!(Money::parse("12 eur").unwrap_err().contains("ISO 4217"));
        assert!(Money::parse("12").is_err());
        assert!(Money::parse("99999999999999999999 EUR").is_err());
        // The largest amount, and one more: in yen (no decimals) and in euro cents.
        assert_eq!(
            Money::parse("9223372036854775807 JPY").map(|m| m.minor),
            Ok(i64::MAX)
        );
        assert!(Money::parse("9223372036854775808 JPY").is_err());
        assert_eq!(
            Money::parse("92233720368547758.07 EUR").map(|m| m.minor),
            Ok(i64::MAX)
        );
        assert!(Money::parse("92233720368547758.08 EUR").is_err());
        assert!(Money::parse("92233720368547758.1 EUR").is_err());
    }

    #[test]
    fn scaling_rounds_half_away_from_zero() {
        let m = Money::parse("0.05 EUR").unwrap();
        assert_eq!(m.scale(Fraction(500_000)).minor, 3);
        let m = Money::parse("100.00 EUR").unwrap();
        assert_eq!(
            m.scale(Fraction::from_f64(0.4).unwrap().complement()).minor,
            6000
        );
    }

    #[test]
    fn months_and_years_clamp_to_month_end() {
        let month = Period::parse("1 month").unwrap();
        assert_eq!(month.add_to(date(2024, 1, 31), 1), Some(date(2024, 2, 29)));
        let year = Period::parse("1 year").unwrap();
        assert_eq!(year.add_to(date(2024, 2, 29), 1), Some(date(2025, 2, 28)));
        let days = Period::parse("7 days").unwrap();
        assert_eq!(days.add_to(date(2024, 3, 2), 1), Some(date(2024, 3, 9)));
        assert_eq!(
            Period::parse("24 hours")
                .unwrap()
                .add_to(date(2024, 3, 2), 1),
            None
        );
    }

    #[test]
    fn calendar_arithmetic_agrees_with_jiff() {
        let mut d = date(1999, 12, 25);
        for step in 0..800 {
            for (n, unit) in [
                (1, Unit::Day),
                (45, Unit::Day),
                (1, Unit::Month),
                (13, Unit::Month),
                (2, Unit::Year),
            ] {
                let p = Period { n, unit };
                let span = match unit {
                    Unit::Day => jiff::Span::new().days(i64::from(n)),
                    Unit::Month => jiff::Span::new().months(i64::from(n)),
                    _ => jiff::Span::new().years(i64::from(n)),
                };
                assert_eq!(p.add_to(d, 1), d.checked_add(span).ok(), "{d} + {p}");
                assert_eq!(p.add_to(d, -1), d.checked_sub(span).ok(), "{d} - {p}");
            }
            d = d.checked_add(jiff::Span::new().days(step % 7 + 1)).unwrap();
        }
        assert_eq!(
            Period {
                n: 1,
                unit: Unit::Day
            }
            .add_to(date(9999, 12, 31), 1),
            None
        );
    }

    #[test]
    fn day_numbers_count_days_across_the_whole_range() {
        assert_eq!(days_from_civil(date(1970, 1, 1)), 0);
        let mut d = date(-9999, 1, 1);
        let mut n = days_from_civil(d);
        while let Ok(next) = d.checked_add(jiff::Span::new().days(37)) {
            let m = days_from_civil(next);
            assert_eq!(m - n, 37, "{d} to {next}");
            assert_eq!(civil_from_days(m), Some(next));
            (d, n) = (next, m);
        }
        assert_eq!(
            days_from_civil(date(2000, 3, 1)) - days_from_civil(date(2000, 2, 28)),
            2
        );
        assert_eq!(
            days_from_civil(date(1900, 3, 1)) - days_from_civil(date(1900, 2, 28)),
            1
        );
    }

    #[test]
    fn a_window_reaches_the_days_its_last_day_does() {
        assert_eq!(days_from_civil(date(9999, 12, 31)), MAX_DAY);
        let mut from = date(2023, 12, 20);
        for step in 0..400 {
            for p in ["0 days", "7 days", "14 days", "1 month", "2 years"] {
                let p = Period::parse(p).unwrap();
                for k in [-1i64, 0, 1, 13, 14, 15, 40, 800] {
                    let day = from.checked_add(jiff::Span::new().days(k)).unwrap();
                    let by_last = p.add_to(from, 1).map(|last| day <= last);
                    assert_eq!(p.reaches(from, day), by_last, "{day} within {p} of {from}");
                }
            }
            from = from
                .checked_add(jiff::Span::new().days(step % 5 + 1))
                .unwrap();
        }
        let edge = Period::parse("1 day").unwrap();
        assert_eq!(edge.reaches(date(9999, 12, 31), date(9999, 12, 31)), None);
        assert_eq!(
            edge.reaches(date(9999, 12, 30), date(9999, 12, 31)),
            Some(true)
        );
    }

    #[test]
    fn periods_reject_unknown_units() {
        assert!(Period::parse("7 weeks").is_err());
        assert!(Period::parse("seven days").is_err());
    }
}

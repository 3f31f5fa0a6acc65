//! Facts: what is known about a case, typed by the schema. Loaded from TOML (errors carry
//! line and column) or JSON (errors carry the field path). Unknown names, wrong types, dates
//! out of order and mixed currencies are refused.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Diagnostics, Source, WithHint};
use crate::expr::check::country;
use crate::schema::{self, EnumKind, FACTS, FactId, Type};
use crate::value::{Fraction, Money, Value};

/// A date fact as given: a calendar day, or an instant that becomes a day in the policy's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Day(Date),
    Instant(Timestamp),
}

impl When {
    /// A moment as a person writes it (`--now`, a scenario's `now`): an RFC 3339 timestamp
    /// with its offset, or a date alone.
    pub fn parse(s: &str) -> Result<When, String> {
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(When::Instant(t));
        }
        s.parse::<Date>().map(When::Day).map_err(|_| {
            format!("`{s}` is neither a timestamp with an offset nor a date (YYYY-MM-DD)")
        })
    }

    /// The instant it names in zone `tz`: a date alone is the start of that day there (as
    /// for a scenario's `now`: the policy's zone).
    pub fn at(self, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
        match self {
            When::Instant(t) => Some(t),
            When::Day(d) => crate::value::start_of_day(d, tz),
        }
    }
}

/// A date written `YYYY-MM-DD` and nothing else, read without a general parser: stored facts
/// hold mostly these, read by the million in a what-if. Anything else (a timestamp, a date that
/// does not exist) is `None`, and is read by jiff as before.
fn plain_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| i16::from(c - b'0'));
    let year = digit(y0)? * 1000 + digit(y1)? * 100 + digit(y2)? * 10 + digit(y3)?;
    let month = digit(m0)? * 10 + digit(m1)?;
    let day = digit(d0)? * 10 + digit(d1)?;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// The facts of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    values: Vec<Option<Value>>,
    instants: Vec<(FactId, Timestamp)>,
}

impl Default for Facts {
    fn default() -> Self {
        Self::new()
    }
}

/// A fact value before it is typed.
#[derive(Debug)]
pub enum Raw<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Day(Date),
    Instant(Timestamp),
    List(Vec<Raw<'a>>),
    Other(&'static str),
}

impl Facts {
    pub fn new() -> Self {
        Self {
            values: vec![None; FACTS.len()],
            instants: Vec::new(),
        }
    }

    /// The value of a fact; a date given as an instant is not here but in [`Facts::when`].
    pub fn get(&self, id: FactId) -> Option<&Value> {
        self.values.get(usize::from(id)).and_then(Option::as_ref)
    }

    pub fn when(&self, id: FactId) -> Option<When> {
        if let Some(Value::Date(d)) = self.get(id) {
            return Some(When::Day(*d));
        }
        self.instants
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| When::Instant(*t))
    }

    pub fn instants(&self) -> &[(FactId, Timestamp)] {
        &self.instants
    }

    /// Sets a fact from an untyped value, checking it against the schema.
    pub fn set(&mut self, path: &str, raw: Raw<'_>) -> Result<(), String> {
        let id = lookup(path)?;
        self.set_id(id, path, raw)
    }

    /// [`Facts::set`] of a fact already looked up (`path` is its path, for messages).
    fn set_id(&mut self, id: FactId, path: &str, raw: Raw<'_>) -> Result<(), String> {
        let ty = schema::fact(id).ty;
        if let (Type::Date, Raw::Instant(t)) = (ty, &raw) {
            self.instants.retain(|(i, _)| *i != id);
            self.instants.push((id, *t));
            if let Some(slot) = self.values.get_mut(usize::from(id)) {
                *slot = None;
            }
            return Ok(());
        }
        let value = typed(path, ty, raw)?;
        self.instants.retain(|(i, _)| *i != id);
        if let Some(slot) = self.values.get_mut(usize::from(id)) {
            *slot = Some(value);
        }
        Ok(())
    }

    /// Checks what no single fact shows: dates out of order, mixed currencies.
    pub fn validate(&self) -> Result<(), String> {
        for &(ia, ib) in schema::DATE_ORDER_IDS.iter() {
            if let (Some(x), Some(y)) = (self.when(ia), self.when(ib))
                && before(y, x)
            {
                let (a, b) = (schema::fact(ia).path, schema::fact(ib).path);
                return Err(format!(
                    "`{b}` ({}) is before `{a}` ({}): dates are out of order",
                    show(y),
                    show(x)
                ));
            }
        }
        let mut currency = None;
        let known = &*schema::KNOWN;
        for id in [known.price, known.shipping_fee, known.extra_shipping_fee]
            .into_iter()
            .flatten()
        {
            let path = schema::fact(id).path;
            if let Some(Value::Money(m)) = self.get(id) {
                match currency {
                    None => currency = Some((path, m.currency)),
                    Some((first, c)) if c != m.currency => {
                        return Err(format!(
                            "`{path}` is in {} but `{first}` is in {c}: one order has one currency",
                            m.currency
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Date facts later than `now`: facts cannot come from the future.
    pub fn check_not_after(&self, now: Timestamp) -> Result<(), String> {
        let today_utc = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        for (i, f) in FACTS.iter().enumerate() {
            // Scheduled service dates legitimately lie ahead.
            if f.ty != Type::Date || f.path == "service.scheduled" {
                continue;
            }
            let Ok(id) = FactId::try_from(i) else {
                continue;
            };
            let late = match self.when(id) {
                // A calendar day may be a day ahead of UTC in the policy's zone.
                Some(When::Day(d)) => d > today_utc.tomorrow().unwrap_or(today_utc),
                Some(When::Instant(t)) => t > now,
                None => false,
            };
            if late {
                if let Some(w) = self.when(id) {
                    return Err(format!(
                        "`{}` ({}) is after the time of deciding ({now})",
                        f.path,
                        show(w)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every known fact as `(path, value shown)`, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        FACTS.iter().enumerate().filter_map(|(i, f)| {
            let id = FactId::try_from(i).ok()?;
            let shown = match self.when(id) {
                Some(w) => show(w),
                None => self.get(id)?.to_string(),
            };
            Some((f.path, shown))
        })
    }

    /// The facts as a flat JSON object; dates as `YYYY-MM-DD` or RFC 3339.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (i, f) in FACTS.iter().enumerate() {
            let Ok(id) = FactId::try_from(i) else {
                continue;
            };
            let v = match (self.when(id), self.get(id)) {
                (Some(w), _) => serde_json::Value::String(show(w)),
                (None, Some(v)) => value_json(v),
                (None, None) => continue,
            };
            map.insert(f.path.to_string(), v);
        }
        serde_json::Value::Object(map)
    }

    /// Reads facts from JSON: an object, flat (`"order.delivered": "2024-03-01"`) or nested.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, FactsError> {
        let mut facts = Self::new();
        let serde_json::Value::Object(map) = value else {
            return Err(FactsError::new("", "facts must be a JSON object"));
        };
        json_walk(&mut facts, "", map)?;
        facts.validate().map_err(|m| FactsError::new("", m))?;
        Ok(facts)
    }

    /// [`Facts::from_json`] of JSON text, read in one pass: the text's strings are borrowed
    /// where they have no escapes and no JSON tree is built (what-if reads a million stored
    /// facts this way). Fields are read in the text's order.
    pub fn from_json_str(text: &str) -> Result<Self, FactsError> {
        let mut facts = Self::new();
        facts.read_json_str(text)?;
        Ok(facts)
    }

    /// [`Facts::from_json_str`] into these facts, in place of what they held, keeping their
    /// memory: a reader of many facts in turn (what-if) allocates nothing for most of them.
    /// On an error the facts are left empty.
    pub fn read_json_str(&mut self, text: &str) -> Result<(), FactsError> {
        self.clear();
        if flat_json(text, self).is_some() {
            return Ok(());
        }
        self.clear();
        match Self::from_json_text(text) {
            Ok(facts) => {
                *self = facts;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// No fact known, the memory kept.
    fn clear(&mut self) {
        for v in &mut self.values {
            if v.is_some() {
                *v = None;
            }
        }
        self.instants.clear();
    }

    /// [`Facts::from_json_str`] through serde, for any JSON: what the flat reader leaves, and
    /// every error.
    fn from_json_text(text: &str) -> Result<Self, FactsError> {
        let top: Lite<'_> = serde_json::from_str(text).map_err(|e| {
            FactsError::new("", format!("line {} column {}: {e}", e.line(), e.column()))
        })?;
        let Lite::Map(entries) = top else {
            return Err(FactsError::new("", "facts must be a JSON object"));
        };
        let mut facts = Self::new();
        lite_walk(&mut facts, "", &entries)?;
        facts.validate().map_err(|m| FactsError::new("", m))?;
        Ok(facts)
    }

    /// Reads facts from a TOML table whose keys are fact paths (dotted or nested).
    pub fn from_toml_table(src: &Source<'_>, table: &DeTable<'_>) -> Result<Self, Diagnostics> {
        let mut facts = Self::new();
        let mut errors = Vec::new();
        toml_walk(&mut facts, src, "", table, &mut errors);
        if errors.is_empty()
            && let Err(m) = facts.validate()
        {
            errors.push(Diagnostic {
                severity: crate::diag::Severity::Error,
                file: src.name.to_string(),
                line: 1,
                column: 1,
                message: m,
                hint: None,
                snippet: None,
            });
        }
        if errors.is_empty() {
            Ok(facts)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// Reads a TOML facts file; if it has a `[facts]` table (a scenario), reads that.
    pub fn from_toml_str(name: &str, text: &str) -> Result<Self, Diagnostics> {
        let src = Source::new(name, text);
        let doc = parse_toml(&src)?;
        let table = doc.get_ref();
        match table.get("facts").map(|v| v.get_ref()) {
            Some(DeValue::Table(t)) => Self::from_toml_table(&src, t),
            _ => Self::from_toml_table(&src, table),
        }
    }
}

/// Parses TOML text, mapping a syntax error to a located diagnostic.
pub fn parse_toml<'i>(src: &Source<'i>) -> Result<Spanned<DeTable<'i>>, Diagnostics> {
    DeTable::parse(src.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostics(vec![src.error(span, e.message().trim().to_string())])
    })
}

/// A fact error from JSON: the path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactsError {
    pub path: String,
    pub message: String,
}

impl FactsError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FactsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "fact `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FactsError {}

fn lookup(path: &str) -> Result<FactId, String> {
    schema::fact_id(path).ok_or_else(
        || match schema::suggest(path, FACTS.iter().map(|f| f.path)) {
            Some(s) => format!("unknown fact `{path}` (did you mean `{s}`?)"),
            None => format!("unknown fact `{path}`"),
        },
    )
}

fn is_prefix(path: &str) -> bool {
    FACTS.iter().any(|f| {
        f.path.len() > path.len()
            && f.path.starts_with(path)
            && f.path.as_bytes().get(path.len()) == Some(&b'.')
    })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn typed(path: &str, ty: Type, raw: Raw<'_>) -> Result<Value, String> {
    let wrong = |raw: &Raw<'_>| {
        let found = match raw {
            Raw::Bool(_) => "a boolean",
            Raw::Int(_) => "an integer",
            Raw::Float(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Day(_) => "a date",
            Raw::Instant(_) => "a timestamp",
            Raw::List(_) => "a list",
            Raw::Other(s) => s,
        };
        format!("`{path}` must be {}, found {found}", describe(ty))
    };
    Ok(match (ty, raw) {
        (Type::Bool, Raw::Bool(b)) => Value::Bool(b),
        (Type::Int, Raw::Int(n)) => {
            if n < 0 {
                return Err(format!("`{path}` cannot be negative ({n})"));
            }
            Value::Int(n)
        }
        (Type::Fraction, Raw::Float(x)) => {
            Value::Fraction(Fraction::from_f64(x).map_err(|m| format!("`{path}`: {m}"))?)
        }
        (Type::Fraction, Raw::Int(n @ (0 | 1))) => Value::Fraction(Fraction(n as u32 * 1_000_000)),
        (Type::Date, Raw::Day(d)) => Value::Date(d),
        (Type::Date, Raw::Str(s)) => {
            if let Ok(d) = s.parse::<Date>() {
                Value::Date(d)
            } else {
                return Err(format!(
                    "`{path}`: `{s}` is not a date (YYYY-MM-DD) or a timestamp with an offset (2024-03-01T10:00:00+01:00)"
                ));
            }
        }
        (Type::Money, Raw::Str(s)) => {
            let m = Money::parse(s).map_err(|e| format!("`{path}`: {e}"))?;
            if m.minor < 0 {
                return Err(format!("`{path}` cannot be negative ({m})"));
            }
            Value::Money(m)
        }
        (Type::Text, Raw::Str(s)) => Value::Text(Arc::from(s)),
        (Type::Country, Raw::Str(s)) => Value::Country(country(s).ok_or_else(|| {
            format!("`{path}`: `{s}` is not a country code (ISO 3166 alpha-2 capitals, like `BE`)")
        })?),
        (Type::Enum(kind), Raw::Str(s)) => Value::Enum(kind, variant(path, kind, s)?),
        (Type::Set(kind), Raw::List(items)) => {
            let mut bits = 0u64;
            for item in items {
                match item {
                    Raw::Str(s) => bits |= 1u64 << variant(path, kind, s)?,
                    other => return Err(wrong(&other)),
                }
            }
            Value::Set(kind, bits)
        }
        (_, raw) => return Err(wrong(&raw)),
    })
}

fn variant(path: &str, kind: EnumKind, s: &str) -> Result<u8, String> {
    kind.index(s).ok_or_else(|| {
        let hint = schema::hint_among(s, kind.variants());
        format!("`{path}`: `{s}` is not a {} ({hint})", kind.name())
    })
}

fn describe(ty: Type) -> String {
    match ty {
        Type::Bool => "true or false".into(),
        Type::Int => "a whole number".into(),
        Type::Fraction => "a number from 0 to 1".into(),
        Type::Date => "a date (YYYY-MM-DD) or a timestamp with an offset".into(),
        Type::Money => "an amount like \"129.00 EUR\"".into(),
        Type::Country => "a country code like \"BE\"".into(),
        Type::Enum(k) => format!("one of: {}", k.variants().join(", ")),
        Type::Set(k) => format!("a list of: {}", k.variants().join(", ")),
        other => other.to_string(),
    }
}

fn before(a: When, b: When) -> bool {
    match (a, b) {
        (When::Day(x), When::Day(y)) => x < y,
        (When::Instant(x), When::Instant(y)) => x < y,
        // Mixed: compare calendar days in UTC, allowing the day either side.
        (When::Day(x), When::Instant(y)) => {
            x < y
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .yesterday()
                .unwrap_or(x)
        }
        (When::Instant(x), When::Day(y)) => {
            x.to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .tomorrow()
                .unwrap_or(y)
                < y
        }
    }
}

pub fn show(w: When) -> String {
    match w {
        When::Day(d) => d.to_string(),
        When::Instant(t) => t.to_string(),
    }
}

fn value_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Fraction(f) => J::from(f64::from(f.0) / 1_000_000.0),
        Value::Set(k, bits) => J::Array(
            (0..64u8)
                .filter(|i| bits & (1u64 << i) != 0)
                .map(|i| J::String(k.variant(i).to_string()))
                .collect(),
        ),
        other => J::String(other.to_string()),
    }
}

fn json_walk(
    facts: &mut Facts,
    prefix: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), FactsError> {
    use serde_json::Value as J;
    for (key, value) in map {
        let path = join(prefix, key);
        if schema::fact_id(&path).is_none()
            && let J::Object(inner) = value
            && is_prefix(&path)
        {
            json_walk(facts, &path, inner)?;
            continue;
        }
        if value.is_null() {
            // null means "not known", the same as leaving it out.
            lookup(&path).map_err(|m| FactsError::new(&path, m))?;
            continue;
        }
        let ty = schema::fact_id(&path).map(|id| schema::fact(id).ty);
        let raw = match value {
            J::Bool(b) => Raw::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Raw::Int(i),
                None => Raw::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) if ty == Some(Type::Date) => match s.parse::<Timestamp>() {
                Ok(t) => Raw::Instant(t),
                Err(_) => Raw::Str(s),
            },
            J::String(s) => Raw::Str(s),
            J::Array(items) => Raw::List(
                items
                    .iter()
                    .map(|i| match i {
                        J::String(s) => Raw::Str(s),
                        _ => Raw::Other("a non-string list item"),
                    })
                    .collect(),
            ),
            J::Object(_) => Raw::Other("an object"),
            J::Null => Raw::Other("null"),
        };
        facts
            .set(&path, raw)
            .map_err(|m| FactsError::new(&path, m))?;
    }
    Ok(())
}

/// A JSON value as facts read it, its strings borrowed from the text where they can be.
enum Lite<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Lite<'a>>),
    Map(Vec<(Cow<'a, str>, Lite<'a>)>),
}

/// A JSON object key, borrowed where it has no escapes (serde's own `Cow` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::Deserialize<'de> for Lite<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lite<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Lite<'de>, E> {
                Ok(Lite::Null)
            }
            fn visit_none<E>(self) -> Result<Lite<'de>, E> {
                Ok(Lite::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Lite<'de>, E> {
                Ok(Lite::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Lite<'de>, E> {
                Ok(Lite::Int(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Lite<'de>, E> {
                // As serde_json's `as_i64`, then `as_f64`.
                #[allow(clippy::cast_precision_loss, reason = "as serde_json's as_f64")]
                Ok(i64::try_from(n).map_or(Lite::Float(n as f64), Lite::Int))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Lite<'de>, E> {
                Ok(Lite::Float(x))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Lite<'de>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Lite::List(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Lite<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, Lite<'de>>()? {
                    out.push((k, v));
                }
                Ok(Lite::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// [`json_walk`] over [`Lite`] entries.
fn lite_walk(
    facts: &mut Facts,
    prefix: &str,
    entries: &[(Cow<'_, str>, Lite<'_>)],
) -> Result<(), FactsError> {
    for (key, value) in entries {
        let path: Cow<'_, str> = if prefix.is_empty() {
            Cow::Borrowed(key.as_ref())
        } else {
            Cow::Owned(join(prefix, key))
        };
        let id = schema::fact_id(&path);
        if id.is_none()
            && let Lite::Map(inner) = value
            && is_prefix(&path)
        {
            lite_walk(facts, &path, inner)?;
            continue;
        }
        if matches!(value, Lite::Null) {
            // null means "not known", the same as leaving it out.
            lookup(&path).map_err(|m| FactsError::new(&path, m))?;
            continue;
        }
        let raw = lite_raw(value, id.map(|id| schema::fact(id).ty));
        let set = match id {
            Some(id) => facts.set_id(id, &path, raw),
            None => facts.set(&path, raw),
        };
        set.map_err(|m| FactsError::new(&path, m))?;
    }
    Ok(())
}

/// A [`Lite`] value as the fact of type `ty` (if known) takes it.
fn lite_raw<'v>(value: &'v Lite<'_>, ty: Option<Type>) -> Raw<'v> {
    match value {
        Lite::Bool(b) => Raw::Bool(*b),
        Lite::Int(i) => Raw::Int(*i),
        Lite::Float(x) => Raw::Float(*x),
        Lite::Str(s) => str_raw(s, ty),
        Lite::List(items) => Raw::List(
            items
                .iter()
                .map(|i| match i {
                    Lite::Str(s) => Raw::Str(s),
                    _ => Raw::Other("a non-string list item"),
                })
                .collect(),
        ),
        Lite::Map(_) => Raw::Other("an object"),
        Lite::Null => Raw::Other("null"),
    }
}

/// A JSON string as the fact of type `ty` (if known) takes it: a date fact's as a day or an
/// instant where it reads as one.
fn str_raw(s: &str, ty: Option<Type>) -> Raw<'_> {
    if ty != Some(Type::Date) {
        return Raw::Str(s);
    }
    match plain_date(s) {
        Some(d) => Raw::Day(d),
        None => match s.parse::<Timestamp>() {
            Ok(t) => Raw::Instant(t),
            Err(_) => Raw::Str(s),
        },
    }
}

/// Facts as the service stores them, read without serde: one flat object, keys in any order,
/// whose values are `true`, `false`, `null`, whole numbers, strings without escapes, or lists
/// of such strings. Anything else (escapes, nesting, fractions, unknown facts, any error) is
/// `None`, and the general reader runs instead and reports: so this path only ever returns
/// what that one would. What-if reads a million stored facts; through serde, reading them
/// cost as much as deciding them twice.
/// The facts are read into `facts` (empty); on `None` they hold a part of them.
fn flat_json(text: &str, facts: &mut Facts) -> Option<()> {
    let mut s = Scan { text, at: 0 };
    let mut paths = schema::PathGuess::default();
    s.eat(b'{')?;
    if s.eat(b'}').is_none() {
        loop {
            let (id, path) = match s.known_key(&mut paths) {
                Some(known) => known,
                None => {
                    let path = s.string()?;
                    (paths.find(path)?, path)
                }
            };
            s.eat(b':')?;
            // `null` is "not known", as if left out.
            if let Some(raw) = s.value(schema::fact(id).ty)? {
                facts.set_id(id, path, raw).ok()?;
            }
            if s.eat(b',').is_none() {
                s.eat(b'}')?;
                break;
            }
        }
    }
    s.space();
    if s.at != s.text.len() {
        return None;
    }
    facts.validate().ok()
}

/// Where a JSON string's text stops in `b`: the first `"`, `\\` or control character. Eight
/// bytes at a time (a string of stored facts is short, too short for SIMD to pay): in each
/// word, a byte equal to `"` or `\\` becomes zero and zero bytes set their top bit, as a byte
/// below 0x20 does; borrows only spill upwards, so the lowest bit set is the first such byte.
fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & TOPS;
    let mut at = 0;
    while let Some(word) = b.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let w = u64::from_le_bytes(word);
        let hits = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & TOPS);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = b.get(at..)?;
    tail.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| at + p)
}

/// A cursor over JSON text for [`flat_json`]; every method is `None` on what it does not read.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The byte `c`, after any space.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.space();
        (self.bytes().get(self.at) == Some(&c)).then(|| self.at += 1)
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.bytes().get(start..)?;
        let len = string_end(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A key that is one of the paths `paths` expects next, read by comparing them with the
    /// text; on `None` nothing is read.
    fn known_key(&mut self, paths: &mut schema::PathGuess) -> Option<(FactId, &'a str)> {
        self.space();
        if self.bytes().get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let (id, len) = paths.find_quoted(self.bytes().get(start..)?)?;
        let path = self.text.get(start..start + len)?;
        self.at = start + len + 1;
        Some((id, path))
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes().get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A value, as a fact of type `ty` takes it; `null` is `Some(None)`.
    fn value(&mut self, ty: Type) -> Option<Option<Raw<'a>>> {
        self.space();
        Some(Some(match *self.bytes().get(self.at)? {
            b'"' => str_raw(self.string()?, Some(ty)),
            b't' => {
                self.word(b"true")?;
                Raw::Bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                Raw::Bool(false)
            }
            b'n' => {
                self.word(b"null")?;
                return Some(None);
            }
            // No fact is negative, and serde reads `-0` as a fraction: signs are left to it.
            b'0'..=b'9' => {
                let start = self.at;
                while self.bytes().get(self.at).is_some_and(u8::is_ascii_digit) {
                    self.at += 1;
                }
                // A leading zero, or a fraction or exponent: not read here.
                if (self.at - start > 1 && self.bytes().get(start) == Some(&b'0'))
                    || matches!(self.bytes().get(self.at), Some(b'.' | b'e' | b'E'))
                {
                    return None;
                }
                Raw::Int(self.text.get(start..self.at)?.parse().ok()?)
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(b']').is_none() {
                    loop {
                        items.push(Raw::Str(self.string()?));
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
                Raw::List(items)
            }
            _ => return None,
        }))
    }
}

/// Converts a TOML datetime into a day or an instant.
pub fn toml_when(dt: &toml::value::Datetime) -> Result<When, String> {
    match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => Date::new(d.year as i16, d.month as i8, d.day as i8)
            .map(When::Day)
            .map_err(|e| format!("`{dt}` is not a valid date: {e}")),
        (Some(_), Some(_), Some(_)) => dt
            .to_string()
            .parse::<Timestamp>()
            .map(When::Instant)
            .map_err(|e| format!("`{dt}` is not a valid timestamp: {e}")),
        _ => Err(format!(
            "`{dt}` needs a date (2024-03-01) or a date and time with an offset (2024-03-01T10:00:00+01:00)"
        )),
    }
}

fn toml_walk(
    facts: &mut Facts,
    src: &Source<'_>,
    prefix: &str,
    table: &DeTable<'_>,
    errors: &mut Vec<Diagnostic>,
) {
    for (key, value) in table {
        let path = join(prefix, key.get_ref());
        let span = value.span();
        let key_span = key.span();
        if schema::fact_id(&path).is_none()
            && let DeValue::Table(inner) = value.get_ref()
            && is_prefix(&path)
        {
            toml_walk(facts, src, &path, inner, errors);
            continue;
        }
        let raw = match value.get_ref() {
            DeValue::Boolean(b) => Raw::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Raw::Int(n),
                Err(_) => Raw::Other("an integer out of range"),
            },
            DeValue::Float(x) => {
                Raw::Float(x.as_str().replace('_', "").parse().unwrap_or(f64::NAN))
            }
            DeValue::String(s) => Raw::Str(s),
            DeValue::Datetime(dt) => match toml_when(dt) {
                Ok(When::Day(d)) => Raw::Day(d),
                Ok(When::Instant(t)) => Raw::Instant(t),
                Err(m) => {
                    errors.push(src.error(span, format!("`{path}`: {m}")));
                    continue;
                }
            },
            DeValue::Array(items) => Raw::List(
                items
                    .iter()
                    .map(|i| match i.get_ref() {
                        DeValue::String(s) => Raw::Str(s),
                        _ => Raw::Other("a non-string list item"),
                    })
                    .collect(),
            ),
            DeValue::Table(_) => Raw::Other("a table"),
        };
        if let Err(m) = facts.set(&path, raw) {
            let at = if m.starts_with("unknown fact") {
                key_span
            } else {
                span
            };
            let (message, hint) = split_hint(&m);
            errors.push(src.error(at, message).maybe_hint(hint));
        }
    }
}

/// Splits "message (did you mean `x`?)" into the message and the hint.
fn split_hint(m: &str) -> (String, Option<String>) {
    match m.rsplit_once(" (") {
        Some((head, tail)) if tail.ends_with(')') => (
            head.to_string(),
            Some(tail.trim_end_matches(')').to_string()),
        ),
        _ => (m.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> Result<Facts, String> {
        Facts::from_toml_str("f.toml", text).map_err(|d| d.to_string())
    }

    /// The one-pass reading of JSON text and the reading of a JSON tree agree: on every
    /// scenario's facts (as the service stores them), and on escapes, nesting, nulls, numbers
    /// past i64 and errors.
    #[test]
    fn json_text_is_read_as_its_tree_is() {
        let both = |text: &str| {
            let tree = serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|v| Facts::from_json(&v).map_err(|e| e.to_string()))
                .map(|f| f.to_json());
            let one_pass = Facts::from_json_str(text)
                .map_err(|e| e.to_string())
                .map(|f| f.to_json());
            (tree, one_pass)
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/cases");
        let mut seen = 0;
        for seller in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            for file in std::fs::read_dir(seller.path())
                .unwrap()
                .filter_map(Result::ok)
            {
                let text = std::fs::read_to_string(file.path()).unwrap();
                let f = Facts::from_toml_str("s.toml", &text).unwrap();
                let stored = f.to_json().to_string();
                let (tree, one_pass) = both(&stored);
                assert_eq!(tree.as_ref().ok(), Some(&f.to_json()), "{stored}");
                assert_eq!(one_pass, tree, "{stored}");
                seen += 1;
            }
        }
        assert!(seen > 100, "{seen} scenarios");
        for text in [
            r#"{"order": {"delivered": "2024-03-01", "price": "10.00 EUR"}, "product.class": "main"}"#,
            r#"{"problem.reported": "defe\u0063t", "diagnosis.causes": ["dr\u006fp"]}"#,
            r#"{"condition.activated": null, "history.failed_repairs": 2}"#,
            r#"{"history.failed_repairs": 18446744073709551615}"#,
            r#"{"history.failed_repairs": 1.5}"#,
            r#"{"condition.activated": "yes"}"#,
            r#"{"nope": 1}"#,
            r#"{"diagnosis.causes": ["drop", 3]}"#,
            r#"{"order": {"delivered": {"x": 1}}}"#,
            r#"[1, 2]"#,
            r#"{"order.shipped": "2024-03-05", "order.delivered": "2024-03-01"}"#,
        ] {
            let (tree, one_pass) = both(text);
            assert_eq!(one_pass, tree, "{text}");
        }
    }

    /// Stored facts of every scenario, as the service writes them (read once).
    fn stored_texts() -> &'static [String] {
        static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        TEXTS.get_or_init(read_stored_texts)
    }

    fn read_stored_texts() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/cases");
        let mut out = Vec::new();
        for seller in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            for file in std::fs::read_dir(seller.path())
                .unwrap()
                .filter_map(Result::ok)
            {
                let text = std::fs::read_to_string(file.path()).unwrap();
                out.push(
                    Facts::from_toml_str("s.toml", &text)
                        .unwrap()
                        .to_json()
                        .to_string(),
                );
            }
        }
        out
    }

    /// The flat reader's facts, read into fresh ones.
    fn read_flat(text: &str) -> Option<Facts> {
        let mut facts = Facts::new();
        flat_json(text, &mut facts).map(|()| facts)
    }

    /// Facts read in turn into one value are each what a fresh reading gives: nothing of the
    /// facts before is left, whichever reader read them, and an error leaves none.
    #[test]
    fn facts_read_in_turn_into_one_value_keep_nothing_of_the_last() {
        let mut texts: Vec<&str> = stored_texts().iter().map(String::as_str).collect();
        texts.extend([
            // Through serde (an escape), an instant, an error, a fraction.
            r#"{"unit.serial": "A\u0042", "order.date": "2024-03-01T10:00:00+01:00"}"#,
            r#"{"order.date": "2024-03-01T10:00:00+01:00", "claim.date": "2024-03-04"}"#,
            r#"{"order.date": "yesterday"}"#,
            r#"{"service.fraction_delivered": 0.5}"#,
            "{}",
        ]);
        let mut into = Facts::new();
        for (i, text) in texts.iter().enumerate() {
            // Each after the one before, and after the last (the most different).
            for before in [texts[i.saturating_sub(1)], texts[texts.len() - 1 - i]] {
                let _ = into.read_json_str(before);
                let read = into.read_json_str(text).map(|()| into.clone());
                let fresh = Facts::from_json_str(text);
                assert_eq!(read, fresh, "{text} after {before}");
                if fresh.is_err() {
                    assert_eq!(into, Facts::new(), "{text} after {before}");
                }
            }
        }
    }

    /// The flat reader reads stored facts (else what-if gains nothing), and what it reads is
    /// what the general reader reads; what it leaves, it leaves whole.
    #[test]
    fn the_flat_reader_reads_stored_facts_as_the_general_one_does() {
        let (mut flat, mut fractions) = (0, 0);
        for text in stored_texts() {
            match read_flat(text) {
                Some(f) => {
                    assert_eq!(Some(f), Facts::from_json_text(text).ok(), "{text}");
                    flat += 1;
                }
                // A fraction (a service's share delivered) is left to serde.
                None if text.contains("\"service.fraction_delivered\":") => fractions += 1,
                None => panic!("not read flat: {text}"),
            }
        }
        assert!(
            flat > 100 && fractions < flat / 10,
            "{flat} read, {fractions} left"
        );
        for (text, flat) in [
            (
                r#" { "history.failed_repairs" : 2 , "condition.activated":true } "#,
                true,
            ),
            (r#"{}"#, true),
            (
                r#"{"diagnosis.causes": [ ], "condition.activated": null}"#,
                true,
            ),
            (
                r#"{"history.failed_repairs": 1, "history.failed_repairs": 3}"#,
                true,
            ),
            (r#"{"history.failed_repairs": -0}"#, false),
            (r#"{"history.failed_repairs": 01}"#, false),
            (r#"{"history.failed_repairs": 1e2}"#, false),
            (r#"{"history.failed_repairs": 18446744073709551615}"#, false),
            (r#"{"history.failed_repairs": -1}"#, false),
            (r#"{"problem.reported": "defe\u0063t"}"#, false),
            ("{\"unit.serial\": \"A\tB\"}", false),
            (r#"{"order": {"delivered": "2024-03-01"}}"#, false),
            (r#"{"nope": true}"#, false),
            (r#"{"condition.activated": true} x"#, false),
            (r#"{"condition.activated": true,}"#, false),
            (r#"{"diagnosis.causes": ["drop", 3]}"#, false),
            (
                r#"{"order.shipped": "2024-03-05", "order.delivered": "2024-03-01"}"#,
                false,
            ),
        ] {
            assert_eq!(read_flat(text).is_some(), flat, "{text}");
            if let Some(f) = read_flat(text) {
                assert_eq!(Some(f), Facts::from_json_text(text).ok(), "{text}");
            }
        }
    }

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte-at-a-time one finds.
        #[test]
        fn string_end_finds_the_first_quote_backslash_or_control(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    0x20u8..0x7f,
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b'\\'),
                    0u8..0x20,
                    0x7fu8..=0xff,
                ],
                0..40,
            ),
        ) {
            let slow = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            proptest::prop_assert_eq!(string_end(&b), slow);
        }

        /// Stored facts cut, spliced and edited at random: whenever the flat reader reads the
        /// text, the general reader reads the same facts from it.
        #[test]
        fn the_flat_reader_never_disagrees(
            pick in 0usize..1000,
            edits in proptest::collection::vec((0usize..2000, 0usize..4, 0usize..16), 1..4),
        ) {
            const TOKENS: [&str; 16] = [
                " ", "\n", ",", ":", "\"", "\\", "{", "}", "[", "]", "null", "-", "0", "1.5",
                "\"order.delivered\"", "\"2024-02-30\"",
            ];
            let texts = stored_texts();
            let mut text = texts[pick % texts.len()].clone();
            for (at, how, token) in edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match how {
                    0 => text.insert_str(at, TOKENS[token]),
                    1 => {
                        let mut end = (at + token + 1).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    2 => text.truncate(at),
                    _ => text.replace_range(at..at, &TOKENS[token].repeat(2)),
                }
            }
            if let Some(f) = read_flat(&text) {
                proptest::prop_assert_eq!(Some(f), Facts::from_json_text(&text).ok(), "{}", text);
            }
        }
    }

    #[test]
    fn nested_and_dotted_keys_both_name_facts() {
        let f = facts("order.price = \"10.00 EUR\"\n[product]\nclass = \"main\"\n").unwrap();
        let id = schema::fact_id("product.class").unwrap();
        assert_eq!(f.get(id).unwrap().to_string(), "main");
    }

    #[test]
    fn an_unknown_fact_is_located_and_gets_a_suggestion() {
        let e = facts("condition.activatd = true\n").unwrap_err();
        assert!(
            e.starts_with("f.toml:1:11: error: unknown fact `condition.activatd`"),
            "{e}"
        );
        assert!(e.contains("did you mean `condition.activated`?"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_fact_and_what_it_must_be() {
        let e = facts("[condition]\nactivated = \"yes\"\n").unwrap_err();
        assert!(e.contains("f.toml:2:13"), "{e}");
        assert!(
            e.contains("`condition.activated` must be true or false, found a string"),
            "{e}"
        );
        let e = facts("problem.reported = \"broken\"\n").unwrap_err();
        assert!(e.contains("is not a reported problem"), "{e}");
    }

    #[test]
    fn dates_out_of_order_are_refused() {
        let e = facts("order.shipped = 2024-03-05\norder.delivered = 2024-03-01\n").unwrap_err();
        assert!(
            e.contains("`order.delivered` (2024-03-01) is before `order.shipped` (2024-03-05)"),
            "{e}"
        );
    }

    #[test]
    fn a_timestamp_without_offset_is_refused() {
        let e = facts("order.delivered = 2024-03-01T10:00:00\n").unwrap_err();
        assert!(e.contains("with an offset"), "{e}");
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let e =
            facts("order.price = \"10.00 EUR\"\norder.shipping_fee = \"1.00 USD\"\n").unwrap_err();
        assert!(e.contains("one order has one currency"), "{e}");
    }

    #[test]
    fn json_facts_name_the_field() {
        let e = Facts::from_json_str(r#"{"order": {"delivered": "2024-13-01"}}"#).unwrap_err();
        assert_eq!(e.path, "order.delivered");
        let e = Facts::from_json_str(r#"{"nope": 1}"#).unwrap_err();
        assert!(e.message.contains("unknown fact `nope`"));
        let f = Facts::from_json_str(
            r#"{"order.delivered": "2024-03-01T23:30:00Z", "diagnosis": {"causes": ["drop"]}}"#,
        )
        .unwrap();
        let id = schema::fact_id("order.delivered").unwrap();
        assert!(matches!(f.when(id), Some(When::Instant(_))));
    }

    #[test]
    fn facts_round_trip_through_json() {
        let f = facts("order.delivered = 2024-03-01\ndiagnosis.causes = [\"drop\", \"liquid\"]\norder.price = \"10.50 EUR\"\nservice.fraction_delivered = 0.25\n").unwrap();
        let back = Facts::from_json(&f.to_json()).unwrap();
        assert_eq!(f, back);
    }
}

#[cfg(test)]
mod plain_dates {
    use super::plain_date;
    use jiff::civil::Date;

    #[test]
    fn a_plain_date_reads_as_jiff_reads_it() {
        for s in [
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "9999-12-31",
            "2024-2-10",
            "2024-02-1a",
            "2024/02/10",
            "2024-02-10T10:00:00Z",
            "２０２４-02-10",
            "",
        ] {
            let jiff = s.parse::<Date>().ok();
            let ours = plain_date(s);
            if ours.is_some() {
                assert_eq!(ours, jiff, "{s}");
            } else if s.len() == 10 && s.is_ascii() {
                // What the fast path leaves is read by jiff as before; a ten-character ASCII
                // date it refuses, jiff refuses too.
                assert_eq!(jiff, None, "{s}");
            }
        }
    }
}

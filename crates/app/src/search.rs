//! Staff find a case (issue 21): by its number or authorisation number, the order number, the
//! unit's serial, the customer's e-mail, or the start of the customer's name; or every case of
//! one customer. Within the caller's sellers.
//!
//! Each kind of match is its own query on its own index (`cases` by id, `cases_by_authorisation`,
//! `cases_by_order`, `cases_by_serial`; `customers_by_email` and `customers_by_name`, then
//! `cases_by_customer`), each reading at most [`READ`] rows, all in one read transaction. One
//! query with `OR` would leave each database's planner to choose between those indexes and the
//! seller's (a scan of the seller's cases when it guesses wrong); separate lookups cost what
//! they find. The seller filter is applied to the rows found, in Rust, against the policies the
//! caller sees (as [`crate::access::queue`] does in SQL).

use aftercare_domain::case::{CaseKind, State};
use aftercare_store::{Dialect, Row, Store, Val};
use jiff::Timestamp;

use crate::accounts::Principal;
use crate::{AppError, Policies, access};

/// At most this many cases are shown.
pub const SHOWN: usize = 50;
/// At most this many rows are read for each kind of match.
const READ: i64 = 200;
/// A query longer than this is not a number, a serial, an e-mail or a name.
const LONGEST: usize = 200;

/// What to look for.
#[derive(Clone, Debug)]
pub enum Query {
    /// What staff typed.
    Text(String),
    /// Every case of one customer (linked from a case page: no personal data in the URL).
    Customer(i64),
}

/// How a case was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    Case,
    Authorisation,
    Order,
    Serial,
    Email,
    Name,
    Customer,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Case => "case",
            Match::Authorisation => "authorisation",
            Match::Order => "order",
            Match::Serial => "serial",
            Match::Email => "email",
            Match::Name => "name",
            Match::Customer => "customer",
        }
    }
}

/// A case found, as a result list shows it.
#[derive(Clone, Debug)]
pub struct Found {
    pub id: i64,
    pub kind: CaseKind,
    pub state: State,
    pub authorisation: Option<String>,
    pub order_no: Option<String>,
    pub serial: Option<String>,
    pub policy_id: String,
    pub opened_at: Timestamp,
    /// The customer's name, if the case has a customer.
    pub customer: Option<String>,
    pub matched: Match,
}

const COLUMNS: &str = "SELECT c.id, c.kind, c.state, c.authorisation, c.order_no, c.serial, \
     c.policy_id, c.opened_at, u.name FROM cases c LEFT JOIN customers u ON u.id = c.customer_id";

impl Found {
    fn from_row(r: &Row, matched: Match) -> Result<Found, AppError> {
        let bad = |what: &str, e: String| AppError::corrupt(format!("cases.{what}"), e);
        Ok(Found {
            id: r.int(0)?,
            kind: r.str(1)?.parse().map_err(|e: String| bad("kind", e))?,
            state: r.str(2)?.parse().map_err(|e: String| bad("state", e))?,
            authorisation: r.opt_text(3)?,
            order_no: r.opt_text(4)?,
            serial: r.opt_text(5)?,
            policy_id: r.text(6)?,
            opened_at: crate::time::from_micros(r.int(7)?)?,
            customer: r.opt_text(8)?,
            matched,
        })
    }
}

/// The lookups a query makes: what each matches, and its condition and parameters.
fn lookups(q: &Query, dialect: Dialect) -> Vec<(Match, String, Vec<Val>)> {
    let text = match q {
        Query::Customer(id) => {
            return vec![(
                Match::Customer,
                "c.customer_id = ?".into(),
                vec![Val::Int(*id)],
            )];
        }
        Query::Text(t) => t.trim(),
    };
    if text.is_empty() || text.chars().count() > LONGEST {
        return Vec::new();
    }
    let mut out: Vec<(Match, String, Vec<Val>)> = Vec::new();
    if let Ok(id) = text.trim_start_matches('#').parse::<i64>()
        && id > 0
    {
        out.push((Match::Case, "c.id = ?".into(), vec![Val::Int(id)]));
    }
    out.push((
        Match::Authorisation,
        "c.authorisation = ?".into(),
        vec![text.to_uppercase().into()],
    ));
    out.push((Match::Order, "c.order_no = ?".into(), vec![text.into()]));
    out.push((Match::Serial, "c.serial = ?".into(), vec![text.into()]));
    if text.contains('@') {
        out.push((
            Match::Email,
            "c.customer_id IN (SELECT id FROM customers WHERE lower(email) = ?)".into(),
            vec![text.to_lowercase().into()],
        ));
    } else if text.chars().count() >= 2 && !text.chars().all(|c| c.is_ascii_digit()) {
        // The start of a name, lower-cased as each database lower-cases (SQLite: ASCII only).
        let (cond, params) = match dialect {
            Dialect::Sqlite => {
                let start = text.to_ascii_lowercase();
                let end = format!("{start}\u{10FFFF}");
                (
                    format!(
                        "c.customer_id IN (SELECT id FROM customers
                           WHERE lower(name) >= ? AND lower(name) < ? LIMIT {READ})"
                    ),
                    vec![start.into(), end.into()],
                )
            }
            Dialect::Postgres => {
                let escaped = text
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                (
                    format!(
                        "c.customer_id IN (SELECT id FROM customers
                           WHERE lower(name) LIKE ? ESCAPE '\\' LIMIT {READ})"
                    ),
                    vec![format!("{escaped}%").into()],
                )
            }
        };
        out.push((Match::Name, cond, params));
    }
    out
}

/// The cases `who` may see that `q` finds, newest first, at most [`SHOWN`].
pub fn search(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    q: &Query,
) -> Result<Vec<Found>, AppError> {
    let Principal::Staff { sellers, .. } = who else {
        return Err(AppError::Forbidden("searching cases is for staff".into()));
    };
    if !access::may_read_cases(who) {
        return Ok(Vec::new());
    }
    let visible = access::policy_ids(policies, sellers);
    if visible.is_empty() {
        return Ok(Vec::new());
    }
    let lookups = lookups(q, store.dialect());
    if lookups.is_empty() {
        return Ok(Vec::new());
    }
    let statements: Vec<(Match, String, Vec<Val>)> = lookups
        .into_iter()
        .map(|(m, cond, mut params)| {
            params.push(Val::Int(READ));
            (
                m,
                format!("{COLUMNS} WHERE {cond} ORDER BY c.id DESC LIMIT ?"),
                params,
            )
        })
        .collect();
    let answers = store.read(|tx| {
        let batch: Vec<(&str, &[Val])> = statements
            .iter()
            .map(|(_, sql, params)| (sql.as_str(), params.as_slice()))
            .collect();
        tx.query_all(&batch)
    })?;
    let mut found: Vec<Found> = Vec::new();
    for ((matched, ..), rows) in statements.iter().zip(answers) {
        for r in &rows {
            let f = Found::from_row(r, *matched)?;
            if visible.contains(&f.policy_id) && !found.iter().any(|x| x.id == f.id) {
                found.push(f);
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.id));
    found.truncate(SHOWN);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(q: &str) -> Vec<Match> {
        lookups(&Query::Text(q.into()), Dialect::Sqlite)
            .into_iter()
            .map(|(m, ..)| m)
            .collect()
    }

    #[test]
    fn what_is_typed_decides_the_lookups() {
        use Match::*;
        assert_eq!(matches("  "), Vec::<Match>::new());
        assert_eq!(matches(&"x".repeat(201)), Vec::<Match>::new());
        assert_eq!(
            matches("#42"),
            vec![Case, Authorisation, Order, Serial, Name]
        );
        assert_eq!(matches("42"), vec![Case, Authorisation, Order, Serial]);
        assert_eq!(
            matches("li@example.org"),
            vec![Authorisation, Order, Serial, Email]
        );
        assert_eq!(matches("Li"), vec![Authorisation, Order, Serial, Name]);
        assert_eq!(matches("L"), vec![Authorisation, Order, Serial]);
    }

    #[test]
    fn a_name_is_a_prefix_with_its_wildcards_escaped() {
        let l = lookups(&Query::Text("50%_a\\".into()), Dialect::Postgres);
        let (_, _, params) = l.iter().find(|(m, ..)| *m == Match::Name).unwrap();
        assert_eq!(params, &vec![Val::Text("50\\%\\_a\\\\%".into())]);
        let l = lookups(&Query::Text("Wei".into()), Dialect::Sqlite);
        let (_, _, params) = l.iter().find(|(m, ..)| *m == Match::Name).unwrap();
        assert_eq!(
            params,
            &vec![Val::Text("wei".into()), Val::Text("wei\u{10FFFF}".into())]
        );
    }
}

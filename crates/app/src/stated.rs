//! Who may state which fact. Every fact of the schema has its sources
//! (`aftercare_policy::schema::Source`): the seller's records, the service itself, the staff
//! who inspect, receive or review, the customer. A request states only facts its caller's
//! role may state; anything else is refused naming the fact, never dropped in silence. A
//! case remembers who stated each of its facts, so a customer cannot change what staff
//! recorded or corrected.

use aftercare_policy::schema::{self, Source};
use serde_json::{Map, Value as J};

use crate::AppError;
use crate::accounts::{Principal, Role};

/// Who states the facts of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Customer,
    Staff(Role),
    /// The command line on the server's own machine: any staff finding, never what the
    /// records or the service know.
    Operator,
}

impl By {
    pub fn of(who: &Principal) -> By {
        match who {
            Principal::Customer { .. } => By::Customer,
            Principal::Staff { role, .. } => By::Staff(*role),
        }
    }

    /// Whether this caller may state facts of `source`.
    pub fn may_state(self, source: Source) -> bool {
        use Source::{Arrival, Customer, Inspection, Registry, Review, Service};
        match (self, source) {
            (_, Registry | Service) => false,
            (_, Customer) => true,
            (By::Customer, _) => false,
            (By::Operator | By::Staff(Role::Manager | Role::Admin), _) => true,
            (By::Staff(Role::Agent), s) => matches!(s, Arrival | Review),
            (By::Staff(Role::Technician), s) => matches!(s, Arrival | Inspection),
        }
    }

    fn provenance(self) -> Provenance {
        match self {
            By::Customer => Provenance::Customer,
            By::Staff(_) | By::Operator => Provenance::Staff,
        }
    }

    fn name(self) -> &'static str {
        match self {
            By::Customer => "a customer",
            By::Staff(Role::Agent) => "an agent",
            By::Staff(Role::Technician) => "a technician",
            By::Staff(Role::Manager) => "a manager",
            By::Staff(Role::Admin) => "an admin",
            By::Operator => "the command line",
        }
    }
}

/// Who stated one of a case's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    Customer,
    Staff,
    /// A staff correction of the records for this case.
    Correction,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Customer => "customer",
            Provenance::Staff => "staff",
            Provenance::Correction => "correction",
        }
    }

    pub fn parse(s: &str) -> Option<Provenance> {
        [
            Provenance::Customer,
            Provenance::Staff,
            Provenance::Correction,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The schema's definition of a fact named in a request; an unknown name is the caller's
/// mistake, named with a suggestion.
fn def(path: &str) -> Result<&'static schema::FactDef, AppError> {
    schema::fact_id(path).map(schema::fact).ok_or_else(|| {
        let hint = schema::suggest(path, schema::FACTS.iter().map(|f| f.path))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        AppError::invalid(
            format!("facts.{path}"),
            format!("`{path}` is not a fact of the schema{hint}"),
        )
    })
}

/// Checks that `by` may state each of `facts` on a case whose facts were stated as
/// `sources` say; returns who stated them, to be remembered with them.
pub fn check(
    facts: &Map<String, J>,
    by: By,
    sources: &Map<String, J>,
) -> Result<Vec<(String, Provenance)>, AppError> {
    let mut out = Vec::with_capacity(facts.len());
    for path in facts.keys() {
        let d = def(path)?;
        if !d.sources.iter().any(|s| by.may_state(*s)) {
            let from = d.sources.first().copied().unwrap_or(Source::Service);
            return Err(AppError::invalid(
                format!("facts.{path}"),
                format!(
                    "`{path}` comes from {}; {} may not state it",
                    from.who(),
                    by.name()
                ),
            ));
        }
        let earlier = sources
            .get(path)
            .and_then(J::as_str)
            .and_then(Provenance::parse);
        if by == By::Customer && matches!(earlier, Some(Provenance::Staff | Provenance::Correction))
        {
            return Err(AppError::invalid(
                format!("facts.{path}"),
                format!("`{path}` was recorded by staff; ask them if it is wrong"),
            ));
        }
        out.push((path.clone(), by.provenance()));
    }
    Ok(out)
}

/// Checks a registry correction: only facts of the records, by managers and admins (or the
/// command line).
pub fn check_correction(facts: &Map<String, J>, by: By) -> Result<(), AppError> {
    if !matches!(by, By::Operator | By::Staff(Role::Manager | Role::Admin)) {
        return Err(AppError::Forbidden(
            "only managers and admins correct the records".into(),
        ));
    }
    if facts.is_empty() {
        return Err(AppError::invalid("facts", "name the facts to correct"));
    }
    for path in facts.keys() {
        let d = def(path)?;
        if !d.stated_by(Source::Registry) {
            return Err(AppError::invalid(
                format!("facts.{path}"),
                format!(
                    "`{path}` is not a fact of the seller's records; it comes from {}",
                    d.sources.first().copied().unwrap_or(Source::Service).who()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(v: J) -> Map<String, J> {
        match v {
            J::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_customer_states_what_they_know_and_nothing_the_records_or_the_service_know() {
        let none = Map::new();
        assert!(
            check(
                &facts(json!({"problem.reported": "defect"})),
                By::Customer,
                &none
            )
            .is_ok()
        );
        for forged in [
            json!({"order.delivered": "2026-01-01"}),
            json!({"order.price": "9999.00 CNY"}),
            json!({"buyer.country": "DE"}),
            json!({"evidence.photos": ["outer_box"]}),
            json!({"return.received": "2026-01-01T00:00:00Z"}),
            json!({"diagnosis.causes": ["manufacturing"]}),
        ] {
            let path = forged.as_object().and_then(|m| m.keys().next().cloned());
            match check(&facts(forged), By::Customer, &none) {
                Err(AppError::Invalid { field, .. }) => {
                    assert_eq!(Some(field), path.map(|p| format!("facts.{p}")));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn staff_state_their_own_findings_by_role() {
        let none = Map::new();
        let diagnosis = facts(json!({"diagnosis.causes": ["drop"]}));
        assert!(check(&diagnosis, By::Staff(Role::Technician), &none).is_ok());
        assert!(check(&diagnosis, By::Staff(Role::Agent), &none).is_err());
        let fraud = facts(json!({"abuse.suspected_fraud": true}));
        assert!(check(&fraud, By::Staff(Role::Agent), &none).is_ok());
        assert!(check(&fraud, By::Staff(Role::Technician), &none).is_err());
        let soaked = facts(json!({"arrival.soaked": true}));
        for role in Role::ALL {
            assert!(check(&soaked, By::Staff(role), &none).is_ok(), "{role:?}");
        }
        for by in [By::Operator, By::Staff(Role::Admin)] {
            assert!(check(&facts(json!({"order.delivered": "2026-01-01"})), by, &none).is_err());
            assert!(check(&facts(json!({"claim.date": "2026-01-01"})), by, &none).is_err());
        }
    }

    #[test]
    fn a_customer_cannot_change_what_staff_recorded() {
        let sources = facts(json!({"condition.activated": "staff"}));
        let said = facts(json!({"condition.activated": false}));
        assert!(check(&said, By::Customer, &sources).is_err());
        assert!(check(&said, By::Staff(Role::Agent), &sources).is_ok());
        let own = facts(json!({"condition.activated": "customer"}));
        assert!(check(&said, By::Customer, &own).is_ok());
    }

    #[test]
    fn an_unknown_fact_is_named_with_a_suggestion() {
        match check(
            &facts(json!({"condition.activatd": true})),
            By::Customer,
            &Map::new(),
        ) {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "facts.condition.activatd");
                assert!(message.contains("condition.activated"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrections_are_for_the_records_and_for_managers() {
        let delivered = facts(json!({"order.delivered": "2026-01-01"}));
        assert!(check_correction(&delivered, By::Staff(Role::Manager)).is_ok());
        assert!(check_correction(&delivered, By::Staff(Role::Agent)).is_err());
        assert!(check_correction(&facts(json!({"evidence.photos": []})), By::Operator).is_err());
    }
}

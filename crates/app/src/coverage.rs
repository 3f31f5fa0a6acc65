//! The public warranty look-up by serial: what a unit's warranty covers and until when, as the
//! policy its SKU names decides it today (with the mandatory law that binds the seller), and
//! the parts and replacements on record. Anyone holding a serial may ask, so nothing personal
//! is in it: no order, customer, country, price or case.

use aftercare_policy::decide::Assessment;
use aftercare_policy::model::Kind;
use aftercare_policy::schema::EnumKind;
use aftercare_store::{Store, Val};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::facts::{Subject, from_registry};
use crate::{AppError, Policies};

/// A unit's warranty, for anyone holding its serial.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coverage {
    pub serial: String,
    /// The product's name in the seller's catalogue.
    pub product: String,
    /// Its product class (`main`, `accessory`…).
    pub class: String,
    pub policy: PolicyRef,
    /// The day the coverage is judged on (today in the policy's zone).
    pub today: Date,
    /// Each warranty component of the seller's policy and of the law that binds it.
    pub components: Vec<Component>,
    /// Parts fitted in repairs, each with its own warranty end.
    pub parts: Vec<Part>,
    /// The unit this one replaced, and the one that replaced it.
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyRef {
    pub id: String,
    pub version: String,
    pub title: String,
}

/// One warranty component: a line of the policy's (or a law's) warranty table.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Component {
    pub name: String,
    /// The policy or law layer it comes from.
    pub from: String,
    /// Whether it is a law's (a legal guarantee) rather than the seller's own.
    pub by_law: bool,
    /// This component covers the unit's own product class.
    pub this_item: bool,
    pub covered: bool,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub in_warranty: Option<bool>,
    /// What started it: `invoice`, `delivery`, `shipment`, `registry`…
    pub basis: Option<String>,
    /// The clause that sets it, by the document's own number, with its title.
    pub clause: String,
    pub clause_title: String,
    /// The clause's title in other languages, by language tag (`zh-CN`), where the policy
    /// gives them.
    pub clause_titles: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Part {
    pub part: String,
    pub installed_on: String,
    pub warranty_until: String,
}

/// The coverage of `serial` at `now`.
pub fn coverage(
    store: &mut Store,
    policies: &Policies,
    serial: &str,
    now: Timestamp,
) -> Result<Coverage, AppError> {
    store.read(|tx| -> Result<Coverage, AppError> {
        let unit = tx
            .query_opt(
                "SELECT k.name, k.class, u.replaces, u.sku,
                   (SELECT r.serial FROM units r WHERE r.replaces = u.serial ORDER BY r.serial LIMIT 1)
                 FROM units u JOIN skus k ON k.code = u.sku WHERE u.serial = ?",
                &[serial.into()],
            )?
            .ok_or_else(|| AppError::not_found("serial", serial))?;
        let subject = Subject {
            serial: Some(serial.to_string()),
            ..Subject::default()
        };
        let facts_json = from_registry(tx, &subject)?;
        let country = facts_json
            .get("buyer.country")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let policy_id = tx
            .query_text(
                "SELECT COALESCE(p.policy_id, k.policy_id) FROM skus k
                 LEFT JOIN sku_policies p ON p.sku = k.code AND p.country = ?
                 WHERE k.code = ?",
                &[country.into(), unit.text(3)?.into()],
            )?
            .ok_or_else(|| AppError::corrupt("skus", format!("no policy for serial `{serial}`")))?;
        let policy = policies.select(&policy_id, &facts_json, now)?;
        let facts = aftercare_policy::Facts::from_json(&serde_json::Value::Object(facts_json))
            .map_err(|e| AppError::corrupt(format!("registry facts.{}", e.path), e.message))?;
        let decision = aftercare_policy::decide(policy, &facts, now);
        let components = decision
            .warranty
            .iter()
            .filter_map(|a| component(&decision, a))
            .collect();
        let parts = tx
            .query(
                "SELECT part, installed_on, warranty_until FROM unit_parts WHERE serial = ? ORDER BY id",
                &[Val::from(serial)],
            )?
            .iter()
            .map(|r| {
                Ok(Part {
                    part: r.text(0)?,
                    installed_on: r.text(1)?,
                    warranty_until: r.text(2)?,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(Coverage {
            serial: serial.to_string(),
            product: unit.text(0)?,
            class: unit.text(1)?,
            policy: PolicyRef {
                id: policy.id.clone(),
                version: policy.version.clone(),
                title: policy.title.clone(),
            },
            today: decision.today,
            components,
            parts,
            replaces: unit.opt_text(2)?,
            replaced_by: unit.opt_text(4)?,
        })
    })
}

fn component(d: &aftercare_policy::Decision<'_>, a: &Assessment) -> Option<Component> {
    let p = d.layer_policy(a.layer)?;
    let w = p.warranty.as_ref()?;
    let c = w.components.get(usize::from(a.component))?;
    let starts = c.start.as_deref().unwrap_or(&w.start);
    let clause = p.clause(c.clause)?;
    Some(Component {
        name: c.name.clone(),
        from: p.id.clone(),
        by_law: p.kind == Kind::Law,
        this_item: a.claimed,
        covered: a.covered,
        start: a.start,
        end: a.end,
        in_warranty: a.in_warranty,
        basis: a
            .start_rule
            .and_then(|i| starts.get(usize::from(i)))
            .map(|s| EnumKind::Basis.variant(s.basis).to_string()),
        clause: clause.id.clone(),
        clause_title: clause.title.clone(),
        clause_titles: clause.titles.iter().cloned().collect(),
    })
}

//! `/api/v1/policies`: the policies and law layers loaded, each with its clauses, and what a
//! policy decides for facts a caller gives.

use aftercare_app::policies::Explained;
use aftercare_policy::Policy;
use aftercare_policy::model::Kind;
use axum::extract::State;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::extract::{Json, Path};
use crate::problem::Problem;

/// A policy or law layer, in brief.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicySummary {
    pub id: String,
    /// `seller` or `law`.
    pub kind: &'static str,
    pub title: String,
    pub seller: Option<String>,
    pub version: String,
    pub effective_from: Date,
    pub effective_to: Option<Date>,
    pub jurisdiction: String,
    pub time_zone: String,
    pub currency: String,
    /// The law layers a seller policy names.
    pub law: Vec<String>,
    /// SHA-256 of the file that decides: the same text decides the same way.
    pub hash: String,
}

/// A policy with its document's clauses, the values it leaves open and its named definitions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyDocument {
    #[serde(flatten)]
    pub summary: PolicySummary,
    pub clauses: Vec<ClauseDoc>,
    pub params: Vec<ParamDoc>,
    pub definitions: Vec<DefinitionDoc>,
    pub rules: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClauseDoc {
    pub id: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParamDoc {
    pub name: String,
    pub value: String,
    /// Whether the document states it (else it is a default the file chose, see `note`).
    pub stated: bool,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DefinitionDoc {
    pub name: String,
    pub means: String,
}

fn summary(p: &Policy) -> PolicySummary {
    PolicySummary {
        id: p.id.clone(),
        kind: match p.kind {
            Kind::Seller => "seller",
            Kind::Law => "law",
        },
        title: p.title.clone(),
        seller: p.seller.clone(),
        version: p.version.clone(),
        effective_from: p.effective_from,
        effective_to: p.effective_to,
        jurisdiction: p.jurisdiction.clone(),
        time_zone: p.time_zone.clone(),
        currency: p.currency.as_str().to_string(),
        law: p.law_ids.clone(),
        hash: p.hash.clone(),
    }
}

/// Every policy and law layer loaded, every version.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, description = "the policies", body = [PolicySummary])))]
pub async fn list(State(state): State<AppState>) -> axum::Json<Vec<PolicySummary>> {
    axum::Json(state.policies().all().map(|p| summary(p)).collect())
}

/// A policy (its latest version) with its clauses, open values and definitions.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "the policy's id, like `imkey` or `eu-consumer`")),
    responses(
        (status = 200, description = "the policy", body = PolicyDocument),
        (status = 404, description = "no such policy", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<PolicyDocument>, Problem> {
    let policies = state.policies();
    let p = policies
        .all()
        .filter(|p| p.id == id)
        .max_by_key(|p| p.effective_from)
        .ok_or_else(|| Problem::not_found(format!("no policy `{id}`")))?;
    Ok(axum::Json(PolicyDocument {
        summary: summary(p),
        clauses: p
            .clauses
            .iter()
            .map(|c| ClauseDoc {
                id: c.id.clone(),
                title: c.title.clone(),
                text: c.text.clone(),
            })
            .collect(),
        params: p
            .params
            .iter()
            .map(|x| ParamDoc {
                name: x.name.clone(),
                value: x.value.to_string(),
                stated: x.stated,
                note: x.note.clone(),
            })
            .collect(),
        definitions: p
            .defines
            .iter()
            .map(|d| DefinitionDoc {
                name: d.name.clone(),
                means: d.text.clone(),
            })
            .collect(),
        rules: p.rules.len(),
    }))
}

/// Facts to decide, and when.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// Facts by their dotted path (`{"order.delivered": "2024-03-01", "product.class":
    /// "main"}`); see the fact table of the policy language. Facts not given are unknown.
    #[schema(value_type = Object)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// When to decide: an RFC 3339 timestamp, or a date (the start of that day in the
    /// policy's zone); default now.
    pub now: Option<String>,
}

/// What a seller policy decides for these facts, with the clauses that decide it. Nothing is
/// stored.
#[utoipa::path(post, path = "/api/v1/policies/{id}/explain", tag = "policies",
    params(("id" = String, Path, description = "a seller policy's id")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "the decision", body = Explained),
        (status = 404, description = "no such seller policy", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "a fact or `now` is wrong; `field` names it", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn explain(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<ExplainRequest>,
) -> Result<axum::Json<Explained>, Problem> {
    let policies = state.policies();
    let now = match &req.now {
        None => state.now(),
        Some(s) => {
            let when =
                aftercare_policy::facts::When::parse(s).map_err(|e| Problem::invalid("now", e))?;
            let zone = policies
                .get(&id)
                .map_err(|_| Problem::not_found(format!("no seller policy `{id}`")))?
                .tz()
                .clone();
            when.at(&zone)
                .ok_or_else(|| Problem::invalid("now", format!("`{s}` is out of range")))?
        }
    };
    // Pure computation, but not a trivial one: off the async threads.
    let explained = tokio::task::spawn_blocking(move || policies.explain(&id, &req.facts, now))
        .await
        .map_err(|e| Problem::internal(&e))??;
    Ok(axum::Json(explained))
}

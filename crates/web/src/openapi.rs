//! The OpenAPI 3.1 document, generated from the handlers' annotations and the types they
//! take and return, served at `/api/openapi.json`.

use utoipa::OpenApi;

use crate::routes;

#[derive(Debug, OpenApi)]
#[openapi(
    modifiers(&ProblemsEverywhere),
    components(schemas(
        crate::problem::Problem,
        crate::routes::evidence::PhotoKind,
        aftercare_domain::case::CaseKind,
        aftercare_domain::case::State,
        aftercare_domain::case::Action,
    )),
    info(
        title = "Aftercare API",
        description = "After-sales service: sellers' warranty, return and repair documents as executable policies; decisions that cite the documents' own clauses; cases through their life.",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::metrics,
        routes::warranty::lookup,
        routes::policies::list,
        routes::policies::read,
        routes::policies::explain,
        routes::session::sign_in,
        routes::session::sign_out,
        routes::session::me,
        routes::session::request_link,
        routes::session::redeem,
        routes::cases::list,
        routes::cases::open,
        routes::cases::read,
        routes::cases::transition,
        routes::cases::decide,
        routes::cases::correct,
        routes::cases::repair_report,
        routes::evidence::attach,
        routes::evidence::list,
        routes::evidence::download,
        routes::money::record,
        routes::money::paid,
        routes::admin::export,
        routes::admin::erase,
        routes::admin::import,
        routes::admin::verify,
        routes::webhooks::create,
        routes::webhooks::list,
        routes::webhooks::disable,
        routes::webhooks::deliveries,
        routes::webhooks::redeliver,
    ),
    tags(
        (name = "warranty", description = "Public warranty look-up by serial"),
        (name = "policies", description = "The policies and law layers, and what they decide"),
        (name = "cases", description = "Cases through their life, within what the caller sees"),
        (name = "accounts", description = "Signing in: staff with a password, customers with a link"),
        (name = "evidence", description = "Photos attached to a case, re-encoded, served as attachments"),
        (name = "refunds", description = "Refunds: recorded once, never over what was paid"),
        (name = "customers", description = "Personal data: export and erasure"),
        (name = "registry", description = "SKUs, customers, units, orders, invoices, shipments"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "webhooks", description = "Case events posted to subscribed URLs, signed, retried, logged"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// Every operation may answer with a problem document for what it does not list one by one
/// (a malformed body, a wrong media type, a path value out of range, too many requests…):
/// a `default` response says so.
#[derive(Debug)]
struct ProblemsEverywhere;

impl utoipa::Modify for ProblemsEverywhere {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = ResponseBuilder::new()
            .description("any other outcome: an RFC 9457 problem document")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("default".to_string())
                    .or_insert_with(|| problem.clone().into());
            }
        }
    }
}

/// `GET /api/openapi.json`
pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

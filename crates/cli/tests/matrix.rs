//! The role matrix: every route of the server (as `aftercare_web::routes()` lists them) ×
//! every kind of caller × an object that belongs to someone else (another customer's case,
//! another seller's case). No caller gets a 2xx for what is not theirs, and no 2xx body
//! carries a field of the foreign object. A route the matrix does not classify fails it, so a
//! new route cannot go untested.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use support::{Server, customer_sign_in, databases, open_case, root, run, sign_in, staff};

/// How a route may answer a caller about an object that is not theirs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    /// Open to anyone; never returns personal data.
    Public,
    /// Signs in or out: open to anyone, grants nothing without valid credentials.
    SignIn,
    /// Needs credentials; answers about the caller only.
    Caller,
    /// Lists what the caller sees: a 2xx that must not include the foreign object.
    List,
    /// Acts on the foreign object (path or body names it): never a 2xx.
    Foreign,
}

fn classify(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        ("GET", "/" | "/warranty" | "/assets/{file}") => Public,
        ("GET" | "POST", "/portal/sign-in") => SignIn,
        ("POST", "/portal/session" | "/portal/sign-out") => SignIn,
        ("GET", "/portal") => List,
        ("GET" | "POST", "/desk/sign-in") | ("POST", "/desk/sign-out") => SignIn,
        ("GET", "/desk" | "/desk/search" | "/desk/reports" | "/desk/reports/{file}") => List,
        ("GET", "/portal/cases/{id}") | ("POST", "/portal/cases/{id}/move") => Foreign,
        ("GET", "/portal/cases/{id}/slip") | ("POST", "/portal/cases/{id}/photos") => Foreign,
        ("GET" | "POST", "/portal/start") => List,
        ("GET", "/desk/cases/{id}") => Foreign,
        ("POST", "/desk/cases/{id}/move" | "/desk/cases/{id}/what-if") => Foreign,
        ("POST", "/desk/cases/{id}/repair") => Foreign,
        ("POST", "/desk/cases/{id}/photos" | "/desk/cases/{id}/scenario") => Foreign,
        // The policy studio: the list shows the caller's sellers' policies; every page of a
        // policy, its draft, what-if and versions names the foreign seller's.
        ("GET", "/desk/policies" | "/desk/policies/new") => List,
        // A new policy for a seller: the studio test tries another seller's name in the form.
        ("POST", "/desk/policies/new") => Foreign,
        ("GET" | "POST", "/desk/policies/{id}/draft") => Foreign,
        ("GET", "/desk/policies/{id}" | "/desk/policies/{id}/compare") => Foreign,
        ("POST", "/desk/policies/{id}/what-if" | "/desk/policies/{id}/what-if/{job}/stop") => {
            Foreign
        }
        ("GET", "/desk/policies/{id}/what-if/{job}") => Foreign,
        ("GET", "/healthz" | "/readyz" | "/api/openapi.json") => Public,
        ("GET", "/api/v1/warranty/{serial}") => Public,
        ("GET", "/api/v1/policies" | "/api/v1/policies/{id}") => Public,
        ("POST", "/api/v1/policies/{id}/explain") => Public,
        ("POST" | "DELETE", "/api/v1/session") => SignIn,
        ("POST", "/api/v1/customer/sign-in-links" | "/api/v1/customer/session") => SignIn,
        ("GET", "/api/v1/me") => Caller,
        ("GET", "/api/v1/cases") => List,
        ("POST", "/api/v1/cases") => Foreign,
        ("GET", "/api/v1/cases/{id}") => Foreign,
        ("POST", "/api/v1/cases/{id}/transitions" | "/api/v1/cases/{id}/decide") => Foreign,
        ("POST", "/api/v1/cases/{id}/corrections" | "/api/v1/cases/{id}/repair-report") => Foreign,
        ("POST", "/api/v1/refunds" | "/api/v1/refunds/{id}/paid") => Foreign,
        ("GET", "/api/v1/customers/{ref}") => Foreign,
        ("GET" | "POST", "/api/v1/cases/{id}/evidence") => Foreign,
        ("GET", "/api/v1/evidence/{id}") => Foreign,
        ("POST", "/api/v1/customers/{ref}/erase") => Foreign,
        // Only an admin of every seller (metrics: only their token); no caller of the matrix
        // is one.
        ("POST", "/api/v1/registry") | ("GET", "/api/v1/audit/verify" | "/metrics") => Foreign,
        ("GET", "/api/v1/webhooks") => List,
        ("POST", "/api/v1/webhooks") => Foreign,
        ("DELETE", "/api/v1/webhooks/{id}") => Foreign,
        ("GET", "/api/v1/webhooks/{id}/deliveries") => Foreign,
        ("POST", "/api/v1/webhook-deliveries/{id}/redeliver") => Foreign,
        _ => return None,
    })
}

/// A caller: its name, the headers it sends, and the foreign case it must not reach.
struct Who {
    name: &'static str,
    headers: Vec<(String, String)>,
    /// (case id, order, serial, customer name, customer e-mail) of someone else's case.
    foreign: Foreign,
}

#[derive(Clone)]
struct Foreign {
    case: i64,
    refund: i64,
    photo: i64,
    webhook: i64,
    delivery: i64,
    seller: &'static str,
    /// The seller's policy (the studio's pages name it).
    policy: &'static str,
    hook_url: &'static str,
    customer: &'static str,
    order: &'static str,
    serial: &'static str,
    name: &'static str,
    email: &'static str,
}

#[test]
fn no_caller_reaches_what_is_not_theirs_on_any_route() {
    for db in databases() {
        let mail = std::env::temp_dir().join(format!(
            "aftercare_matrix_mail_{}_{}",
            std::process::id(),
            db.name
        ));
        let _ = std::fs::remove_dir_all(&mail);
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "agent@imask.test", "agent", "IMASK");
        staff(&db.url, "tech@imask.test", "technician", "IMASK");
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        staff(&db.url, "agent@cryptki.test", "agent", "CryptKi");
        let out = run(
            &db.url,
            &[
                "token",
                "create",
                "--email",
                "agent@imask.test",
                "--name",
                "reader",
                "--scope",
                "cases:read",
            ],
        );
        let reader_token = out.lines().nth(1).unwrap().to_string();
        let s = Server::start_with(&db.url, &["--mail-dir", mail.to_str().unwrap()]);

        let imask_agent = sign_in(&s, "agent@imask.test");
        let cryptki_agent = sign_in(&s, "agent@cryptki.test");
        // One IMASK case (customer Li Wei's order) and one CryptKi case (Erika Mustermann's).
        let imask_case = open_case(&s, &imask_agent, "IMA-0001", "SO-IMA-1");
        let cryptki_case = open_case(&s, &cryptki_agent, "CRK-0001", "SO-CRK-1");
        let li = customer_sign_in(&s, &mail, "SO-IMA-1", "li@example.org");

        // One refund on each order, recorded by an admin of every seller.
        staff(&db.url, "admin@all.test", "admin", "*");
        let admin = sign_in(&s, "admin@all.test");
        let refund = |order: &str| {
            let h: Vec<(&str, &str)> = admin
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = s.send(
                "POST",
                "/api/v1/refunds",
                &h,
                Some(&format!(
                    r#"{{"order_no": "{order}", "amount": "1.00 {}", "key": "matrix-{order}"}}"#,
                    if order == "SO-CRK-1" { "EUR" } else { "CNY" }
                )),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        };
        let (cryptki_refund, imask_refund) = (refund("SO-CRK-1"), refund("SO-IMA-1"));
        // One photo on each case, by its own seller's agent.
        let jpeg = {
            let img =
                image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 0]));
            let mut c = std::io::Cursor::new(Vec::new());
            img.write_to(&mut c, image::ImageFormat::Jpeg).unwrap();
            c.into_inner()
        };
        let photo = |who: &[(String, String)], case: i64| {
            let h: Vec<(&str, &str)> = who.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = support::request(
                &s.addr,
                "POST",
                &format!("/api/v1/cases/{case}/evidence?kind=product"),
                &h,
                Some(&jpeg),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["photo"]["id"].as_i64().unwrap()
        };
        let (cryptki_photo, imask_photo) = (
            photo(&cryptki_agent, cryptki_case),
            photo(&imask_agent, imask_case),
        );
        // One webhook for each seller, by the admin, with one delivery each (a decision).
        let hook = |seller: &str, case: i64| {
            let h: Vec<(&str, &str)> = admin
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = s.send(
                "POST",
                "/api/v1/webhooks",
                &h,
                Some(&format!(
                    r#"{{"seller": "{seller}", "url": "http://127.0.0.1:9/hook-{seller}", "events": ["*"]}}"#
                )),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            let id = r.json()["id"].as_i64().unwrap();
            let r = s.send(
                "POST",
                &format!("/api/v1/cases/{case}/decide"),
                &h,
                Some("{}"),
            );
            assert_eq!(r.status, 200, "{}", r.text());
            let r = s.send(
                "GET",
                &format!("/api/v1/webhooks/{id}/deliveries"),
                &h,
                None,
            );
            assert_eq!(r.status, 200, "{}", r.text());
            (id, r.json()[0]["id"].as_i64().unwrap())
        };
        let (cryptki_hook, cryptki_delivery) = hook("CryptKi", cryptki_case);
        let (imask_hook, imask_delivery) = hook("IMASK", imask_case);
        let cryptki_foreign = Foreign {
            case: cryptki_case,
            refund: cryptki_refund,
            photo: cryptki_photo,
            webhook: cryptki_hook,
            delivery: cryptki_delivery,
            seller: "CryptKi",
            policy: "cryptki",
            hook_url: "http://127.0.0.1:9/hook-CryptKi",
            customer: "cust-de",
            order: "SO-CRK-1",
            serial: "CRK-0001",
            name: "Erika Mustermann",
            email: "erika@example.org",
        };
        let imask_foreign = Foreign {
            case: imask_case,
            refund: imask_refund,
            photo: imask_photo,
            webhook: imask_hook,
            delivery: imask_delivery,
            seller: "IMASK",
            policy: "imask",
            hook_url: "http://127.0.0.1:9/hook-IMASK",
            customer: "cust-cn",
            order: "SO-IMA-1",
            serial: "IMA-0001",
            name: "Li Wei",
            email: "li@example.org",
        };
        let callers = vec![
            Who {
                name: "anonymous",
                headers: vec![],
                foreign: imask_foreign.clone(),
            },
            Who {
                name: "customer Li Wei",
                headers: li,
                foreign: cryptki_foreign.clone(),
            },
            Who {
                name: "IMASK agent",
                headers: imask_agent,
                foreign: cryptki_foreign.clone(),
            },
            Who {
                name: "IMASK technician",
                headers: sign_in(&s, "tech@imask.test"),
                foreign: cryptki_foreign.clone(),
            },
            Who {
                name: "IMASK manager",
                headers: sign_in(&s, "manager@imask.test"),
                foreign: cryptki_foreign.clone(),
            },
            Who {
                name: "IMASK read-only token",
                headers: vec![("Authorization".into(), format!("Bearer {reader_token}"))],
                foreign: cryptki_foreign.clone(),
            },
            Who {
                name: "CryptKi agent",
                headers: cryptki_agent,
                foreign: imask_foreign.clone(),
            },
        ];

        let mut unclassified = Vec::new();
        let mut checked = 0;
        for route in aftercare_web::routes() {
            for method in route.methods {
                let Some(access) = classify(method, route.path) else {
                    unclassified.push(format!("{method} {}", route.path));
                    continue;
                };
                for who in &callers {
                    let f = &who.foreign;
                    let id = if route.path.starts_with("/api/v1/policies") {
                        "imask".to_string()
                    } else if route.path.starts_with("/desk/policies") {
                        f.policy.to_string()
                    } else if route.path.starts_with("/api/v1/refunds") {
                        f.refund.to_string()
                    } else if route.path.starts_with("/api/v1/evidence") {
                        f.photo.to_string()
                    } else if route.path.starts_with("/api/v1/webhooks") {
                        f.webhook.to_string()
                    } else if route.path.starts_with("/api/v1/webhook-deliveries") {
                        f.delivery.to_string()
                    } else {
                        f.case.to_string()
                    };
                    let path = route
                        .path
                        .replace("{id}", &id)
                        .replace("{serial}", f.serial)
                        .replace("{ref}", f.customer)
                        .replace(
                            "{file}",
                            // Of the reports' CSVs, the refunds (the foreign order was refunded).
                            if route.path.starts_with("/desk/reports") {
                                "refunds.csv"
                            } else {
                                "app.css"
                            },
                        )
                        .replace("{job}", "0");
                    // The search is asked for the foreign order by its number.
                    let path = if route.path == "/desk/search" {
                        format!("{path}?q={}", f.order)
                    } else {
                        path
                    };
                    let body = match (*method, route.path) {
                        ("POST", "/api/v1/cases") => Some(format!(
                            r#"{{"kind": "warranty_service", "serial": "{}", "order_no": "{}", "facts": {{}}}}"#,
                            f.serial, f.order
                        )),
                        ("POST", "/api/v1/cases/{id}/transitions") => {
                            Some(r#"{"action": "submit"}"#.to_string())
                        }
                        ("POST", "/api/v1/session") => Some(
                            r#"{"email": "agent@imask.test", "password": "not the password"}"#
                                .to_string(),
                        ),
                        ("POST", "/api/v1/customer/sign-in-links") => Some(format!(
                            r#"{{"order_no": "{}", "email": "someone@example.org"}}"#,
                            f.order
                        )),
                        ("POST", "/api/v1/customer/session") => {
                            Some(r#"{"token": "0000"}"#.to_string())
                        }
                        ("POST", "/api/v1/policies/{id}/explain") => {
                            Some(r#"{"facts": {}}"#.to_string())
                        }
                        ("POST", "/api/v1/refunds") => Some(format!(
                            r#"{{"order_no": "{}", "amount": "1.00 EUR", "key": "x"}}"#,
                            f.order
                        )),
                        ("POST", "/api/v1/registry") => Some(
                            std::fs::read_to_string(root().join("examples/registry.json")).unwrap(),
                        ),
                        ("POST", "/api/v1/webhooks") => Some(format!(
                            r#"{{"seller": "{}", "url": "http://127.0.0.1:9/x", "events": ["*"]}}"#,
                            f.seller
                        )),
                        ("POST", _) => Some("{}".to_string()),
                        _ => None,
                    };
                    // Never sign the caller out in the middle of the matrix.
                    let headers: Vec<(&str, &str)> = if (route.path == "/api/v1/session"
                        && *method == "DELETE")
                        || route.path == "/portal/sign-out"
                        || route.path == "/desk/sign-out"
                    {
                        vec![]
                    } else {
                        who.headers
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect()
                    };
                    let r = if route.path == "/api/v1/cases/{id}/evidence" && *method == "POST" {
                        support::request(
                            &s.addr,
                            "POST",
                            &format!("{path}?kind=product"),
                            &headers,
                            Some(&jpeg),
                        )
                    } else {
                        s.send(method, &path, &headers, body.as_deref())
                    };
                    let ok = (200..300).contains(&r.status);
                    let what = format!("{} → {method} {path}: {} {}", who.name, r.status, r.text());
                    assert!(r.status < 500, "{what}");
                    match access {
                        Access::Public => {}
                        Access::SignIn => {
                            // Bad credentials never sign anyone in.
                            assert!(
                                r.header("set-cookie")
                                    .is_none_or(|c| c.contains("Max-Age=0")),
                                "{what}"
                            );
                        }
                        Access::Caller => assert_eq!(ok, who.name != "anonymous", "{what}"),
                        Access::List => {
                            if who.name == "anonymous" {
                                assert!(!ok, "{what}");
                            }
                        }
                        Access::Foreign => assert!(!ok, "{what}"),
                    }
                    if ok {
                        let text = r.text();
                        // The search shows what was typed (the order number) back in its
                        // form; what it must not show is a case found.
                        let echoed = route.path == "/desk/search";
                        if echoed {
                            assert!(!text.contains("queue found"), "{what}: a case found");
                        }
                        for field in [f.order, f.name, f.email, f.hook_url] {
                            if echoed && field == f.order {
                                continue;
                            }
                            assert!(!text.contains(field), "{what}: carries `{field}`");
                        }
                        if access != Access::Public {
                            assert!(!text.contains(f.serial), "{what}: carries `{}`", f.serial);
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert!(
            unclassified.is_empty(),
            "routes the matrix does not classify (add them to `classify`): {unclassified:?}"
        );
        assert!(checked >= 100, "{checked}");

        // References inside bodies: each caller names its own case, order or policy in the
        // path and someone else's order, unit, customer or case inside the body. No 2xx, no
        // 5xx, and no foreign personal field in the answer.
        let mut indirect = 0;
        for who in callers.iter().skip(1) {
            let f = &who.foreign;
            let (own_case, own_order, own_serial, own_policy) = if f.seller == "CryptKi" {
                (imask_case, "SO-IMA-1", "IMA-0001", "imask")
            } else {
                (cryptki_case, "SO-CRK-1", "CRK-0001", "cryptki")
            };
            let probes = [
                (
                    "/api/v1/cases".to_string(),
                    format!(
                        r#"{{"kind": "return", "policy": "{own_policy}", "order_no": "{}", "serial": "{}", "customer": "{}", "facts": {{}}}}"#,
                        f.order, f.serial, f.customer
                    ),
                ),
                (
                    "/api/v1/cases".to_string(),
                    format!(
                        r#"{{"kind": "return", "policy": "{own_policy}", "order_no": "{}", "facts": {{}}}}"#,
                        f.order
                    ),
                ),
                (
                    "/api/v1/cases".to_string(),
                    format!(
                        r#"{{"kind": "return", "order_no": "{own_order}", "serial": "{}", "facts": {{}}}}"#,
                        f.serial
                    ),
                ),
                (
                    "/api/v1/cases".to_string(),
                    format!(
                        r#"{{"kind": "return", "order_no": "{own_order}", "serial": "{own_serial}", "customer": "{}", "facts": {{}}}}"#,
                        f.customer
                    ),
                ),
                (
                    "/api/v1/refunds".to_string(),
                    format!(
                        r#"{{"order_no": "{own_order}", "amount": "1.00 CNY", "key": "indirect-{}", "case_id": {}}}"#,
                        who.name.replace(' ', "-"),
                        f.case
                    ),
                ),
                (
                    format!("/api/v1/cases/{own_case}/corrections"),
                    format!(
                        r#"{{"facts": {{"order.delivered": "2024-01-01"}}, "reason": "indirect {}"}}"#,
                        f.order
                    ),
                ),
            ];
            let headers: Vec<(&str, &str)> = who
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            for (path, body) in &probes {
                let r = s.send("POST", path, &headers, Some(body));
                let what = format!(
                    "{} → POST {path} {body}: {} {}",
                    who.name,
                    r.status,
                    r.text()
                );
                assert!(r.status < 500, "{what}");
                let text = r.text();
                // A correction of one's own case may pass: it names nothing foreign but the
                // reason's words, which are the caller's own.
                if path.ends_with("/corrections") {
                    assert!(!text.contains(f.name) && !text.contains(f.email), "{what}");
                } else {
                    assert!(!(200..300).contains(&r.status), "{what}");
                }
                for field in [f.name, f.email, f.hook_url] {
                    assert!(!text.contains(field), "{what}: carries `{field}`");
                }
                indirect += 1;
            }
        }
        assert!(indirect >= 30, "{indirect}");

        // And the owners do reach their own: the matrix is not passing by refusing everyone.
        let li = &callers[1];
        let h: Vec<(&str, &str)> = li
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = s.send("GET", &format!("/api/v1/cases/{imask_case}"), &h, None);
        assert_eq!(r.status, 200, "{}", r.text());
        let list = s.send("GET", "/api/v1/cases", &h, None).json();
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let agent = &callers[2];
        let h: Vec<(&str, &str)> = agent
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = s.send(
            "POST",
            &format!("/api/v1/cases/{imask_case}/transitions"),
            &h,
            Some(r#"{"action": "submit"}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let _ = std::fs::remove_dir_all(&mail);
    }
}

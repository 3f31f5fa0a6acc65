//! The desk's search and reports (issue 21) tried as an attacker would, over HTTP on both
//! databases: another seller's order, serial or customer; a query long enough to be a
//! denial-of-service try; malformed and out-of-range parameters; roles that may not read
//! reports; no session at all. Never a 2xx with another seller's case, never a 5xx.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    reason = "test code fails the test on error"
)]

mod support;

use support::{Server, databases, refs, root, run, sign_in, staff};

#[test]
fn search_and_reports_hold_against_hostile_parameters_and_other_sellers() {
    for db in databases() {
        let name = db.name;
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        staff(&db.url, "tech@imask.test", "technician", "IMASK");
        staff(&db.url, "manager@imkey.test", "manager", "imKey");
        let s = Server::start(&db.url);
        let imask = sign_in(&s, "manager@imask.test");
        let tech = sign_in(&s, "tech@imask.test");
        let imkey = sign_in(&s, "manager@imkey.test");
        let r = s.send(
            "POST",
            "/api/v1/cases",
            &refs(&imkey),
            Some(
                r#"{"kind": "warranty_service", "serial": "IMK-0001", "order_no": "SO-IMK-1",
                    "customer": "cust-cn", "facts": {"problem.reported": "defect"}}"#,
            ),
        );
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        let imkey_case = r.json()["id"].as_i64().unwrap();
        let get = |h: &Vec<(String, String)>, path: &str| s.send("GET", path, &refs(h), None);

        // The imKey case is found by its own seller's staff, by order, serial and number.
        for q in ["SO-IMK-1", "IMK-0001", &format!("%23{imkey_case}")] {
            let r = get(&imkey, &format!("/desk/search?q={q}"));
            assert!(r.text().contains("queue found"), "{name}: {q}");
        }
        // IMASK's staff find nothing of it, however it is named.
        // The customer's id, as the imKey case's page links "this customer's other cases".
        let page = get(&imkey, &format!("/desk/cases/{imkey_case}")).text();
        let customer: i64 = page
            .split("/desk/search?customer=")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no customer link on the case page"));
        for path in [
            "/desk/search?q=SO-IMK-1".to_string(),
            "/desk/search?q=IMK-0001".to_string(),
            format!("/desk/search?q={imkey_case}"),
            "/desk/search?q=li%40example.org".to_string(),
            format!("/desk/search?customer={customer}"),
        ] {
            for h in [&imask, &tech] {
                let r = get(h, &path);
                assert_eq!(r.status, 200, "{name}: {path}");
                assert!(
                    !r.text().contains(&format!("/desk/cases/{imkey_case}\"")),
                    "{name}: {path} found another seller's case"
                );
            }
        }
        // Hostile or malformed parameters: refused or answered empty, never a 5xx.
        let long = "x".repeat(5_000);
        for path in [
            format!("/desk/search?q={long}"),
            "/desk/search?q=%25".to_string(),
            "/desk/search?customer=abc".to_string(),
            "/desk/search?customer=-1".to_string(),
            "/desk/reports?weeks=0".to_string(),
            "/desk/reports?weeks=99999999999".to_string(),
            "/desk/reports?weeks=-3".to_string(),
            "/desk/reports?seller=%3Cscript%3E".to_string(),
            "/desk/reports/opened.csv?weeks=abc".to_string(),
        ] {
            let r = get(&imask, &path);
            assert!(r.status < 500, "{name}: {path}: {}", r.status);
            assert!(
                !r.text().contains("<script>"),
                "{name}: {path} echoed a script"
            );
        }
        // Asking for another seller's report gives nothing of theirs: the CSV of imKey's
        // weeks, as IMASK's manager, counts no case.
        let csv = get(&imask, "/desk/reports/opened.csv?weeks=104&seller=imKey").text();
        let counted: u64 = csv
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(counted, 0, "{name}: {csv}");
        let own = get(&imkey, "/desk/reports/opened.csv?weeks=104").text();
        assert!(
            own.lines().skip(1).any(|l| !l.ends_with(",0")),
            "{name}: {own}"
        );
        // imKey's manager refuses the case and refunds the order: a decision and a refund
        // for imKey's reports, and none for IMASK's, even asked by name.
        let post = |h: &Vec<(String, String)>, path: &str, body: &str| {
            s.send("POST", path, &refs(h), Some(body))
        };
        for (path, body) in [
            (
                format!("/api/v1/cases/{imkey_case}/transitions"),
                r#"{"action": "submit"}"#.to_string(),
            ),
            (
                format!("/api/v1/cases/{imkey_case}/transitions"),
                r#"{"action": "reject"}"#.to_string(),
            ),
            (
                "/api/v1/refunds".to_string(),
                r#"{"order_no": "SO-IMK-1", "amount": "1.00 CNY", "key": "tries-1"}"#.to_string(),
            ),
        ] {
            let r = post(&imkey, &path, &body);
            assert!(
                (200..300).contains(&r.status),
                "{name}: {path}: {}",
                r.text()
            );
        }
        let counts = |h: &Vec<(String, String)>, report: &str, columns: &[usize], seller: &str| {
            let r = get(h, &format!("/desk/reports/{report}.csv?weeks=104{seller}"));
            // A refusal would count nothing too: only a CSV is counted.
            assert_eq!(r.status, 200, "{name}: {report}{seller}");
            let csv = r.text();
            csv.lines()
                .skip(1)
                .map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    columns
                        .iter()
                        .filter_map(|i| f.get(*i)?.parse::<u64>().ok())
                        .sum::<u64>()
                })
                .sum::<u64>()
        };
        for (report, columns) in [
            ("decided", &[1usize, 2][..]),
            ("refunds", &[2][..]),
            ("return-rate", &[1][..]),
        ] {
            assert!(
                counts(&imkey, report, columns, "") > 0,
                "{name}: imKey's {report}"
            );
            assert_eq!(counts(&imask, report, columns, ""), 0, "{name}: {report}");
            assert_eq!(
                counts(&imask, report, columns, "&seller=imKey"),
                0,
                "{name}: {report} of imKey, asked by IMASK's manager"
            );
        }
        // A report that does not exist, or a path that tries to leave the reports: not found.
        for path in [
            "/desk/reports/nope.csv",
            "/desk/reports/..%2F..%2Fapi%2Fv1%2Fme",
            "/desk/reports/decided",
            "/desk/reports/%00.csv",
        ] {
            let r = get(&imask, path);
            assert_eq!(r.status, 404, "{name}: {path}");
        }
        // A technician does not read reports; no session reads nothing.
        assert_eq!(get(&tech, "/desk/reports").status, 403, "{name}");
        for report in [
            "opened",
            "decided",
            "targets",
            "causes",
            "return-rate",
            "refunds",
        ] {
            let path = format!("/desk/reports/{report}.csv");
            assert_eq!(get(&tech, &path).status, 403, "{name}: {path}");
        }
        let anonymous: Vec<(String, String)> = Vec::new();
        for path in [
            "/desk/reports",
            "/desk/reports/opened.csv",
            "/desk/reports/refunds.csv",
            "/desk/reports/nope.csv",
            "/desk/search?q=SO-IMK-1",
        ] {
            let r = get(&anonymous, path);
            assert!(
                !(200..300).contains(&r.status),
                "{name}: {path}: {}",
                r.status
            );
        }
    }
}

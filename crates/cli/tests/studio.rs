//! The policy studio over real HTTP (issue 20, part 2), on SQLite and PostgreSQL: a manager
//! reads a policy as its document, saves a draft with an error (shown at its line and
//! column), fixes it, runs what-if against the recorded decisions, publishes it from a date,
//! and a new case is decided by it while the draft never decided one. And the boundaries, as
//! an attacker tries them: another seller's policy, a draft that changes its seller, its id
//! or its kind, an agent, a form without the session's token, another person's what-if.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use support::{Server, databases, decide, open_case, refs, root, run, sign_in, staff};

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The draft's text as the page's textarea holds it.
fn textarea(html: &str) -> String {
    let start = html.find("<textarea").unwrap();
    let open = start + html[start..].find('>').unwrap() + 1;
    let end = open + html[open..].find("</textarea>").unwrap();
    unescape(&html[open..end])
}

struct Desk<'a> {
    s: &'a Server,
    h: Vec<(String, String)>,
}

impl Desk<'_> {
    fn csrf(&self) -> String {
        self.h
            .iter()
            .find(|(k, _)| k == "X-CSRF-Token")
            .unwrap()
            .1
            .clone()
    }

    fn get(&self, path: &str) -> support::Response {
        self.s.send("GET", path, &refs(&self.h), None)
    }

    fn post(&self, path: &str, body: &str) -> support::Response {
        let mut h: Vec<(&str, &str)> = refs(&self.h)
            .into_iter()
            .filter(|(k, _)| *k == "Cookie")
            .collect();
        h.push(("Content-Type", "application/x-www-form-urlencoded"));
        self.s.send("POST", path, &h, Some(body))
    }

    fn save(&self, id: &str, text: &str) -> support::Response {
        let csrf = self.csrf();
        self.post(
            &format!("/desk/policies/{id}/draft"),
            &form(&[("csrf", &csrf), ("action", "save"), ("text", text)]),
        )
    }

    /// Starts a what-if of policy `id`'s saved draft (on `history`'s decisions, else its
    /// own) and waits for its result: the run's page address and its result page.
    fn what_if(&self, id: &str, history: Option<&str>) -> (String, String) {
        let csrf = self.csrf();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(history.map(|h| ("history", h)));
        let r = self.post(&format!("/desk/policies/{id}/what-if"), &form(&fields));
        assert_eq!(r.status, 303, "{}", r.text());
        let job = r.header("location").unwrap().to_string();
        let start = Instant::now();
        loop {
            let page = self.get(&job).text();
            if page.contains("class=\"summary\"") {
                return (job, page);
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{page}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn publish(&self, id: &str, day: &str) -> support::Response {
        let csrf = self.csrf();
        self.post(
            &format!("/desk/policies/{id}/draft"),
            &form(&[
                ("csrf", &csrf),
                ("action", "publish"),
                ("effective_from", day),
            ]),
        )
    }
}

#[test]
fn a_manager_edits_tries_and_publishes_a_policy_and_cannot_reach_beyond_their_seller() {
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
        staff(&db.url, "other@imask.test", "manager", "IMASK");
        staff(&db.url, "agent@imask.test", "agent", "IMASK");
        staff(&db.url, "manager@imkey.test", "manager", "imKey");
        let s = Server::start(&db.url);
        let desk = Desk {
            s: &s,
            h: sign_in(&s, "manager@imask.test"),
        };
        // Decisions on record to try the draft against.
        let mut decided = Vec::new();
        for _ in 0..3 {
            let id = open_case(&s, &desk.h, "IMA-0001", "SO-IMA-1");
            decide(&s, &desk.h, id);
            decided.push(id);
        }

        // A real case saved as a scenario of its policy, by a manager of its seller only.
        let csrf = desk.csrf();
        let scenario = format!("/desk/cases/{}/scenario", decided[0]);
        let r = desk.post(&scenario, &form(&[("csrf", &csrf)]));
        assert_eq!(r.status, 303, "{name}: {}", r.text());
        let imkey = Desk {
            s: &s,
            h: sign_in(&s, "manager@imkey.test"),
        };
        let kc = imkey.csrf();
        assert_eq!(
            imkey.post(&scenario, &form(&[("csrf", &kc)])).status,
            404,
            "{name}"
        );
        // Before any draft, the scenarios run on the text in force: every one passes, the
        // saved case's too (it reads back as the decision it was made from).
        let ran = desk
            .post(
                "/desk/policies/imask/draft",
                &form(&[("csrf", &csrf), ("action", "scenarios")]),
            )
            .text();
        let total = std::fs::read_dir(root().join("policies/cases/imask"))
            .unwrap()
            .count()
            + 1;
        assert!(
            ran.contains(&format!(
                "<strong>{total}</strong> of {total} scenarios pass"
            )),
            "{name}: {ran}"
        );
        assert!(ran.contains(&format!(
            "<li class=\"pass\"><code>case-{}</code>",
            decided[0]
        )));

        // The list shows IMASK only; the document shows each clause with its rules.
        let list = desk.get("/desk/policies");
        assert_eq!(list.status, 200, "{name}");
        assert!(list.text().contains("/desk/policies/imask\""), "{name}");
        assert!(!list.text().contains("/desk/policies/imkey\""), "{name}");
        let doc = desk.get("/desk/policies/imask").text();
        assert!(doc.contains("Manufacturer guarantee"), "{name}");
        assert!(
            doc.contains("allows Paid repair with a quote") && doc.contains("beyond_scope"),
            "{name}: the rule in words"
        );
        // A clause renamed to the document's heading says the id it had.
        assert!(
            doc.contains("Warranty, replacement restrictions 3 · ")
                && doc.contains("Formerly: Restrictions 3"),
            "{name}: the former id"
        );

        // A draft with an error is kept and the error shown at line and column.
        let text = textarea(&desk.get("/desk/policies/imask/draft").text());
        assert!(
            text.starts_with('#') && text.contains("id = \"imask\""),
            "{name}"
        );
        let broken = text.replacen("allow = [\"paid_repair\"]", "allow = [\"paid_repairz\"]", 1);
        let r = desk.save("imask", &broken);
        assert_eq!(r.status, 422, "{name}");
        let line = broken
            .lines()
            .position(|l| l.contains("paid_repairz"))
            .unwrap()
            + 1;
        assert!(
            r.text().contains(&format!(
                "imask.toml:{line}:10: error: `paid_repairz` is not a remedy"
            )),
            "{name}: {}",
            r.text()
        );
        assert!(textarea(&desk.get("/desk/policies/imask/draft").text()).contains("paid_repairz"));

        // The boundaries a draft may not cross.
        for (bad, says) in [
            (
                text.replacen("seller = \"IMASK\"", "seller = \"imKey\"", 1),
                "the draft's seller is imKey; it must stay IMASK",
            ),
            (
                text.replacen("id = \"imask\"", "id = \"imkey\"", 1),
                "policy `imkey` version 1.0.0",
            ),
            (
                text.replacen("kind = \"seller\"", "kind = \"law\"", 1),
                "imask.toml",
            ),
        ] {
            let r = desk.save("imask", &bad);
            assert_eq!(r.status, 422, "{name}: {says}");
            assert!(
                r.text().contains(&unescape_says(says)),
                "{name}: {says}: {}",
                r.text()
            );
            let r = desk.publish("imask", "2024-01-02");
            assert_eq!(r.status, 422, "{name}: {says} was published");
        }
        let huge = "#".repeat(600 * 1024);
        assert_eq!(
            desk.save("imask", &huge).status,
            422,
            "{name}: a huge draft"
        );

        // The fixed draft: denies paid repair. What-if shows what it would change.
        let draft = {
            let mut t = text.replacen("version = \"1.0.0\"", "version = \"1.1.0\"", 1);
            let at = t.find("id = \"guarantee-paid-repair\"").unwrap();
            let allow = at + t[at..].find("allow = [\"paid_repair\"]").unwrap();
            t.replace_range(allow..allow + "allow".len(), "deny");
            t
        };
        let r = desk.save("imask", &draft);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert!(r.text().contains("The draft loads."), "{name}");
        let page = r.text();
        // The seller's scenarios (the folder's, and the case saved above) on the draft: the
        // ones that expect paid repair fail, naming it; the saved case's is among them.
        let csrf = desk.csrf();
        let ran = desk
            .post(
                "/desk/policies/imask/draft",
                &form(&[("csrf", &csrf), ("action", "scenarios")]),
            )
            .text();
        let passed: usize = ran
            .split("<p class=\"summary\" role=\"status\"><strong>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            ran.contains(&format!("of {total} scenarios pass")) && passed < total && passed > 0,
            "{name}: {passed} of {total}"
        );
        let saved_case = format!("<li class=\"fail\"><code>case-{}</code>", decided[0]);
        assert!(ran.contains(&saved_case), "{name}: {ran}");
        assert!(ran.contains("paid_repair"), "{name}");
        // Against the version in force: the one clause whose rule changed, and only it.
        let changes = &page[page.find("id=\"changes-title\"").unwrap()..];
        assert!(
            changes.contains("Manufacturer guarantee · rules changed")
                && changes.contains("denies Paid repair with a quote"),
            "{name}: {changes}"
        );
        assert_eq!(
            changes.matches("class=\"policy-clause diff").count(),
            1,
            "{name}"
        );
        let (job, result) = desk.what_if("imask", None);
        assert!(
            result.contains("<strong>3</strong> decisions made again, <strong class=\"changed\">3</strong> would change"),
            "{name}: {result}"
        );
        assert!(result.contains("Paid repair with a quote"), "{name}");
        assert!(result.contains("Manufacturer guarantee"), "{name}");
        // Only its owner sees a what-if, even another manager of the seller.
        let other = Desk {
            s: &s,
            h: sign_in(&s, "other@imask.test"),
        };
        assert_eq!(other.get(&job).status, 404, "{name}");
        let oc = other.csrf();
        assert_eq!(
            other
                .post(&format!("{job}/stop"), &form(&[("csrf", &oc)]))
                .status,
            404,
            "{name}"
        );

        // The draft decided nothing: a case decided now is 1.0.0's.
        let c = open_case(&s, &desk.h, "IMA-0001", "SO-IMA-1");
        let d = decide(&s, &desk.h, c);
        assert_eq!(d["decision"]["policy"]["version"], "1.0.0", "{name}: {d}");

        // Published from the order's date, it decides new cases on this server.
        let r = desk.publish("imask", "2024-01-02");
        assert_eq!(r.status, 303, "{name}: {}", r.text());
        let start = Instant::now();
        loop {
            let c = open_case(&s, &desk.h, "IMA-0001", "SO-IMA-1");
            let d = decide(&s, &desk.h, c);
            if d["decision"]["policy"]["version"] == "1.1.0" {
                let remedies = d["decision"]["remedies"].as_array().unwrap().clone();
                let paid = remedies
                    .iter()
                    .find(|x| x["remedy"] == "paid_repair")
                    .unwrap();
                assert_eq!(paid["status"], "denied", "{name}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}: {}",
                r.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let versions = run(&db.url, &["policy", "versions"]);
        assert!(
            versions.contains("imask            1.1.0        from 2024-01-02")
                && versions.contains("by manager@imask.test"),
            "{name}: {versions}"
        );
        // The two versions compared, from the policy page's link.
        let doc = desk.get("/desk/policies/imask").text();
        let link = doc
            .split("href=\"")
            .find(|l| l.starts_with("/desk/policies/imask/compare?"))
            .unwrap();
        let link = unescape(&link[..link.find('"').unwrap()]);
        let compared = desk.get(&link);
        assert_eq!(compared.status, 200, "{name}: {link}");
        assert!(
            compared
                .text()
                .contains("Manufacturer guarantee · rules changed"),
            "{name}"
        );
        // Versions of another policy cannot be compared through this one.
        assert_eq!(
            desk.get("/desk/policies/imask/compare?from=1&to=2").status,
            404,
            "{name}"
        );
        // The draft is gone with the publication; publishing again publishes nothing.
        assert_eq!(desk.publish("imask", "2024-01-03").status, 422, "{name}");

        // Another seller's policy is not there; an agent may not use the studio; a form
        // without the session's token is refused.
        assert_eq!(desk.get("/desk/policies/imkey").status, 404, "{name}");
        assert_eq!(desk.get("/desk/policies/imkey/draft").status, 404, "{name}");
        assert_eq!(desk.save("imkey", &text).status, 404, "{name}");
        assert_eq!(
            desk.publish("cn-consumer", "2030-01-01").status,
            404,
            "{name}"
        );
        let agent = Desk {
            s: &s,
            h: sign_in(&s, "agent@imask.test"),
        };
        assert_eq!(agent.get("/desk/policies").status, 403, "{name}");
        assert_eq!(agent.save("imask", &text).status, 403, "{name}");
        let r = desk.post(
            "/desk/policies/imask/draft",
            &form(&[("csrf", "forged"), ("action", "save"), ("text", &text)]),
        );
        assert_eq!(r.status, 403, "{name}");
        let r = s.send("GET", "/desk/policies", &[], None);
        assert_eq!(r.status, 303, "{name}: signed out goes to sign in");
    }
}

/// The page's HTML escapes quotes in messages.
fn unescape_says(s: &str) -> String {
    s.replace('\'', "&#39;")
}

/// A seller's document for a sixth seller, in a layout the seeds do not use.
const NORDLICHT: &str = "# Nordlicht Audio: Returns and Warranty

These terms apply to headphones bought from nordlicht.example. Prices are in €.

## 1. Scope

1.1 These terms cover products bought in our online shop.

## 2. Returns

2.1 You may return a product within 30 days of delivery for a full refund.

2.2 Products that have been activated cannot be returned.

## 3. Warranty

3.1 Our products carry a warranty of 24 months from delivery.
";

#[test]
fn a_sixth_sellers_policy_from_a_pasted_document_decides_a_case_on_a_second_server() {
    for db in databases() {
        let name = db.name;
        run(
            &db.url,
            &[
                "import",
                root().join("examples/registry.json").to_str().unwrap(),
            ],
        );
        staff(&db.url, "admin@all.test", "admin", "*");
        staff(&db.url, "manager@imask.test", "manager", "IMASK");
        let a = Server::start(&db.url);
        let b = Server::start(&db.url);
        let desk = Desk {
            s: &a,
            h: sign_in(&a, "admin@all.test"),
        };
        // History to try the new policy on: IMASK decisions.
        for _ in 0..2 {
            let id = open_case(&a, &desk.h, "IMA-0001", "SO-IMA-1");
            decide(&a, &desk.h, id);
        }

        // The pasted document becomes a draft with every clause and no rules.
        let csrf = desk.csrf();
        let new = |id: &str, seller: &str, doc: &str| {
            desk.post(
                "/desk/policies/new",
                &form(&[
                    ("csrf", &csrf),
                    ("id", id),
                    ("seller", seller),
                    ("document", doc),
                ]),
            )
        };
        let r = new("nordlicht", "Nordlicht", NORDLICHT);
        assert_eq!(r.status, 303, "{name}: {}", r.text());
        assert_eq!(r.header("location"), Some("/desk/policies/nordlicht/draft"));
        let text = textarea(&desk.get("/desk/policies/nordlicht/draft").text());
        for clause in ["1.1", "2.1", "2.2", "3.1"] {
            assert!(
                text.contains(&format!("id = \"{clause}\"")),
                "{name}: {clause}: {text}"
            );
        }
        assert!(text.contains("seller = \"Nordlicht\""), "{name}");
        assert!(!text.contains("[[rule]]"), "{name}");
        // Listed as new, not published; the same id again, a bad id, an id taken, refused.
        assert!(
            desk.get("/desk/policies")
                .text()
                .contains("/desk/policies/nordlicht/draft")
        );
        assert_eq!(
            new("nordlicht", "Nordlicht", NORDLICHT).status,
            422,
            "{name}"
        );
        assert_eq!(new("Bad Id", "Nordlicht", NORDLICHT).status, 422, "{name}");
        assert_eq!(new("imask", "IMASK", NORDLICHT).status, 422, "{name}");
        assert_eq!(new("empty", "Nordlicht", "  ").status, 422, "{name}");
        let huge = "1. Returns\n".repeat(60_000);
        assert_eq!(
            new("huge", "Nordlicht", &huge).status,
            422,
            "{name}: a 660 kB document"
        );
        // A manager of IMASK neither sees the new seller's draft nor starts one for it.
        let imask = Desk {
            s: &a,
            h: sign_in(&a, "manager@imask.test"),
        };
        assert_eq!(
            imask.get("/desk/policies/nordlicht/draft").status,
            404,
            "{name}"
        );
        assert!(
            !imask.get("/desk/policies").text().contains("nordlicht"),
            "{name}"
        );
        let ic = imask.csrf();
        let r = imask.post(
            "/desk/policies/new",
            &form(&[
                ("csrf", &ic),
                ("id", "other"),
                ("seller", "Nordlicht"),
                ("document", NORDLICHT),
            ]),
        );
        assert_eq!(r.status, 403, "{name}: {}", r.text());

        // Two rules written; the draft loads.
        let ruled = format!(
            "{text}\n[[rule]]\nid = \"returns-30-days\"\nclause = \"2.1\"\nallow = [\"return\"]\nwhen = \"within(order.delivered, 30 days)\"\n\n[[rule]]\nid = \"returns-activated\"\nclause = \"2.2\"\ndeny = [\"return\"]\nwhen = \"condition.activated\"\n"
        );
        let r = desk.save("nordlicht", &ruled);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert!(
            r.text().contains("The draft loads."),
            "{name}: {}",
            r.text()
        );

        // What-if on IMASK's recorded decisions: the return answers change.
        let (_, result) = desk.what_if("nordlicht", Some("imask"));
        assert!(
            result.contains("<strong>2</strong> decisions made again"),
            "{name}: {result}"
        );
        // IMASK's remedies the new document does not offer; it cites nothing for them, so the
        // clauses shown are IMASK's, and said to be.
        let free = "<tr><td>Free repair</td><td>denied → not offered</td><td>2</td>";
        assert!(result.contains(free), "{name}: {result}");
        let row = result
            .split(free)
            .nth(1)
            .and_then(|r| r.split("</tr>").next());
        assert!(
            row.is_some_and(|r| r
                .starts_with("<td><small>where the draft cites none, the recorded policy")
                && r.contains("</small> ")),
            "{name}: {row:?}"
        );
        // Every deadline listed moved, appeared or went in some decision, and says which.
        let deadlines = result
            .split("<h2>Deadlines that move</h2>")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .unwrap_or_else(|| panic!("{name}: no deadlines in {result}"));
        assert!(
            deadlines.contains("<th scope=\"col\">No longer set</th>"),
            "{name}"
        );
        for row in deadlines.split("<tr><td>").skip(1) {
            let counts: Vec<u64> = row
                .split("<td>")
                .skip(1)
                .take(4)
                .map(|c| c.trim_end_matches("</td>").parse().unwrap())
                .collect();
            assert!(counts.iter().sum::<u64>() > 0, "{name}: {row}");
        }
        // A history the caller does not work on is not there.
        let r = imask.post(
            "/desk/policies/imask/what-if",
            &form(&[("csrf", &ic), ("history", "cryptki")]),
        );
        assert_eq!(r.status, 404, "{name}");

        // Published; the registry gets the seller's product; a case opened on the other
        // server is decided by the new policy, without a restart.
        let r = desk.publish("nordlicht", "2024-01-01");
        assert_eq!(r.status, 303, "{name}: {}", r.text());
        let registry = r#"{
            "skus": [{"code": "NL-HP1", "name": "Nordlicht HP1 headphones", "class": "main", "seller": "Nordlicht", "policy": "nordlicht"}],
            "customers": [{"ref": "cust-nl", "kind": "consumer", "name": "Nora Licht", "email": "nora@example.org", "country": "DE"}],
            "units": [{"serial": "NL-0001", "sku": "NL-HP1", "manufactured_on": "2024-02-01"}],
            "orders": [{"order_no": "SO-NL-1", "customer": "cust-nl", "channel": "official", "distance": true,
                        "ordered_on": "2024-03-01", "shipped_on": "2024-03-02", "delivered_on": "2024-03-04",
                        "currency": "EUR", "shipping_fee_minor": 0, "paid_minor": 19900,
                        "lines": [{"sku": "NL-HP1", "serial": "NL-0001", "price_minor": 19900}]}]
        }"#;
        let admin_b = sign_in(&b, "admin@all.test");
        // B takes the new version up within a second (its registry checks the policy).
        let start = Instant::now();
        loop {
            let r = b.send("POST", "/api/v1/registry", &refs(&admin_b), Some(registry));
            if r.status < 300 {
                break;
            }
            assert!(
                r.text().contains("no policy `nordlicht` is loaded"),
                "{name}: {}",
                r.text()
            );
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}: {}",
                r.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let start = Instant::now();
        let decided = loop {
            let r = b.send(
                "POST",
                "/api/v1/cases",
                &refs(&admin_b),
                Some(r#"{"kind": "return", "serial": "NL-0001", "order_no": "SO-NL-1", "facts": {"problem.reported": "change_of_mind"}}"#),
            );
            if r.status == 201 {
                let id = r.json()["id"].as_i64().unwrap();
                break decide(&b, &admin_b, id);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}: {}",
                r.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(
            decided["decision"]["policy"]["id"], "nordlicht",
            "{name}: {decided}"
        );
        let cited = decided["decision"]["cited"].to_string();
        // Its rule for 2.1 decided the return: delivered in March 2024, past its 30 days.
        assert!(cited.contains("\"2.1\""), "{name}: {cited}");
        let remedies = decided["decision"]["remedies"].as_array().unwrap().clone();
        let ret = remedies.iter().find(|r| r["remedy"] == "return").unwrap();
        assert_eq!(ret["status"], "denied", "{name}: {ret}");
    }
}

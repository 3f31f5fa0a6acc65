//! Every seed's workflow over the HTTP API alone, on SQLite and PostgreSQL: a customer signs in
//! with the link e-mailed to them and sends the request; staff of the seller, each in their
//! role, take it from approval to closing with the steps its document describes (quote and
//! payment, repair outcomes, a unit given in exchange, refusal on arrival, refund). No shell
//! on the server: the server's clock is set once, with `serve --now`, to a moment the example
//! registry's orders fit.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use serde_json::Value as J;
use support::{
    Response, Server, TestDb, customer_sign_in, databases, refs, root, run, sign_in, staff,
};

/// A server over the example registry at `now`, with staff of `seller` in every role.
struct Desk {
    s: Server,
    mail: std::path::PathBuf,
    _db: TestDb,
}

fn desk(db: TestDb, seller: &str, now: &str) -> Desk {
    let mail = std::env::temp_dir()
        .join(format!(
            "aftercare_flow_{seller}_{}_{}",
            std::process::id(),
            db.name
        ))
        .to_path_buf();
    let _ = std::fs::remove_dir_all(&mail);
    run(
        &db.url,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    for role in ["agent", "technician", "manager"] {
        staff(&db.url, &format!("{role}@seller.test"), role, seller);
    }
    let s = Server::start_with(
        &db.url,
        &["--mail-dir", mail.to_str().unwrap(), "--now", now],
    );
    Desk { s, mail, _db: db }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail);
    }
}

type Who = Vec<(String, String)>;

impl Desk {
    fn who(&self, role: &str) -> Who {
        sign_in(&self.s, &format!("{role}@seller.test"))
    }

    fn post(&self, who: &Who, path: &str, body: &str) -> Response {
        self.s.send("POST", path, &refs(who), Some(body))
    }

    fn open(&self, who: &Who, body: &str) -> i64 {
        let r = self.post(who, "/api/v1/cases", body);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_i64().unwrap()
    }

    /// A move that must go through; the case's state after it.
    fn step(&self, who: &Who, case: i64, body: &str) -> String {
        let r = self.post(who, &format!("/api/v1/cases/{case}/transitions"), body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        r.json()["state"].as_str().unwrap().to_string()
    }

    /// A move the case's policy or state holds back.
    fn held(&self, who: &Who, case: i64, body: &str) -> String {
        let r = self.post(who, &format!("/api/v1/cases/{case}/transitions"), body);
        assert_eq!(r.status, 409, "{body}: {}", r.text());
        r.json()["detail"].as_str().unwrap().to_string()
    }

    fn case(&self, who: &Who, case: i64) -> J {
        let r = self
            .s
            .send("GET", &format!("/api/v1/cases/{case}"), &refs(who), None);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    fn report(&self, who: &Who, case: i64, body: &str) -> J {
        let r = self.post(who, &format!("/api/v1/cases/{case}/repair-report"), body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        r.json()
    }

    fn remedy<'a>(decision: &'a J, remedy: &str) -> &'a str {
        decision["latest_decision"]["decision"]["remedies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["remedy"] == remedy)
            .and_then(|r| r["status"].as_str())
            .unwrap_or("absent")
    }

    /// The e-mails to `address` once one of them says `said` (the mailer sends every two
    /// seconds), at most ten seconds on.
    fn mail_saying(&self, address: &str, said: &str) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..100 {
            out = std::fs::read_dir(&self.mail)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                        .filter(|t| t.contains(&format!("To: {address}")))
                        .collect()
                })
                .unwrap_or_default();
            if out.iter().any(|m: &String| m.contains(said)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        out
    }
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(24, 16, |x, y| image::Rgb([x as u8 * 9, y as u8 * 13, 77]));
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, image::ImageFormat::Png).unwrap();
    c.into_inner()
}

/// imKey 2(1): an untouched wallet returned within seven days of delivery, with the data
/// acknowledgment before shipping (2(5)), refunded the price and closed.
#[test]
fn imkey_a_seven_day_return_from_request_to_refund() {
    for db in databases() {
        let d = desk(db, "imKey", "2024-01-08T02:00:00Z");
        let li = customer_sign_in(&d.s, &d.mail, "SO-IMK-1", "li@example.org");
        let case = d.open(
            &li,
            r#"{"kind": "return", "order_no": "SO-IMK-1", "serial": "IMK-0001",
                "facts": {"problem.reported": "change_of_mind", "condition.activated": false,
                          "condition.complete": true, "condition.gifts_returned": true},
                "description": "Bought two by mistake; this one is sealed."}"#,
        );
        assert_eq!(d.step(&li, case, r#"{"action": "submit"}"#), "submitted");
        // Deciding again records a decision: staff's to do; the customer reads the latest.
        let r = d.post(&li, &format!("/api/v1/cases/{case}/decide"), "{}");
        assert_eq!(r.status, 403, "{}", r.text());
        let (agent, tech, manager) = (d.who("agent"), d.who("technician"), d.who("manager"));
        assert_eq!(d.step(&agent, case, r#"{"action": "approve"}"#), "approved");
        // 2(5): not before the customer confirms the data is erased and backed up.
        let why = d.held(&li, case, r#"{"action": "device_shipped"}"#);
        assert!(why.contains("2(5)"), "{why}");
        assert_eq!(
            d.step(
                &li,
                case,
                r#"{"action": "device_shipped", "facts": {"customer.data_acknowledged": true}}"#
            ),
            "awaiting_device"
        );
        assert_eq!(d.step(&tech, case, r#"{"action": "receive"}"#), "received");
        assert_eq!(
            d.step(&tech, case, r#"{"action": "inspect", "facts": {"diagnosis.causes": ["no_fault"], "condition.activated": false}}"#),
            "inspecting"
        );
        let shown = d.case(&agent, case);
        assert_eq!(Desk::remedy(&shown, "return"), "allowed", "{shown}");
        assert_eq!(d.step(&agent, case, r#"{"action": "refund"}"#), "refunding");
        assert_eq!(
            d.step(&manager, case, r#"{"action": "refund_paid"}"#),
            "closed"
        );
        let export =
            d.s.send("GET", "/api/v1/customers/cust-cn", &refs(&manager), None)
                .json();
        let order = export["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["order_no"] == "SO-IMK-1")
            .unwrap()
            .clone();
        assert_eq!(order["refunds"][0]["amount_minor"], 59_900, "{order}");
        assert!(order["refunds"][0]["paid_at"].is_string(), "{order}");
    }
}

/// IMASK Three Guarantees Rights 3-4 and Repair Service Quality Commitment 1: two in-warranty repairs that do
/// not cure the fault (a part replaced in the first, with max(unit's remaining, 90 days)),
/// then the replacement the service centre confirms, a unit with a new 12 months.
#[test]
fn imask_repairs_that_fail_twice_end_in_a_replacement_unit() {
    for db in databases() {
        let d = desk(db, "IMASK", "2024-11-05T02:00:00Z");
        let li = customer_sign_in(&d.s, &d.mail, "SO-IMA-1", "li@example.org");
        let (agent, tech) = (d.who("agent"), d.who("technician"));
        let bring_in = |inspection: &str| {
            let case = d.open(
                &li,
                r#"{"kind": "warranty_service", "order_no": "SO-IMA-1", "serial": "IMA-0001",
                    "facts": {"problem.reported": "defect"},
                    "description": "The LED panel goes dark after a few minutes."}"#,
            );
            d.step(&li, case, r#"{"action": "submit"}"#);
            d.step(&agent, case, r#"{"action": "approve"}"#);
            d.step(&li, case, r#"{"action": "device_shipped"}"#);
            d.step(&tech, case, r#"{"action": "receive"}"#);
            d.step(&tech, case, inspection);
            case
        };
        let inspect = r#"{"action": "inspect", "facts": {"diagnosis.causes": ["manufacturing"], "warranty_card.present": true}}"#;
        // The first repair: a new LED panel, the fault not cured.
        let first = bring_in(inspect);
        assert_eq!(
            Desk::remedy(&d.case(&agent, first), "free_repair"),
            "allowed"
        );
        assert_eq!(d.step(&tech, first, r#"{"action": "repair"}"#), "repairing");
        let report = d.report(&tech, first, r#"{"fixed": false, "parts": ["LED panel"]}"#);
        // The unit's year ends 2025-01-05; 90 days from 5 November 2024 is later.
        assert_eq!(
            report["parts"][0]["warranty_until"], "2025-02-03",
            "{report}"
        );
        assert!(
            report["parts"][0]["clause"]
                .as_str()
                .unwrap()
                .contains("Repair Service Quality Commitment 1"),
            "{report}"
        );
        d.step(&tech, first, r#"{"action": "ship_back"}"#);
        d.step(&agent, first, r#"{"action": "close"}"#);
        // The customer sees the part and its warranty on the case; the public look-up too.
        let seen = d.case(&li, first);
        assert_eq!(
            seen["repairs"][0]["parts"][0]["warranty_until"], "2025-02-03",
            "{seen}"
        );
        let public = d.s.get("/api/v1/warranty/IMA-0001").json();
        assert_eq!(public["parts"][0]["part"], "LED panel", "{public}");
        // The second: not cured either; two failed repairs on record.
        let second = bring_in(inspect);
        assert_eq!(
            Desk::remedy(&d.case(&agent, second), "replace_after_repairs"),
            "denied"
        );
        d.step(&tech, second, r#"{"action": "repair"}"#);
        d.report(&tech, second, r#"{"fixed": false}"#);
        d.step(&tech, second, r#"{"action": "ship_back"}"#);
        d.step(&agent, second, r#"{"action": "close"}"#);
        // The third: the service centre confirms the fault; replacement after two repairs.
        let third = bring_in(inspect);
        assert_eq!(
            Desk::remedy(&d.case(&agent, third), "replace_after_repairs"),
            "allowed",
            "{}",
            d.case(&agent, third)
        );
        assert_eq!(
            d.step(&tech, third, r#"{"action": "replace"}"#),
            "replacing"
        );
        let report = d.report(&tech, third, r#"{"replacement_serial": "IMA-0001-R1"}"#);
        assert_eq!(report["replaced_by"], "IMA-0001-R1");
        assert_eq!(
            report["replacement_warranty_until"], "2025-11-05",
            "{report}"
        );
        d.step(&tech, third, r#"{"action": "ship_back"}"#);
        d.step(&agent, third, r#"{"action": "close"}"#);
        let new = d.s.get("/api/v1/warranty/IMA-0001-R1");
        assert_eq!(new.status, 200, "{}", new.text());
        assert!(new.text().contains("2025-11-05"), "{}", new.text());
    }
}

/// IMIKI: a watch with a manufacturing fault inside its warranty, repaired with a part and
/// shipped back.
#[test]
fn imiki_an_in_warranty_repair_from_request_to_closing() {
    for db in databases() {
        let d = desk(db, "IMIKI", "2024-03-01T09:00:00Z");
        let erika = customer_sign_in(&d.s, &d.mail, "SO-IMI-1", "erika@example.org");
        let (agent, tech) = (d.who("agent"), d.who("technician"));
        let case = d.open(
            &erika,
            r#"{"kind": "warranty_service", "order_no": "SO-IMI-1", "serial": "IMI-0001",
                "facts": {"problem.reported": "defect"}, "description": "The display flickers."}"#,
        );
        d.step(&erika, case, r#"{"action": "submit"}"#);
        d.step(&agent, case, r#"{"action": "approve"}"#);
        d.step(&erika, case, r#"{"action": "device_shipped"}"#);
        d.step(&tech, case, r#"{"action": "receive"}"#);
        d.step(
            &tech,
            case,
            r#"{"action": "inspect", "facts": {"diagnosis.causes": ["manufacturing"]}}"#,
        );
        assert_eq!(
            Desk::remedy(&d.case(&agent, case), "free_repair"),
            "allowed"
        );
        d.step(&tech, case, r#"{"action": "repair"}"#);
        let report = d.report(&tech, case, r#"{"parts": ["display"]}"#);
        assert_eq!(report["outcome"], "fixed");
        assert!(report["parts"][0]["warranty_until"].is_string(), "{report}");
        d.step(&tech, case, r#"{"action": "ship_back"}"#);
        assert_eq!(d.step(&agent, case, r#"{"action": "close"}"#), "closed");
    }
}

/// CryptKi 5.1: delivery damage reported within seven days with the four photos and a
/// description; held until the photos are there; refunded and closed.
#[test]
fn cryptki_delivery_damage_from_photos_to_refund() {
    for db in databases() {
        let d = desk(db, "CryptKi", "2024-01-08T09:00:00Z");
        let erika = customer_sign_in(&d.s, &d.mail, "SO-CRK-1", "erika@example.org");
        let (agent, tech, manager) = (d.who("agent"), d.who("technician"), d.who("manager"));
        let case = d.open(
            &erika,
            r#"{"kind": "delivery_damage", "order_no": "SO-CRK-1", "serial": "CRK-0001",
                "facts": {"problem.reported": "delivery_damage"},
                "description": "The outer box was crushed and the inner box dented."}"#,
        );
        let why = d.held(&erika, case, r#"{"action": "submit"}"#);
        assert!(why.contains("5.1"), "{why}");
        for kind in ["outer_box", "inner_box", "labels", "packaging_damage"] {
            let r = support::request(
                &d.s.addr,
                "POST",
                &format!("/api/v1/cases/{case}/evidence?kind={kind}"),
                &refs(&erika),
                Some(&png()),
            );
            assert_eq!(r.status, 201, "{kind}: {}", r.text());
        }
        d.step(&erika, case, r#"{"action": "submit"}"#);
        d.step(&agent, case, r#"{"action": "approve"}"#);
        d.step(&erika, case, r#"{"action": "device_shipped"}"#);
        d.step(&tech, case, r#"{"action": "receive"}"#);
        d.step(
            &tech,
            case,
            r#"{"action": "inspect", "facts": {"diagnosis.causes": ["transport"]}}"#,
        );
        let shown = d.case(&agent, case);
        assert_eq!(
            Desk::remedy(&shown, "delivery_damage"),
            "allowed",
            "{shown}"
        );
        assert_eq!(d.step(&agent, case, r#"{"action": "refund"}"#), "refunding");
        assert_eq!(
            d.step(&manager, case, r#"{"action": "refund_paid"}"#),
            "closed"
        );
    }
}

/// Maintenance 2.2-2.3 and 3.6: a dropped device repaired for a fee (quote by customer
/// service, paid by the customer, a part replaced); and a parcel that arrives soaked,
/// refused on arrival by the technician who received it, e-mailed to the customer and sent
/// back.
#[test]
fn maintenance_a_paid_repair_and_a_parcel_refused_on_arrival() {
    for db in databases() {
        let d = desk(db, "Unnamed brand", "2024-01-22T08:00:00Z");
        let ada = customer_sign_in(&d.s, &d.mail, "SO-MX-2", "ada@example.org");
        // The server serves at the moment `--now` gave it, e-mails included.
        let link = d.mail_saying("ada@example.org", "Your sign-in link");
        assert!(
            link.iter()
                .any(|m| m.contains("Date: Mon, 22 Jan 2024 08:00:00")),
            "{link:?}"
        );
        let (agent, tech) = (d.who("agent"), d.who("technician"));
        let open = |order: &str, serial: &str| {
            let case = d.open(
                &ada,
                &format!(
                    r#"{{"kind": "warranty_service", "order_no": "{order}", "serial": "{serial}",
                         "facts": {{"problem.reported": "defect"}}, "description": "It stopped charging."}}"#
                ),
            );
            d.step(&ada, case, r#"{"action": "submit"}"#);
            d.step(&agent, case, r#"{"action": "approve"}"#);
            d.held(&ada, case, r#"{"action": "device_shipped"}"#);
            d.step(
                &ada,
                case,
                r#"{"action": "device_shipped", "facts": {"customer.data_acknowledged": true}}"#,
            );
            case
        };
        // The paid repair.
        let paid = open("SO-MX-2", "MX1-0002");
        d.step(&tech, paid, r#"{"action": "receive"}"#);
        d.step(
            &tech,
            paid,
            r#"{"action": "inspect", "facts": {"diagnosis.causes": ["drop"]}}"#,
        );
        assert_eq!(
            Desk::remedy(&d.case(&agent, paid), "paid_repair"),
            "pending"
        );
        assert_eq!(
            d.step(&agent, paid, r#"{"action": "quote", "quote_lines": ["part:Screen:80.00", "labour:Bench time:40.00"]}"#),
            "awaiting_payment"
        );
        assert_eq!(d.step(&ada, paid, r#"{"action": "pay"}"#), "paid");
        d.step(&tech, paid, r#"{"action": "repair"}"#);
        let report = d.report(&tech, paid, r#"{"parts": ["screen"]}"#);
        assert_eq!(report["paid"], true, "{report}");
        assert!(report["parts"][0]["warranty_until"].is_string(), "{report}");
        d.step(&tech, paid, r#"{"action": "ship_back"}"#);
        assert_eq!(d.step(&agent, paid, r#"{"action": "close"}"#), "closed");

        // The soaked parcel.
        let soaked = open("SO-MX-1", "MX1-0001");
        d.step(
            &tech,
            soaked,
            r#"{"action": "receive", "facts": {"arrival.soaked": true}}"#,
        );
        let why = d.held(
            &tech,
            soaked,
            r#"{"action": "inspect", "facts": {"diagnosis.causes": ["liquid"]}}"#,
        );
        assert!(why.contains("3.6"), "{why}");
        assert_eq!(
            d.step(
                &tech,
                soaked,
                r#"{"action": "reject_on_arrival", "note": "The parcel arrived soaked through."}"#
            ),
            "rejected_on_arrival"
        );
        let mails = d.mail_saying("ada@example.org", "refused on arrival");
        assert!(
            mails.iter().any(|m| m.contains("refused on arrival")),
            "{mails:?}"
        );
        let seen = d.case(&ada, soaked);
        let refusal = seen["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "reject_on_arrival")
            .unwrap();
        assert_eq!(refusal["message"], "The parcel arrived soaked through.");
        d.step(&tech, soaked, r#"{"action": "ship_back"}"#);
        assert_eq!(d.step(&agent, soaked, r#"{"action": "close"}"#), "closed");
    }
}

//! Stories of whole cases, run on every test database (SQLite always, PostgreSQL when
//! `AFTERCARE_TEST_POSTGRES` is set): the same code, the same statements, the same answers.

#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use aftercare_app::cases::{self, NewCase, Step};
use aftercare_app::registry::{self, Customer, Invoice, InvoiceLine, Order, OrderLine, Sku, Unit};
use aftercare_app::stated::By;
use aftercare_app::{AppError, Policies, audit, sweep};
use aftercare_domain::case::{Action, CaseKind, State};
use aftercare_store::Store;
use serde_json::{Map, Value as J, json};
use support::{at, databases, date, policies, policies_without};

fn facts(v: J) -> Map<String, J> {
    match v {
        J::Object(m) => m,
        _ => panic!("facts must be an object"),
    }
}

/// A Maintenance customer with one delivered, invoiced device.
fn seed_maintenance(store: &mut Store) {
    store
        .tx(|tx| -> Result<(), AppError> {
            registry::upsert_sku(
                tx,
                &Sku {
                    code: "MX-1".into(),
                    name: "Maintained device".into(),
                    class: "main".into(),
                    components: String::new(),
                    security_sensitive: false,
                    seller: "Unnamed brand".into(),
                    policy: "maintenance".into(),
                    policy_by_country: Default::default(),
                },
            )?;
            registry::upsert_customer(
                tx,
                &Customer {
                    reference: "cust-1".into(),
                    kind: "consumer".into(),
                    name: "Ada Lovelace".into(),
                    email: Some("ada@example.org".into()),
                    phone: None,
                    country: "US".into(),
                },
            )?;
            registry::upsert_unit(
                tx,
                &Unit {
                    serial: "MX1-0001".into(),
                    sku: "MX-1".into(),
                    manufactured_on: Some(date("2022-09-01")),
                    genuine: true,
                },
            )?;
            registry::upsert_order(
                tx,
                &Order {
                    order_no: "SO-1".into(),
                    customer: "cust-1".into(),
                    channel: "official".into(),
                    distance: Some(true),
                    ordered_on: date("2023-10-10"),
                    shipped_on: Some(date("2023-10-11")),
                    delivered_on: Some(date("2023-10-14")),
                    currency: "USD".into(),
                    shipping_fee_minor: 900,
                    paid_minor: 30_800,
                    payment_method: Some("card".into()),
                    lines: vec![OrderLine {
                        sku: "MX-1".into(),
                        serial: Some("MX1-0001".into()),
                        quantity: 1,
                        price_minor: 29_900,
                    }],
                },
                date("2024-01-22"),
            )?;
            registry::upsert_invoice(
                tx,
                &Invoice {
                    invoice_no: "INV-1".into(),
                    order_no: Some("SO-1".into()),
                    issued_on: date("2023-10-10"),
                    valid: true,
                    lines: vec![InvoiceLine {
                        model: "MX-1".into(),
                        serial: Some("MX1-0001".into()),
                    }],
                },
                date("2024-01-22"),
            )?;
            Ok(())
        })
        .unwrap();
}

/// Opens a warranty case for a reported defect.
/// One sweep that must fire without failures; what fired.
fn sweep(store: &mut Store, policies: &Policies, now: jiff::Timestamp) -> Vec<sweep::Fired> {
    let swept = sweep::sweep(store, policies, now, 100).unwrap();
    assert!(swept.failed.is_empty(), "{:?}", swept.failed);
    swept.fired
}

/// A defect reported on the examples' IMASK unit IMA-0001 (order SO-IMA-1), on
/// 2024-11-01 at 02:00 UTC.
fn open_imask_defect(store: &mut Store, policies: &Policies) -> i64 {
    open_defect(
        store,
        policies,
        "cust-cn",
        "SO-IMA-1",
        "IMA-0001",
        "2024-11-01T02:00:00Z",
    )
}

fn open_defect(
    store: &mut Store,
    policies: &Policies,
    customer: &str,
    order: &str,
    serial: &str,
    when: &str,
) -> i64 {
    cases::open(
        store,
        policies,
        &NewCase {
            open_key: None,
            description: None,
            kind: Some(CaseKind::WarrantyService),
            customer: Some(customer.into()),
            order_no: Some(order.into()),
            serial: Some(serial.into()),
            policy: None,
            facts: facts(json!({"problem.reported": "defect"})),
        },
        By::Operator,
        "desk",
        at(when),
    )
    .unwrap()
}

fn open_repair(store: &mut Store, policies: &Policies, when: &str) -> i64 {
    open_defect(store, policies, "cust-1", "SO-1", "MX1-0001", when)
}

fn step(
    store: &mut Store,
    policies: &Policies,
    id: i64,
    action: Action,
    extra: J,
    when: &str,
) -> cases::Case {
    let mut s = Step::new(action);
    s.facts = facts(extra);
    cases::transition(store, policies, id, &s, By::Operator, "desk:amy", at(when))
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

#[test]
fn a_device_that_never_arrives_closes_the_case_once_its_deadline_passes() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        let c = step(
            &mut store,
            &policies,
            id,
            Action::Approve,
            json!({}),
            "2024-01-22T09:00:00Z",
        );
        assert_eq!(c.state, State::Approved, "{}", db.name);
        assert_eq!(
            c.authorisation.as_deref(),
            Some(format!("RA-{id:06}").as_str())
        );
        // Maintenance 4.2: send within 3 days of acceptance; the ship-by date comes from the
        // decision.
        assert_eq!(c.ship_by, Some(date("2024-01-25")), "{}", db.name);

        // On the 15th day after acceptance nothing is due yet (only the ship-by reminder).
        let early = sweep(&mut store, &policies, at("2024-02-06T12:00:00Z"));
        assert_eq!(
            early.iter().map(|f| f.kind).collect::<Vec<_>>(),
            vec!["ship_by_reminder"],
            "{}",
            db.name
        );
        assert_eq!(
            cases::list(&mut store, Some(State::Approved), 10)
                .unwrap()
                .len(),
            1
        );

        // The 15-day window ends at the end of 6 February; the sweep just after closes it.
        let fired = sweep(&mut store, &policies, at("2024-02-07T00:00:01Z"));
        assert_eq!(fired.len(), 1, "{}: {fired:?}", db.name);
        assert_eq!(fired[0].kind, "not_received");
        let shown = cases::show(&mut store, id).unwrap();
        assert_eq!(shown["state"], "closed_not_received", "{}", db.name);
        // The decision made at closing denies the repair under 4.2.
        let remedies = &shown["latest_decision"]["decision"]["remedies"];
        let free = remedies
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["remedy"] == "free_repair")
            .unwrap();
        assert_eq!(free["status"], "denied", "{}", db.name);

        // Exactly once: a later sweep finds nothing.
        let again = sweep(&mut store, &policies, at("2024-03-01T00:00:00Z"));
        assert!(again.is_empty(), "{}: {again:?}", db.name);
        assert_eq!(audit::verify(&mut store).unwrap().events, 8, "{}", db.name);
    }
}

#[test]
fn a_missing_policy_never_cancels_a_deadline_and_the_timer_fires_once_it_is_back() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        for (action, when) in [
            (Action::Submit, "2024-01-22T08:05:00Z"),
            (Action::Approve, "2024-01-22T09:00:00Z"),
        ] {
            step(&mut store, &policies, id, action, json!({}), when);
        }
        let late = at("2024-02-07T00:00:01Z");

        // Started without maintenance.toml: the sweep cannot decide the case. The timer stays
        // pending, the failure names the case and the cause, and the case does not move.
        let misconfigured = policies_without(&["maintenance.toml"]);
        let swept = sweep::sweep(&mut store, &misconfigured, late, 100).unwrap();
        // The ship-by reminder fails too: it tells the customer and the seller's webhooks,
        // whose seller the policy names.
        assert_eq!(swept.failed.len(), 2, "{}: {swept:?}", db.name);
        let failed = swept
            .failed
            .iter()
            .find(|f| f.kind == "not_received")
            .unwrap();
        assert_eq!(failed.case_id, id);
        assert!(!failed.error.is_callers(), "{}: {}", db.name, failed.error);
        assert!(
            failed
                .error
                .to_string()
                .contains("no seller policy `maintenance`"),
            "{}: {}",
            db.name,
            failed.error
        );
        assert!(swept.fired.is_empty(), "{}: {swept:?}", db.name);
        let shown = cases::show(&mut store, id).unwrap();
        assert_eq!(shown["state"], "approved", "{}", db.name);
        let pending: Vec<&J> = shown["timers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "not_received")
            .collect();
        assert_eq!(pending.len(), 1, "{}: {shown}", db.name);
        assert_eq!(pending[0]["fired_at"], J::Null, "{}", db.name);
        assert_eq!(pending[0]["cancelled_at"], J::Null, "{}", db.name);

        // A second sweep with the file still missing fails the same way, and changes nothing.
        let again = sweep::sweep(&mut store, &misconfigured, late, 100).unwrap();
        assert_eq!(again.failed.len(), 2, "{}", db.name);
        assert!(again.fired.is_empty(), "{}: {again:?}", db.name);

        // With the file restored the deadline acts: the device never arrived.
        let fired = sweep(&mut store, &policies, late);
        let mut kinds: Vec<&str> = fired.iter().map(|f| f.kind).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["not_received", "ship_by_reminder"], "{}", db.name);
        let shown = cases::show(&mut store, id).unwrap();
        assert_eq!(shown["state"], "closed_not_received", "{}", db.name);
        audit::verify(&mut store).unwrap();
    }
}

#[test]
fn an_unpaid_quote_sends_the_device_back_unrepaired_and_the_case_closes() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        step(
            &mut store,
            &policies,
            id,
            Action::Approve,
            json!({}),
            "2024-01-22T09:00:00Z",
        );
        // Not sent before the customer confirms the data is backed up and passwords cleared
        // (3.1-3.2): refused, and the case is as it was.
        let held = cases::transition(
            &mut store,
            &policies,
            id,
            &Step::new(Action::DeviceShipped),
            By::Customer,
            "customer",
            at("2024-01-23T09:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(held, AppError::Refused(_)), "{}: {held}", db.name);
        assert!(held.to_string().contains("3.1"), "{held}");
        assert_eq!(cases::show(&mut store, id).unwrap()["state"], "approved");
        for (action, extra, when) in [
            (
                Action::DeviceShipped,
                json!({"customer.data_acknowledged": true}),
                "2024-01-23T10:00:00Z",
            ),
            (Action::Receive, json!({}), "2024-01-26T10:00:00Z"),
            (
                Action::Inspect,
                json!({"diagnosis.causes": ["drop"]}),
                "2024-01-29T10:00:00Z",
            ),
        ] {
            step(&mut store, &policies, id, action, extra, when);
        }
        // A quote needs lines; the amounts are in the order's currency.
        let mut q = Step::new(Action::Quote);
        let err = cases::transition(
            &mut store,
            &policies,
            id,
            &q,
            By::Operator,
            "desk:amy",
            at("2024-01-31T10:00:00Z"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("quote: a quote needs at least one line"),
            "{err}"
        );
        q.quote_lines = vec!["part:Screen:80.00".into(), "labour:Bench time:40.00".into()];
        cases::transition(
            &mut store,
            &policies,
            id,
            &q,
            By::Operator,
            "desk:amy",
            at("2024-01-31T10:00:00Z"),
        )
        .unwrap();
        let shown = cases::show(&mut store, id).unwrap();
        assert_eq!(shown["state"], "awaiting_payment", "{}", db.name);
        assert_eq!(shown["quotes"][0]["total_minor"], 12_000, "{}", db.name);
        assert_eq!(shown["quotes"][0]["currency"], "USD");
        assert_eq!(shown["quotes"][0]["expires_at"], "2024-03-01T00:00:00Z");
        // The not-received timer was cancelled when the device arrived.
        let timers = shown["timers"].as_array().unwrap();
        let not_received = timers.iter().find(|t| t["kind"] == "not_received").unwrap();
        assert!(
            not_received["cancelled_at"].is_string(),
            "{}: {timers:?}",
            db.name
        );

        // Maintenance 2.6: one month from the notice on 31 January is 29 February (clamped);
        // paying on that day is in time, so nothing but the reminder three days before the
        // end fires before it is over.
        let before_reminder = sweep(&mut store, &policies, at("2024-02-26T23:59:59Z"));
        assert!(
            before_reminder.is_empty(),
            "{}: {before_reminder:?}",
            db.name
        );
        let on_last_day = sweep(&mut store, &policies, at("2024-02-29T23:59:59Z"));
        let kinds: Vec<&str> = on_last_day.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["quote_reminder"], "{}", db.name);
        let fired = sweep(&mut store, &policies, at("2024-03-01T00:00:00Z"));
        assert_eq!(fired.len(), 1, "{}", db.name);
        assert_eq!(fired[0].kind, "quote_expired");
        let c = cases::list(&mut store, Some(State::ReturnedUnrepaired), 10).unwrap();
        assert_eq!(c.len(), 1, "{}", db.name);
        assert_eq!(
            cases::show(&mut store, id).unwrap()["quotes"][0]["status"],
            "expired"
        );

        step(
            &mut store,
            &policies,
            id,
            Action::ShipBack,
            json!({}),
            "2024-03-02T10:00:00Z",
        );
        let closed = step(
            &mut store,
            &policies,
            id,
            Action::Close,
            json!({}),
            "2024-03-05T10:00:00Z",
        );
        assert_eq!(closed.state, State::Closed);
        assert!(audit::verify(&mut store).is_ok(), "{}", db.name);

        // The customer was written to at each move they wait on, in the move's transaction.
        let dir = std::env::temp_dir().join(format!(
            "aftercare_story_mail_{}_{}",
            std::process::id(),
            db.name
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let sent = aftercare_app::outbox::deliver(
            &mut store,
            &aftercare_app::outbox::Folder(dir.clone()),
            "desk@example.test",
            at("2024-03-05T11:00:00Z"),
            100,
        )
        .unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mails: Vec<String> = files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let subjects: Vec<&str> = mails
            .iter()
            .map(|m| m.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap())
            .collect();
        assert_eq!(sent.sent, mails.len());
        assert_eq!(
            subjects,
            vec![
                "RA-000001: approved; please ship by 25 January 2024",
                "RA-000001: repair quote 120.00 USD",
                "RA-000001: the repair quote expires on 29 February 2024",
                "RA-000001: the quote expired",
                "RA-000001: your item is on its way back",
                "RA-000001: closed",
            ],
            "{}",
            db.name
        );
        assert!(
            mails[1].contains("Please accept and pay it by 29 February 2024"),
            "{}",
            mails[1]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_decision_on_record_is_made_again_exactly_from_what_decided_it() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        let rec = cases::decide(
            &mut store,
            &policies,
            id,
            "desk:amy",
            at("2024-01-22T10:00:00Z"),
        )
        .unwrap();
        let (stored, again) = cases::reexplain(&mut store, rec.id).unwrap();
        assert_eq!(stored, again, "{}", db.name);
        assert_eq!(stored, rec.summary);
        // The registry's facts went into it: the invoice made the warranty start on its date.
        let facts = store
            .tx(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query_one("SELECT facts FROM decisions WHERE id = ?", &[rec.id.into()])?
                    .text(0)?)
            })
            .unwrap();
        let facts: J = serde_json::from_str(&facts).unwrap();
        assert_eq!(facts["invoice.date"], "2023-10-10", "{}", db.name);
        assert_eq!(facts["order.price"], "299.00 USD", "{}", db.name);
        assert_eq!(facts["buyer.original"], true, "{}", db.name);
    }
}

#[test]
fn a_move_from_the_wrong_state_is_refused_and_changes_nothing() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        let before = audit::verify(&mut store).unwrap();
        let err = cases::transition(
            &mut store,
            &policies,
            id,
            &Step::new(Action::Receive),
            By::Operator,
            "desk:amy",
            at("2024-01-22T09:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot `receive` a case in state `draft`; from `draft` a case can: submit, cancel",
            "{}",
            db.name
        );
        assert!(err.is_callers());
        // Timers' actions are not for people.
        let err = cases::transition(
            &mut store,
            &policies,
            id,
            &Step::new(Action::NotReceived),
            By::Operator,
            "desk:amy",
            at("2024-01-22T09:00:00Z"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timer"), "{err}");
        // An unknown fact names itself.
        let mut s = Step::new(Action::Submit);
        s.facts = facts(json!({"problem.reportd": "defect"}));
        let err = cases::transition(
            &mut store,
            &policies,
            id,
            &s,
            By::Operator,
            "desk:amy",
            at("2024-01-22T09:00:00Z"),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("facts.problem.reportd"),
            "{err}"
        );
        assert_eq!(audit::verify(&mut store).unwrap(), before, "{}", db.name);
        assert_eq!(
            cases::list(&mut store, Some(State::Draft), 10)
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn audit_verify_finds_an_edited_or_deleted_event() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        assert_eq!(audit::verify(&mut store).unwrap().events, 3);

        // The database refuses edits outright...
        let refused = store.tx(|tx| {
            tx.exec(
                "UPDATE audit_events SET actor = 'mallory' WHERE chain = 'case:1' AND chain_seq = 2",
                &[],
            )
        });
        let (kind, _) = refused.unwrap_err().violation().unwrap();
        assert_eq!(kind, aftercare_store::Violation::Trigger, "{}", db.name);

        // ...and one made by going around the triggers is found.
        tamper(
            &mut store,
            "UPDATE audit_events SET actor = 'mallory' WHERE chain = 'case:1' AND chain_seq = 2",
        );
        let err = audit::verify(&mut store).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the audit log is broken at case:1 event 2: its contents were changed"
            ),
            "{}: {err}",
            db.name
        );

        // A deleted last event is found too.
        tamper(
            &mut store,
            "UPDATE audit_events SET actor = 'desk:amy' WHERE chain = 'case:1' AND chain_seq = 2;
             DELETE FROM audit_events WHERE chain = 'case:1' AND chain_seq =
               (SELECT MAX(chain_seq) FROM audit_events WHERE chain = 'case:1')",
        );
        let err = audit::verify(&mut store).unwrap_err();
        assert!(
            err.to_string().contains("the last ones were deleted"),
            "{}: {err}",
            db.name
        );
    }
}

/// Runs `sql` as someone who goes around the append-only triggers would.
fn tamper(store: &mut Store, sql: &str) {
    let drop = match store.dialect() {
        aftercare_store::Dialect::Sqlite => {
            "DROP TRIGGER IF EXISTS audit_events_append_only_update;
             DROP TRIGGER IF EXISTS audit_events_append_only_delete;
             DROP TRIGGER IF EXISTS audit_leaves_append_only_update;
             DROP TRIGGER IF EXISTS audit_leaves_append_only_delete;
             DROP TRIGGER IF EXISTS audit_checkpoints_append_only_update;
             DROP TRIGGER IF EXISTS audit_checkpoints_append_only_delete"
        }
        aftercare_store::Dialect::Postgres => {
            "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
             DROP TRIGGER IF EXISTS audit_leaves_append_only ON audit_leaves;
             DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints"
        }
    };
    store
        .tx(|tx| -> Result<(), aftercare_store::StoreError> {
            tx.batch(drop)?;
            tx.batch(sql)
        })
        .unwrap();
}

/// Two cases with a few events each, sealed and signed with `key`; then one more event,
/// not sealed yet. Returns the checkpoint an auditor would have kept.
fn sealed_log(store: &mut Store, policies: &Policies, key: &audit::SealKey) -> audit::Checkpoint {
    seed_maintenance(store);
    let one = open_repair(store, policies, "2024-01-22T08:00:00Z");
    let two = open_repair(store, policies, "2024-01-22T08:01:00Z");
    for id in [one, two] {
        step(
            store,
            policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
    }
    let kept = audit::seal_all(store, Some(key), at("2024-01-22T08:06:00Z"))
        .unwrap()
        .unwrap();
    step(
        store,
        policies,
        one,
        Action::Approve,
        json!({}),
        "2024-01-22T09:00:00Z",
    );
    kept
}

#[test]
fn the_audit_log_is_sealed_into_a_signed_tree_and_any_change_to_it_is_found() {
    let policies = policies();
    let key = audit::SealKey::generate().unwrap();
    let other = audit::SealKey::generate().unwrap();
    let expect = |kept: &audit::Checkpoint| audit::Expect {
        public_key: Some(key.public_hex()),
        checkpoint: Some(kept.clone()),
    };
    // Each attack on a log of its own; the error each must produce.
    let attacks: &[(&str, &str, &str)] = &[
        (
            "an edited event",
            "UPDATE audit_events SET actor = 'mallory' WHERE chain = 'case:2' AND chain_seq = 1",
            "at case:2 event 1: its contents were changed",
        ),
        (
            "an event deleted in the middle of its chain",
            "DELETE FROM audit_events WHERE chain = 'case:1' AND chain_seq = 2",
            "at case:1 event 2: missing: the next event of the chain present is 3",
        ),
        (
            "two events swapped",
            "UPDATE audit_events SET chain_seq = 99 WHERE chain = 'case:2' AND chain_seq = 1;
             UPDATE audit_events SET chain_seq = 1 WHERE chain = 'case:2' AND chain_seq = 2;
             UPDATE audit_events SET chain_seq = 2 WHERE chain = 'case:2' AND chain_seq = 99",
            "at case:2 event 1: it links to",
        ),
        (
            "an event inserted in the middle of its chain",
            "UPDATE audit_events SET chain_seq = chain_seq + 100 WHERE chain = 'case:2' AND chain_seq >= 2;
             UPDATE audit_events SET chain_seq = chain_seq - 99 WHERE chain = 'case:2' AND chain_seq >= 100;
             UPDATE audit_chains SET seq = seq + 1 WHERE chain = 'case:2';
             INSERT INTO audit_events (chain, chain_seq, at, actor, entity, entity_id, action, prev_hash, hash)
             SELECT 'case:2', 2, at, 'mallory', 'case', '2', 'withdraw', hash, hash FROM audit_events
              WHERE chain = 'case:2' AND chain_seq = 1",
            "at case:2 event 2: its contents were changed",
        ),
        (
            "a case's whole history deleted, its head left",
            "DELETE FROM audit_events WHERE chain = 'case:2'",
            "at case:2 event 1: it was sealed as leaf",
        ),
        (
            "a case's whole history deleted, its head and leaves too",
            "DELETE FROM audit_events WHERE chain = 'case:2'; DELETE FROM audit_chains WHERE chain = 'case:2';
             DELETE FROM audit_leaves WHERE chain = 'case:2'",
            "missing: the next leaf of the tree present is",
        ),
        (
            "the newest event deleted, not sealed yet",
            "DELETE FROM audit_events WHERE chain = 'case:1' AND chain_seq =
               (SELECT MAX(chain_seq) FROM audit_events WHERE chain = 'case:1')",
            "the last ones were deleted",
        ),
        (
            "a checkpoint's root changed",
            "UPDATE audit_checkpoints SET root = '00' || substr(root, 3)",
            "the tree's root at its size differs from the one it states",
        ),
    ];
    for (what, sql, expected) in attacks {
        for db in databases() {
            let mut store = db.open();
            let kept = sealed_log(&mut store, &policies, &key);
            let v = audit::verify_with(&mut store, &expect(&kept)).unwrap();
            assert_eq!(
                (v.sealed, v.pending, v.checkpoints, v.unsigned),
                (kept.tree_size, v.events - kept.tree_size, 1, 0),
                "{}: {what}",
                db.name
            );
            assert!(v.pending > 0, "{}: the approval is not sealed yet", db.name);
            assert_eq!(v.signed_by, vec![key.public_hex()]);
            tamper(&mut store, sql);
            let err = audit::verify_with(&mut store, &expect(&kept))
                .map(|v| format!("{v:?}"))
                .expect_err(&format!("{}: {what} was not found", db.name))
                .to_string();
            assert!(err.contains(expected), "{}: {what}: {err}", db.name);
        }
    }
    for db in databases() {
        // The strongest rewrite without the key: the log cut back to an earlier, consistent
        // state (events, heads, leaves, checkpoints and the sealer's record alike). It checks
        // out by itself; the checkpoint the auditor kept finds it.
        let mut store = db.open();
        seed_maintenance(&mut store);
        let one = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        audit::seal_all(&mut store, Some(&key), at("2024-01-22T08:00:30Z")).unwrap();
        let earlier = store
            .tx(|tx| -> Result<_, aftercare_store::StoreError> {
                let seal = tx.query_one("SELECT tree_size, frontier FROM audit_seal", &[])?;
                let head = tx.query_one(
                    "SELECT seq, hash, sealed FROM audit_chains WHERE chain = 'case:1'",
                    &[],
                )?;
                Ok((
                    seal.int(0)?,
                    seal.text(1)?,
                    head.int(0)?,
                    head.text(1)?,
                    head.int(2)?,
                ))
            })
            .unwrap();
        step(
            &mut store,
            &policies,
            one,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        let kept = audit::seal_all(&mut store, Some(&key), at("2024-01-22T08:06:00Z"))
            .unwrap()
            .unwrap();
        tamper(
            &mut store,
            &format!(
                "DELETE FROM audit_events WHERE chain = 'case:1' AND chain_seq > {n};
                 DELETE FROM audit_leaves WHERE leaf >= {size};
                 DELETE FROM audit_checkpoints WHERE tree_size > {size};
                 UPDATE audit_seal SET tree_size = {size}, frontier = '{frontier}';
                 UPDATE audit_chains SET seq = {n}, hash = '{hash}', sealed = {sealed} WHERE chain = 'case:1'",
                size = earlier.0,
                frontier = earlier.1,
                n = earlier.2,
                hash = earlier.3,
                sealed = earlier.4,
            ),
        );
        audit::verify(&mut store).unwrap();
        let err = audit::verify_with(&mut store, &expect(&kept))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "the checkpoint you kept covers {} events, but the tree has only {}",
                kept.tree_size, earlier.0
            )),
            "{}: {err}",
            db.name
        );

        // The tree sealed again under another key: it holds the same events (the kept
        // checkpoint's root still matches), but not signed by the key the auditor trusts.
        drop(store);
        let db = databases().into_iter().find(|d| d.name == db.name).unwrap();
        let mut store = db.open();
        let kept = sealed_log(&mut store, &policies, &key);
        tamper(
            &mut store,
            "DELETE FROM audit_checkpoints; DELETE FROM audit_leaves;
             UPDATE audit_seal SET tree_size = 0, frontier = '[]'; UPDATE audit_chains SET sealed = 0",
        );
        audit::seal_all(&mut store, Some(&other), at("2024-01-22T10:00:00Z")).unwrap();
        audit::verify(&mut store).unwrap();
        let err = audit::verify_with(&mut store, &expect(&kept))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("none of the 1 checkpoints is signed by the key you gave"),
            "{}: {err}",
            db.name
        );
    }
}

#[test]
fn refunds_never_exceed_what_was_paid_even_when_sent_at_once() {
    use aftercare_app::money::{self, RefundRequest};
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        // SO-1 was paid 308.00 USD. Eight clerks each refund 100.00 at the same moment, each
        // with their own key, on their own connection: three fit, five are refused.
        let outcomes: Vec<Result<money::Refund, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let url = db.url.clone();
                    s.spawn(move || {
                        let mut store = Store::open(&url).unwrap();
                        money::record(
                            &mut store,
                            &RefundRequest {
                                order_no: "SO-1".into(),
                                case_id: None,
                                amount_minor: 10_000,
                                currency: Some("USD".into()),
                                idempotency_key: format!("clerk-{i}"),
                                reason: "test".into(),
                            },
                            "desk:amy",
                            at("2024-02-01T10:00:00Z"),
                        )
                        .map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(ok, 3, "{}: {outcomes:?}", db.name);
        for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert!(
                refused.starts_with("amount: a refund of 100.00 USD on order `SO-1` would bring its refunds to more than the 308.00 USD paid"),
                "{}: {refused}",
                db.name
            );
        }
        let total = store
            .tx(|tx| -> Result<_, AppError> {
                let r = tx.query_one(
                    "SELECT o.refunded_minor, CAST(SUM(r.amount_minor) AS BIGINT) FROM orders o
                     JOIN refunds r ON r.order_no = o.order_no WHERE o.order_no = 'SO-1'
                     GROUP BY o.refunded_minor",
                    &[],
                )?;
                Ok((r.int(0)?, r.int(1)?))
            })
            .unwrap();
        assert_eq!(total, (30_000, 30_000), "{}", db.name);

        let ok_key = outcomes
            .iter()
            .position(Result::is_ok)
            .map(|i| format!("clerk-{i}"))
            .unwrap();
        // The same request again is a replay: nothing new is recorded.
        let again = money::record(
            &mut store,
            &RefundRequest {
                order_no: "SO-1".into(),
                case_id: None,
                amount_minor: 10_000,
                currency: None,
                idempotency_key: ok_key.clone(),
                reason: "test".into(),
            },
            "desk:amy",
            at("2024-02-01T10:05:00Z"),
        )
        .unwrap();
        assert!(again.replayed, "{}", db.name);
        // A key reused for another amount is refused, naming the key.
        let err = money::record(
            &mut store,
            &RefundRequest {
                order_no: "SO-1".into(),
                case_id: None,
                amount_minor: 800,
                currency: None,
                idempotency_key: ok_key.clone(),
                reason: "test".into(),
            },
            "desk:amy",
            at("2024-02-01T10:06:00Z"),
        );
        if outcomes[0].is_ok() {
            assert!(
                err.unwrap_err()
                    .to_string()
                    .starts_with("idempotency_key: `clerk-0` was already used")
            );
        }
        // Refunds are never deleted.
        let deleted = store.tx(|tx| tx.exec("DELETE FROM refunds", &[]));
        assert_eq!(
            deleted.unwrap_err().violation().map(|v| v.0),
            Some(aftercare_store::Violation::Trigger),
            "{}",
            db.name
        );
        money::mark_paid(&mut store, again.id, "desk:amy", at("2024-02-02T10:00:00Z")).unwrap();
        assert!(
            money::mark_paid(&mut store, again.id, "desk:amy", at("2024-02-02T10:00:00Z")).is_err()
        );
        audit::verify(&mut store).unwrap();
    }
}

#[test]
fn an_erased_customer_leaves_cases_money_and_audit_whole() {
    use aftercare_app::personal;
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        let exported =
            personal::export(&mut store, "cust-1", &aftercare_app::accounts::Sellers::All).unwrap();
        assert_eq!(
            exported["customer"]["email"], "ada@example.org",
            "{}",
            db.name
        );
        assert_eq!(exported["orders"][0]["order_no"], "SO-1");
        assert_eq!(exported["orders"][0]["lines"][0]["serial"], "MX1-0001");
        assert_eq!(exported["cases"][0]["id"], id);

        let placeholder =
            personal::erase(&mut store, "cust-1", "dpo", at("2024-03-01T00:00:00Z")).unwrap();
        let err = personal::export(&mut store, "cust-1", &aftercare_app::accounts::Sellers::All)
            .unwrap_err();
        assert_eq!(err.to_string(), "no customer `cust-1`");
        let after = personal::export(
            &mut store,
            &placeholder,
            &aftercare_app::accounts::Sellers::All,
        )
        .unwrap();
        assert_eq!(after["customer"]["name"], "erased", "{}", db.name);
        assert_eq!(after["customer"]["email"], J::Null);
        // The case and the order are still the customer's, and still decide.
        assert_eq!(after["cases"][0]["id"], id);
        assert_eq!(after["orders"][0]["paid_minor"], 30_800);
        cases::decide(
            &mut store,
            &policies,
            id,
            "desk:amy",
            at("2024-03-01T01:00:00Z"),
        )
        .unwrap();
        // Nothing personal was ever in the audit log, and the chain is intact.
        let leaked = store
            .tx(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query(
                        "SELECT seq FROM audit_events WHERE after LIKE '%ada@example.org%' OR after LIKE '%Lovelace%'",
                        &[],
                    )?
                    .len())
            })
            .unwrap();
        assert_eq!(leaked, 0, "{}", db.name);
        audit::verify(&mut store).unwrap();
    }
}

fn import_examples(store: &mut Store) {
    use aftercare_app::import;
    let text = include_str!("../../../examples/registry.json");
    let batch = import::parse_json(text).unwrap();
    import::load(
        store,
        &policies(),
        &batch,
        text,
        "test",
        at("2024-01-22T08:00:00Z"),
        date("2024-01-22"),
        &mut |_, _| {},
    )
    .unwrap();
}

#[test]
fn repairs_record_parts_with_their_warranty_and_failed_repairs_count() {
    use aftercare_app::lineage;
    use aftercare_app::repairs::{self, RepairReport};
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        import_examples(&mut store);
        let id = open_imask_defect(&mut store, &policies);
        for (action, extra, when) in [
            (Action::Submit, json!({}), "2024-11-01T02:05:00Z"),
            (Action::Approve, json!({}), "2024-11-01T03:00:00Z"),
            (Action::Receive, json!({}), "2024-11-04T03:00:00Z"),
            (
                Action::Inspect,
                json!({"diagnosis.causes": ["manufacturing"]}),
                "2024-11-05T03:00:00Z",
            ),
            (Action::Repair, json!({}), "2024-11-05T04:00:00Z"),
        ] {
            step(&mut store, &policies, id, action, extra, when);
        }
        let detail = repairs::record_repair(
            &mut store,
            &policies,
            id,
            &RepairReport {
                fixed: false,
                parts: vec!["fan".into()],
                replacement_serial: None,
                if_version: None,
            },
            "workshop",
            at("2024-11-06T03:00:00Z"),
        )
        .unwrap();
        // IMASK: a replaced part gets max(the unit's remaining warranty, 90 days). The unit's
        // year from the 2024-01-02 invoice ends in January 2025; 90 days from 6 November
        // reaches 4 February 2025, which is later.
        assert_eq!(
            detail["parts"][0]["warranty_until"], "2025-02-04",
            "{}: {detail}",
            db.name
        );

        let seen = lineage::lookup(&mut store, "IMA-0001").unwrap();
        assert_eq!(seen["failed_repairs"], 1, "{}", db.name);
        assert_eq!(seen["parts"][0]["part"], "fan");
        assert_eq!(seen["history"][0]["event"], "repaired");
        assert_eq!(seen["first_sale"]["order_no"], "SO-IMA-1");
        // The failed repair feeds the next decision.
        let rec = cases::decide(
            &mut store,
            &policies,
            id,
            "desk:li",
            at("2024-11-06T04:00:00Z"),
        )
        .unwrap();
        let used = store
            .tx(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query_one("SELECT facts FROM decisions WHERE id = ?", &[rec.id.into()])?
                    .text(0)?)
            })
            .unwrap();
        assert!(
            used.contains("\"history.failed_repairs\":1"),
            "{}: {used}",
            db.name
        );

        // A replacement unit joins the lineage with its own warranty.
        let detail = repairs::record_repair(
            &mut store,
            &policies,
            id,
            &RepairReport {
                fixed: true,
                parts: vec![],
                replacement_serial: Some("IMA-9001".into()),
                if_version: None,
            },
            "workshop",
            at("2024-11-07T03:00:00Z"),
        )
        .unwrap();
        assert_eq!(detail["replaced_by"], "IMA-9001");
        let new = lineage::lookup(&mut store, "IMA-9001").unwrap();
        assert_eq!(
            new["lineage"],
            json!(["IMA-9001", "IMA-0001"]),
            "{}",
            db.name
        );
        // IMASK: a whole unit replaced gets a new 12 months.
        assert_eq!(new["warranty_until"], "2025-11-07", "{}: {new}", db.name);
        assert_eq!(new["first_sale"]["order_no"], "SO-IMA-1");
        // A case on the replacement, after the original unit's year: its own 12 months decide.
        let later = open_defect(
            &mut store,
            &policies,
            "cust-cn",
            "SO-IMA-1",
            "IMA-9001",
            "2025-06-01T02:00:00Z",
        );
        let rec = cases::decide(
            &mut store,
            &policies,
            later,
            "desk:li",
            at("2025-06-01T03:00:00Z"),
        )
        .unwrap();
        let product = rec.summary["warranty"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["claimed"] == true)
            .unwrap()
            .clone();
        assert_eq!(product["start"], "2024-11-07", "{}: {product}", db.name);
        assert_eq!(product["end"], "2025-11-07", "{}: {product}", db.name);
        assert_eq!(product["in_warranty"], true, "{}", db.name);
        let facts = store
            .tx(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query_one("SELECT facts FROM decisions WHERE id = ?", &[rec.id.into()])?
                    .text(0)?)
            })
            .unwrap();
        assert!(
            facts.contains("\"history.accessory_replacements\":1"),
            "{}: {facts}",
            db.name
        );
        audit::verify(&mut store).unwrap();
    }
}

#[test]
fn the_version_in_force_at_purchase_decides_and_is_kept_on_record() {
    use aftercare_policy::SourceFile;
    // The shipped files plus a second Maintenance version from 1 June 2024 with 24 months.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let v1 = std::fs::read_to_string(dir.join("maintenance.toml")).unwrap();
    let v2 = v1
        .replace("version = \"1.0.0\"", "version = \"2.0.0\"")
        .replace("effective_from = 2024-01-01", "effective_from = 2024-06-01")
        .replace("value = \"12 months\"", "value = \"24 months\"");
    assert_ne!(v1, v2);
    let mut files = aftercare_app::policies::read_dir(&dir).unwrap();
    files.push(SourceFile {
        name: "maintenance-2.toml".into(),
        text: v2,
    });
    let policies = Policies::from_sources(files).unwrap();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        store
            .tx(|tx| -> Result<(), AppError> {
                registry::upsert_unit(
                    tx,
                    &Unit {
                        serial: "MX1-0002".into(),
                        sku: "MX-1".into(),
                        manufactured_on: None,
                        genuine: true,
                    },
                )?;
                registry::upsert_order(
                    tx,
                    &Order {
                        order_no: "SO-2".into(),
                        customer: "cust-1".into(),
                        channel: "official".into(),
                        distance: Some(true),
                        ordered_on: date("2024-07-01"),
                        shipped_on: None,
                        delivered_on: Some(date("2024-07-03")),
                        currency: "USD".into(),
                        shipping_fee_minor: 0,
                        paid_minor: 29_900,
                        payment_method: None,
                        lines: vec![OrderLine {
                            sku: "MX-1".into(),
                            serial: Some("MX1-0002".into()),
                            quantity: 1,
                            price_minor: 29_900,
                        }],
                    },
                    date("2024-08-01"),
                )
            })
            .unwrap();
        let old = open_repair(&mut store, &policies, "2024-08-01T08:00:00Z");
        let new = open_defect(
            &mut store,
            &policies,
            "cust-1",
            "SO-2",
            "MX1-0002",
            "2024-08-01T08:00:00Z",
        );
        let when = at("2024-08-01T09:00:00Z");
        let a = cases::decide(&mut store, &policies, old, "desk:amy", when).unwrap();
        let b = cases::decide(&mut store, &policies, new, "desk:amy", when).unwrap();
        assert_eq!(a.summary["policy"]["version"], "1.0.0", "{}", db.name);
        assert_eq!(b.summary["policy"]["version"], "2.0.0", "{}", db.name);
        // Each is made again from its own stored text.
        for rec in [&a, &b] {
            let (stored, again) = cases::reexplain(&mut store, rec.id).unwrap();
            assert_eq!(stored, again, "{}", db.name);
        }
    }
}

#[test]
fn a_missed_service_level_target_is_recorded_once_and_a_met_one_is_not() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        import_examples(&mut store);
        let open = |store: &mut Store| open_imask_defect(store, &policies);
        let (late, on_time) = (open(&mut store), open(&mut store));
        for id in [late, on_time] {
            step(
                &mut store,
                &policies,
                id,
                Action::Submit,
                json!({}),
                "2024-11-01T02:05:00Z",
            );
            step(
                &mut store,
                &policies,
                id,
                Action::Approve,
                json!({}),
                "2024-11-01T03:00:00Z",
            );
            step(
                &mut store,
                &policies,
                id,
                Action::Receive,
                json!({}),
                "2024-11-04T03:30:00Z",
            );
        }
        // IMASK "After-sales service response time commitment 1": inspected within 24 hours of receipt. One case is, in time.
        step(
            &mut store,
            &policies,
            on_time,
            Action::Inspect,
            json!({}),
            "2024-11-05T03:00:00Z",
        );
        let before = sweep(&mut store, &policies, at("2024-11-05T03:29:59Z"));
        assert!(
            before.iter().all(|f| f.kind != "inspect_by_breached"),
            "{}: {before:?}",
            db.name
        );
        let fired = sweep(&mut store, &policies, at("2024-11-05T03:30:00Z"));
        let breaches: Vec<_> = fired
            .iter()
            .filter(|f| f.kind == "inspect_by_breached")
            .collect();
        assert_eq!(breaches.len(), 1, "{}: {fired:?}", db.name);
        assert_eq!(breaches[0].case_id, late);
        assert_eq!(
            breaches[0].outcome,
            "inspect_by passed while the case was received"
        );
        // The case itself is where it was; the breach is on its record.
        let shown = cases::show(&mut store, late).unwrap();
        assert_eq!(shown["state"], "received");
        let history = shown["history"].as_array().unwrap();
        assert!(
            history
                .iter()
                .any(|e| e["action"] == "service_level_breached"),
            "{}",
            db.name
        );
        let again = sweep(&mut store, &policies, at("2024-11-06T00:00:00Z"));
        assert!(
            again.iter().all(|f| f.kind != "inspect_by_breached"),
            "{}: {again:?}",
            db.name
        );
    }
}

/// The shipped policies, and for each `(id, variant)` a copy of policy `id` named `variant`:
/// a seller's second document, for another market.
fn policies_with_variants(variants: &[(&str, &str)]) -> Policies {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = aftercare_app::policies::read_dir(&dir).unwrap();
    for (id, variant) in variants {
        let original = sources
            .iter()
            .find(|f| f.name.ends_with(&format!("{id}.toml")))
            .unwrap()
            .clone();
        sources.push(aftercare_policy::set::SourceFile {
            name: original
                .name
                .replace(&format!("{id}.toml"), &format!("{variant}.toml")),
            text: original.text.replacen(
                &format!("id = \"{id}\""),
                &format!("id = \"{variant}\""),
                1,
            ),
        });
    }
    Policies::from_sources(sources).unwrap()
}

#[test]
fn the_policy_follows_the_buyers_country_where_the_sku_says_so() {
    // IMIKI and IMASK each have a second document, for buyers in China.
    let policies = policies_with_variants(&[("imiki", "imiki-cn"), ("imask", "imask-cn")]);
    for db in databases() {
        let mut store = db.open();
        assert_eq!(
            store.schema_versions().unwrap(),
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            "{}",
            db.name
        );
        import_examples(&mut store);
        store
            .tx(|tx| -> Result<(), AppError> {
                let mut by_country = std::collections::BTreeMap::new();
                by_country.insert("CN".to_string(), "imiki-cn".to_string());
                registry::upsert_sku(
                    tx,
                    &Sku {
                        code: "W-2".into(),
                        name: "Watch sold in two markets".into(),
                        class: "main".into(),
                        components: String::new(),
                        security_sensitive: false,
                        seller: "IMIKI".into(),
                        policy: "imiki".into(),
                        policy_by_country: by_country,
                    },
                )?;
                // Sold in China, IMASK's masks fall under its Chinese document: the order's
                // buyer decides, unless the case names another customer.
                let mut by_country = std::collections::BTreeMap::new();
                by_country.insert("CN".to_string(), "imask-cn".to_string());
                registry::upsert_sku(
                    tx,
                    &Sku {
                        code: "IMASK-M1".into(),
                        name: "IMASK M1".into(),
                        class: "main".into(),
                        components: String::new(),
                        security_sensitive: false,
                        seller: "IMASK".into(),
                        policy: "imask".into(),
                        policy_by_country: by_country,
                    },
                )?;
                for serial in ["W2-DE", "W2-CN"] {
                    registry::upsert_unit(
                        tx,
                        &Unit {
                            serial: serial.into(),
                            sku: "W-2".into(),
                            manufactured_on: None,
                            genuine: true,
                        },
                    )?;
                }
                Ok(())
            })
            .unwrap();
        for (customer, serial, policy) in [
            ("cust-de", "W2-DE", "imiki"),
            ("cust-cn", "W2-CN", "imiki-cn"),
        ] {
            let id = cases::open(
                &mut store,
                &policies,
                &NewCase {
                    open_key: None,
                    description: None,
                    kind: Some(CaseKind::WarrantyService),
                    customer: Some(customer.into()),
                    serial: Some(serial.into()),
                    ..NewCase::default()
                },
                By::Operator,
                "desk",
                at("2024-03-01T00:00:00Z"),
            )
            .unwrap();
            assert_eq!(
                cases::show(&mut store, id).unwrap()["policy"],
                policy,
                "{}",
                db.name
            );
        }
        // By order alone: its first line's SKU, for the order's buyer (in China); with a
        // customer named, for that customer (in Germany: the SKU's default).
        for (customer, policy) in [(None, "imask-cn"), (Some("cust-de"), "imask")] {
            let id = cases::open(
                &mut store,
                &policies,
                &NewCase {
                    open_key: None,
                    description: None,
                    kind: Some(CaseKind::Return),
                    customer: customer.map(Into::into),
                    order_no: Some("SO-IMA-1".into()),
                    ..NewCase::default()
                },
                By::Operator,
                "desk",
                at("2024-03-01T00:00:00Z"),
            )
            .unwrap();
            assert_eq!(
                cases::show(&mut store, id).unwrap()["policy"],
                policy,
                "{} {customer:?}",
                db.name
            );
        }
        // A policy of another seller than the one who sold the item is refused, whoever
        // names it.
        let err = cases::open(
            &mut store,
            &policies,
            &NewCase {
                kind: Some(CaseKind::WarrantyService),
                serial: Some("W2-DE".into()),
                policy: Some("imask".into()),
                ..NewCase::default()
            },
            By::Operator,
            "desk",
            at("2024-03-01T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy: policy `imask` is IMASK's; the item was sold by IMIKI"
        );
        // What a case names must exist; each unknown one is named.
        for (new, said) in [
            (
                NewCase {
                    open_key: None,
                    description: None,
                    customer: Some("nobody".into()),
                    serial: Some("W2-DE".into()),
                    ..NewCase::default()
                },
                "customer: unknown customer `nobody`",
            ),
            (
                NewCase {
                    open_key: None,
                    description: None,
                    order_no: Some("SO-NONE".into()),
                    ..NewCase::default()
                },
                "order: unknown order `SO-NONE`",
            ),
            (
                NewCase {
                    open_key: None,
                    description: None,
                    customer: Some("cust-de".into()),
                    serial: Some("W2-XX".into()),
                    ..NewCase::default()
                },
                "serial: unknown serial `W2-XX`",
            ),
        ] {
            let new = NewCase {
                open_key: None,
                description: None,
                kind: Some(CaseKind::WarrantyService),
                ..new
            };
            let err = cases::open(
                &mut store,
                &policies,
                &new,
                By::Operator,
                "desk",
                at("2024-03-01T00:00:00Z"),
            )
            .unwrap_err();
            assert_eq!(err.to_string(), said, "{}", db.name);
        }
    }
}

#[test]
fn a_batch_of_orders_is_checked_whole_and_a_reimport_drops_lines_an_order_lost() {
    use aftercare_app::import::{self, Batch};
    let order = |no: &str, lines: usize| Order {
        order_no: no.into(),
        customer: "cust-1".into(),
        channel: "official".into(),
        distance: Some(true),
        ordered_on: date("2023-11-01"),
        shipped_on: None,
        delivered_on: None,
        currency: "USD".into(),
        shipping_fee_minor: 0,
        paid_minor: 1_000,
        payment_method: None,
        lines: (0..lines)
            .map(|_| OrderLine {
                sku: "MX-1".into(),
                serial: None,
                quantity: 1,
                price_minor: 500,
            })
            .collect(),
    };
    let invoice = |no: &str, order_no: &str, lines: usize| Invoice {
        invoice_no: no.into(),
        order_no: Some(order_no.into()),
        issued_on: date("2023-11-01"),
        valid: true,
        lines: (0..lines)
            .map(|i| InvoiceLine {
                model: format!("MX-1 #{i}"),
                serial: None,
            })
            .collect(),
    };
    let load = |store: &mut Store, batch: &Batch| {
        import::load(
            store,
            &policies(),
            batch,
            &format!("{batch:?}"),
            "test",
            at("2024-01-22T08:00:00Z"),
            date("2024-01-22"),
            &mut |_, _| {},
        )
    };
    let count = |store: &mut Store, sql: &str| -> i64 {
        store
            .tx(|tx| -> Result<i64, AppError> { Ok(tx.query_one(sql, &[])?.int(0)?) })
            .unwrap()
    };
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        // 1,200 orders: more than one statement's worth of rows (500), each with two lines.
        let mut batch = Batch {
            orders: (0..1_200).map(|i| order(&format!("B-{i}"), 2)).collect(),
            invoices: vec![invoice("BI-1", "B-7", 3)],
            ..Batch::default()
        };
        load(&mut store, &batch).unwrap();
        let lines = "SELECT count(*) FROM order_lines WHERE order_no LIKE 'B-%'";
        assert_eq!(count(&mut store, lines), 2_400, "{}", db.name);

        // Every bad order is named, by place and key; nothing of the batch is written.
        let mut bad = batch.orders.clone();
        if let Some(o) = bad.get_mut(3) {
            o.customer = "nobody".into();
        }
        if let Some(o) = bad.get_mut(900) {
            o.lines.push(OrderLine {
                sku: "NO-SUCH".into(),
                serial: Some("NO-SERIAL".into()),
                quantity: 1,
                price_minor: 1,
            });
        }
        bad.push(order("B-new", 1));
        let refused = load(
            &mut store,
            &Batch {
                orders: bad,
                ..Batch::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            refused.problems,
            vec![
                "orders[3] (order_no `B-3`): customer: unknown customer `nobody`".to_string(),
                "orders[900] (order_no `B-900`): lines[2].sku: unknown SKU `NO-SUCH`".to_string(),
            ],
            "{}",
            db.name
        );
        let orders = "SELECT count(*) FROM orders WHERE order_no LIKE 'B-%'";
        assert_eq!(count(&mut store, orders), 1_200, "{}", db.name);
        assert_eq!(count(&mut store, lines), 2_400, "{}", db.name);

        // Re-imported with one line less, an order and an invoice lose that line; the others
        // are unchanged.
        if let Some(o) = batch.orders.get_mut(5) {
            o.lines.pop();
        }
        batch.invoices = vec![invoice("BI-1", "B-7", 1)];
        load(&mut store, &batch).unwrap();
        assert_eq!(count(&mut store, lines), 2_399, "{}", db.name);
        let b5 = "SELECT count(*) FROM order_lines WHERE order_no = 'B-5'";
        assert_eq!(count(&mut store, b5), 1, "{}", db.name);
        let inv = "SELECT count(*) FROM invoice_lines WHERE invoice_no = 'BI-1'";
        assert_eq!(count(&mut store, inv), 1, "{}", db.name);
    }
}

#[test]
fn sweepers_running_at_once_fire_each_due_timer_exactly_once() {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;
    use sweep::{Round, Sweeper};
    let policies = std::sync::Arc::new(policies());
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let n = 120;
        let ids: Vec<i64> = (0..n)
            .map(|_| open_repair(&mut store, &policies, "2024-01-22T08:00:00Z"))
            .collect();
        // A ship-by reminder due on every case, and one timer whose action the case refuses
        // (a draft cannot be closed as not received): it must not hold the others back.
        let poison = ids[0];
        store
            .tx(|tx| -> Result<(), AppError> {
                for id in &ids {
                    tx.exec(
                        "INSERT INTO timers (case_id, kind, due_at) VALUES (?, 'ship_by_reminder', ?)",
                        &[(*id).into(), at("2024-01-23T00:00:00Z").as_microsecond().into()],
                    )?;
                }
                tx.exec(
                    "INSERT INTO timers (case_id, kind, due_at) VALUES (?, 'not_received', ?)",
                    &[poison.into(), at("2024-01-23T00:00:00Z").as_microsecond().into()],
                )?;
                Ok(())
            })
            .unwrap();

        // Four sweepers, each with its own connection, in small batches, all at once.
        let stop = AtomicBool::new(false);
        let reports: Vec<Vec<sweep::Fired>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let mut got = Vec::new();
                        let connect = || Ok(db.open());
                        let sweeper = Sweeper {
                            every: std::time::Duration::ZERO,
                            batch: 7,
                            rounds: Some(3),
                            stop: &stop,
                        };
                        sweep::run_sweeper(
                            &connect,
                            &|| std::sync::Arc::clone(&policies),
                            &|| at("2024-01-23T12:00:00Z"),
                            &sweeper,
                            &mut |r| match r {
                                Round::Swept(f) => {
                                    assert!(f.failed.is_empty(), "{}: {:?}", db.name, f.failed);
                                    got.extend(f.fired.iter().cloned());
                                }
                                Round::Failed(e) => panic!("{}: sweep failed: {e}", db.name),
                            },
                        );
                        got
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut per_timer: BTreeMap<(i64, &str), usize> = BTreeMap::new();
        for f in reports.iter().flatten() {
            *per_timer.entry((f.case_id, f.kind)).or_default() += 1;
        }
        assert_eq!(per_timer.len(), n + 1, "{}: every timer fired", db.name);
        assert!(
            per_timer.values().all(|c| *c == 1),
            "{}: a timer fired twice: {per_timer:?}",
            db.name
        );
        let poisoned = reports
            .iter()
            .flatten()
            .find(|f| f.kind == "not_received")
            .unwrap();
        assert!(
            poisoned.outcome.starts_with("not fired:"),
            "{}: {}",
            db.name,
            poisoned.outcome
        );
        let counts = store
            .tx(|tx| -> Result<(i64, i64, String), AppError> {
                let reminders = tx
                    .query_one(
                        "SELECT count(*) FROM audit_events WHERE action = 'ship_by_reminder'",
                        &[],
                    )?
                    .int(0)?;
                let pending = tx
                    .query_one(
                        "SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
                        &[],
                    )?
                    .int(0)?;
                let state = tx
                    .query_one("SELECT state FROM cases WHERE id = ?", &[poison.into()])?
                    .text(0)?;
                Ok((reminders, pending, state))
            })
            .unwrap();
        assert_eq!(
            counts,
            (i64::try_from(n).unwrap(), 0, "draft".to_string()),
            "{}",
            db.name
        );
        audit::verify(&mut store).unwrap();
    }
}

#[test]
fn an_order_shipped_in_parcels_is_delivered_when_its_last_parcel_arrives() {
    use aftercare_app::import::{self, Batch};
    use aftercare_app::registry::Shipment;
    let policies = policies();
    let ship = |tracking: &str, order: &str, shipped: &str, delivered: Option<&str>| Shipment {
        carrier: "DHL".into(),
        tracking: tracking.into(),
        order_no: order.into(),
        shipped_on: date(shipped),
        delivered_on: delivered.map(date),
    };
    let load = |store: &mut Store, shipments: Vec<Shipment>| {
        import::load(
            store,
            &policies,
            &Batch {
                shipments,
                ..Batch::default()
            },
            "shipments",
            "test",
            at("2024-01-22T08:00:00Z"),
            date("2024-01-22"),
            &mut |_, _| {},
        )
    };
    // The delivery date the registry gives a new case on the order.
    let delivered = |store: &mut Store| -> Option<String> {
        let id = open_repair(store, &policies, "2024-01-22T08:00:00Z");
        cases::decide(store, &policies, id, "desk", at("2024-01-22T08:01:00Z")).unwrap();
        store
            .tx(|tx| -> Result<Option<String>, AppError> {
                let facts = tx
                    .query_one(
                        "SELECT facts FROM decisions WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                        &[id.into()],
                    )?
                    .text(0)?;
                let facts: J = serde_json::from_str(&facts).unwrap();
                Ok(facts["order.delivered"].as_str().map(String::from))
            })
            .unwrap()
    };
    // The delivery date the serial's look-up shows for its first sale: the same one.
    let shown = |store: &mut Store| -> J {
        aftercare_app::lineage::lookup(store, "MX1-0001").unwrap()["first_sale"]["delivered_on"]
            .clone()
    };
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        // Without shipments, the order's own date.
        assert_eq!(delivered(&mut store).as_deref(), Some("2023-10-14"));
        assert_eq!(shown(&mut store), "2023-10-14", "{}", db.name);
        // Two parcels, one still on its way: not delivered yet.
        load(
            &mut store,
            vec![
                ship("1", "SO-1", "2023-10-11", Some("2023-10-13")),
                ship("2", "SO-1", "2023-10-12", None),
            ],
        )
        .unwrap();
        assert_eq!(delivered(&mut store), None, "{}", db.name);
        assert_eq!(shown(&mut store), J::Null, "{}", db.name);
        // The second arrives (the same tracking number again: an update): the last delivery.
        load(
            &mut store,
            vec![ship("2", "SO-1", "2023-10-12", Some("2023-10-20"))],
        )
        .unwrap();
        assert_eq!(
            delivered(&mut store).as_deref(),
            Some("2023-10-20"),
            "{}",
            db.name
        );
        assert_eq!(shown(&mut store), "2023-10-20", "{}", db.name);

        let refused = load(
            &mut store,
            vec![
                ship("3", "SO-1", "2023-10-12", Some("2023-10-11")),
                ship("6", "NOPE", "2023-10-12", None),
                ship("4", "SO-1", "2023-10-01", None),
                ship("5", "SO-1", "2024-02-01", None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            refused.problems,
            vec![
                "shipments[0] (tracking `DHL 3`): delivered_on: 2023-10-11 is before shipped_on 2023-10-12",
                "shipments[1] (tracking `DHL 6`): order_no: unknown order `NOPE`",
                "shipments[2] (tracking `DHL 4`): shipped_on: 2023-10-01 is before the order's date 2023-10-10",
                "shipments[3] (tracking `DHL 5`): shipped_on: 2024-02-01 is in the future",
            ],
            "{}",
            db.name
        );
        let duplicate = load(
            &mut store,
            vec![
                ship("7", "SO-1", "2023-10-12", None),
                ship("7", "SO-1", "2023-10-13", None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            duplicate.problems,
            vec!["shipments[1]: duplicate tracking `DHL 7` (also shipments[0])"],
            "{}",
            db.name
        );
    }
}

#[test]
fn a_case_opened_again_under_its_request_key_is_the_same_case() {
    // A server died after opening the case and before keeping its answer: the retry that
    // takes the abandoned key over opens with the same request key, and finds the case.
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let new = NewCase {
            kind: Some(CaseKind::WarrantyService),
            customer: Some("cust-1".into()),
            order_no: Some("SO-1".into()),
            serial: Some("MX1-0001".into()),
            policy: None,
            facts: facts(json!({"problem.reported": "defect"})),
            open_key: Some("owner-and-key-hash".into()),
            description: None,
        };
        let first = cases::open(
            &mut store,
            &policies,
            &new,
            By::Operator,
            "desk",
            at("2024-01-22T08:00:00Z"),
        )
        .unwrap();
        let again = cases::open(
            &mut store,
            &policies,
            &new,
            By::Operator,
            "desk",
            at("2024-01-22T08:01:30Z"),
        )
        .unwrap();
        assert_eq!(first, again, "{}", db.name);
        let other = NewCase {
            open_key: Some("another-request".into()),
            ..new.clone()
        };
        let second = cases::open(
            &mut store,
            &policies,
            &other,
            By::Operator,
            "desk",
            at("2024-01-22T08:02:00Z"),
        )
        .unwrap();
        assert_ne!(first, second, "{}", db.name);
        let no_key = NewCase {
            open_key: None,
            description: None,
            ..new
        };
        let third = cases::open(
            &mut store,
            &policies,
            &no_key,
            By::Operator,
            "desk",
            at("2024-01-22T08:03:00Z"),
        )
        .unwrap();
        let fourth = cases::open(
            &mut store,
            &policies,
            &no_key,
            By::Operator,
            "desk",
            at("2024-01-22T08:03:00Z"),
        )
        .unwrap();
        assert_ne!(
            third, fourth,
            "{}: without a key, each open is a new case",
            db.name
        );
    }
}

#[test]
fn an_idempotency_key_in_flight_makes_a_second_request_wait_until_it_is_abandoned() {
    use aftercare_app::idempotency::{self, Claim, Kept};
    for db in databases() {
        let mut store = db.open();
        let t0 = at("2024-05-01T10:00:00Z");
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r1", t0).unwrap(),
            Claim::Proceed
        );
        // While the first is being done, the same request waits and another is refused.
        let t1 = at("2024-05-01T10:00:30Z");
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r1", t1).unwrap(),
            Claim::InFlight,
            "{}",
            db.name
        );
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r2", t1).unwrap(),
            Claim::Mismatch
        );
        // Another caller's key of the same name is theirs.
        assert_eq!(
            idempotency::claim(&mut store, "o2", "k", "r2", t1).unwrap(),
            Claim::Proceed
        );
        // Its server died: after a minute the claim is taken over, once.
        let t2 = at("2024-05-01T10:01:01Z");
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r1", t2).unwrap(),
            Claim::Proceed,
            "{}",
            db.name
        );
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r1", t2).unwrap(),
            Claim::InFlight
        );
        let kept = Kept {
            status: 201,
            content_type: Some("application/json".into()),
            location: Some("/api/v1/cases/7".into()),
            body: "{\"id\":7}".into(),
        };
        idempotency::complete(&mut store, "o", "k", Some(&kept)).unwrap();
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r1", at("2024-05-01T12:00:00Z")).unwrap(),
            Claim::Replay(kept),
            "{}",
            db.name
        );
        // A day later the key is forgotten.
        assert_eq!(
            idempotency::claim(&mut store, "o", "k", "r9", at("2024-05-02T12:00:01Z")).unwrap(),
            Claim::Proceed,
            "{}",
            db.name
        );
    }
}

#[test]
fn the_queue_pages_nearest_deadline_first_without_repeating_or_skipping_a_case() {
    use aftercare_app::access::{self, Filter};
    use aftercare_app::accounts::{Principal, Role, Sellers};
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        // Seven cases approved a day apart (each a ship-by timer), two left in draft (none).
        let mut approved = Vec::new();
        for day in 0..7 {
            let id = open_repair(
                &mut store,
                &policies,
                &format!("2024-01-{:02}T08:00:00Z", 10 + day),
            );
            step(
                &mut store,
                &policies,
                id,
                Action::Submit,
                json!({}),
                &format!("2024-01-{:02}T08:05:00Z", 10 + day),
            );
            step(
                &mut store,
                &policies,
                id,
                Action::Approve,
                json!({}),
                &format!("2024-01-{:02}T09:00:00Z", 10 + day),
            );
            approved.push(id);
        }
        let drafts = [
            open_repair(&mut store, &policies, "2024-01-20T08:00:00Z"),
            open_repair(&mut store, &policies, "2024-01-21T08:00:00Z"),
        ];
        let who = Principal::Staff {
            user_id: 1,
            email: "amy@desk.test".into(),
            role: Role::Agent,
            sellers: Sellers::All,
            scopes: None,
        };
        let mut seen = Vec::new();
        let mut dues = Vec::new();
        let mut after = None;
        loop {
            let page = access::queue(
                &mut store,
                &policies,
                &who,
                &Filter {
                    after,
                    limit: 3,
                    ..Filter::default()
                },
            )
            .unwrap();
            if page.is_empty() {
                break;
            }
            for q in &page {
                seen.push(q.case.id);
                dues.push(q.due.as_ref().map(|(at, _)| *at));
            }
            after = page.last().map(|q| q.cursor);
        }
        let mut expected: Vec<i64> = approved.clone();
        expected.extend(drafts);
        assert_eq!(
            seen, expected,
            "{}: every case once, nearest deadline first, none last",
            db.name
        );
        let timed: Vec<_> = dues.iter().take(7).map(|d| d.unwrap()).collect();
        assert!(
            timed.windows(2).all(|w| w[0] <= w[1]),
            "{}: {timed:?}",
            db.name
        );
        assert!(dues.iter().skip(7).all(Option::is_none), "{}", db.name);
        // A deadline that passes moves the case: shipping the first one drops its timer.
        step(
            &mut store,
            &policies,
            approved[0],
            Action::DeviceShipped,
            json!({"customer.data_acknowledged": true}),
            "2024-01-17T10:00:00Z",
        );
        let first = access::queue(
            &mut store,
            &policies,
            &who,
            &Filter {
                limit: 1,
                ..Filter::default()
            },
        )
        .unwrap();
        assert_ne!(first[0].case.id, approved[0], "{}", db.name);
    }
}

/// A database whose log was written before chains per entity (schema 9, one chain under
/// `audit_head`) is migrated: its events stay one chain, `log`, checked with the hashing they
/// were written with, and are sealed like any other; an edit of one is still found.
#[test]
fn a_log_written_before_chains_per_entity_is_migrated_and_still_checked() {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations");
    for db in databases() {
        let mut store = Store::connect_unmigrated(&db.url).unwrap();
        let dialect = match store.dialect() {
            aftercare_store::Dialect::Sqlite => "sqlite",
            aftercare_store::Dialect::Postgres => "postgres",
        };
        // Schema 9 as a server of that time left it, with five events of case 1.
        store
            .tx(|tx| -> Result<(), aftercare_store::StoreError> {
                tx.batch(
                    "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL)",
                )?;
                let mut files: Vec<_> = std::fs::read_dir(dir.join(dialect))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                for (i, path) in files.iter().take(9).enumerate() {
                    let sql = std::fs::read_to_string(path).unwrap();
                    tx.batch(&sql)?;
                    tx.exec(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                        &[
                            aftercare_store::Val::Int(i64::try_from(i).unwrap() + 1),
                            "old".into(),
                            aftercare_store::hex(&Sha256::digest(sql.as_bytes())).into(),
                        ],
                    )?;
                }
                let mut prev = audit::GENESIS.to_string();
                for (seq, action) in [(1i64, "open"), (2, "submit"), (3, "approve"), (4, "receive"), (5, "close")] {
                    let after = json!({"state": action}).to_string();
                    let at = 1_700_000_000_000_000 + seq;
                    let fields = json!([seq, at, "cli", "case", "1", action, null, after, prev]);
                    let hash = aftercare_store::hex(&Sha256::digest(fields.to_string().as_bytes()));
                    tx.exec(
                        "INSERT INTO audit_events (seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash)
                         VALUES (?, ?, 'cli', 'case', '1', ?, NULL, ?, ?, ?)",
                        &[
                            aftercare_store::Val::Int(seq),
                            aftercare_store::Val::Int(at),
                            action.into(),
                            after.into(),
                            prev.clone().into(),
                            hash.clone().into(),
                        ],
                    )?;
                    prev = hash;
                }
                tx.exec("UPDATE audit_head SET seq = 5, hash = ? WHERE id = 1", &[prev.into()])?;
                Ok(())
            })
            .unwrap();
        store.migrate().unwrap();
        let v = audit::verify(&mut store).unwrap();
        assert_eq!((v.events, v.chains, v.pending), (5, 1, 5), "{}", db.name);
        // New events go to their entity's chain, numbered after the old ones.
        let appended = store
            .tx(|tx| {
                audit::append(
                    tx,
                    at("2024-01-22T08:00:00Z"),
                    &audit::Event::new("cli", "case", 1, "reopen", None),
                )
            })
            .unwrap();
        assert_eq!(
            (
                appended.chain.as_str(),
                appended.chain_seq,
                appended.event_id()
            ),
            ("case:1", 1, "evt_case-1-1".to_string()),
            "{}",
            db.name
        );
        let seq = store
            .read(|tx| {
                tx.query_one("SELECT seq FROM audit_events WHERE chain = 'case:1'", &[])?
                    .int(0)
            })
            .unwrap();
        assert_eq!(seq, 6, "{}", db.name);
        let key = audit::SealKey::generate().unwrap();
        let c = audit::seal_all(&mut store, Some(&key), at("2024-01-22T08:00:01Z"))
            .unwrap()
            .unwrap();
        assert_eq!(c.tree_size, 6);
        let v = audit::verify(&mut store).unwrap();
        assert_eq!(
            (v.events, v.chains, v.sealed, v.pending),
            (6, 2, 6, 0),
            "{}",
            db.name
        );
        tamper(
            &mut store,
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
        );
        let err = audit::verify(&mut store).unwrap_err().to_string();
        assert!(
            err.contains("at log event 3: its contents were changed"),
            "{}: {err}",
            db.name
        );
    }
}

#[test]
fn changes_racing_on_one_case_all_land_on_one_unbroken_chain() {
    // Each change takes the case's lock and, in the same round trip, its audit chain's head,
    // then appends without asking again. Were the head read before the lock was granted
    // (in the locking statement itself, say), a change that waited would append after a
    // stale head and fail on the event's place, or fork the chain.
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let (url, policies) = (db.url.clone(), &policies);
                    s.spawn(move || {
                        let mut store = Store::open(&url).unwrap();
                        for n in 0..8 {
                            cases::decide(
                                &mut store,
                                policies,
                                id,
                                &format!("desk:clerk-{i}"),
                                at(&format!("2024-01-22T09:{i:02}:{n:02}Z")),
                            )
                            .map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            outcomes.iter().all(Result::is_ok),
            "{}: {outcomes:?}",
            db.name
        );
        let events = store
            .read(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query_one(
                        "SELECT COUNT(*), MAX(chain_seq) FROM audit_events WHERE chain = ?",
                        &[format!("case:{id}").into()],
                    )?
                    .int(1)?)
            })
            .unwrap();
        // The open, then 48 decisions, each one place further.
        assert_eq!(events, 49, "{}", db.name);
        audit::verify(&mut store).unwrap_or_else(|e| panic!("{}: {e}", db.name));
    }
}

#[test]
fn a_draft_is_tried_on_the_decisions_already_made_before_it_is_published() {
    use aftercare_app::simulate::{self, Scope};
    let policies = policies();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let live = aftercare_app::policies::read_dir(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("maintenance.toml")).unwrap();
    let draft = |text: String| aftercare_policy::SourceFile {
        name: "drafts/maintenance.toml".into(),
        text,
    };
    // Maintenance 4.2 with ten days to ship in place of three, and 1.3's free warranty service
    // taken away: the drafts a seller might try.
    let longer = text
        .replace("within = \"3 days\"", "within = \"10 days\"")
        .replace(
            "allow = [\"free_repair\"]\nwhen = \"warranty_failure\"",
            "deny = [\"free_repair\"]\nwhen = \"warranty_failure\"",
        );
    assert_ne!(longer, text);
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let id = open_repair(&mut store, &policies, "2024-01-22T08:00:00Z");
        step(
            &mut store,
            &policies,
            id,
            Action::Submit,
            json!({}),
            "2024-01-22T08:05:00Z",
        );
        step(
            &mut store,
            &policies,
            id,
            Action::Approve,
            json!({}),
            "2024-01-22T09:00:00Z",
        );
        let recorded = store
            .read(|tx| -> Result<_, AppError> {
                Ok(tx
                    .query_one("SELECT COUNT(*) FROM decisions", &[])?
                    .int(0)?)
            })
            .unwrap();
        let run = |store: &mut Store, text: &str, scope: &Scope| {
            let (set, policy) =
                simulate::with_draft(live.clone(), draft(text.to_string())).unwrap();
            assert_eq!(policy, "maintenance");
            simulate::simulate(store, &set, &policy, scope, &mut |_, _| true).unwrap()
        };

        // The document as it is changes nothing.
        let same = run(&mut store, &text, &Scope::default());
        assert_eq!(
            same.decisions,
            u64::try_from(recorded).unwrap(),
            "{}",
            db.name
        );
        assert_eq!(same.changed, 0, "{}: {same:?}", db.name);

        let sim = run(&mut store, &longer, &Scope::default());
        assert_eq!(sim.decisions, same.decisions, "{}", db.name);
        assert!(sim.changed > 0, "{}: {sim:?}", db.name);
        // Every decision made once the application was accepted ships seven days later.
        let ship_by = sim
            .deadlines
            .iter()
            .find(|d| d.deadline == "ship_by")
            .unwrap_or_else(|| panic!("{}: {sim:?}", db.name));
        assert_eq!((ship_by.min_days, ship_by.max_days), (7, 7), "{}", db.name);
        assert_eq!(ship_by.earlier, 0, "{}", db.name);
        assert!(ship_by.later >= 1, "{}: {ship_by:?}", db.name);
        assert_eq!(ship_by.cases.iter().copied().collect::<Vec<_>>(), vec![id]);
        // Free repair, allowed or pending under 1.3, is no longer offered once the draft denies
        // it, citing 1.3.
        let free: Vec<_> = sim
            .remedies
            .iter()
            .filter(|r| r.remedy == "free_repair")
            .collect();
        assert!(!free.is_empty(), "{}: {sim:?}", db.name);
        for r in &free {
            assert!(
                matches!(r.to.as_str(), "denied" | "not_offered") && r.from != r.to,
                "{}: {r:?}",
                db.name
            );
            assert!(r.clauses.contains("1.3"), "{}: {r:?}", db.name);
        }

        // Only what was decided since a day: none after the last decision.
        let later = run(
            &mut store,
            &longer,
            &Scope {
                since: Some(at("2024-01-23T00:00:00Z")),
                history: None,
                span: None,
            },
        );
        assert_eq!((later.decisions, later.changed), (0, 0), "{}", db.name);

        // A run told to stop stops (and says so unless it had finished already).
        let (set, policy) = simulate::with_draft(live.clone(), draft(longer.clone())).unwrap();
        let stopped =
            simulate::simulate(&mut store, &set, &policy, &Scope::default(), &mut |_, _| {
                false
            })
            .unwrap();
        assert_eq!(
            stopped.cancelled,
            stopped.decisions < sim.decisions,
            "{}: {stopped:?}",
            db.name
        );

        // Decisions made under another text of the policy (the longer draft, as if it had been
        // published for a day), between decisions made under this one: each is made again from
        // the text it was made with, also where a range of ids, however small, names its texts
        // only once. Tried with the document as it is: only those made under the other text
        // change.
        let count = |store: &mut Store| {
            store
                .read(|tx| tx.query_one("SELECT COUNT(*) FROM decisions", &[]))
                .unwrap()
                .int(0)
                .unwrap()
        };
        let (other, _) = simulate::with_draft(live.clone(), draft(longer.clone())).unwrap();
        // Several under this text, one under the other, two under this one again: small
        // ranges hold this text, the other and this one again, after ranges of this one.
        let submit = |store: &mut Store, set: &Policies, day: u32| {
            let id = open_repair(store, set, &format!("2024-01-{day}T08:00:00Z"));
            step(
                store,
                set,
                id,
                Action::Submit,
                json!({}),
                &format!("2024-01-{day}T08:05:00Z"),
            );
        };
        for day in 23..27 {
            submit(&mut store, &policies, day);
        }
        let before_other = count(&mut store);
        submit(&mut store, &other, 27);
        let under_other = u64::try_from(count(&mut store) - before_other).unwrap();
        for day in 28..30 {
            submit(&mut store, &policies, day);
        }
        assert!(under_other > 0);
        for span in [None, Some(1), Some(2), Some(3), Some(4), Some(5)] {
            let (set, policy) =
                simulate::with_draft(live.clone(), draft(text.to_string())).unwrap();
            let mixed = simulate::simulate(
                &mut store,
                &set,
                &policy,
                &Scope {
                    span,
                    ..Scope::default()
                },
                &mut |_, _| true,
            )
            .unwrap();
            assert_eq!(
                mixed.decisions,
                u64::try_from(count(&mut store)).unwrap(),
                "{}: ranges of {span:?}",
                db.name
            );
            assert_eq!(
                mixed.changed, under_other,
                "{}: ranges of {span:?}: {mixed:?}",
                db.name
            );
        }

        // A draft that does not load is the checker's error, located.
        let broken = simulate::with_draft(live.clone(), draft(text.replace("[policy]", "[policy")))
            .unwrap_err()
            .to_string();
        assert!(broken.contains("draft"), "{}: {broken}", db.name);
    }
}

/// Staff find a case by its number, authorisation, order, serial, the customer's e-mail or the
/// start of their name, or every case of a customer; only within their sellers, and what they
/// type is never a pattern.
#[test]
fn staff_find_cases_of_their_sellers_only_by_what_they_know_of_them() {
    use aftercare_app::accounts::{Principal, Role, Sellers};
    use aftercare_app::search::{Match, Query, search};
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        import_examples(&mut store);
        let imkey = open_defect(
            &mut store,
            &policies,
            "cust-cn",
            "SO-IMK-1",
            "IMK-0001",
            "2024-02-01T08:00:00Z",
        );
        let imask = open_defect(
            &mut store,
            &policies,
            "cust-cn",
            "SO-IMA-1",
            "IMA-0001",
            "2024-02-02T08:00:00Z",
        );
        let staff = |sellers: Sellers| Principal::Staff {
            user_id: 1,
            email: "amy@desk.test".into(),
            role: Role::Agent,
            sellers,
            scopes: None,
        };
        let all = staff(Sellers::All);
        let imask_only = staff(Sellers::Only(vec!["IMASK".into()]));
        let customer = store
            .read(|tx| tx.query_one("SELECT id FROM customers WHERE ref = 'cust-cn'", &[]))
            .unwrap()
            .int(0)
            .unwrap();
        let mut find = |who: &Principal, q: Query| -> Vec<(i64, Match)> {
            search(&mut store, &policies, who, &q)
                .unwrap()
                .iter()
                .map(|f| (f.id, f.matched))
                .collect()
        };
        let text = |s: &str| Query::Text(s.into());
        assert_eq!(
            find(&all, text("SO-IMA-1")),
            vec![(imask, Match::Order)],
            "{}",
            db.name
        );
        assert_eq!(
            find(&all, text(" IMA-0001 ")),
            vec![(imask, Match::Serial)],
            "{}",
            db.name
        );
        assert_eq!(
            find(&all, text(&format!("#{imkey}"))),
            vec![(imkey, Match::Case)],
            "{}",
            db.name
        );
        // Newest first, by e-mail in any case, by the start of the name.
        assert_eq!(
            find(&all, text("LI@example.org")),
            vec![(imask, Match::Email), (imkey, Match::Email)],
            "{}",
            db.name
        );
        assert_eq!(
            find(&all, text("li w")),
            vec![(imask, Match::Name), (imkey, Match::Name)],
            "{}",
            db.name
        );
        assert!(
            find(&all, text("wei")).is_empty(),
            "{}: a start, not a part",
            db.name
        );
        // What is typed is compared, never matched as a pattern.
        for pattern in ["%", "_i%", "l_ wei", "*"] {
            assert!(
                find(&all, text(pattern)).is_empty(),
                "{}: {pattern}",
                db.name
            );
        }
        assert!(find(&all, text("")).is_empty(), "{}", db.name);
        // Another seller's case is not found, however it is named.
        for q in [
            "SO-IMK-1",
            "IMK-0001",
            &format!("{imkey}"),
            "li@example.org",
            "Li",
        ] {
            assert!(
                find(&imask_only, text(q))
                    .iter()
                    .all(|(id, _)| *id != imkey),
                "{}: {q}",
                db.name
            );
        }
        assert_eq!(
            find(&all, Query::Customer(customer)),
            vec![(imask, Match::Customer), (imkey, Match::Customer)],
            "{}",
            db.name
        );
        assert_eq!(
            find(&imask_only, Query::Customer(customer)),
            vec![(imask, Match::Customer)],
            "{}",
            db.name
        );
        // A customer does not search staff's way.
        let customer_principal = Principal::Customer {
            customer_id: customer,
        };
        assert!(
            search(
                &mut store,
                &policies,
                &customer_principal,
                &text("SO-IMA-1")
            )
            .is_err(),
            "{}",
            db.name
        );
    }
}

/// Cases opened per week by kind, as the write path counts them: the same as counting the
/// cases, week by week; a manager of one seller sees only that seller's; an agent sees none.
#[test]
fn the_weekly_count_of_cases_opened_is_kept_as_they_open() {
    use aftercare_app::accounts::{Principal, Role, Sellers};
    use aftercare_app::reports;
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        import_examples(&mut store);
        // IMASK: two this week (a Monday and a Sunday), one the week before; imKey: one.
        for when in [
            "2024-02-05T00:00:00Z",
            "2024-02-11T23:59:59Z",
            "2024-02-01T10:00:00Z",
        ] {
            open_defect(
                &mut store, &policies, "cust-cn", "SO-IMA-1", "IMA-0001", when,
            );
        }
        open_defect(
            &mut store,
            &policies,
            "cust-cn",
            "SO-IMK-1",
            "IMK-0001",
            "2024-02-06T08:00:00Z",
        );
        let staff = |role: Role, sellers: Sellers| Principal::Staff {
            user_id: 1,
            email: "m@desk.test".into(),
            role,
            sellers,
            scopes: None,
        };
        let now = at("2024-02-08T12:00:00Z");
        let all = reports::opened(
            &mut store,
            &policies,
            &staff(Role::Manager, Sellers::All),
            None,
            3,
            now,
        )
        .unwrap();
        let weeks: Vec<String> = all.weeks.iter().map(ToString::to_string).collect();
        assert_eq!(
            weeks,
            ["2024-01-22", "2024-01-29", "2024-02-05"],
            "{}",
            db.name
        );
        assert_eq!(all.kinds, ["warranty_service"], "{}", db.name);
        assert_eq!(all.counts, vec![vec![0], vec![1], vec![3]], "{}", db.name);
        // The counts are the cases, counted.
        let direct = store
            .read(|tx| tx.query_one("SELECT COUNT(*) FROM cases", &[]))
            .unwrap()
            .int(0)
            .unwrap();
        assert_eq!(all.total(), u64::try_from(direct).unwrap(), "{}", db.name);
        assert_eq!(
            all.csv(),
            "week,kind,opened\n2024-01-22,warranty_service,0\n2024-01-29,warranty_service,1\n2024-02-05,warranty_service,3\n",
            "{}",
            db.name
        );
        // One seller's manager: that seller's cases only, even when asking for another.
        let imask = staff(Role::Manager, Sellers::Only(vec!["IMASK".into()]));
        let theirs = reports::opened(&mut store, &policies, &imask, None, 3, now).unwrap();
        assert_eq!(theirs.total(), 3, "{}", db.name);
        let other = reports::opened(&mut store, &policies, &imask, Some("imKey"), 3, now).unwrap();
        assert_eq!(other.total(), 0, "{}", db.name);
        // Agents and technicians do not read reports.
        for role in [Role::Agent, Role::Technician] {
            assert!(
                reports::opened(
                    &mut store,
                    &policies,
                    &staff(role, Sellers::All),
                    None,
                    3,
                    now
                )
                .is_err(),
                "{}",
                db.name
            );
        }
    }
}

/// The tallies behind the other reports, kept by the moves, refunds and timers they count:
/// decisions in the customer's favour or not, service-level targets met and missed, causes
/// found per product, refunds per month and the days to them. What the write path kept is
/// what migration 16 counts from the same history (the cases, their audit trail, timers and
/// refunds), so a database migrated with a history reports it as if it had been counted all
/// along; a one-seller manager sees only that seller's.
#[test]
fn every_report_counts_what_the_service_did_as_it_did_it() {
    use aftercare_app::accounts::{Principal, Role, Sellers};
    use aftercare_app::money::{self, RefundRequest};
    use aftercare_app::reports::{self, Window};
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        import_examples(&mut store);
        let open = |store: &mut Store| open_imask_defect(store, &policies);
        let (a, b, c) = (open(&mut store), open(&mut store), open(&mut store));
        for id in [a, b, c] {
            step(
                &mut store,
                &policies,
                id,
                Action::Submit,
                json!({}),
                "2024-11-01T02:05:00Z",
            );
        }
        // C is refused outright: decided, not in the customer's favour.
        step(
            &mut store,
            &policies,
            c,
            Action::Reject,
            json!({}),
            "2024-11-01T04:00:00Z",
        );
        // Last days to ship: A's passes before its device arrives, B's does not.
        for (id, ship_by, received) in [
            (a, "2024-11-03", "2024-11-04T03:00:00Z"),
            (b, "2024-11-08", "2024-11-04T03:30:00Z"),
        ] {
            let mut approve = Step::new(Action::Approve);
            approve.ship_by = Some(date(ship_by));
            cases::transition(
                &mut store,
                &policies,
                id,
                &approve,
                By::Operator,
                "desk:amy",
                at("2024-11-01T03:00:00Z"),
            )
            .unwrap();
            step(
                &mut store,
                &policies,
                id,
                Action::Receive,
                json!({}),
                received,
            );
        }
        // A is inspected within IMASK's 24 hours and repaired free: in the customer's favour.
        step(
            &mut store,
            &policies,
            a,
            Action::Inspect,
            json!({"diagnosis.causes": ["manufacturing"]}),
            "2024-11-05T02:00:00Z",
        );
        step(
            &mut store,
            &policies,
            a,
            Action::Repair,
            json!({}),
            "2024-11-05T04:00:00Z",
        );
        // B's 24 hours pass first (the timer counts the miss); it goes back unrepaired.
        let fired = sweep(&mut store, &policies, at("2024-11-05T03:30:00Z"));
        assert!(
            fired
                .iter()
                .any(|f| f.kind == "inspect_by_breached" && f.case_id == b)
        );
        step(
            &mut store,
            &policies,
            b,
            Action::Inspect,
            json!({"diagnosis.causes": ["liquid", "corrosion"]}),
            "2024-11-05T06:00:00Z",
        );
        step(
            &mut store,
            &policies,
            b,
            Action::ReturnUnrepaired,
            json!({}),
            "2024-11-05T07:00:00Z",
        );
        // Two refunds: one of case A, 7 days and 10 hours after it opened; one of the order
        // alone (counted under the policy of the order's SKU).
        let refund = |store: &mut Store, key: &str, case_id, minor, when| {
            money::record(
                store,
                &RefundRequest {
                    order_no: "SO-IMA-1".into(),
                    case_id,
                    amount_minor: minor,
                    currency: Some("CNY".into()),
                    idempotency_key: key.into(),
                    reason: "test".into(),
                },
                "desk:amy",
                at(when),
            )
            .unwrap();
        };
        for (key, case_id, minor, when) in [
            ("r1", Some(a), 10_000, "2024-11-08T12:00:00Z"),
            ("r2", None, 5_000, "2024-12-02T09:00:00Z"),
        ] {
            refund(&mut store, key, case_id, minor, when);
        }
        // The same refund sent again counts once.
        refund(&mut store, "r1", Some(a), 10_000, "2024-11-08T12:00:01Z");
        let staff = |sellers: Sellers| Principal::Staff {
            user_id: 1,
            email: "m@desk.test".into(),
            role: Role::Manager,
            sellers,
            scopes: None,
        };
        let now = at("2024-12-03T12:00:00Z");
        let window = Window::new(&policies, &staff(Sellers::All), None, 6, now).unwrap();
        let decided = reports::decided(&mut store, &window).unwrap();
        let week = |d: &str| {
            decided
                .weeks
                .iter()
                .position(|w| w.to_string() == d)
                .unwrap_or_else(|| panic!("{d} not in {:?}", decided.weeks))
        };
        // Week of Monday 28 October: C refused (1 November); week of 4 November: A and B.
        assert_eq!(decided.favour[week("2024-10-28")], 0, "{}", db.name);
        assert_eq!(decided.against[week("2024-10-28")], 1, "{}", db.name);
        assert_eq!(decided.favour[week("2024-11-04")], 1, "{}", db.name);
        assert_eq!(decided.against[week("2024-11-04")], 1, "{}", db.name);
        assert_eq!(decided.share(week("2024-11-04")), Some(50));
        assert_eq!(decided.overall(), Some(33));
        assert!(
            decided.csv().contains("2024-11-04,1,1,50\n"),
            "{}",
            decided.csv()
        );
        let targets = reports::targets(&mut store, &window).unwrap();
        let t = targets
            .targets
            .iter()
            .position(|t| *t == "inspect_by")
            .unwrap();
        let w = week("2024-11-04");
        assert_eq!(targets.met[w][t], 1, "{}: {targets:?}", db.name);
        assert_eq!(targets.missed[w][t], 1, "{}: {targets:?}", db.name);
        assert!(targets.csv().contains("2024-11-04,inspect_by,1,1\n"));
        // A's device went after its last day to ship (the week of 28 October), B's before
        // (the week of 4 November).
        let s = targets
            .targets
            .iter()
            .position(|t| *t == "ship_by")
            .unwrap();
        assert_eq!(
            targets.missed[week("2024-10-28")][s],
            1,
            "{}: {targets:?}",
            db.name
        );
        assert_eq!(
            targets.met[week("2024-11-04")][s],
            1,
            "{}: {targets:?}",
            db.name
        );
        assert_eq!(
            targets.met[week("2024-10-28")][s],
            0,
            "{}: {targets:?}",
            db.name
        );
        let causes = reports::causes(&mut store, &window).unwrap();
        let mut rows = causes.rows.clone();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("IMASK-M1".to_string(), "corrosion".to_string(), 1),
                ("IMASK-M1".to_string(), "liquid".to_string(), 1),
                ("IMASK-M1".to_string(), "manufacturing".to_string(), 1),
            ],
            "{}",
            db.name
        );
        let refunds = reports::refunds(&mut store, &window).unwrap();
        assert_eq!(refunds.months, ["2024-10", "2024-11", "2024-12"]);
        assert_eq!(refunds.currencies, ["CNY"]);
        assert_eq!(refunds.count, [vec![0], vec![1], vec![1]], "{}", db.name);
        assert_eq!(
            refunds.amount,
            [vec![0], vec![10_000], vec![5_000]],
            "{}",
            db.name
        );
        assert_eq!(refunds.days_quantile(1, 0.5), Some(7), "{}", db.name);
        assert_eq!(refunds.days_quantile(2, 0.5), None, "{}", db.name);
        assert_eq!(
            refunds.csv(|_| 2),
            "month,currency,refunds,amount,median_days,p90_days\n2024-10,CNY,0,0.00,,\n2024-11,CNY,1,100.00,7,7\n2024-12,CNY,1,50.00,,\n"
        );
        // Three cases of IMASK-M1, against the units sold of it; importing the registry
        // again counts no unit twice.
        import_examples(&mut store);
        let sold: u64 = store
            .read(|tx| {
                tx.query_one(
                    "SELECT CAST(SUM(quantity) AS BIGINT) FROM order_lines WHERE sku = 'IMASK-M1'",
                    &[],
                )
            })
            .unwrap()
            .int(0)
            .unwrap()
            .try_into()
            .unwrap();
        let rates = reports::return_rate(&mut store, &window).unwrap();
        let imask = rates.rows.iter().find(|r| r.0 == "IMASK-M1").unwrap();
        assert_eq!((imask.1, imask.2), (3, sold), "{}: {rates:?}", db.name);
        assert!(
            rates.rows.iter().all(|r| r.0 == "IMASK-M1" || r.1 == 0),
            "{rates:?}"
        );
        assert!(
            rates.csv().contains(&format!("IMASK-M1,3,{sold},")),
            "{}",
            rates.csv()
        );
        // Another seller's manager sees none of it.
        let imkey = Window::new(
            &policies,
            &staff(Sellers::Only(vec!["imKey".into()])),
            None,
            6,
            now,
        )
        .unwrap();
        assert_eq!(
            reports::decided(&mut store, &imkey).unwrap().overall(),
            None
        );
        assert_eq!(reports::refunds(&mut store, &imkey).unwrap().total(), 0);
        assert!(reports::causes(&mut store, &imkey).unwrap().rows.is_empty());
        let theirs = reports::return_rate(&mut store, &imkey).unwrap();
        assert!(
            theirs.rows.iter().all(|r| r.0 != "IMASK-M1" && r.1 == 0),
            "{theirs:?}"
        );
        // What the write path kept is what the migration counts from the same history.
        let migration = match db.name {
            "sqlite" => include_str!("../../store/migrations/sqlite/0016_report_tallies.sql"),
            _ => include_str!("../../store/migrations/postgres/0016_report_tallies.sql"),
        };
        // The counting part of the migration (not the triggers it sets up after), into a
        // table of its own.
        let counting = migration
            .split("-- From here on: the triggers")
            .next()
            .unwrap();
        let recount = counting.replace("report_tallies", "report_recount");
        let sum = |table: &str| {
            format!(
                "SELECT policy_id, measure, period, key, CAST(SUM(n) AS BIGINT), CAST(SUM(amount) AS BIGINT)
                 FROM {table} GROUP BY policy_id, measure, period, key
                 ORDER BY policy_id, measure, period, key"
            )
        };
        let (kept, counted) = store
            .tx(|tx| -> Result<_, AppError> {
                tx.batch(&recount)?;
                let read = |tx: &mut dyn aftercare_store::Tx,
                            table: &str|
                 -> Result<Vec<String>, AppError> {
                    Ok(tx
                        .query(&sum(table), &[])?
                        .iter()
                        .map(|r| {
                            format!(
                                "{} {} {} {} {} {}",
                                r.text(0).unwrap(),
                                r.text(1).unwrap(),
                                r.text(2).unwrap(),
                                r.text(3).unwrap(),
                                r.int(4).unwrap(),
                                r.int(5).unwrap()
                            )
                        })
                        .collect())
                };
                let kept = read(tx, "report_tallies")?;
                let counted = read(tx, "report_recount")?;
                tx.batch("DROP TABLE report_recount")?;
                Ok((kept, counted))
            })
            .unwrap();
        assert!(kept.len() >= 8, "{}: {kept:#?}", db.name);
        assert_eq!(kept, counted, "{}", db.name);
    }
}

/// The log verified while a server writes and seals: every check of it is of the tree as it
/// was sealed when the check began, so a seal committed in between (its leaves, checkpoint
/// and record in one transaction) is never half seen, and an intact log is never reported
/// broken. (It was, now and then: checkpoints read after the last page of leaves covered
/// leaves that page had not seen.)
#[test]
fn a_log_verified_while_it_is_sealed_is_found_intact() {
    let policies = policies();
    for db in databases() {
        let mut store = db.open();
        seed_maintenance(&mut store);
        let done = std::sync::atomic::AtomicBool::new(false);
        let verified = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut store = Store::open(&db.url).unwrap();
                for i in 0..60 {
                    let when = format!("2024-01-22T08:{:02}:00Z", i % 60);
                    open_repair(&mut store, &policies, &when);
                    audit::seal_all(&mut store, None, at(&when)).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            let mut checks = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || checks == 0 {
                if let Err(e) = audit::verify(&mut store) {
                    panic!("{}: an intact log reported broken: {e}", db.name);
                }
                checks += 1;
            }
            writer.join().unwrap();
            checks
        });
        assert!(verified > 1, "{}: {verified} checks", db.name);
        let last = audit::verify(&mut store).unwrap();
        assert_eq!(last.pending, 0, "{}: {last:?}", db.name);
    }
}

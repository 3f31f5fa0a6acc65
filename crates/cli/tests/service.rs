//! Cases driven from application to closing by the `aftercare` binary alone, on a real SQLite
//! file: the registry imported, the case opened and moved, timers fired by `aftercare tick`
//! with the clock set by `--now`, and the audit log verified.

#![allow(clippy::unwrap_used, reason = "test helpers fail the test on error")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh database URL for one test.
fn fresh_db() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "aftercare_cli_{}_{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite://{}", path.display())
}

/// Runs the binary at `now`; returns (exit code, stdout, stderr).
fn run(db: &str, now: &str, args: &[&str]) -> (i32, String, String) {
    run_with(&root().join("policies"), db, now, args)
}

/// [`run`] with another policies directory.
fn run_with(policies: &Path, db: &str, now: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(args)
        .arg("--policies")
        .arg(policies)
        .env("AFTERCARE_DB", db)
        .env("AFTERCARE_NOW", now)
        .env("AFTERCARE_ACTOR", "test")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(db: &str, now: &str, args: &[&str]) -> String {
    let (code, out, err) = run(db, now, args);
    assert_eq!(code, 0, "aftercare {args:?} failed: {err}");
    out
}

fn setup(db: &str) {
    let registry = root().join("examples/registry.json");
    let out = ok(
        db,
        "2024-01-22T08:00:00Z",
        &["import", registry.to_str().unwrap()],
    );
    assert!(
        out.contains("5 SKUs, 3 customers, 6 units, 6 orders, 6 invoices"),
        "{out}"
    );
}

fn open(db: &str, serial: &str, order: &str) -> String {
    ok(
        db,
        "2024-01-22T08:00:00Z",
        &[
            "case",
            "open",
            "--kind",
            "warranty_service",
            "--customer",
            "cust-us",
            "--order",
            order,
            "--serial",
            serial,
            "--fact",
            "problem.reported=defect",
        ],
    )
    .trim()
    .to_string()
}

#[test]
fn maintenance_device_never_sent_closes_by_tick() {
    let db = fresh_db();
    setup(&db);
    let id = open(&db, "MX1-0001", "SO-MX-1");
    ok(
        &db,
        "2024-01-22T08:05:00Z",
        &["case", "transition", &id, "submit"],
    );
    let out = ok(
        &db,
        "2024-01-22T09:00:00Z",
        &["case", "transition", &id, "approve"],
    );
    assert!(out.contains("ship by 2024-01-25"), "{out}");

    let out = ok(&db, "2024-02-06T23:59:59Z", &["tick"]);
    assert!(
        out.starts_with("1 timer(s) fired"),
        "only the reminder: {out}"
    );
    let out = ok(&db, "2024-02-07T00:00:00Z", &["tick"]);
    assert!(
        out.contains("not_received (case is now closed_not_received)"),
        "{out}"
    );
    let out = ok(&db, "2024-02-08T00:00:00Z", &["tick"]);
    assert!(out.starts_with("0 timer(s) fired"), "fires once: {out}");
    let out = ok(
        &db,
        "2024-02-08T00:00:00Z",
        &["case", "list", "--state", "closed_not_received"],
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = ok(&db, "2024-02-08T00:00:00Z", &["audit", "verify"]);
    assert!(out.starts_with("audit log intact:"), "{out}");
}

#[test]
fn a_tick_without_the_cases_policy_published_fails_loudly_and_leaves_the_deadline_for_later() {
    let db = fresh_db();
    setup(&db);
    let id = open(&db, "MX1-0001", "SO-MX-1");
    for (action, now) in [
        ("submit", "2024-01-22T08:05:00Z"),
        ("approve", "2024-01-22T09:00:00Z"),
    ] {
        ok(&db, now, &["case", "transition", &id, action]);
    }
    // A database whose published policies no longer hold maintenance (a damaged one: a
    // version is never taken back). The policies folder does not stand in for it: the
    // database's versions decide, the folder only seeds a new database.
    let file = db.strip_prefix("sqlite://").unwrap();
    rusqlite::Connection::open(file)
        .unwrap()
        .execute(
            "DELETE FROM policy_versions WHERE policy_id = 'maintenance'",
            [],
        )
        .unwrap();
    let (code, out, err) = run(&db, "2024-02-07T00:00:00Z", &["tick"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "error: case {id}: timer not_received not fired, left pending for the next sweep: configuration: no seller policy `maintenance` is loaded"
        )),
        "{err}"
    );
    let shown = ok(&db, "2024-02-07T00:00:00Z", &["case", "show", &id]);
    assert!(shown.contains("\"state\": \"approved\""), "{shown}");
    // With the policy published again, the deadline acts.
    let out = ok(&db, "2024-02-07T00:00:00Z", &["policy", "import"]);
    assert!(
        out.contains("published maintenance 1.0.0 (from 2024-01-01, #8)\n"),
        "{out}"
    );
    let out = ok(&db, "2024-02-07T00:00:00Z", &["tick"]);
    assert!(
        out.contains("not_received (case is now closed_not_received)"),
        "{out}"
    );
}

#[test]
fn maintenance_quote_unpaid_goes_back_unrepaired_then_closes() {
    let db = fresh_db();
    setup(&db);
    let id = open(&db, "MX1-0002", "SO-MX-2");
    for (now, args) in [
        ("2024-01-22T08:05:00Z", vec!["submit"]),
        ("2024-01-22T09:00:00Z", vec!["approve"]),
        (
            "2024-01-23T09:00:00Z",
            vec![
                "device_shipped",
                "--fact",
                "customer.data_acknowledged=true",
            ],
        ),
        ("2024-01-26T09:00:00Z", vec!["receive"]),
        (
            "2024-01-29T09:00:00Z",
            vec!["inspect", "--fact", r#"diagnosis.causes=["drop"]"#],
        ),
        (
            "2024-01-31T09:00:00Z",
            vec![
                "quote",
                "--line",
                "part:Screen:80.00",
                "--line",
                "labour:Bench time:40.00",
            ],
        ),
    ] {
        let mut a = vec!["case", "transition", id.as_str()];
        a.extend(args);
        ok(&db, now, &a);
    }
    let out = ok(&db, "2024-03-01T00:00:00Z", &["tick"]);
    assert!(
        out.contains("quote_expired (case is now returned_unrepaired)"),
        "{out}"
    );
    ok(
        &db,
        "2024-03-02T09:00:00Z",
        &["case", "transition", &id, "ship_back"],
    );
    let out = ok(
        &db,
        "2024-03-05T09:00:00Z",
        &["case", "transition", &id, "close"],
    );
    assert_eq!(out.trim(), format!("case {id} is closed"));

    let shown = ok(&db, "2024-03-05T09:00:00Z", &["case", "show", &id]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let decision = shown["latest_decision"]["id"].as_i64().unwrap().to_string();
    let again = ok(
        &db,
        "2024-03-05T09:00:00Z",
        &["case", "reexplain", &decision],
    );
    assert!(again.contains("\"remedies\""), "{again}");
}

#[test]
fn bad_input_is_refused_with_its_field_and_value() {
    let db = fresh_db();
    setup(&db);
    let (code, _, err) = run(
        &db,
        "2024-01-22T08:00:00Z",
        &[
            "case",
            "open",
            "--kind",
            "warranty_service",
            "--serial",
            "NOPE-1",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: serial: unknown serial `NOPE-1`");
    let (code, _, err) = run(
        &db,
        "2024-01-22T08:00:00Z",
        &["case", "open", "--kind", "repairs"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown case kind `repairs`"), "{err}");

    // A file with a bad record loads nothing, and says which record and why.
    let bad = std::env::temp_dir().join(format!("aftercare_bad_{}.json", std::process::id()));
    std::fs::write(
        &bad,
        r#"{"skus": [{"code": "S1", "name": "x", "class": "main", "seller": "s", "policy": "imkey"}],
            "units": [{"serial": "U1", "sku": "S1"}, {"serial": "U2", "sku": "S9"}]}"#,
    )
    .unwrap();
    let fresh = fresh_db();
    let (code, _, err) = run(
        &fresh,
        "2024-01-22T08:00:00Z",
        &["import", bad.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("units[1] (serial `U2`): sku: unknown SKU `S9`"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    // Only the seven policy versions the new database was seeded with.
    let out = ok(&fresh, "2024-01-22T08:00:00Z", &["audit", "verify"]);
    assert!(out.starts_with("audit log intact: 7 events"), "{out}");
}

#[test]
fn a_refund_is_recorded_once_and_never_over_what_was_paid() {
    let db = fresh_db();
    setup(&db);
    let now = "2024-02-01T10:00:00Z";
    let record = |amount: &str, key: &str| {
        run(
            &db,
            now,
            &[
                "refund", "record", "--order", "SO-IMI-1", "--amount", amount, "--key", key,
            ],
        )
    };
    let (code, out, _) = record("199.00 EUR", "k1");
    assert_eq!(
        (code, out.trim()),
        (0, "refund 1 of 199.00 EUR on order SO-IMI-1 recorded")
    );
    let (code, out, _) = record("199.00 EUR", "k1");
    assert_eq!(code, 0);
    assert!(out.contains("already recorded under this key"), "{out}");
    let (code, _, err) = record("5.00 EUR", "k2");
    assert_eq!(code, 1);
    assert!(err.contains("more than the 203.99 EUR paid"), "{err}");
    let (code, _, err) = record("1.00 USD", "k3");
    assert_eq!(code, 1);
    assert!(err.contains("was paid in EUR, not USD"), "{err}");
    assert_eq!(
        ok(&db, now, &["refund", "paid", "1"]).trim(),
        "refund 1 paid"
    );
}

#[test]
fn a_customer_is_exported_then_erased() {
    let db = fresh_db();
    setup(&db);
    let now = "2024-02-01T10:00:00Z";
    let out = ok(&db, now, &["customer", "export", "cust-de"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["customer"]["email"], "erika@example.org");
    assert_eq!(v["orders"].as_array().unwrap().len(), 2);
    let out = ok(&db, now, &["customer", "erase", "cust-de"]);
    assert!(
        out.starts_with("customer `cust-de` erased; now `erased-"),
        "{out}"
    );
    let (code, _, err) = run(&db, now, &["customer", "export", "cust-de"]);
    assert_eq!((code, err.trim()), (1, "error: no customer `cust-de`"));
    assert!(ok(&db, now, &["audit", "verify"]).starts_with("audit log intact"));
}

#[test]
fn an_imask_repair_is_recorded_and_the_serial_shows_it() {
    let db = fresh_db();
    setup(&db);
    let id = ok(
        &db,
        "2024-11-01T02:00:00Z",
        &[
            "case",
            "open",
            "--kind",
            "warranty_service",
            "--customer",
            "cust-cn",
            "--order",
            "SO-IMA-1",
            "--serial",
            "IMA-0001",
            "--fact",
            "problem.reported=defect",
        ],
    )
    .trim()
    .to_string();
    for (now, action, extra) in [
        ("2024-11-01T02:05:00Z", "submit", None),
        ("2024-11-01T03:00:00Z", "approve", None),
        ("2024-11-04T03:00:00Z", "receive", None),
        (
            "2024-11-05T03:00:00Z",
            "inspect",
            Some(r#"diagnosis.causes=["manufacturing"]"#),
        ),
        ("2024-11-05T04:00:00Z", "repair", None),
    ] {
        let mut a = vec!["case", "transition", id.as_str(), action];
        if let Some(f) = extra {
            a.extend(["--fact", f]);
        }
        ok(&db, now, &a);
    }
    let out = ok(
        &db,
        "2024-11-06T03:00:00Z",
        &["case", "repaired", &id, "--part", "fan"],
    );
    assert!(out.contains("\"warranty_until\": \"2025-02-04\""), "{out}");
    ok(
        &db,
        "2024-11-07T03:00:00Z",
        &["case", "transition", &id, "ship_back"],
    );
    ok(
        &db,
        "2024-11-10T03:00:00Z",
        &["case", "transition", &id, "close"],
    );
    let seen: serde_json::Value =
        serde_json::from_str(&ok(&db, "2024-11-10T03:00:00Z", &["warranty", "IMA-0001"])).unwrap();
    assert_eq!(seen["parts"][0]["part"], "fan");
    assert_eq!(seen["cases"][0]["state"], "closed");
    let (code, _, err) = run(&db, "2024-11-10T03:00:00Z", &["warranty", "NOPE"]);
    assert_eq!((code, err.trim()), (1, "error: no serial `NOPE`"));
}

/// A return from application to closing for imKey (China), IMIKI and CryptKi (EU): the refund
/// is the one the decision gives (price, plus the standard delivery fee where EU law wants it)
/// and is recorded under the case's key.
#[test]
fn returns_of_three_seeds_are_refunded_as_decided_and_closed() {
    for (customer, order, serial, refund) in [
        ("cust-cn", "SO-IMK-1", "IMK-0001", 59_900),
        ("cust-de", "SO-IMI-1", "IMI-0001", 20_399),
        ("cust-de", "SO-CRK-1", "CRK-0001", 15_590),
    ] {
        let db = fresh_db();
        setup(&db);
        let now = "2024-01-09T08:00:00Z";
        let id = ok(
            &db,
            now,
            &[
                "case",
                "open",
                "--kind",
                "return",
                "--customer",
                customer,
                "--order",
                order,
                "--serial",
                serial,
                "--fact",
                "problem.reported=change_of_mind",
                "--fact",
                "condition.packaging_opened=false",
                "--fact",
                "condition.seal_broken=false",
                "--fact",
                "condition.activated=false",
                "--fact",
                "condition.complete=true",
                "--fact",
                "condition.gifts_returned=true",
                "--description",
                "Changed my mind; it is unused.",
            ],
        )
        .trim()
        .to_string();
        // The photos CryptKi 8 asks for, attached as files: the service's photo list is the
        // photos it keeps, never a fact anyone states.
        let evidence =
            std::env::temp_dir().join(format!("aftercare_photos_{}_{order}", std::process::id()));
        let photo = evidence.join("photo.png");
        std::fs::create_dir_all(&evidence).unwrap();
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 7, y as u8 * 9, 60]))
            .save(&photo)
            .unwrap();
        for kind in ["outer_box", "inner_box", "labels"] {
            let out = ok(
                &db,
                now,
                &[
                    "case",
                    "photo",
                    &id,
                    "--kind",
                    kind,
                    "--evidence-dir",
                    evidence.to_str().unwrap(),
                    photo.to_str().unwrap(),
                ],
            );
            assert!(out.contains(&format!("({kind}, 32×24)")), "{out}");
        }
        let _ = std::fs::remove_dir_all(&evidence);
        for action in [
            "submit",
            "approve",
            "device_shipped",
            "receive",
            "inspect",
            "refund",
            "refund_paid",
        ] {
            let mut args = vec!["case", "transition", &id, action];
            if action == "device_shipped" {
                // imKey 2(5): erased and backed up before it is sent.
                args.extend(["--fact", "customer.data_acknowledged=true"]);
            }
            ok(&db, now, &args);
        }
        let shown: serde_json::Value =
            serde_json::from_str(&ok(&db, now, &["case", "show", &id])).unwrap();
        assert_eq!(shown["state"], "closed", "{order}");
        let export: serde_json::Value =
            serde_json::from_str(&ok(&db, now, &["customer", "export", customer])).unwrap();
        let orders = export["orders"].as_array().unwrap();
        let o = orders.iter().find(|o| o["order_no"] == order).unwrap();
        assert_eq!(o["refunds"][0]["amount_minor"], refund, "{order}: {o}");
        assert!(o["refunds"][0]["paid_at"].is_string(), "{order}");
        assert_eq!(o["refunded_minor"], refund);
    }
}

#[test]
fn a_refund_the_decision_does_not_give_is_refused() {
    let db = fresh_db();
    setup(&db);
    let now = "2024-03-09T08:00:00Z";
    // Two months after delivery and activated: no return, no withdrawal.
    let id = ok(
        &db,
        now,
        &[
            "case",
            "open",
            "--kind",
            "return",
            "--customer",
            "cust-de",
            "--order",
            "SO-CRK-1",
            "--serial",
            "CRK-0001",
            "--fact",
            "problem.reported=change_of_mind",
            "--fact",
            "condition.activated=true",
        ],
    )
    .trim()
    .to_string();
    for action in ["submit", "approve", "receive", "inspect"] {
        ok(&db, now, &["case", "transition", &id, action]);
    }
    let (code, _, err) = run(&db, now, &["case", "transition", &id, "refund"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("the decision for case {id} gives no refund (")),
        "{err}"
    );
    assert!(err.contains("withdrawal denied"), "{err}");
}

#[test]
fn csv_files_load_and_every_bad_row_is_named_by_its_line() {
    let dir = std::env::temp_dir().join(format!("aftercare_csv_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let skus = write(
        "skus.csv",
        "code,name,class,components,security_sensitive,seller,policy\nMX-1,Device,main,,false,Unnamed brand,maintenance\n",
    );
    // A SKU may name only its own seller's policies: its cases would otherwise be decided by
    // one seller's rules and seen by another's staff.
    let foreign = write(
        "skus_foreign.csv",
        "code,name,class,components,security_sensitive,seller,policy,policy_by_country\nMX-2,Device,main,,false,Brand,maintenance,\nMX-3,Device,main,,false,Unnamed brand,maintenance,DE=imask\nMX-4,Device,main,,false,Unnamed brand,nope,\n",
    );
    let units_ok = write(
        "units.csv",
        "serial,sku,manufactured_on,genuine\nU-1,MX-1,2023-01-02,true\nU-2,MX-1,,\n",
    );
    let units_bad = write(
        "units_bad.csv",
        "serial,sku,manufactured_on,genuine\nU-3,MX-1,2023-01-02,true\nU-4,MX-9,2023-01-02,true\nU-5,MX-1,2023-02-30,true\nU-3,MX-1,,\n",
    );
    let wrong = write("wrong.csv", "serial,sku,made\nU-6,MX-1,2023\n");
    let orders = write(
        "orders.csv",
        "order_no,customer,channel,ordered_on,shipped_on,delivered_on,currency,shipping_fee_minor,paid_minor,payment_method,sku,serial,quantity,price_minor\n\
         SO-9,c-1,official,2023-03-01,2023-03-02,2023-03-01,USD,0,100,card,MX-1,U-1,1,100\n",
    );
    let customers = write(
        "customers.csv",
        "ref,kind,name,email,phone,country\nc-1,consumer,Bo,,,US\n",
    );
    let db = fresh_db();
    let now = "2024-01-22T08:00:00Z";
    let (code, _, err) = run(&db, now, &["import", &foreign]);
    assert_eq!(code, 1, "{err}");
    for said in [
        "line 2 (code `MX-2`): policy: policy `maintenance` is Unnamed brand's, not Brand's",
        "line 3 (code `MX-3`): policy_by_country.DE: policy `imask` is IMASK's, not Unnamed brand's",
        "line 4 (code `MX-4`): policy: no policy `nope` is loaded",
    ] {
        assert!(err.contains(said), "{said}: {err}");
    }
    assert!(ok(&db, now, &["import", &skus]).contains("1 SKUs"));
    assert!(ok(&db, now, &["import", &units_ok]).contains("2 units"));
    assert!(
        ok(&db, now, &["import", &units_ok]).contains("2 units"),
        "a second load changes nothing"
    );
    assert!(ok(&db, now, &["import", &customers]).contains("1 customers"));

    // Rows that do not parse are each named first...
    let (code, _, err) = run(&db, now, &["import", &units_bad]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 4: manufactured_on: `2023-02-30` is not a date"),
        "{err}"
    );
    // ...then duplicates...
    let units_dup = write(
        "units_dup.csv",
        "serial,sku,manufactured_on,genuine\nU-3,MX-1,2023-01-02,true\nU-4,MX-1,,\nU-3,MX-1,,\n",
    );
    let (code, _, err) = run(&db, now, &["import", &units_dup]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 4: duplicate serial `U-3` (also line 2)"),
        "{err}"
    );
    // ...then values the registry refuses.
    let units_bad3 = write(
        "units_bad3.csv",
        "serial,sku,manufactured_on,genuine\nU-3,MX-1,2023-01-02,true\nU-4,MX-9,2023-01-02,true\n",
    );
    let (code, _, err) = run(&db, now, &["import", &units_bad3]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 3 (serial `U-4`): sku: unknown SKU `MX-9`"),
        "{err}"
    );
    // Nothing of a refused file was written: U-3 is not there.
    let (code, _, _) = run(&db, now, &["warranty", "U-3"]);
    assert_eq!(code, 1);

    let (code, _, err) = run(&db, now, &["import", &wrong]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 1: unknown column(s) `made` and missing column(s) `manufactured_on`, `genuine` for a units file"),
        "{err}"
    );
    let (code, _, err) = run(&db, now, &["import", &orders]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "line 2 (order_no `SO-9`): delivered_on: 2023-03-01 is before shipped_on 2023-03-02"
        ),
        "{err}"
    );

    // Shipments: their own kind of file, told by its header.
    let orders_ok = write(
        "orders_ok.csv",
        "order_no,customer,channel,ordered_on,shipped_on,delivered_on,currency,shipping_fee_minor,paid_minor,payment_method,sku,serial,quantity,price_minor\n\
         SO-9,c-1,official,2023-03-01,,,USD,0,100,card,MX-1,U-1,1,100\n",
    );
    assert!(ok(&db, now, &["import", &orders_ok]).contains("1 orders"));
    let shipments = write(
        "shipments.csv",
        "carrier,tracking,order_no,shipped_on,delivered_on\nDHL,1,SO-9,2023-03-02,2023-03-04\nUPS,9,SO-9,2023-03-03,\n",
    );
    assert!(ok(&db, now, &["import", &shipments]).contains("2 shipments"));
    let shipments_bad = write(
        "shipments_bad.csv",
        "carrier,tracking,order_no,shipped_on,delivered_on\nDHL,2,SO-9,2023-03-32,\nDHL,3,SO-8,2023-03-02,\n",
    );
    let (code, _, err) = run(&db, now, &["import", &shipments_bad]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2: shipped_on: `2023-03-32` is not a date"),
        "{err}"
    );
    let export = ok(&db, now, &["customer", "export", "c-1"]);
    assert!(export.contains("\"tracking\": \"9\""), "{export}");
}

#[test]
fn the_background_sweeper_fires_each_due_timer_once_over_its_rounds() {
    let db = fresh_db();
    setup(&db);
    let id = open(&db, "MX1-0001", "SO-MX-1");
    ok(
        &db,
        "2024-01-22T08:05:00Z",
        &["case", "transition", &id, "submit"],
    );
    ok(
        &db,
        "2024-01-22T09:00:00Z",
        &["case", "transition", &id, "approve"],
    );
    // Three sweeps at a time when the reminder and the not-received deadline have passed.
    let out = ok(
        &db,
        "2024-02-07T00:00:00Z",
        &["tick", "--every", "0.05", "--rounds", "3"],
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("ship_by_reminder"))
            .count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("not_received (case is now closed_not_received)"))
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.ends_with("2 timer(s) fired, 0 sweep(s) failed, 0 timer failure(s)\n"),
        "{out}"
    );

    // Bad flags are named.
    let (code, _, err) = run(&db, "2024-02-07T00:00:00Z", &["tick", "--every=-1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--every: `-1`"), "{err}");
    let (code, _, err) = run(&db, "2024-02-07T00:00:00Z", &["tick", "--rounds", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--every"), "{err}");
}

#[test]
fn service_flags_work_before_the_subcommand_as_well_as_after() {
    let db = fresh_db();
    let registry = root().join("examples/registry.json");
    // `--db` and `--now` before the subcommand, no environment.
    let o = Command::new(env!("CARGO_BIN_EXE_aftercare"))
        .args(["--db", &db, "--now", "2024-01-22T08:00:00Z", "--policies"])
        .arg(root().join("policies"))
        .arg("import")
        .arg(&registry)
        .env_remove("AFTERCARE_DB")
        .env_remove("AFTERCARE_NOW")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // The same database, named after the subcommand this time, holds what was imported.
    let out = ok(&db, "2024-01-22T08:00:00Z", &["warranty", "MX1-0001"]);
    assert!(out.contains("MX1-0001"), "{out}");
}

#[test]
fn migrate_brings_a_new_database_up_to_date_and_can_run_again() {
    let db = fresh_db();
    let first = ok(&db, "2024-01-22T08:00:00Z", &["migrate"]);
    assert!(first.contains(": schema at version "), "{first}");
    let again = ok(&db, "2024-01-22T08:00:00Z", &["migrate"]);
    assert_eq!(first, again);
}

#[test]
fn a_date_alone_in_now_is_the_start_of_that_day_in_the_policys_zone_everywhere() {
    let db = fresh_db();
    setup(&db);
    // imKey decides in Asia/Shanghai: 2024-03-09 begins there at 16:00 UTC the day before.
    let id = ok(
        &db,
        "2024-03-09",
        &[
            "case",
            "open",
            "--kind",
            "warranty_service",
            "--policy",
            "imkey",
            "--order",
            "SO-IMK-1",
            "--serial",
            "IMK-0001",
        ],
    );
    let id = id.trim();
    let shown = ok(&db, "2024-03-09", &["case", "show", id]);
    assert!(
        shown.contains("\"opened_at\": \"2024-03-08T16:00:00Z\""),
        "{shown}"
    );
    // A move of that case takes the same meaning.
    ok(&db, "2024-03-10", &["case", "transition", id, "submit"]);
    let shown = ok(&db, "2024-03-10", &["case", "show", id]);
    assert!(
        shown.contains("\"updated_at\": \"2024-03-09T16:00:00Z\""),
        "{shown}"
    );
    // `policy explain` reads it the same way.
    let facts = root().join("policies/cases/imkey/001-unactivated-change-of-mind-refunded.toml");
    let out = ok(
        &db,
        "2024-03-12",
        &[
            "policy",
            "explain",
            "--json",
            "--facts",
            facts.to_str().unwrap(),
        ],
    );
    assert!(out.contains("\"now\": \"2024-03-11T16:00:00Z\""), "{out}");
    // A sweep concerns every policy: they are in two zones, so a date alone is refused,
    // naming them, and nothing is swept.
    let (code, _, err) = run(&db, "2024-03-10", &["tick"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("alone is ambiguous here: the policies are in Asia/Shanghai, Europe/Brussels"),
        "{err}"
    );
}

#[test]
fn policy_simulate_reports_what_a_draft_would_change_on_recorded_decisions() {
    let db = fresh_db();
    setup(&db);
    let id = open(&db, "MX1-0001", "SO-MX-1");
    ok(
        &db,
        "2024-01-22T08:05:00Z",
        &["case", "transition", &id, "submit"],
    );
    ok(
        &db,
        "2024-01-22T09:00:00Z",
        &["case", "transition", &id, "approve"],
    );
    let dir = std::env::temp_dir().join(format!("aftercare-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join("policies/maintenance.toml")).unwrap();
    let draft = dir.join("maintenance.toml");
    std::fs::write(
        &draft,
        text.replace("within = \"3 days\"", "within = \"10 days\""),
    )
    .unwrap();
    let draft = draft.to_str().unwrap();

    let out = ok(&db, "2024-02-01T00:00:00Z", &["policy", "simulate", draft]);
    assert!(out.contains("would change"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("ship_by") && l.contains("by 7 to 7 days")),
        "{out}"
    );
    let json = ok(
        &db,
        "2024-02-01T00:00:00Z",
        &["policy", "simulate", draft, "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["policy"], "maintenance");
    assert!(v["changed"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(v["deadlines"][0]["deadline"], "ship_by", "{json}");

    // Another seller's name, a day that is not one, a file that is not there: refused, named.
    for (args, says) in [
        (vec!["--seller", "IMASK"], "not IMASK's"),
        (vec!["--since", "2024-13-01"], "--since `2024-13-01`"),
    ] {
        let mut all = vec!["policy", "simulate", draft];
        all.extend(args);
        let (code, _, err) = run(&db, "2024-02-01T00:00:00Z", &all);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
    let (code, _, err) = run(
        &db,
        "2024-02-01T00:00:00Z",
        &["policy", "simulate", "/nonexistent.toml"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read `/nonexistent.toml`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! A load generator for the service on a real database: the raw single-row commit rate, a
//! registry import, opening cases, warranty look-ups by serial, and a timer sweep with few due
//! among many pending. Prints one line per measurement. See README, "Benchmarks".
//!
//! ```sh
//! cargo run --release -p aftercare-app --example service_bench -- sqlite:///tmp/bench.db 100000 [CASES [PENDING]]
//! cargo run --release -p aftercare-app --example service_bench -- postgres://postgres:postgres@localhost/bench 100000
//! ```
//! The database must be new (or empty): the generator fills it. CASES are opened one by one
//! through the service; PENDING (default CASES) is how many open cases have a pending timer
//! during the sweep: cases beyond CASES are copies of an opened one, made in one statement.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "a load generator: it stops on any error"
)]

use std::time::{Duration, Instant};

use aftercare_app::cases::{self, NewCase};
use aftercare_app::import::{self, Batch};
use aftercare_app::registry::{Customer, Order, OrderLine, Sku, Unit};
use aftercare_app::{AppError, Policies, lineage, sweep};
use aftercare_domain::case::CaseKind;
use aftercare_store::{Store, Val};
use jiff::Timestamp;

fn policies() -> Policies {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    Policies::from_sources(aftercare_app::policies::read_dir(&dir).unwrap()).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: service_bench DB_URL UNITS");
    let units: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // Cases to open (default: one per order, at most 100 k); cases beyond the orders reuse them.
    let cases_n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or((units / 10).min(100_000));
    let pending_n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(cases_n);
    let mut store = Store::open(&url).unwrap();
    let policies = policies();
    let now: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
    let backend = format!("{:?}", store.dialect()).to_lowercase();

    // Raw single-row commits, each its own transaction.
    store
        .tx(|tx| {
            tx.batch(
                "CREATE TABLE IF NOT EXISTS bench_commit (id BIGINT PRIMARY KEY, v TEXT);
                 DELETE FROM bench_commit",
            )
        })
        .unwrap();
    let n = 2_000;
    let t = Instant::now();
    for i in 0..n {
        store
            .tx(|tx| {
                tx.exec(
                    "INSERT INTO bench_commit (id, v) VALUES (?, 'x')",
                    &[Val::Int(i)],
                )
            })
            .unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    println!("{backend}: raw single-row commits: {rate:.0}/s ({n} commits)");

    // Import: one SKU, one customer, `units` units, one order per 10 units.
    let mut batch = Batch {
        skus: vec![Sku {
            code: "B-1".into(),
            name: "Bench device".into(),
            class: "main".into(),
            components: String::new(),
            security_sensitive: false,
            seller: "Unnamed brand".into(),
            policy: "maintenance".into(),
            policy_by_country: Default::default(),
        }],
        customers: vec![Customer {
            reference: "bench".into(),
            kind: "consumer".into(),
            name: "Bench".into(),
            email: None,
            phone: None,
            country: "US".into(),
        }],
        ..Batch::default()
    };
    batch.units = (0..units)
        .map(|i| Unit {
            serial: format!("B{i:09}"),
            sku: "B-1".into(),
            manufactured_on: None,
            genuine: true,
        })
        .collect();
    batch.orders = (0..units / 10)
        .map(|o| Order {
            order_no: format!("BO{o:08}"),
            customer: "bench".into(),
            channel: "official".into(),
            distance: Some(true),
            ordered_on: "2024-01-02".parse().unwrap(),
            shipped_on: None,
            delivered_on: Some("2024-01-05".parse().unwrap()),
            currency: "USD".into(),
            shipping_fee_minor: 0,
            paid_minor: 10_000,
            payment_method: None,
            lines: vec![OrderLine {
                sku: "B-1".into(),
                serial: Some(format!("B{:09}", o * 10)),
                quantity: 1,
                price_minor: 10_000,
            }],
        })
        .collect();
    // A database left by an earlier run with the same units is measured again as it is: the
    // import is skipped (a 10 M import takes minutes on PostgreSQL).
    let held = store
        .tx(|tx| -> Result<i64, AppError> {
            Ok(tx
                .query_one("SELECT count(*) FROM units WHERE serial LIKE 'B%'", &[])?
                .int(0)?)
        })
        .unwrap();
    if held == units as i64 {
        println!("{backend}: {units} units already loaded: import skipped");
    } else {
        let t = Instant::now();
        import::load(
            &mut store,
            &policies,
            &batch,
            "bench",
            "bench",
            now,
            "2024-06-01".parse().unwrap(),
            &mut |_, _| {},
        )
        .unwrap();
        let s = t.elapsed().as_secs_f64();
        println!(
            "{backend}: import {units} units + {} orders: {s:.1} s ({:.0} records/s)",
            units / 10,
            (units + units / 10) as f64 / s
        );
    }
    drop(batch);
    // Statistics, as a PostgreSQL in service has them (its autovacuum analyses): otherwise the
    // first queries race the server's own background analyze of tables that just grew by
    // millions of rows. SQLite gathers none by itself and is measured as it is (analysed, its
    // look-ups were slower here: 54–112 µs against 27–32 µs at 100 k units).
    let t = Instant::now();
    if store.dialect() == aftercare_store::Dialect::Postgres {
        store
            .tx(|tx| tx.batch("ANALYZE units; ANALYZE orders; ANALYZE order_lines"))
            .unwrap();
    }
    println!(
        "{backend}: analyze after import: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Warranty look-ups by serial, spread over the whole range.
    let mut lat = Vec::with_capacity(2_000);
    for i in 0..2_000usize {
        let serial = format!("B{:09}", (i * 7919) % units);
        let t = Instant::now();
        lineage::lookup(&mut store, &serial).unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "{backend}: warranty look-up at {units} units: median {:?}, p99 {:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // Opening cases (each: checks, insert, audit event, one transaction).
    let orders = units / 10;
    let t = Instant::now();
    for o in (0..cases_n).map(|c| c % orders) {
        cases::open(
            &mut store,
            &policies,
            &NewCase {
                open_key: None,
                description: None,
                kind: Some(CaseKind::WarrantyService),
                customer: Some("bench".into()),
                order_no: Some(format!("BO{o:08}")),
                serial: Some(format!("B{:09}", o * 10)),
                policy: None,
                facts: serde_json::Map::new(),
            },
            aftercare_app::stated::By::Operator,
            "bench",
            now,
        )
        .unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{backend}: open {cases_n} cases: {s:.1} s ({:.0} cases/s)",
        cases_n as f64 / s
    );

    // More open cases, copies of the first, up to PENDING.
    if pending_n > cases_n {
        let t = Instant::now();
        store
            .tx(|tx| -> Result<(), AppError> {
                tx.exec(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                     INSERT INTO cases (kind, state, customer_id, order_no, serial, policy_id,
                       facts, opened_at, updated_at)
                     SELECT c.kind, c.state, c.customer_id, c.order_no, c.serial, c.policy_id,
                       c.facts, c.opened_at, c.updated_at
                     FROM n, (SELECT * FROM cases ORDER BY id LIMIT 1) c",
                    &[Val::Int((pending_n - cases_n) as i64)],
                )?;
                Ok(())
            })
            .unwrap();
        println!(
            "{backend}: {} more open cases copied in {:.1} s",
            pending_n - cases_n,
            t.elapsed().as_secs_f64()
        );
    }
    let cases_n = pending_n.max(cases_n);

    // A sweep: a pending timer on every case, 1 in 100 (at most 1,000) due.
    let due_n = (cases_n / 100).min(1_000);
    store
        .tx(|tx| -> Result<(), AppError> {
            // `WHERE true`: SQLite cannot tell an upsert's ON CONFLICT from a join's ON after a
            // bare `SELECT … FROM t`, and refuses it.
            tx.exec(
                "INSERT INTO timers (case_id, kind, due_at)
                 SELECT id, 'ship_by_reminder', CASE WHEN id <= ? THEN CAST(? AS BIGINT) ELSE CAST(? AS BIGINT) END FROM cases WHERE true
                 ON CONFLICT (case_id, kind) DO UPDATE SET due_at = excluded.due_at,
                   fired_at = NULL, cancelled_at = NULL, outcome = NULL",
                &[
                    Val::Int(due_n as i64),
                    Val::Int(now.as_microsecond() - 1),
                    Val::Int(now.as_microsecond() + 86_400_000_000),
                ],
            )?;
            Ok(())
        })
        .unwrap();
    // Fresh statistics after the bulk load, as a running database has: otherwise the sweep
    // races the server's own background analyze of a table that just grew a million rows.
    store
        .tx(|tx| tx.batch("ANALYZE timers; ANALYZE cases"))
        .unwrap();
    let t = Instant::now();
    let fired = sweep::sweep(&mut store, &policies, now, 500).unwrap().fired;
    let s = t.elapsed().as_secs_f64();
    println!(
        "{backend}: sweep with {} due among {cases_n} pending timers: {:.1} ms ({} fired)",
        due_n,
        s * 1000.0,
        fired.len()
    );
    let t = Instant::now();
    let none = sweep::sweep(&mut store, &policies, now, 500).unwrap().fired;
    println!(
        "{backend}: sweep with none due among {} pending: {:.2} ms ({} fired)",
        cases_n - due_n,
        t.elapsed().as_secs_f64() * 1000.0,
        none.len()
    );
}

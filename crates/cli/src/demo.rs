//! `aftercare demo`: a working system in one command. On a new database it loads the five
//! seed sellers' registry (the records of `examples/registry.json` and a few hundred generated
//! units, orders, invoices and shipments over the last fourteen months), staff accounts for
//! every role, and cases in the states a service desk lives with — waiting for a device, a
//! quote unpaid, a service-level target at risk, closed — made by the same use cases the API
//! calls, at past moments. A database that already holds the demo is served as it is.

use aftercare_app::accounts::{self, NewUser, Principal, Role, Sellers};
use aftercare_app::cases::{self, NewCase, Step};
use aftercare_app::evidence::Blobs;
use aftercare_app::stated::By;
use aftercare_app::{AppError, Policies, import};
use aftercare_domain::case::{Action, CaseKind};
use aftercare_store::Store;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, Value as J, json};

/// The demo accounts' password (printed when the demo starts).
pub const PASSWORD: &str = "demo-aftercare-2026";

/// The demo's staff: e-mail, name, role, sellers.
pub const STAFF: &[(&str, &str, Role, &str)] = &[
    ("admin@demo.test", "Ada Admin", Role::Admin, "*"),
    ("manager@demo.test", "Max Manager", Role::Manager, "*"),
    (
        "agent.imask@demo.test",
        "Ivy Agent (IMASK)",
        Role::Agent,
        "IMASK",
    ),
    (
        "tech.imask@demo.test",
        "Tom Technician (IMASK)",
        Role::Technician,
        "IMASK",
    ),
    (
        "agent.cryptki@demo.test",
        "Chloé Agent (CryptKi)",
        Role::Agent,
        "CryptKi",
    ),
    (
        "agent.imkey@demo.test",
        "Kai Agent (imKey)",
        Role::Agent,
        "imKey",
    ),
    (
        "agent.imiki@demo.test",
        "Mia Agent (IMIKI)",
        Role::Agent,
        "IMIKI",
    ),
    (
        "tech.repair@demo.test",
        "Rui Technician (repairs)",
        Role::Technician,
        "Unnamed brand",
    ),
];

/// A customer the demo's walk-through signs in as (order and e-mail).
pub const CUSTOMER: (&str, &str) = ("WEB-1001", "li.wei@example.org");

/// Where the demo's sellers take items in (made up for the demo), for the return slips.
pub const SERVICE_CENTRES: &[(&str, &str)] = &[
    (
        "IMASK",
        "IMASK After-sales Service Centre; 88 Keyuan Road, Nanshan District; Shenzhen 518057; China",
    ),
    (
        "imKey",
        "imKey Service Team; 2F, 16 Gaoxin South 4th Road; Shenzhen 518063; China",
    ),
    (
        "IMIKI",
        "IMIKI Returns; Industrieweg 12; 3542 AD Utrecht; Netherlands",
    ),
    (
        "CryptKi",
        "CryptKi Returns; Rue de la Loi 200; 1040 Brussels; Belgium",
    ),
    (
        "Unnamed brand",
        "Maintenance Service Centre; 500 Harbor Blvd; Oakland, CA 94607; USA",
    ),
];

/// Whether the database holds the demo already.
pub fn seeded(store: &mut Store) -> Result<bool, AppError> {
    store.tx(|tx| {
        Ok(tx
            .query_opt(
                "SELECT 1 FROM users WHERE email = ?",
                &["admin@demo.test".into()],
            )?
            .is_some())
    })
}

/// Loads the demo into an empty database at `now`. `examples` is `examples/registry.json`;
/// the photos of its cases go to `blobs`.
pub fn seed(
    store: &mut Store,
    policies: &Policies,
    blobs: &dyn Blobs,
    examples: &str,
    now: Timestamp,
) -> Result<String, String> {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let err = |e: AppError| e.to_string();
    for text in [examples.to_string(), registry(today).to_string()] {
        let batch = import::parse_json(&text).map_err(|e| e.to_string())?;
        import::load(
            store,
            policies,
            &batch,
            &text,
            "demo",
            now,
            today,
            &mut |_, _| {},
        )
        .map_err(|e| format!("{e:?}"))?;
    }
    for (email, name, role, sellers) in STAFF {
        accounts::add_user(
            store,
            &NewUser {
                email: (*email).into(),
                name: (*name).into(),
                role: *role,
                password: PASSWORD.into(),
                sellers: vec![(*sellers).into()],
            },
            "demo",
            now,
        )
        .map_err(err)?;
    }
    let n = cases_in_every_state(store, policies, blobs, now).map_err(err)?;
    Ok(format!("{n} cases"))
}

/// A small deterministic generator: the same demo every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = usize::try_from(self.next(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or_default()
    }
}

/// A seller's line in the demo: SKU, price (minor), currency, shipping fee, serial prefix,
/// the countries its buyers live in.
type SellerLine = (
    &'static str,
    i64,
    &'static str,
    i64,
    &'static str,
    &'static [&'static str],
);

const SELLERS: &[SellerLine] = &[
    (
        "IMKEY-PRO",
        59_900,
        "CNY",
        0,
        "IMK",
        &["CN", "CN", "CN", "DE", "FR"],
    ),
    ("IMASK-M1", 129_900, "CNY", 0, "IMA", &["CN"]),
    (
        "IMIKI-W1",
        8_900,
        "EUR",
        499,
        "IMI",
        &["DE", "FR", "NL", "US", "CN"],
    ),
    (
        "CRYPTKI-1",
        14_900,
        "EUR",
        690,
        "CRK",
        &["BE", "FR", "DE", "NL", "IT", "CH"],
    ),
    ("MX-1", 24_900, "USD", 1_200, "MX1", &["US", "US", "CA"]),
];

const FIRST: &[&str] = &[
    "Wei", "Fang", "Lena", "Jonas", "Camille", "Lucas", "Sofia", "Noah", "Emma", "Liam", "Hannah",
    "Mateo", "Chloé", "Hugo", "Yuki", "Mei", "Olivia", "Elias", "Zoë", "Arjun",
];
const LAST: &[&str] = &[
    "Chen", "Wang", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Janssens", "Peeters",
    "de Vries", "Smith", "Johnson", "Zhang", "Liu", "Bianchi", "Moreau", "Fischer", "Garcia",
];

/// How many days before today the orders of the demo's stories were placed, so that each
/// case is what its story says (a withdrawal inside the fourteen days, delivery damage
/// reported inside the seven, a fault inside the warranty, and every order before its case).
fn story_order_age(prefix: &str, n: usize) -> Option<i64> {
    Some(match (prefix, n) {
        ("IMA", 3) => 20,
        ("IMA", 4) => 30,
        ("IMA", 5) => 40,
        ("IMA", 6) => 60,
        ("IMA", 7) => 90,
        ("MX1", 3) => 100,
        ("MX1", 4) => 120,
        ("MX1", 5) => 150,
        ("CRK", 3) => 16,
        ("CRK", 4) => 8,
        ("CRK", 5) => 26,
        ("IMK", 3) => 8,
        ("IMI", 3) => 60,
        _ => return None,
    })
}

/// A generated registry: customers, units, orders, invoices and shipments for every seller.
fn registry(today: Date) -> J {
    let mut rng = Lcg(2026);
    let (mut customers, mut units, mut orders, mut invoices, mut shipments) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let day = |back: i64| today.checked_sub(back.days()).unwrap_or(today);
    for (si, (sku, price, currency, fee, prefix, countries)) in SELLERS.iter().enumerate() {
        for n in 1..=60 {
            let country = rng.pick(countries);
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            let reference = format!("demo-{prefix}-{n:03}");
            let email = format!(
                "{}.{}.{n}@example.org",
                first.to_lowercase().replace(['é', 'ë'], "e"),
                last.to_lowercase().replace([' ', 'ü'], "")
            );
            customers.push(json!({
                "ref": reference, "kind": if n % 17 == 0 { "professional" } else { "consumer" },
                "name": format!("{first} {last}"), "email": email, "country": country,
            }));
            let serial = format!("{prefix}-{:05}", 10_000 + n);
            let random_age = i64::try_from(rng.next(420)).unwrap_or(0) + 3;
            let ordered = day(story_order_age(prefix, n).unwrap_or(random_age));
            let shipped = ordered.checked_add(1.days()).unwrap_or(ordered);
            let delivered = shipped
                .checked_add(i64::try_from(rng.next(4) + 1).unwrap_or(1).days())
                .unwrap_or(shipped)
                .min(today);
            let order_no = format!("DEMO-{prefix}-{n}");
            let channel = match rng.next(20) {
                0 => "authorised_dealer",
                1 if si != 4 => "other",
                _ => "official",
            };
            units.push(json!({"serial": serial, "sku": sku, "manufactured_on": ordered.checked_sub(60.days()).unwrap_or(ordered).to_string()}));
            orders.push(json!({
                "order_no": order_no, "customer": reference, "channel": channel,
                // Bought in the sellers' own web shops; a dealer's sale was over the counter.
                "distance": channel == "official",
                "ordered_on": ordered.to_string(), "shipped_on": shipped.to_string(),
                "delivered_on": delivered.to_string(), "currency": currency,
                "shipping_fee_minor": fee, "paid_minor": price + fee,
                "lines": [{"sku": sku, "serial": serial, "price_minor": price}],
            }));
            if n % 9 != 0 {
                invoices.push(json!({
                    "invoice_no": format!("INV-{order_no}"), "order_no": order_no,
                    "issued_on": ordered.to_string(), "lines": [{"model": sku, "serial": serial}],
                }));
            }
            if n % 3 == 0 {
                shipments.push(json!({
                    "carrier": "DemoPost", "tracking": format!("DP{prefix}{n:06}"), "order_no": order_no,
                    "shipped_on": shipped.to_string(), "delivered_on": delivered.to_string(),
                }));
            }
        }
    }
    // The walk-through's customer: an IMASK mask delivered five days ago, still inside the
    // seven-day return and the fifteen-day repair-or-replace windows.
    customers.push(json!({"ref": "demo-li-wei", "kind": "consumer", "name": "Li Wei", "email": CUSTOMER.1, "country": "CN"}));
    let (ordered, delivered) = (day(8), day(5));
    units.push(
        json!({"serial": "IMA-DEMO-1", "sku": "IMASK-M1", "manufactured_on": day(90).to_string()}),
    );
    orders.push(json!({
        "order_no": CUSTOMER.0, "customer": "demo-li-wei", "channel": "official", "distance": true,
        "ordered_on": ordered.to_string(), "shipped_on": day(7).to_string(), "delivered_on": delivered.to_string(),
        "currency": "CNY", "shipping_fee_minor": 0, "paid_minor": 129_900,
        "lines": [{"sku": "IMASK-M1", "serial": "IMA-DEMO-1", "price_minor": 129_900}],
    }));
    invoices.push(json!({"invoice_no": "INV-WEB-1001", "order_no": CUSTOMER.0, "issued_on": ordered.to_string(), "lines": [{"model": "IMASK-M1", "serial": "IMA-DEMO-1"}]}));
    // Two more of hers, to start requests from the portal: a CryptKi wallet delivered
    // yesterday (for a delivery-damage report) and an imKey bought three weeks ago (a fault).
    units.push(json!({"serial": "CRK-DEMO-1", "sku": "CRYPTKI-1", "manufactured_on": day(120).to_string()}));
    orders.push(json!({
        "order_no": "WEB-1002", "customer": "demo-li-wei", "channel": "official", "distance": true,
        "ordered_on": day(4).to_string(), "shipped_on": day(3).to_string(), "delivered_on": day(1).to_string(),
        "currency": "EUR", "shipping_fee_minor": 690, "paid_minor": 15_590,
        "lines": [{"sku": "CRYPTKI-1", "serial": "CRK-DEMO-1", "price_minor": 14_900}],
    }));
    invoices.push(json!({"invoice_no": "INV-WEB-1002", "order_no": "WEB-1002", "issued_on": day(4).to_string(), "lines": [{"model": "CRYPTKI-1", "serial": "CRK-DEMO-1"}]}));
    units.push(json!({"serial": "IMK-DEMO-1", "sku": "IMKEY-PRO", "manufactured_on": day(200).to_string()}));
    orders.push(json!({
        "order_no": "WEB-1003", "customer": "demo-li-wei", "channel": "official", "distance": true,
        "ordered_on": day(25).to_string(), "shipped_on": day(24).to_string(), "delivered_on": day(21).to_string(),
        "currency": "CNY", "shipping_fee_minor": 0, "paid_minor": 59_900,
        "lines": [{"sku": "IMKEY-PRO", "serial": "IMK-DEMO-1", "price_minor": 59_900}],
    }));
    invoices.push(json!({"invoice_no": "INV-WEB-1003", "order_no": "WEB-1003", "issued_on": day(25).to_string(), "lines": [{"model": "IMKEY-PRO", "serial": "IMK-DEMO-1"}]}));
    json!({"customers": customers, "units": units, "orders": orders, "invoices": invoices, "shipments": shipments})
}

fn facts(v: J) -> Map<String, J> {
    match v {
        J::Object(m) => m,
        _ => Map::new(),
    }
}

/// One demo case: a generated order of seller `prefix`, opened hours ago with what the
/// customer reported, then moved by `steps`, each at its own moment (hours ago).
struct Story<'a> {
    kind: CaseKind,
    prefix: &'a str,
    n: u32,
    opened: i64,
    report: J,
    /// Photos the customer attached when opening it, by kind.
    photos: &'a [&'a str],
    steps: &'a [(Action, J, i64)],
}

/// A made-up photo for the demo: a PNG of `kind`'s own colour, uploaded as any photo is.
fn sample_photo(kind: &str) -> Vec<u8> {
    let shade = kind.bytes().fold(0u8, u8::wrapping_add);
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        let (x, y) = (
            u8::try_from(x % 256).unwrap_or(0),
            u8::try_from(y % 256).unwrap_or(0),
        );
        image::Rgb([shade, x, y])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    match img.write_to(&mut png, image::ImageFormat::Png) {
        Ok(()) => png.into_inner(),
        Err(_) => Vec::new(),
    }
}

impl Story<'_> {
    fn tell(
        &self,
        store: &mut Store,
        policies: &Policies,
        blobs: &dyn Blobs,
        now: Timestamp,
    ) -> Result<i64, AppError> {
        let at = |hours_ago: i64| now.checked_sub(hours_ago.hours()).unwrap_or(now);
        let (prefix, n) = (self.prefix, self.n);
        let id = cases::open(
            store,
            policies,
            &NewCase {
                open_key: None,
                kind: Some(self.kind),
                customer: Some(format!("demo-{prefix}-{n:03}")),
                order_no: Some(format!("DEMO-{prefix}-{n}")),
                serial: Some(format!("{prefix}-{:05}", 10_000 + n)),
                policy: None,
                facts: facts(self.report.clone()),
                description: Some(
                    match self.kind {
                        CaseKind::Return => "Changed my mind; it is unused.",
                        CaseKind::DeliveryDamage => "The box arrived crushed on one corner.",
                        CaseKind::WrongItem => "The parcel held a different model.",
                        _ => "It stopped working: no response when switched on.",
                    }
                    .to_string(),
                ),
            },
            By::Customer,
            "demo",
            at(self.opened),
        )?;
        let desk = Principal::Staff {
            user_id: 0,
            email: "demo".into(),
            role: Role::Admin,
            sellers: Sellers::All,
            scopes: None,
        };
        for kind in self.photos {
            aftercare_app::evidence::attach(
                store,
                blobs,
                policies,
                &desk,
                id,
                kind,
                &sample_photo(kind),
                at(self.opened),
            )?;
        }
        for (action, extra, hours_ago) in self.steps {
            let step = Step {
                facts: facts(extra.clone()),
                quote_lines: if *action == Action::Quote {
                    vec![
                        "part:Replacement board:80.00".into(),
                        "labour:Bench time:40.00".into(),
                    ]
                } else {
                    Vec::new()
                },
                ..Step::new(*action)
            };
            let (by, actor) =
                if matches!(action, Action::Submit | Action::DeviceShipped | Action::Pay) {
                    (By::Customer, "customer")
                } else {
                    (By::Staff(Role::Manager), "demo-desk")
                };
            cases::transition(store, policies, id, &step, by, actor, at(*hours_ago))?;
        }
        Ok(id)
    }
}

/// The cases of the demo, in the states a desk works with. Returns how many.
fn cases_in_every_state(
    store: &mut Store,
    policies: &Policies,
    blobs: &dyn Blobs,
    now: Timestamp,
) -> Result<usize, AppError> {
    use Action::*;
    use CaseKind::*;
    let defect = json!({"problem.reported": "defect"});
    let d = 24;
    let made = [
        // IMASK: a defect waiting for the customer to send the device.
        Story { kind: WarrantyService, prefix: "IMA", n: 3, opened: 3 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 3 * d - 1), (Approve, json!({}), 2 * d)] }.tell(store, policies, blobs, now)?,
        // IMASK: received 20 hours ago and not inspected: the 24-hour target is at risk.
        Story { kind: WarrantyService, prefix: "IMA", n: 4, opened: 6 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 6 * d - 1), (Approve, json!({}), 5 * d), (DeviceShipped, json!({}), 4 * d), (Receive, json!({}), 20)] }.tell(store, policies, blobs, now)?,
        // IMASK: received 30 hours ago and still not inspected: the target is breached.
        Story { kind: WarrantyService, prefix: "IMA", n: 5, opened: 7 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 7 * d - 1), (Approve, json!({}), 6 * d), (DeviceShipped, json!({}), 5 * d), (Receive, json!({}), 30)] }.tell(store, policies, blobs, now)?,
        // IMASK: inspected, a drop: outside the warranty's scope, quoted, waiting for payment.
        Story { kind: WarrantyService, prefix: "IMA", n: 6, opened: 9 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 9 * d - 1), (Approve, json!({}), 8 * d), (DeviceShipped, json!({}), 7 * d),
              (Receive, json!({}), 6 * d), (Inspect, json!({"diagnosis.causes": ["drop"]}), 6 * d - 5),
              (Quote, json!({}), 6 * d - 6)] }.tell(store, policies, blobs, now)?,
        // IMASK: a manufacturing fault, repaired and shipped back, closed.
        Story { kind: WarrantyService, prefix: "IMA", n: 7, opened: 30 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 30 * d - 1), (Approve, json!({}), 29 * d), (DeviceShipped, json!({}), 28 * d),
              (Receive, json!({}), 27 * d), (Inspect, json!({"diagnosis.causes": ["manufacturing"]}), 27 * d - 3),
              (Repair, json!({}), 27 * d - 5), (ShipBack, json!({}), 26 * d), (Close, json!({}), 20 * d)] }.tell(store, policies, blobs, now)?,
        // Maintenance: approved two days ago; ship within three days.
        Story { kind: WarrantyService, prefix: "MX1", n: 3, opened: 2 * d, report: json!({"problem.reported": "defect"}), photos: &[], steps: &[(Submit, json!({}), 2 * d - 1), (Approve, json!({}), 2 * d - 2)] }.tell(store, policies, blobs, now)?,
        // Maintenance: paid repair quoted five days ago, unpaid (one month to pay).
        Story { kind: WarrantyService, prefix: "MX1", n: 4, opened: 12 * d, report: json!({"problem.reported": "defect"}), photos: &[], steps: &[(Submit, json!({}), 12 * d - 1), (Approve, json!({}), 11 * d), (DeviceShipped, json!({"customer.data_acknowledged": true}), 10 * d),
              (Receive, json!({}), 8 * d), (Inspect, json!({"diagnosis.causes": ["liquid"]}), 6 * d), (Quote, json!({}), 5 * d)] }.tell(store, policies, blobs, now)?,
        // Maintenance: approved forty days ago, never sent: the sweeper closes it.
        Story { kind: WarrantyService, prefix: "MX1", n: 5, opened: 41 * d, report: json!({"problem.reported": "defect"}), photos: &[], steps: &[(Submit, json!({}), 41 * d - 1), (Approve, json!({}), 40 * d)] }.tell(store, policies, blobs, now)?,
        // CryptKi: an unopened wallet withdrawn and received, for the desk to refund.
        Story { kind: Return, prefix: "CRK", n: 3, opened: 10 * d, report: json!({"problem.reported": "change_of_mind", "condition.packaging_opened": false, "condition.seal_broken": false, "condition.activated": false, "condition.complete": true}), photos: &[], steps: &[(Submit, json!({}), 10 * d - 1), (Approve, json!({}), 9 * d), (DeviceShipped, json!({}), 8 * d), (Receive, json!({}), 6 * d)] }.tell(store, policies, blobs, now)?,
        // CryptKi: another, inspected and refunded (the reports' refunds and days to refund).
        Story { kind: Return, prefix: "CRK", n: 5, opened: 20 * d, report: json!({"problem.reported": "change_of_mind", "condition.packaging_opened": false, "condition.seal_broken": false, "condition.activated": false, "condition.complete": true}), photos: &[], steps: &[(Submit, json!({}), 20 * d - 1), (Approve, json!({}), 19 * d), (DeviceShipped, json!({}), 18 * d), (Receive, json!({}), 16 * d),
              (Inspect, json!({}), 15 * d), (Refund, json!({}), 15 * d - 2)] }.tell(store, policies, blobs, now)?,
        // CryptKi: delivery damage reported, photos of the inner box still missing: the request
        // cannot be sent until they are there (5.1).
        Story { kind: DeliveryDamage, prefix: "CRK", n: 4, opened: d, report: json!({"problem.reported": "delivery_damage"}), photos: &["outer_box", "labels", "packaging_damage"], steps: &[] }.tell(store, policies, blobs, now)?,
        // imKey: a customer's return still in draft.
        Story { kind: Return, prefix: "IMK", n: 3, opened: 5, report: json!({"problem.reported": "change_of_mind"}), photos: &[], steps: &[] }.tell(store, policies, blobs, now)?,
        // IMIKI: a defect submitted, waiting for an agent.
        Story { kind: WarrantyService, prefix: "IMI", n: 3, opened: 2 * d, report: defect.clone(), photos: &[], steps: &[(Submit, json!({}), 2 * d - 1)] }.tell(store, policies, blobs, now)?,
    ];
    // The demo customer's own case (order WEB-1001): a defect of the mask, approved two days
    // ago and waiting to be shipped, for the portal.
    let at = |hours_ago: i64| now.checked_sub(hours_ago.hours()).unwrap_or(now);
    let li = cases::open(
        store,
        policies,
        &NewCase {
            open_key: None,
            kind: Some(WarrantyService),
            customer: Some("demo-li-wei".into()),
            order_no: Some(CUSTOMER.0.into()),
            serial: Some("IMA-DEMO-1".into()),
            policy: None,
            facts: facts(defect),
            description: Some(
                "The mask's display flickers and then goes dark a few minutes after a full charge."
                    .into(),
            ),
        },
        By::Customer,
        "customer",
        at(3 * d),
    )?;
    for (action, hours_ago, by, actor) in [
        (Submit, 3 * d - 1, By::Customer, "customer"),
        (Approve, 2 * d, By::Staff(Role::Manager), "demo-desk"),
    ] {
        cases::transition(
            store,
            policies,
            li,
            &Step::new(action),
            by,
            actor,
            at(hours_ago),
        )?;
    }
    Ok(made.len() + 1)
}

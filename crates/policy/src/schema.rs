//! The vocabulary policies are checked against: enumerations, facts, remedies, outputs,
//! deadlines and flags. One static table each, so the checker, the fact loader, the docs and
//! the JSON all agree on the same names.

use std::fmt;

/// An enumeration a fact, output or literal can range over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnumKind {
    Channel,
    InvoiceStatus,
    BuyerKind,
    ProductClass,
    Reported,
    Cause,
    Photo,
    DeliveryFailed,
    Party,
    Basis,
    Remedy,
}

impl EnumKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::InvoiceStatus => "invoice status",
            Self::BuyerKind => "buyer kind",
            Self::ProductClass => "product class",
            Self::Reported => "reported problem",
            Self::Cause => "cause",
            Self::Photo => "photo kind",
            Self::DeliveryFailed => "failed delivery reason",
            Self::Party => "party",
            Self::Basis => "warranty basis",
            Self::Remedy => "remedy",
        }
    }

    pub fn variants(self) -> &'static [&'static str] {
        match self {
            Self::Channel => &["official", "authorised_dealer", "other"],
            Self::InvoiceStatus => &["valid", "invalid", "absent"],
            Self::BuyerKind => &["consumer", "professional"],
            Self::ProductClass => &[
                "main",
                "accessory",
                "adapter",
                "cable",
                "strap",
                "decorative",
                "buckle",
                "service",
            ],
            Self::Reported => &["change_of_mind", "defect", "delivery_damage", "wrong_item"],
            Self::Cause => &[
                "manufacturing",
                "no_fault",
                "normal_wear",
                "drop",
                "crush",
                "liquid",
                "corrosion",
                "foreign_matter",
                "pests",
                "force_majeure",
                "improper_use",
                "improper_storage",
                "unauthorised_repair",
                "opened",
                "labels_removed",
                "tampering",
                "incompatibility",
                "fixable_by_upgrade",
                "firmware_not_installed",
                "third_party_charger",
                "incorrect_power",
                "software",
                "transport",
                "improper_packaging",
                "customer_damage",
            ],
            Self::Photo => &[
                "outer_box",
                "inner_box",
                "packaging_damage",
                "product",
                "product_damage",
                "item_received",
                "labels",
            ],
            Self::DeliveryFailed => &["incorrect_address", "not_collected", "refused"],
            Self::Party => &["customer", "seller"],
            Self::Basis => &[
                "invoice", "purchase", "shipment", "delivery", "serial", "registry",
            ],
            Self::Remedy => Remedy::NAMES,
        }
    }

    /// The index of `name` among the variants.
    pub fn index(self, name: &str) -> Option<u8> {
        self.variants()
            .iter()
            .position(|v| *v == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    pub fn variant(self, index: u8) -> &'static str {
        self.variants()
            .get(usize::from(index))
            .copied()
            .unwrap_or("?")
    }
}

/// The type of a fact, a derived value, an output or an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Fraction,
    Date,
    /// An exact moment: a date fact moved by hours (`service.purchased + 24 hours`).
    Instant,
    Duration,
    Money,
    Text,
    Country,
    Enum(EnumKind),
    Set(EnumKind),
    TextList,
    /// A list literal of enumeration names (`['strap', 'buckle']`), typed by its context.
    NameList,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::Int => f.write_str("int"),
            Self::Fraction => f.write_str("fraction"),
            Self::Date => f.write_str("date"),
            Self::Instant => f.write_str("instant"),
            Self::Duration => f.write_str("duration"),
            Self::Money => f.write_str("money"),
            Self::Text => f.write_str("text"),
            Self::Country => f.write_str("country"),
            Self::Enum(k) => write!(f, "{}", k.name()),
            Self::Set(k) => write!(f, "set of {}", k.name()),
            Self::TextList => f.write_str("list of texts"),
            Self::NameList => f.write_str("list of names"),
        }
    }
}

/// Who may state a fact. A decision rests only on facts stated by their source: what the
/// seller's records say comes from the registry, what the service saw happen (a photo
/// attached, a move recorded) from the service itself, findings from the staff who make them,
/// and what only the customer knows from the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The seller's records: orders, invoices, units, buyers. Staff correct them for one case
    /// by a correction of their own, audited, never inside a request that moves the case.
    Registry,
    /// The service itself: the photos stored, the description given, the dates of recorded
    /// moves, the unit's repair history. Nobody states these.
    Service,
    /// Staff who inspect the item (technicians, managers, admins).
    Inspection,
    /// Staff who receive a parcel and look at it (agents, technicians, managers, admins).
    Arrival,
    /// Staff who review a case (agents, managers, admins): proofs checked, fraud, customs,
    /// bookings, failed deliveries.
    Review,
    /// The customer, and staff on the customer's behalf.
    Customer,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Self::Registry,
        Self::Service,
        Self::Inspection,
        Self::Arrival,
        Self::Review,
        Self::Customer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Service => "service",
            Self::Inspection => "inspection",
            Self::Arrival => "arrival",
            Self::Review => "review",
            Self::Customer => "customer",
        }
    }

    /// Who that is, in words (for error messages and the fact list).
    pub fn who(self) -> &'static str {
        match self {
            Self::Registry => {
                "the seller's records (staff correct them with a registry correction)"
            }
            Self::Service => "the service itself",
            Self::Inspection => "the staff who inspect the item",
            Self::Arrival => "the staff who receive the parcel",
            Self::Review => "the staff who review the case",
            Self::Customer => "the customer",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One fact of the schema.
#[derive(Debug)]
pub struct FactDef {
    pub path: &'static str,
    pub ty: Type,
    /// Who may state it, first the one that usually does.
    pub sources: &'static [Source],
    pub doc: &'static str,
}

impl FactDef {
    /// Whether `source` may state this fact.
    pub fn stated_by(&self, source: Source) -> bool {
        self.sources.contains(&source)
    }
}

/// Index of a fact in [`FACTS`].
pub type FactId = u16;

macro_rules! facts {
    ($($path:literal : $ty:expr, [$($src:ident),+] => $doc:literal),* $(,)?) => {
        /// Every fact a policy may read, in a fixed order: a fact's id is its index here.
        pub static FACTS: &[FactDef] = &[$(FactDef {
            path: $path,
            ty: $ty,
            sources: &[$($src),+],
            doc: $doc,
        }),*];
    };
}

use EnumKind as K;
use Source::{
    Arrival as A, Customer as C, Inspection as I, Registry as R, Review as V, Service as S,
};
facts! {
    "order.date": Type::Date, [R] => "order placed",
    "order.channel": Type::Enum(K::Channel), [R] => "where it was bought",
    "order.distance": Type::Bool, [R] => "bought online / at a distance",
    "order.price": Type::Money, [R] => "price paid for the item claimed",
    "order.shipping_fee": Type::Money, [R] => "standard delivery fee paid",
    "order.extra_shipping_fee": Type::Money, [R] => "surcharge paid for a delivery dearer than standard",
    "order.shipped": Type::Date, [R] => "shipped by the seller",
    "order.delivered": Type::Date, [R] => "received by the buyer (confirmed receipt)",
    "invoice.status": Type::Enum(K::InvoiceStatus), [R, V, I] => "proof of purchase, as checked",
    "invoice.date": Type::Date, [R, V, I] => "date on the invoice",
    "warranty_card.present": Type::Bool, [C, I] => "warranty certificate supplied and valid",
    "unit.serial": Type::Text, [R] => "serial number",
    "unit.genuine": Type::Bool, [R, I] => "serial verified as the seller's genuine product",
    "unit.manufactured": Type::Date, [R] => "manufacture date decoded from the serial",
    "registry.warranty_start": Type::Date, [R] => "start date in the seller's warranty database",
    "buyer.original": Type::Bool, [R, V] => "the claimant is the original buyer",
    "buyer.kind": Type::Enum(K::BuyerKind), [R] => "consumer or professional",
    "buyer.country": Type::Country, [R] => "where the buyer lives (ISO 3166 alpha-2)",
    "product.class": Type::Enum(K::ProductClass), [R] => "the item claimed",
    "product.security_sensitive": Type::Bool, [R] => "hardware wallet, seed backup, key tool",
    "condition.packaging_opened": Type::Bool, [C, I] => "packaging opened or partly opened",
    "condition.seal_broken": Type::Bool, [C, I] => "seal or tamper evidence broken or partly broken",
    "condition.activated": Type::Bool, [C, I] => "activated, powered on, initialised, paired or tried out",
    "condition.complete": Type::Bool, [C, I, A] => "complete set: device, accessories, packaging, manuals",
    "condition.gifts_returned": Type::Bool, [C, I, A] => "gifts (if any) returned",
    "problem.reported": Type::Enum(K::Reported), [C] => "what the customer says",
    "problem.discovered": Type::Date, [C] => "when the defect was discovered",
    "claim.date": Type::Date, [S] => "when the claim was made (default: today)",
    "diagnosis.causes": Type::Set(K::Cause), [I] => "what inspection found",
    "history.failed_repairs": Type::Int, [S] => "repairs of the same fault that did not cure it",
    "history.accessory_replacements": Type::Int, [S] => "times this accessory was replaced",
    "evidence.photos": Type::Set(K::Photo), [S] => "photos supplied",
    "evidence.description": Type::Bool, [S] => "a written description of the issue was supplied",
    "evidence.order_number": Type::Bool, [S] => "the order number was supplied",
    "service.purchased": Type::Date, [R] => "when a service was bought",
    "service.scheduled": Type::Date, [V] => "when the service is scheduled",
    "service.early_start_requested": Type::Bool, [C] => "the customer asked to start within the withdrawal period",
    "service.fraction_delivered": Type::Fraction, [V] => "share of the service already provided",
    "return.authorised": Type::Bool, [S] => "the return was authorised before it was shipped",
    "return.shipped": Type::Date, [S] => "customer shipped the item back",
    "return.received": Type::Date, [S] => "the service centre received it",
    "shipping.customs_blocked": Type::Bool, [V] => "customs retained, destroyed or blocked the shipment",
    "arrival.parcel_damaged": Type::Bool, [A] => "the parcel reached the service centre damaged",
    "arrival.soaked": Type::Bool, [A] => "the parcel reached the service centre soaked in liquid",
    "delivery.failed": Type::Enum(K::DeliveryFailed), [V] => "why an outbound shipment came back",
    "application.submitted": Type::Bool, [S] => "a repair application was made before sending",
    "application.accepted": Type::Date, [S] => "the repair application was accepted",
    "quote.notified": Type::Date, [S] => "the customer was sent a repair quote",
    "quote.accepted": Type::Bool, [S] => "the customer agreed to the paid repair",
    "quote.paid": Type::Date, [S] => "the quote was paid",
    "repair.date": Type::Date, [S] => "the repair or replacement was done",
    "customer.keeps_parts": Type::Bool, [C] => "asked to keep replaced parts",
    "customer.data_acknowledged": Type::Bool, [C] => "the customer confirmed the device's data is erased and backed up (recovery phrase, PIN, passwords)",
    "abuse.suspected_fraud": Type::Bool, [V] => "fraud is suspected",
    "abuse.return_pattern": Type::Bool, [V] => "abusive pattern of returns",
    "abuse.intentional_damage": Type::Bool, [V] => "the damage was intentional",
}

/// Pairs of date facts that must be in this order (first no later than second).
pub static DATE_ORDER: &[(&str, &str)] = &[
    ("order.date", "order.shipped"),
    ("order.shipped", "order.delivered"),
    ("order.date", "order.delivered"),
    ("return.shipped", "return.received"),
    ("quote.notified", "quote.paid"),
    ("service.purchased", "service.scheduled"),
];

/// Ids of the facts the engine itself reads, resolved once.
#[derive(Debug)]
pub struct Known {
    pub claim_date: Option<FactId>,
    pub product_class: Option<FactId>,
    pub price: Option<FactId>,
    pub shipping_fee: Option<FactId>,
    pub fraction_delivered: Option<FactId>,
    pub extra_shipping_fee: Option<FactId>,
}

pub static KNOWN: std::sync::LazyLock<Known> = std::sync::LazyLock::new(|| Known {
    claim_date: fact_id("claim.date"),
    product_class: fact_id("product.class"),
    price: fact_id("order.price"),
    shipping_fee: fact_id("order.shipping_fee"),
    fraction_delivered: fact_id("service.fraction_delivered"),
    extra_shipping_fee: fact_id("order.extra_shipping_fee"),
});

/// Fact ids by path, made once: facts are looked up for every key of every stored decision a
/// what-if reads.
static BY_PATH: std::sync::LazyLock<
    std::collections::HashMap<&'static str, FactId, std::hash::BuildHasherDefault<Fnv>>,
> = std::sync::LazyLock::new(|| {
    FACTS
        .iter()
        .enumerate()
        .filter_map(|(i, f)| FactId::try_from(i).ok().map(|id| (f.path, id)))
        .collect()
});

/// FNV-1a: the paths are a few dozen short strings of our own, so the default hasher's
/// protection against chosen keys buys nothing here, and it showed in profiles of what-if.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub fn fact_id(path: &str) -> Option<FactId> {
    BY_PATH.get(path).copied()
}

/// The fact paths in byte order, and where each fact is in it.
struct Sorted {
    paths: Vec<(&'static str, FactId)>,
    rank: Vec<usize>,
}

static SORTED: std::sync::LazyLock<Sorted> = std::sync::LazyLock::new(|| {
    let mut paths: Vec<(&'static str, FactId)> = FACTS
        .iter()
        .enumerate()
        .filter_map(|(i, f)| FactId::try_from(i).ok().map(|id| (f.path, id)))
        .collect();
    paths.sort_unstable();
    let mut rank = vec![0; FACTS.len()];
    for (at, (_, id)) in paths.iter().enumerate() {
        if let Some(r) = rank.get_mut(usize::from(*id)) {
            *r = at;
        }
    }
    Sorted { paths, rank }
});

/// [`fact_id`] for paths that mostly come in byte order, as stored facts are written (a JSON
/// object's keys, sorted): the few paths after the one found last are compared first, and the
/// table is asked only when it is none of them.
#[derive(Clone, Debug, Default)]
pub struct PathGuess {
    next: usize,
}

impl PathGuess {
    pub fn find(&mut self, path: &str) -> Option<FactId> {
        let sorted = &*SORTED;
        // Facts not known are left out, so the next path is a few places on.
        let ahead = sorted.paths.get(self.next..).unwrap_or_default();
        if let Some(i) = ahead.iter().take(8).position(|(p, _)| *p == path)
            && let Some(&(_, id)) = ahead.get(i)
        {
            self.next += i + 1;
            return Some(id);
        }
        let id = fact_id(path)?;
        self.next = sorted.rank.get(usize::from(id)).map_or(0, |r| r + 1);
        Some(id)
    }

    /// The path `text` starts with, if it is one of the next few paths followed by a `"`
    /// (JSON text just inside a key's opening quote): its id and its length. Matched against
    /// the text, where [`PathGuess::find`] needs the key found first; on a miss nothing changes
    /// and the caller reads the key. A path has no quote, backslash or control character, so
    /// a match is the whole key as written.
    pub fn find_quoted(&mut self, text: &[u8]) -> Option<(FactId, usize)> {
        let ahead = SORTED.paths.get(self.next..).unwrap_or_default();
        // The quote where the path would end is one byte to look at; most other paths fail
        // there, before their bytes are compared.
        let (i, &(path, id)) = ahead.iter().take(8).enumerate().find(|(_, (p, _))| {
            text.get(p.len()) == Some(&b'"') && text.get(..p.len()) == Some(p.as_bytes())
        })?;
        self.next += i + 1;
        Some((id, path.len()))
    }
}

/// [`DATE_ORDER`] by fact id, resolved once.
pub static DATE_ORDER_IDS: std::sync::LazyLock<Vec<(FactId, FactId)>> =
    std::sync::LazyLock::new(|| {
        DATE_ORDER
            .iter()
            .filter_map(|(a, b)| Some((fact_id(a)?, fact_id(b)?)))
            .collect()
    });

#[expect(
    clippy::indexing_slicing,
    reason = "a FactId only comes from `fact_id`, an index into FACTS"
)]
pub fn fact(id: FactId) -> &'static FactDef {
    &FACTS[usize::from(id)]
}

/// Something a customer can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Remedy {
    Return,
    Withdrawal,
    Replacement,
    FreeRepair,
    RepairOrReplace,
    ReplaceAfterRepairs,
    AccessoryReplacement,
    AccessoryReturn,
    PaidRepair,
    Exchange,
    WrongItem,
    DeliveryDamage,
}

impl Remedy {
    pub const ALL: [Remedy; 12] = [
        Self::Return,
        Self::Withdrawal,
        Self::Replacement,
        Self::FreeRepair,
        Self::RepairOrReplace,
        Self::ReplaceAfterRepairs,
        Self::AccessoryReplacement,
        Self::AccessoryReturn,
        Self::PaidRepair,
        Self::Exchange,
        Self::WrongItem,
        Self::DeliveryDamage,
    ];
    const NAMES: &'static [&'static str] = &[
        "return",
        "withdrawal",
        "replacement",
        "free_repair",
        "repair_or_replace",
        "replace_after_repairs",
        "accessory_replacement",
        "accessory_return",
        "paid_repair",
        "exchange",
        "wrong_item",
        "delivery_damage",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES.get(self as usize).copied().unwrap_or("?")
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// A sentence-case label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Return => "Return with refund",
            Self::Withdrawal => "Withdrawal (cancel the purchase)",
            Self::Replacement => "Replacement with the same model",
            Self::FreeRepair => "Free repair",
            Self::RepairOrReplace => "Repair or replacement, at your choice",
            Self::ReplaceAfterRepairs => "Replacement after failed repairs",
            Self::AccessoryReplacement => "Accessory replacement",
            Self::AccessoryReturn => "Accessory return",
            Self::PaidRepair => "Paid repair with a quote",
            Self::Exchange => "Exchange at the seller's discretion",
            Self::WrongItem => "Replacement or refund for a wrong item",
            Self::DeliveryDamage => "Replacement or refund for delivery damage",
        }
    }

    /// Whether granting this remedy pays money back.
    pub fn refunds(self) -> bool {
        matches!(
            self,
            Self::Return
                | Self::Withdrawal
                | Self::AccessoryReturn
                | Self::WrongItem
                | Self::DeliveryDamage
        )
    }

    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value a `set` rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    FreightToSeller,
    FreightToCustomer,
    RefundShipping,
    RefundProportional,
    PartWarrantyEnd,
    UnitWarrantyEnd,
    AccessoryWarrantyEnd,
    PaidRepairPartsWarranty,
}

impl Output {
    pub const ALL: [Output; 8] = [
        Self::FreightToSeller,
        Self::FreightToCustomer,
        Self::RefundShipping,
        Self::RefundProportional,
        Self::PartWarrantyEnd,
        Self::UnitWarrantyEnd,
        Self::AccessoryWarrantyEnd,
        Self::PaidRepairPartsWarranty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::FreightToSeller => "freight.to_seller",
            Self::FreightToCustomer => "freight.to_customer",
            Self::RefundShipping => "refund.shipping",
            Self::RefundProportional => "refund.proportional",
            Self::PartWarrantyEnd => "replacement.part_warranty_end",
            Self::UnitWarrantyEnd => "replacement.unit_warranty_end",
            Self::AccessoryWarrantyEnd => "replacement.accessory_warranty_end",
            Self::PaidRepairPartsWarranty => "paid_repair.parts_warranty",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::FreightToSeller => "Shipping to the seller paid by",
            Self::FreightToCustomer => "Shipping back to the customer paid by",
            Self::RefundShipping => "Refund includes the delivery fee",
            Self::RefundProportional => "Service refunded pro rata",
            Self::PartWarrantyEnd => "Warranty of a replaced part ends",
            Self::UnitWarrantyEnd => "Warranty of a replacement unit ends",
            Self::AccessoryWarrantyEnd => "Warranty of a replacement accessory ends",
            Self::PaidRepairPartsWarranty => "Warranty of parts in a paid repair",
        }
    }

    pub fn ty(self) -> Type {
        match self {
            Self::FreightToSeller | Self::FreightToCustomer => Type::Enum(EnumKind::Party),
            Self::RefundShipping | Self::RefundProportional => Type::Bool,
            Self::PartWarrantyEnd | Self::UnitWarrantyEnd | Self::AccessoryWarrantyEnd => {
                Type::Date
            }
            Self::PaidRepairPartsWarranty => Type::Duration,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// The named deadlines a policy can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeadlineName {
    ReportBy,
    ShipBy,
    ArriveBy,
    SendBackBy,
    RefundBy,
    QuotePayBy,
    InspectBy,
    RepairBy,
}

impl DeadlineName {
    pub const ALL: [DeadlineName; 8] = [
        Self::ReportBy,
        Self::ShipBy,
        Self::ArriveBy,
        Self::SendBackBy,
        Self::RefundBy,
        Self::QuotePayBy,
        Self::InspectBy,
        Self::RepairBy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ReportBy => "report_by",
            Self::ShipBy => "ship_by",
            Self::ArriveBy => "arrive_by",
            Self::SendBackBy => "send_back_by",
            Self::RefundBy => "refund_by",
            Self::QuotePayBy => "quote_pay_by",
            Self::InspectBy => "inspect_by",
            Self::RepairBy => "repair_by",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ReportBy => "Report the problem by",
            Self::ShipBy => "Send the item by",
            Self::ArriveBy => "The item must arrive by",
            Self::SendBackBy => "Send the goods back by",
            Self::RefundBy => "Refund due by",
            Self::QuotePayBy => "Pay the quote by",
            Self::InspectBy => "Inspection due by",
            Self::RepairBy => "Repair due by",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// Flags raised for staff.
pub static FLAGS: &[&str] = &[
    "manual_review",
    "fraud_review",
    "diminished_value",
    "data_warning",
    "not_processed",
    "hold_shipping",
];

/// Derived values an expression may read besides facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derived {
    Today,
    Claim,
    WarrantyStart,
    WarrantyEnd,
    WarrantyIn,
    WarrantyCovered,
    WarrantyBasis,
}

impl Derived {
    pub const ALL: [Derived; 7] = [
        Self::Today,
        Self::Claim,
        Self::WarrantyStart,
        Self::WarrantyEnd,
        Self::WarrantyIn,
        Self::WarrantyCovered,
        Self::WarrantyBasis,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Claim => "claim",
            Self::WarrantyStart => "warranty.start",
            Self::WarrantyEnd => "warranty.end",
            Self::WarrantyIn => "warranty.in",
            Self::WarrantyCovered => "warranty.covered",
            Self::WarrantyBasis => "warranty.basis",
        }
    }

    pub fn ty(self) -> Type {
        match self {
            Self::Today | Self::Claim | Self::WarrantyStart | Self::WarrantyEnd => Type::Date,
            Self::WarrantyIn | Self::WarrantyCovered => Type::Bool,
            Self::WarrantyBasis => Type::Enum(EnumKind::Basis),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// "did you mean `x`?" for the closest candidate, else "one of: a, b, c".
pub fn hint_among(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("one of: {}", candidates.join(", ")),
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guess finds what the table finds, whatever the order: sorted with gaps (stored
    /// facts), backwards, repeated; and nothing for a path that is not a fact.
    #[test]
    fn a_path_guess_finds_what_the_table_finds() {
        let mut sorted: Vec<&str> = FACTS.iter().map(|f| f.path).collect();
        sorted.sort_unstable();
        let gaps: Vec<&str> = sorted.iter().step_by(3).copied().collect();
        let backwards: Vec<&str> = sorted.iter().rev().copied().collect();
        for order in [&sorted, &gaps, &backwards] {
            let mut guess = PathGuess::default();
            for path in order.iter().chain(order.iter()) {
                assert_eq!(guess.find(path), fact_id(path), "{path}");
            }
            assert_eq!(guess.find("order.nope"), None);
            assert_eq!(guess.find(""), None);
        }
    }

    /// A key matched in the text is the key a reader of it finds: whole (not a path it begins
    /// with), and on a miss the state is as it was.
    #[test]
    fn a_path_guess_matches_keys_in_the_text_only_whole() {
        let mut sorted: Vec<&str> = FACTS.iter().map(|f| f.path).collect();
        sorted.sort_unstable();
        let gaps: Vec<&str> = sorted.iter().step_by(3).copied().collect();
        let backwards: Vec<&str> = sorted.iter().rev().copied().collect();
        let (mut matched, mut missed) = (0, 0);
        for order in [&sorted, &gaps, &backwards] {
            let (mut quoted, mut plain) = (PathGuess::default(), PathGuess::default());
            for path in order.iter().chain(order.iter()) {
                // The key, then a key it begins (a path plus more), then a cut one.
                for text in [
                    format!("{path}\":true,"),
                    format!("{path}_x\":1"),
                    format!("{path}.more\":1"),
                    path.get(..path.len() - 1).unwrap_or("").to_string(),
                ] {
                    let key = text.split('"').next().unwrap_or("");
                    // Each from where the last path left both.
                    let (mut q, mut p) = (quoted.clone(), plain.clone());
                    match q.find_quoted(text.as_bytes()) {
                        Some((id, len)) => {
                            assert_eq!(Some(id), fact_id(key), "{text}");
                            assert_eq!(len, key.len(), "{text}");
                            assert_eq!(p.find(key), Some(id), "{text}");
                            matched += 1;
                        }
                        None => missed += u32::from(fact_id(key).is_some()),
                    }
                }
                // Whatever it missed, a reader finds the key and both go on from it.
                assert_eq!(quoted.find(path), plain.find(path));
            }
        }
        // Sorted and gapped keys are matched in the text; a key far back is not.
        assert!(matched >= sorted.len(), "{matched}");
        assert!(missed > 0);
    }

    #[test]
    fn every_fact_path_is_unique_and_resolves_to_itself() {
        for (i, f) in FACTS.iter().enumerate() {
            assert_eq!(fact_id(f.path).map(usize::from), Some(i), "{}", f.path);
        }
    }

    #[test]
    fn every_fact_has_a_source_and_service_facts_have_no_other() {
        for f in FACTS {
            assert!(!f.sources.is_empty(), "{}", f.path);
            if f.stated_by(Source::Service) || f.stated_by(Source::Registry) {
                assert!(
                    !f.stated_by(Source::Customer),
                    "{}: a customer never states what the records or the service know",
                    f.path
                );
            }
            if f.stated_by(Source::Service) {
                assert_eq!(f.sources, &[Source::Service], "{}", f.path);
            }
        }
    }

    #[test]
    fn sets_fit_in_a_bitmask() {
        for k in [EnumKind::Cause, EnumKind::Photo] {
            assert!(k.variants().len() <= 64);
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            suggest("condition.activatd", FACTS.iter().map(|f| f.path)),
            Some("condition.activated")
        );
        assert_eq!(suggest("zzzz", ["return", "withdrawal"]), None);
    }

    #[test]
    fn remedy_names_round_trip() {
        for r in Remedy::ALL {
            assert_eq!(Remedy::parse(r.name()), Some(r));
        }
    }
}

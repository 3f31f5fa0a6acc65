//! The audit log: every state change and decision appends an event in the same transaction.
//!
//! **Chains per entity.** Each entity's events (`case:12`, `refund:3`, `account:7`…) form one
//! hash chain: an event stores the hash of its chain's previous event and its own, a SHA-256
//! over its fields (its chain and place in it included) and that previous hash. A chain's last
//! link is kept in its head row (`audit_chains`), which appending updates: appends to one chain
//! are ordered by that row's lock, and unrelated changes never wait for each other (before,
//! one head for the whole log made every write of every seller wait for every other one).
//!
//! **Sealed into a tree, signed.** A sealer (one at a time, under the row lock of
//! `audit_seal`) folds new events into an append-only Merkle tree, hashed as Certificate
//! Transparency does (RFC 9162 §2.1: leaves `SHA-256(0x00 ‖ data)`, nodes
//! `SHA-256(0x01 ‖ left ‖ right)`), and stores a checkpoint: the tree's size and root and the
//! time, signed with an ed25519 key from the configuration. [`verify`] recomputes every chain,
//! the tree and each checkpoint's root and signature; [`latest_checkpoint`] is what an auditor
//! keeps elsewhere, and a later [`verify_with`] given it proves the log still holds everything
//! it held then. What is found:
//! - an edited event (its hash no longer matches), a deleted, reordered or inserted one (a
//!   gap or a broken link in its chain);
//! - a chain cut short at its end (its head names more events), a chain whose whole history
//!   was deleted (a head without events; once sealed, leaves whose events are gone);
//! - a log cut short at its end, heads and all: the sealed events are leaves of the tree, and
//!   the tree's root at each checkpoint is signed; rewriting the tree needs the key, and
//!   deleting the newest checkpoints too is found against an exported one.
//!
//! The database refuses updates and deletes of events, leaves and checkpoints (triggers);
//! the checks above are for whoever goes around them. Events hold no personal data (customers
//! appear by id), so erasing a customer never has to touch the log. The log written before
//! chains per entity existed is one chain, `log`, hashed as it was then.

use std::path::Path;

use aftercare_store::{Dialect, Row, Store, Tx, Val};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::Timestamp;
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::time::{from_micros, micros};

/// What happened, by whom, to what.
#[derive(Debug)]
pub struct Event<'a> {
    pub actor: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub action: &'a str,
    pub before: Option<J>,
    pub after: Option<J>,
}

impl<'a> Event<'a> {
    /// An event with what is now (`after`) and no `before`: most are; set `before` with
    /// struct update syntax where there is one.
    pub fn new(
        actor: &'a str,
        entity: &'a str,
        entity_id: impl ToString,
        action: &'a str,
        after: impl Into<Option<J>>,
    ) -> Self {
        Self {
            actor,
            entity,
            entity_id: entity_id.to_string(),
            action,
            before: None,
            after: after.into(),
        }
    }
}

/// A chain's value before its first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The one chain of the log as it was written before chains per entity.
const LEGACY_CHAIN: &str = "log";

/// The chain an entity's events form.
pub fn chain_of(entity: &str, entity_id: &str) -> String {
    format!("{entity}:{entity_id}")
}

/// Where an appended event stands: its chain and its place in it, which name it for good
/// (the log's own row number is the database's to give, and is not read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub chain: String,
    pub chain_seq: i64,
}

impl Appended {
    /// The event's id as webhooks carry it: `evt_case-12-3` is the third event of case 12.
    pub fn event_id(&self) -> String {
        format!("evt_{}-{}", self.chain.replace(':', "-"), self.chain_seq)
    }
}

/// Appends `e` at `at` to its entity's chain, whose head the transaction takes (created for
/// a new chain) and holds to commit, so one chain never forks. One round trip the first time
/// a transaction appends to a chain, none after, nor when the transaction took the head
/// already ([`hold_head`]: a case's, with the case): the event and the new head are sent
/// without waiting (see [`Tx::exec_later`]). Should a head held ever be stale, the event's
/// place is taken (`audit_events_by_chain` is unique) and the transaction fails.
pub fn append(tx: &mut dyn Tx, at: Timestamp, e: &Event<'_>) -> Result<Appended, AppError> {
    let chain = chain_of(e.entity, &e.entity_id);
    let (chain_seq, prev) = match held_head(tx, &chain) {
        Some((seq, hash)) => (seq + 1, hash),
        None => {
            let head = tx.query_one(
                "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, 1, ?)
                 ON CONFLICT (chain) DO UPDATE SET seq = audit_chains.seq + 1
                 RETURNING seq, hash",
                &[(&chain).into(), GENESIS.into()],
            )?;
            (head.int(0)?, head.text(1)?)
        }
    };
    let hash = write_event(tx, &chain, chain_seq, &prev, at, e)?;
    tx.exec_later(
        "UPDATE audit_chains SET seq = ?, hash = ? WHERE chain = ?",
        &[Val::Int(chain_seq), (&hash).into(), (&chain).into()],
    )?;
    remember_head(tx, &chain, chain_seq, &hash);
    Ok(Appended { chain, chain_seq })
}

/// Appends the first event of an entity created in this same transaction (a case just
/// opened): its chain cannot exist yet, so nothing is read and nothing waits. Should the
/// chain exist after all, the head's insert fails and the transaction with it.
pub fn append_first(tx: &mut dyn Tx, at: Timestamp, e: &Event<'_>) -> Result<Appended, AppError> {
    let chain = chain_of(e.entity, &e.entity_id);
    let hash = write_event(tx, &chain, 1, GENESIS, at, e)?;
    tx.exec_later(
        "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, 1, ?)",
        &[(&chain).into(), (&hash).into()],
    )?;
    remember_head(tx, &chain, 1, &hash);
    Ok(Appended {
        chain,
        chain_seq: 1,
    })
}

/// The statement that takes an entity's chain head (its parameter: the chain), locked to the
/// end of the transaction on PostgreSQL. Sent with the statement that locks the entity's own
/// row, it costs no round trip of its own; give its answer to [`hold_head`].
pub(crate) fn head_query(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SELECT seq, hash FROM audit_chains WHERE chain = ? FOR UPDATE",
        // The file's one writer holds everything until commit.
        Dialect::Sqlite => "SELECT seq, hash FROM audit_chains WHERE chain = ?",
    }
}

/// Keeps the head [`head_query`] took of `chain` for this transaction's appends to it. No
/// row (a chain with no event yet, or one of the log kept before chains per entity): the
/// first append takes it then.
pub(crate) fn hold_head(tx: &mut dyn Tx, chain: &str, row: Option<&Row>) -> Result<(), AppError> {
    if let Some(r) = row {
        let (seq, hash) = (r.int(0)?, r.text(1)?);
        remember_head(tx, chain, seq, &hash);
    }
    Ok(())
}

/// Under [`Tx::held`]: `audit/<chain>` → `<seq> <hash>`.
fn remember_head(tx: &mut dyn Tx, chain: &str, seq: i64, hash: &str) {
    if let Some(held) = tx.held() {
        held.insert(format!("audit/{chain}"), format!("{seq} {hash}"));
    }
}

fn held_head(tx: &mut dyn Tx, chain: &str) -> Option<(i64, String)> {
    let v = tx.held()?.get(&format!("audit/{chain}"))?;
    let (seq, hash) = v.split_once(' ')?;
    Some((seq.parse().ok()?, hash.to_string()))
}

/// Writes event `e` at `chain_seq` of `chain`, after `prev`; its hash.
fn write_event(
    tx: &mut dyn Tx,
    chain: &str,
    chain_seq: i64,
    prev: &str,
    at: Timestamp,
    e: &Event<'_>,
) -> Result<String, AppError> {
    let before = e.before.as_ref().map(J::to_string);
    let after = e.after.as_ref().map(J::to_string);
    let at = micros(at);
    let hash = link_hash(&Link {
        chain,
        chain_seq,
        at,
        actor: e.actor,
        entity: e.entity,
        entity_id: &e.entity_id,
        action: e.action,
        before: before.as_deref(),
        after: after.as_deref(),
        prev_hash: prev,
    });
    tx.exec_later(
        "INSERT INTO audit_events (chain, chain_seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            chain.into(),
            Val::Int(chain_seq),
            Val::Int(at),
            e.actor.into(),
            e.entity.into(),
            (&e.entity_id).into(),
            e.action.into(),
            before.into(),
            after.into(),
            prev.into(),
            (&hash).into(),
        ],
    )?;
    Ok(hash)
}

/// One event as hashed.
struct Link<'a> {
    chain: &'a str,
    chain_seq: i64,
    at: i64,
    actor: &'a str,
    entity: &'a str,
    entity_id: &'a str,
    action: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    prev_hash: &'a str,
}

/// SHA-256 over the fields as a JSON array: unambiguous, whatever the fields contain. The
/// legacy chain's events were hashed without their chain (their number was the log's).
fn link_hash(l: &Link<'_>) -> String {
    let fields = if l.chain == LEGACY_CHAIN {
        serde_json::json!([
            l.chain_seq,
            l.at,
            l.actor,
            l.entity,
            l.entity_id,
            l.action,
            l.before,
            l.after,
            l.prev_hash
        ])
    } else {
        serde_json::json!([
            l.chain,
            l.chain_seq,
            l.at,
            l.actor,
            l.entity,
            l.entity_id,
            l.action,
            l.before,
            l.after,
            l.prev_hash
        ])
    };
    aftercare_store::hex(&Sha256::digest(fields.to_string().as_bytes()))
}

// ---------------------------------------------------------------------------------------
// The tree (RFC 9162 §2.1)

type Hash = [u8; 32];

/// A leaf: an event's hash (as stored, in hex).
fn leaf_hash(event_hash: &str) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(event_hash.as_bytes());
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The roots of a tree's full subtrees, largest first: enough to add leaves and to compute
/// the root, in memory logarithmic in the tree's size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Frontier {
    size: i64,
    roots: Vec<Hash>,
}

impl Frontier {
    fn push(&mut self, leaf: Hash) {
        self.roots.push(leaf);
        // Each trailing one of the old size is a full subtree of the new leaf's height.
        let mut n = self.size;
        while n & 1 == 1 {
            if let (Some(right), Some(left)) = (self.roots.pop(), self.roots.pop()) {
                self.roots.push(node_hash(&left, &right));
            }
            n >>= 1;
        }
        self.size += 1;
    }

    /// The tree's root (RFC 9162's MTH); an empty tree's is the hash of nothing.
    fn root(&self) -> Hash {
        let mut it = self.roots.iter().rev();
        let Some(last) = it.next() else {
            return Sha256::digest([]).into();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }

    fn to_json(&self) -> String {
        J::Array(
            self.roots
                .iter()
                .map(|h| J::String(aftercare_store::hex(h)))
                .collect(),
        )
        .to_string()
    }

    fn from_json(size: i64, s: &str) -> Result<Self, AppError> {
        let bad = || AppError::corrupt("audit seal", "its frontier is not a list of hashes");
        let list: Vec<String> = serde_json::from_str(s).map_err(|_| bad())?;
        let roots = list
            .iter()
            .map(|h| {
                unhex(h)
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if i64::try_from(roots.len()).ok() != Some(i64::from(size.count_ones())) {
            return Err(bad());
        }
        Ok(Frontier { size, roots })
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Keys and checkpoints

/// The key checkpoints are signed with (ed25519). Kept in a file of its own, outside the
/// database: whoever can change the database cannot sign a rewritten tree.
pub struct SealKey(SigningKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SealKey").field(&self.public_hex()).finish()
    }
}

impl SealKey {
    /// A new random key.
    pub fn generate() -> Result<Self, AppError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| AppError::Config(format!("no randomness for a key: {e}")))?;
        Ok(SealKey(SigningKey::from_bytes(&seed)))
    }

    /// Reads a key file: the 32-byte secret in hex on one line.
    pub fn from_file(path: &Path) -> Result<Self, AppError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AppError::Config(format!(
                "cannot read the audit key `{}`: {e}",
                path.display()
            ))
        })?;
        let seed = unhex(text.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                AppError::Config(format!(
                    "the audit key `{}` is not 64 hexadecimal digits (make one with `aftercare audit keygen`)",
                    path.display()
                ))
            })?;
        Ok(SealKey(SigningKey::from_bytes(&seed)))
    }

    /// Writes a new key to `path`, which must not exist, readable by its owner only.
    pub fn create(path: &Path) -> Result<Self, AppError> {
        use std::io::Write;
        let key = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(path).map_err(|e| {
            AppError::Config(format!(
                "cannot create the audit key `{}`: {e}",
                path.display()
            ))
        })?;
        writeln!(f, "{}", aftercare_store::hex(key.0.as_bytes())).map_err(|e| {
            AppError::Config(format!(
                "cannot write the audit key `{}`: {e}",
                path.display()
            ))
        })?;
        Ok(key)
    }

    /// The public half, in hex: what an auditor checks signatures with.
    pub fn public_hex(&self) -> String {
        aftercare_store::hex(self.0.verifying_key().as_bytes())
    }
}

/// A signed statement of the tree: its size and root at a time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub tree_size: i64,
    pub root: String,
    pub at: Timestamp,
    /// The key that signed it (hex); none when the server had no key.
    pub public_key: Option<String>,
    pub signature: Option<String>,
}

impl Checkpoint {
    /// The bytes signed.
    fn text(tree_size: i64, root: &str, at: Timestamp) -> String {
        format!(
            "aftercare audit checkpoint v1\n{tree_size}\n{root}\n{}\n",
            micros(at)
        )
    }

    /// Checks the signature with the key it names; `Ok(false)` when it has none.
    fn check_signature(&self) -> Result<bool, String> {
        let (Some(key), Some(sig)) = (&self.public_key, &self.signature) else {
            return Ok(false);
        };
        let key = unhex(key)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or("its public key is not an ed25519 key")?;
        let sig = unhex(sig)
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b))
            .ok_or("its signature is not an ed25519 signature")?;
        key.verify_strict(
            Self::text(self.tree_size, &self.root, self.at).as_bytes(),
            &sig,
        )
        .map_err(|_| "its signature does not match what it states".to_string())?;
        Ok(true)
    }

    fn from_row(r: &aftercare_store::Row) -> Result<Self, AppError> {
        Ok(Checkpoint {
            tree_size: r.int(0)?,
            root: r.text(1)?,
            at: from_micros(r.int(2)?)?,
            public_key: r.opt_text(3)?,
            signature: r.opt_text(4)?,
        })
    }
}

/// Folds the new events of up to `batch` chains into the tree and records a checkpoint of it,
/// signed with `key` when there is one; the checkpoint, and whether the batch was full (more
/// may be waiting). `None` when there was nothing to seal, or another sealer is at work (on
/// PostgreSQL; the chains being written to right now wait for the next round rather than hold
/// anyone up).
fn seal_in(
    tx: &mut dyn Tx,
    key: Option<&SealKey>,
    now: Timestamp,
    batch: i64,
) -> Result<Option<(Checkpoint, bool)>, AppError> {
    // One sealer at a time, and none waits for a writer (SQLite's writers are one anyway).
    let skip_locked = match tx.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let Some(state) = tx.query_opt(
        &format!("SELECT tree_size, frontier FROM audit_seal WHERE id = 1{skip_locked}"),
        &[],
    )?
    else {
        return Ok(None);
    };
    let mut tree = Frontier::from_json(state.int(0)?, &state.text(1)?)?;
    // The chains with events not sealed yet (the partial index `audit_chains_unsealed`), of
    // those nobody is writing to now; then their new events, by chain and place.
    let chains = tx.query(
        &format!(
            "SELECT chain, sealed, seq FROM audit_chains WHERE seq > sealed LIMIT ?{skip_locked}"
        ),
        &[Val::Int(batch.max(1))],
    )?;
    if chains.is_empty() {
        return Ok(None);
    }
    let full = chains.len() as i64 >= batch.max(1);
    // Their new events in one statement of fixed text, whatever the number of chains: the
    // chains travel as one JSON parameter (an OR of a condition per chain was a new statement
    // to plan for every count, and took 60 ms a round under load).
    let wanted = J::Array(
        chains
            .iter()
            .map(|c| {
                Ok(serde_json::json!({"chain": c.text(0)?, "sealed": c.int(1)?, "seq": c.int(2)?}))
            })
            .collect::<Result<Vec<J>, AppError>>()?,
    );
    let new_events = format!(
        "SELECT e.seq, e.chain, e.chain_seq, e.hash FROM {}
         JOIN audit_events e ON e.chain = w.chain AND e.chain_seq > w.sealed AND e.chain_seq <= w.seq",
        tx.dialect()
            .json_rows(&[("chain", "text"), ("sealed", "bigint"), ("seq", "bigint")])
    );
    let mut found = Vec::new();
    for r in tx.query(&new_events, &[wanted.to_string().into()])? {
        found.push((r.int(0)?, r.text(1)?, r.int(2)?, r.text(3)?));
    }
    // In the order they were numbered: within a chain that is its order (appends to it are
    // serialised), across chains any order will do, as long as it is fixed once sealed.
    found.sort_unstable_by_key(|(seq, ..)| *seq);
    let mut sealed: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    let mut leaves = Vec::with_capacity(found.len());
    for (_, chain, n, hash) in found {
        let top = sealed.entry(chain.clone()).or_insert(n);
        *top = (*top).max(n);
        tree.push(leaf_hash(&hash));
        leaves.push((tree.size - 1, chain, n, hash));
    }
    if leaves.is_empty() {
        return Ok(None);
    }
    // The leaves, then the chains' new marks: one statement each, of fixed text.
    let rows = J::Array(
        leaves
            .iter()
            .map(|(leaf, chain, n, hash)| serde_json::json!({"leaf": leaf, "chain": chain, "chain_seq": n, "hash": hash}))
            .collect(),
    );
    let marks = J::Array(
        sealed
            .iter()
            .map(|(chain, n)| serde_json::json!({"chain": chain, "sealed": n}))
            .collect(),
    );
    let dialect = tx.dialect();
    let insert_leaves = format!(
        "INSERT INTO audit_leaves (leaf, chain, chain_seq, hash)
         SELECT leaf, chain, chain_seq, hash FROM {}",
        dialect.json_rows(&[
            ("leaf", "bigint"),
            ("chain", "text"),
            ("chain_seq", "bigint"),
            ("hash", "text")
        ])
    );
    let mark_sealed = format!(
        "UPDATE audit_chains SET sealed = w.sealed FROM {} WHERE audit_chains.chain = w.chain",
        dialect.json_rows(&[("chain", "text"), ("sealed", "bigint")])
    );
    tx.exec_later(&insert_leaves, &[rows.to_string().into()])?;
    tx.exec_later(&mark_sealed, &[marks.to_string().into()])?;
    let root = aftercare_store::hex(&tree.root());
    // Whole microseconds, as stored.
    let at = from_micros(micros(now))?;
    let (public_key, signature) = match key {
        Some(k) => (
            Some(k.public_hex()),
            Some(aftercare_store::hex(
                &k.0.sign(Checkpoint::text(tree.size, &root, at).as_bytes())
                    .to_bytes(),
            )),
        ),
        None => (None, None),
    };
    tx.exec_later(
        "INSERT INTO audit_checkpoints (tree_size, root, at, public_key, signature) VALUES (?, ?, ?, ?, ?)",
        &[
            Val::Int(tree.size),
            (&root).into(),
            Val::Int(micros(at)),
            public_key.clone().into(),
            signature.clone().into(),
        ],
    )?;
    tx.exec_later(
        "UPDATE audit_seal SET tree_size = ?, frontier = ? WHERE id = 1",
        &[Val::Int(tree.size), tree.to_json().into()],
    )?;
    let checkpoint = Checkpoint {
        tree_size: tree.size,
        root,
        at,
        public_key,
        signature,
    };
    Ok(Some((checkpoint, full)))
}

/// Seals what is not sealed yet, in batches; the last checkpoint made, if any. It stops at
/// the first batch that was not full: what arrives while it works waits for the next call.
/// (It went on while anything was new, and under steady writes it never stopped: a round of
/// a dozen events about every 17 ms took 40 % of PostgreSQL's time, in place of two rounds
/// a second.)
pub fn seal_all(
    store: &mut Store,
    key: Option<&SealKey>,
    now: Timestamp,
) -> Result<Option<Checkpoint>, AppError> {
    let mut last = None;
    while let Some((c, full)) = store.tx(|tx| seal_in(tx, key, now, SEAL_BATCH))? {
        last = Some(c);
        if !full {
            break;
        }
    }
    Ok(last)
}

/// The most chains one round of [`seal_all`] takes.
const SEAL_BATCH: i64 = 5_000;

/// The newest checkpoint, for an auditor to keep elsewhere.
pub fn latest_checkpoint(store: &mut Store) -> Result<Option<Checkpoint>, AppError> {
    store.read(|tx| -> Result<_, AppError> {
        tx.query_opt(
            "SELECT tree_size, root, at, public_key, signature FROM audit_checkpoints
             ORDER BY tree_size DESC LIMIT 1",
            &[],
        )?
        .as_ref()
        .map(Checkpoint::from_row)
        .transpose()
    })
}

// ---------------------------------------------------------------------------------------
// Verifying

/// The outcome of a full check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Events in all, and the chains they form.
    pub events: i64,
    pub chains: i64,
    /// Events sealed into the tree (its size), and those waiting for the sealer.
    pub sealed: i64,
    pub pending: i64,
    /// Checkpoints, and how many of them carry no signature.
    pub checkpoints: i64,
    pub unsigned: i64,
    /// The tree's root now (hex).
    pub root: String,
    /// The keys that signed checkpoints (hex).
    pub signed_by: Vec<String>,
}

/// What an auditor brings to a check: the public key checkpoints must be signed with (from
/// the first one it signed), and a checkpoint kept from an earlier day.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub public_key: Option<String>,
    pub checkpoint: Option<Checkpoint>,
}

/// [`verify_with`] expecting nothing from outside.
pub fn verify(store: &mut Store) -> Result<Verified, AppError> {
    verify_with(store, &Expect::default())
}

const PAGE: i64 = 10_000;

fn broken(at: impl Into<String>, problem: impl Into<String>) -> AppError {
    AppError::AuditBroken {
        at: at.into(),
        problem: problem.into(),
    }
}

/// Recomputes every chain, the tree and every checkpoint, in pages, and checks them against
/// what `expect` brings; the first fault found names where it is.
pub fn verify_with(store: &mut Store, expect: &Expect) -> Result<Verified, AppError> {
    let (events, chains) = verify_chains(store)?;
    // The tree as the sealer recorded it when the check of the tree began: leaves and
    // checkpoints are checked up to that size, so that a server sealing while the log is
    // verified (in pages, in several reads) adds nothing half-seen. A seal writes its leaves,
    // checkpoint and this record in one transaction.
    // In the same statement (one snapshot, also under PostgreSQL's read committed), what lies
    // past that record: nothing, unless someone changed it.
    let (seal, newest_checkpoint, leaves) = store.read(|tx| -> Result<_, AppError> {
        let seal = tx.query_one(
            "SELECT s.tree_size, s.frontier,
               (SELECT MAX(tree_size) FROM audit_checkpoints),
               (SELECT MAX(leaf) + 1 FROM audit_leaves)
             FROM audit_seal s WHERE s.id = 1",
            &[],
        )?;
        let (checkpoint, leaves) = (seal.opt_int(2)?, seal.opt_int(3)?);
        Ok((seal, checkpoint.unwrap_or(0), leaves.unwrap_or(0)))
    })?;
    let sealed = seal.int(0)?;
    if newest_checkpoint > sealed {
        return Err(broken(
            format!("checkpoint {newest_checkpoint}"),
            format!(
                "it covers {newest_checkpoint} events, but the sealer's record says the tree has {sealed} leaves: sealed events were deleted"
            ),
        ));
    }
    if leaves > sealed {
        return Err(broken(
            format!("leaf {sealed}"),
            format!(
                "the sealer's record says the tree has {sealed} leaves, but there are {leaves}: its record was changed"
            ),
        ));
    }
    let (tree, checkpoints, unsigned, signed_by) = verify_tree(store, expect, sealed)?;
    store.read(|tx| -> Result<(), AppError> {
        // A chain's head with no event at all: its whole history was deleted.
        if let Some(r) = tx.query_opt(
            "SELECT c.chain, c.seq FROM audit_chains c
             WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.chain = c.chain) LIMIT 1",
            &[],
        )? {
            return Err(broken(
                r.text(0)?,
                format!(
                    "its {} event(s) were written but none is left: its whole history was deleted",
                    r.int(1)?
                ),
            ));
        }
        // Every event its chain counts as sealed is a leaf.
        if let Some(r) = tx.query_opt(
            "SELECT e.chain, e.chain_seq FROM audit_events e JOIN audit_chains c ON c.chain = e.chain
             WHERE e.chain_seq <= c.sealed AND NOT EXISTS
               (SELECT 1 FROM audit_leaves l WHERE l.chain = e.chain AND l.chain_seq = e.chain_seq)
             LIMIT 1",
            &[],
        )? {
            return Err(broken(
                format!("{} event {}", r.text(0)?, r.int(1)?),
                "its chain counts it as sealed, but it is not in the tree: it was inserted afterwards, or its leaf deleted",
            ));
        }
        if seal.int(0)? != tree.size || Frontier::from_json(seal.int(0)?, &seal.text(1)?)? != tree {
            return Err(broken(
                format!("leaf {}", tree.size),
                format!(
                    "the sealer's record says the tree has {} leaves, but {} are there with another root: sealed events were deleted",
                    seal.int(0)?,
                    tree.size
                ),
            ));
        }
        Ok(())
    })?;
    Ok(Verified {
        events,
        chains,
        sealed: tree.size,
        pending: events - tree.size,
        checkpoints,
        unsigned,
        root: aftercare_store::hex(&tree.root()),
        signed_by,
    })
}

/// Every chain, link by link, against its head: the events and chains counted.
fn verify_chains(store: &mut Store) -> Result<(i64, i64), AppError> {
    struct Walk {
        chain: String,
        next: i64,
        prev: String,
        head: Option<(i64, String)>,
    }
    fn finish(w: &Walk) -> Result<(), AppError> {
        let last = w.next - 1;
        match &w.head {
            None => Err(broken(
                w.chain.clone(),
                "it has events but no head: the chain's record was deleted",
            )),
            Some((n, _)) if *n > last => Err(broken(
                format!("{} event {}", w.chain, last + 1),
                format!(
                    "the chain ends at event {last}, but {n} were written: the last ones were deleted"
                ),
            )),
            Some((n, h)) if *n != last || *h != w.prev => Err(broken(
                format!("{} event {last}", w.chain),
                format!("the chain's head says event {n} hashing to `{h}` is its last"),
            )),
            Some(_) => Ok(()),
        }
    }
    let (mut events, mut chains) = (0i64, 0i64);
    let mut cursor = (String::new(), 0i64);
    let mut walk: Option<Walk> = None;
    loop {
        let rows = store.read(|tx| -> Result<_, AppError> {
            Ok(tx.query(
                "SELECT e.chain, e.chain_seq, e.at, e.actor, e.entity, e.entity_id, e.action,
                        e.before, e.after, e.prev_hash, e.hash, c.seq, c.hash
                 FROM audit_events e LEFT JOIN audit_chains c ON c.chain = e.chain
                 WHERE e.chain > ? OR (e.chain = ? AND e.chain_seq > ?)
                 ORDER BY e.chain, e.chain_seq LIMIT ?",
                &[
                    (&cursor.0).into(),
                    (&cursor.0).into(),
                    Val::Int(cursor.1),
                    Val::Int(PAGE),
                ],
            )?)
        })?;
        let n = rows.len();
        for r in rows {
            let (chain, seq) = (r.text(0)?, r.int(1)?);
            if walk.as_ref().is_none_or(|w| w.chain != chain) {
                if let Some(w) = &walk {
                    finish(w)?;
                }
                chains += 1;
                walk = Some(Walk {
                    chain: chain.clone(),
                    next: 1,
                    prev: GENESIS.to_string(),
                    head: match r.opt_int(11)? {
                        Some(n) => Some((n, r.text(12)?)),
                        None => None,
                    },
                });
            }
            let Some(w) = walk.as_mut() else { break };
            let here = format!("{chain} event {seq}");
            if seq != w.next {
                return Err(broken(
                    format!("{chain} event {}", w.next),
                    format!("missing: the next event of the chain present is {seq}"),
                ));
            }
            let (entity, entity_id) = (r.text(4)?, r.text(5)?);
            if chain != LEGACY_CHAIN && chain != chain_of(&entity, &entity_id) {
                return Err(broken(
                    here,
                    format!("it is about {entity} {entity_id} but filed under another chain"),
                ));
            }
            let stored_prev = r.text(9)?;
            if stored_prev != w.prev {
                return Err(broken(
                    here,
                    format!(
                        "it links to `{stored_prev}`, but the event before it hashes to `{}`",
                        w.prev
                    ),
                ));
            }
            let (before, after) = (r.opt_text(7)?, r.opt_text(8)?);
            let computed = link_hash(&Link {
                chain: &chain,
                chain_seq: seq,
                at: r.int(2)?,
                actor: &r.text(3)?,
                entity: &entity,
                entity_id: &entity_id,
                action: &r.text(6)?,
                before: before.as_deref(),
                after: after.as_deref(),
                prev_hash: &stored_prev,
            });
            let stored = r.text(10)?;
            if computed != stored {
                return Err(broken(
                    here,
                    format!(
                        "its contents were changed: they hash to `{computed}`, not the stored `{stored}`"
                    ),
                ));
            }
            w.next += 1;
            w.prev = stored;
            events += 1;
            cursor = (chain, seq);
        }
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    if let Some(w) = &walk {
        finish(w)?;
    }
    Ok((events, chains))
}

/// The tree, leaf by leaf against the events it seals, and each checkpoint's root and
/// signature at its size: the tree, the checkpoints, the unsigned ones and the signers.
fn verify_tree(
    store: &mut Store,
    expect: &Expect,
    sealed: i64,
) -> Result<(Frontier, i64, i64, Vec<String>), AppError> {
    let mut tree = Frontier::default();
    let mut checkpoints: std::collections::VecDeque<Checkpoint> = Default::default();
    let mut last_checkpoint = 0i64;
    let (mut count, mut unsigned) = (0i64, 0i64);
    let mut signed_by: Vec<String> = Vec::new();
    let mut expected_key_seen = false;
    let mut outside_seen = expect.checkpoint.is_none();
    // Checks every checkpoint at the tree's current size.
    let mut at_size = |tree: &Frontier,
                       queue: &mut std::collections::VecDeque<Checkpoint>|
     -> Result<(), AppError> {
        if let Some(outside) = &expect.checkpoint
            && outside.tree_size == tree.size
        {
            if aftercare_store::hex(&tree.root()) != outside.root {
                return Err(broken(
                    format!("checkpoint {}", outside.tree_size),
                    "the tree's root at the size of the checkpoint you kept differs from it: events sealed before it were changed or deleted",
                ));
            }
            outside_seen = true;
        }
        while let Some(c) = queue.front().filter(|c| c.tree_size == tree.size) {
            let here = format!("checkpoint {}", c.tree_size);
            if aftercare_store::hex(&tree.root()) != c.root {
                return Err(broken(
                    here,
                    "the tree's root at its size differs from the one it states: sealed events were changed or deleted",
                ));
            }
            match c.check_signature() {
                Ok(true) => {
                    let key = c.public_key.clone().unwrap_or_default();
                    if let Some(want) = &expect.public_key {
                        if &key == want {
                            expected_key_seen = true;
                        } else if expected_key_seen {
                            return Err(broken(
                                here,
                                format!("it is signed by {key}, not by the key you gave"),
                            ));
                        }
                    }
                    if !signed_by.contains(&key) {
                        signed_by.push(key);
                    }
                }
                Ok(false) => {
                    if expected_key_seen {
                        return Err(broken(
                            here,
                            "it is not signed, though the ones before it were signed by the key you gave",
                        ));
                    }
                    unsigned += 1;
                }
                Err(problem) => return Err(broken(here, problem)),
            }
            count += 1;
            queue.pop_front();
        }
        Ok(())
    };
    // Checkpoints are read a page at a time, as the leaves reach them.
    let refill = |store: &mut Store,
                  last: &mut i64,
                  queue: &mut std::collections::VecDeque<Checkpoint>|
     -> Result<(), AppError> {
        if !queue.is_empty() {
            return Ok(());
        }
        let rows = store.read(|tx| -> Result<_, AppError> {
            Ok(tx.query(
                "SELECT tree_size, root, at, public_key, signature FROM audit_checkpoints
                 WHERE tree_size > ? AND tree_size <= ? ORDER BY tree_size LIMIT ?",
                &[Val::Int(*last), Val::Int(sealed), Val::Int(PAGE)],
            )?)
        })?;
        for r in &rows {
            let c = Checkpoint::from_row(r)?;
            *last = c.tree_size;
            queue.push_back(c);
        }
        Ok(())
    };
    refill(store, &mut last_checkpoint, &mut checkpoints)?;
    let mut next_leaf = 0i64;
    loop {
        let rows = store.read(|tx| -> Result<_, AppError> {
            Ok(tx.query(
                "SELECT l.leaf, l.chain, l.chain_seq, l.hash, e.hash FROM audit_leaves l
                 LEFT JOIN audit_events e ON e.chain = l.chain AND e.chain_seq = l.chain_seq
                 WHERE l.leaf >= ? AND l.leaf < ? ORDER BY l.leaf LIMIT ?",
                &[Val::Int(next_leaf), Val::Int(sealed), Val::Int(PAGE)],
            )?)
        })?;
        let n = rows.len();
        for r in rows {
            let leaf = r.int(0)?;
            if leaf != tree.size {
                return Err(broken(
                    format!("leaf {}", tree.size),
                    format!("missing: the next leaf of the tree present is {leaf}"),
                ));
            }
            let (chain, seq, sealed) = (r.text(1)?, r.int(2)?, r.text(3)?);
            match r.opt_text(4)? {
                None => {
                    return Err(broken(
                        format!("{chain} event {seq}"),
                        format!(
                            "it was sealed as leaf {leaf}, but it is gone: deleted after it was sealed"
                        ),
                    ));
                }
                Some(now) if now != sealed => {
                    return Err(broken(
                        format!("{chain} event {seq}"),
                        format!(
                            "it hashes to `{now}` now, but was sealed as leaf {leaf} hashing to `{sealed}`: it was rewritten afterwards"
                        ),
                    ));
                }
                Some(_) => {}
            }
            tree.push(leaf_hash(&sealed));
            next_leaf = leaf + 1;
            refill(store, &mut last_checkpoint, &mut checkpoints)?;
            at_size(&tree, &mut checkpoints)?;
        }
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    refill(store, &mut last_checkpoint, &mut checkpoints)?;
    if let Some(c) = checkpoints.front() {
        return Err(broken(
            format!("checkpoint {}", c.tree_size),
            format!(
                "it covers {} events, but the tree has {} leaves: sealed events were deleted",
                c.tree_size, tree.size
            ),
        ));
    }
    if !outside_seen {
        let size = expect.checkpoint.as_ref().map_or(0, |c| c.tree_size);
        return Err(broken(
            format!("checkpoint {size}"),
            format!(
                "the checkpoint you kept covers {size} events, but the tree has only {}: sealed events were deleted",
                tree.size
            ),
        ));
    }
    if let Some(want) = &expect.public_key
        && count > 0
        && !expected_key_seen
    {
        return Err(broken(
            "the checkpoints",
            format!("none of the {count} checkpoints is signed by the key you gave ({want})"),
        ));
    }
    Ok((tree, count, unsigned, signed_by))
}

/// The events about one entity, oldest first.
pub fn history(tx: &mut dyn Tx, entity: &str, entity_id: &str) -> Result<Vec<J>, AppError> {
    let rows = tx.query(
        "SELECT seq, at, actor, action, before, after FROM audit_events
         WHERE entity = ? AND entity_id = ? ORDER BY seq",
        &[entity.into(), entity_id.into()],
    )?;
    rows.iter()
        .map(|r| {
            let parse = |s: Option<String>| -> Result<Option<J>, AppError> {
                s.map(|s| crate::error::stored_json("audit event", &s))
                    .transpose()
            };
            Ok(serde_json::json!({
                "seq": r.int(0)?,
                "at": crate::time::from_micros(r.int(1)?)?.to_string(),
                "actor": r.text(2)?,
                "action": r.text(3)?,
                "before": parse(r.opt_text(4)?)?,
                "after": parse(r.opt_text(5)?)?,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162's MTH, straight from its recursive definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn the_frontier_gives_the_rfc_root_at_every_size() {
        let mut f = Frontier::default();
        let mut leaves = Vec::new();
        assert_eq!(f.root(), mth(&leaves));
        for i in 0..70 {
            let l = leaf_hash(&format!("{i:064x}"));
            leaves.push(l);
            f.push(l);
            assert_eq!(f.root(), mth(&leaves), "size {}", i + 1);
            let again = Frontier::from_json(f.size, &f.to_json()).unwrap();
            assert_eq!(again, f);
        }
    }

    #[test]
    fn a_checkpoint_signed_verifies_and_one_changed_does_not() {
        let key = SealKey::generate().unwrap();
        let at = from_micros(micros(Timestamp::now())).unwrap();
        let root = aftercare_store::hex(&[7u8; 32]);
        let sig = key.0.sign(Checkpoint::text(5, &root, at).as_bytes());
        let mut c = Checkpoint {
            tree_size: 5,
            root,
            at,
            public_key: Some(key.public_hex()),
            signature: Some(aftercare_store::hex(&sig.to_bytes())),
        };
        assert_eq!(c.check_signature(), Ok(true));
        c.tree_size = 4;
        assert!(c.check_signature().is_err());
        c.tree_size = 5;
        c.public_key = Some(SealKey::generate().unwrap().public_hex());
        assert!(c.check_signature().is_err());
    }
}

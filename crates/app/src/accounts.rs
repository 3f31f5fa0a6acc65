//! Who may act: staff accounts (a role, the sellers they work for, a password kept as an
//! argon2id hash), their sessions and API tokens, and customers' one-time sign-in links.
//!
//! Every secret a client holds (session cookie, API token, sign-in link) is 32 random bytes;
//! only its SHA-256 is stored, so a copy of the database signs no one in. Signing in answers
//! the same, in words and in time, whether the account exists or not: a missing account is
//! checked against a dummy hash, and failures are throttled per account and per address.

use aftercare_store::{Dialect, Store, Tx, Val};
use jiff::{Timestamp, ToSpan};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::audit::{self, Event};
use crate::time::micros;

/// What a staff member does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Handles cases: asks for information, approves, receives, refunds, closes.
    Agent,
    /// Inspects, quotes, repairs, replaces.
    Technician,
    /// Everything an agent and a technician do, and pays refunds out.
    Manager,
    /// Accounts, tokens, the registry and webhooks, and everything a manager does.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Technician, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Technician => "technician",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role, AppError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                AppError::invalid(
                    "role",
                    format!("`{s}` is not a role: agent, technician, manager or admin"),
                )
            })
    }
}

/// The sellers a staff member (or token) works for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sellers {
    All,
    Only(Vec<String>),
}

impl Sellers {
    pub fn includes(&self, seller: &str) -> bool {
        match self {
            Sellers::All => true,
            Sellers::Only(list) => list.iter().any(|s| s == seller),
        }
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Staff {
        user_id: i64,
        email: String,
        role: Role,
        sellers: Sellers,
        /// An API token's scopes; `None` for a signed-in person (their role decides).
        scopes: Option<Vec<String>>,
    },
    Customer {
        customer_id: i64,
    },
}

impl Principal {
    /// The name the audit log records.
    pub fn actor(&self) -> String {
        match self {
            Principal::Staff { email, scopes, .. } => match scopes {
                Some(_) => format!("token:{email}"),
                None => email.clone(),
            },
            Principal::Customer { customer_id } => format!("customer:{customer_id}"),
        }
    }
}

/// A staff account, as listed.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The sellers they work for; `*` is all.
    pub sellers: Vec<String>,
    pub disabled: bool,
}

/// A new staff account.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
    pub sellers: Vec<String>,
}

/// A session just opened: the secret for the cookie, shown once, and its CSRF token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// How long a staff session lasts, and a customer's.
const STAFF_SESSION_HOURS: i64 = 12;
const CUSTOMER_SESSION_HOURS: i64 = 24;
/// How long a sign-in link works.
const LINK_MINUTES: i64 = 30;
/// Links sent to one customer at most, per quarter of an hour.
const LINKS_PER_WINDOW: i64 = 3;
const LINK_WINDOW_MINUTES: i64 = 15;

/// Words of this service's own and its sellers' trade that breached-password lists do not
/// rank high enough (lowercased), refused whatever the strength estimate says.
const COMMON: &str = include_str!("common_passwords.txt");
const MIN_PASSWORD: usize = 10;
const MAX_PASSWORD: usize = 256;
/// The least zxcvbn score a password needs (of 0 to 4): 3 means over 10^8 guesses by its
/// estimate, after breached-password, word and name lists, keyboard patterns, sequences,
/// repeats, dates and the account's own words.
const MIN_SCORE: u8 = 3;

/// 32 random bytes as hex: a secret a client holds.
pub fn secret() -> Result<String, AppError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AppError::Config(format!("no randomness: {e}")))?;
    Ok(aftercare_store::hex(&b))
}

/// What is stored of a secret.
pub fn hash_secret(s: &str) -> String {
    aftercare_store::hex(&Sha256::digest(s.as_bytes()))
}

fn normalise_email(e: &str) -> Result<String, AppError> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(AppError::invalid(
            "email",
            format!("`{e}` is not an e-mail address"),
        ))
    }
}

/// Whether a password may be used for an account described by `inputs` (its e-mail address,
/// its name, the sellers it works for); why not, if not.
pub fn check_password(password: &str, inputs: &[&str]) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(AppError::invalid(
            "password",
            format!("use at least {MIN_PASSWORD} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD {
        return Err(AppError::invalid(
            "password",
            format!("use at most {MAX_PASSWORD} bytes"),
        ));
    }
    let lower = password.to_lowercase();
    // What a guesser tries first against this account: this product's name, and the
    // account's own words and their parts (`ada.lovelace@example.org`: ada, lovelace…).
    let mut words = vec!["aftercare".to_string()];
    for input in inputs {
        let input = input.trim().to_lowercase();
        words.extend(
            input
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_string),
        );
        words.push(input);
    }
    let local = inputs
        .iter()
        .find_map(|i| i.split_once('@'))
        .map(|(local, _)| local.trim().to_lowercase())
        .unwrap_or_default();
    let listed = COMMON.lines().any(|c| c.trim() == lower);
    let personal = local.chars().count() >= 4 && lower.contains(&local);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let strength = zxcvbn::zxcvbn(password, &words);
    if listed || personal || u8::from(strength.score()) < MIN_SCORE {
        let why = strength
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({})", w.to_string().trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        return Err(AppError::invalid(
            "password",
            format!(
                "this password is too easy to guess{why}: choose a longer one, such as a few \
                 unrelated words"
            ),
        ));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AppError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Config(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Config(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Config(format!("cannot hash a password: {e}")))
}

thread_local! {
    /// Argon2's working memory (19 MiB with the default parameters), kept by each thread
    /// that checks passwords and used again by its next check. Allocated and freed per check,
    /// it left glibc's heaps holding a fragmented copy every few checks: 1,000 failed
    /// sign-ins took a server from 35 MB to 1.4 GB, and kept it.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` is the one `hash` (a PHC string) was made from; the comparison takes
/// the same time wherever the two differ.
fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{Output, PasswordHash};
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed.version.map(argon2::Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = argon2::Argon2::new(algorithm, version.unwrap_or_default(), params);
    ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let Some(memory) = memory.get_mut(..blocks) else {
            return false;
        };
        // Every block is written before it is read: what the last check left does not count.
        Output::init_with(expected.len(), |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *memory)
                .map_err(|_| argon2::password_hash::Error::Password)
        })
        .is_ok_and(|computed| computed == expected)
    })
}

/// An argon2id hash of nothing anyone knows: a sign-in for a missing account is checked
/// against it, so that it takes as long as one for an account that exists.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("no account has this password, it only takes time").unwrap_or_default()
    })
}

/// Makes the dummy hash ahead of the first sign-in for a missing account, which would
/// otherwise take twice as long as any other.
pub fn prepare() {
    let _ = dummy_hash();
}

/// Adds a staff account.
pub fn add_user(
    store: &mut Store,
    new: &NewUser,
    actor: &str,
    now: Timestamp,
) -> Result<i64, AppError> {
    let email = normalise_email(&new.email)?;
    if new.name.trim().is_empty() {
        return Err(AppError::invalid("name", "a staff account needs a name"));
    }
    if new.sellers.is_empty() {
        return Err(AppError::invalid(
            "sellers",
            "name the sellers this account works for (`*` for all)",
        ));
    }
    let mut about = vec![email.as_str(), new.name.as_str()];
    about.extend(new.sellers.iter().map(String::as_str));
    check_password(&new.password, &about)?;
    let hash = hash_password(&new.password)?;
    store.tx(|tx| -> Result<i64, AppError> {
        if tx
            .query_opt("SELECT id FROM users WHERE email = ?", &[(&email).into()])?
            .is_some()
        {
            return Err(AppError::invalid(
                "email",
                format!("an account for `{email}` exists already"),
            ));
        }
        let id = tx
            .query_one(
                "INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                &[
                    (&email).into(),
                    new.name.trim().into(),
                    new.role.as_str().into(),
                    hash.into(),
                    Val::Int(micros(now)),
                ],
            )?
            .int(0)?;
        for s in &new.sellers {
            tx.exec(
                "INSERT INTO user_sellers (user_id, seller) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &[Val::Int(id), s.trim().into()],
            )?;
        }
        audit::append(
            tx,
            now,
            &Event::new(
                actor,
                "user",
                id,
                "add",
                json!({"email": email, "role": new.role.as_str(), "sellers": new.sellers}),
            ),
        )?;
        Ok(id)
    })
}

/// Every staff account.
pub fn list_users(store: &mut Store) -> Result<Vec<User>, AppError> {
    store.tx(|tx| -> Result<Vec<User>, AppError> {
        let rows = tx.query(
            "SELECT id, email, name, role, disabled_at FROM users ORDER BY email",
            &[],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.int(0)?;
            out.push(User {
                id,
                email: r.text(1)?,
                name: r.text(2)?,
                role: Role::parse(&r.text(3)?)
                    .map_err(|_| AppError::corrupt("users.role", format!("user {id}")))?,
                sellers: sellers_of(tx, id)?,
                disabled: r.opt_int(4)?.is_some(),
            });
        }
        Ok(out)
    })
}

fn sellers_of(tx: &mut dyn Tx, user_id: i64) -> Result<Vec<String>, AppError> {
    tx.query(
        "SELECT seller FROM user_sellers WHERE user_id = ? ORDER BY seller",
        &[Val::Int(user_id)],
    )?
    .iter()
    .map(|r| r.text(0).map_err(AppError::from))
    .collect()
}

/// Disables a staff account: its sessions end and its tokens are revoked.
pub fn disable_user(
    store: &mut Store,
    email: &str,
    actor: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let email = normalise_email(email)?;
    store.tx(|tx| -> Result<(), AppError> {
        let id = tx
            .query_opt(
                "UPDATE users SET disabled_at = ? WHERE email = ? AND disabled_at IS NULL RETURNING id",
                &[Val::Int(micros(now)), (&email).into()],
            )?
            .ok_or_else(|| AppError::not_found("active account", &email))?
            .int(0)?;
        tx.exec("DELETE FROM sessions WHERE user_id = ?", &[Val::Int(id)])?;
        tx.exec(
            "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            &[Val::Int(micros(now)), Val::Int(id)],
        )?;
        audit::append(tx, now, &Event::new(actor, "user", id, "disable", json!({"email": email})))?;
        Ok(())
    })
}

/// Why a sign-in did not succeed. The same words whether the account exists or not.
pub const SIGN_IN_REFUSED: &str = "the e-mail address or the password is wrong";

/// How failed sign-ins hold back further tries under one key (an account, an address): the
/// first `free` failures in the window cost nothing; after them each try waits 1, 2, 4, 8…
/// seconds since the last failure, at most [`MAX_DELAY_SECS`]. A growing delay rather than a
/// lock-out, which would let anyone lock anyone's account.
#[derive(Clone, Copy, Debug)]
struct Limit {
    kind: &'static str,
    free: i64,
    window_secs: i64,
}

/// An account is one person: a few typing mistakes a day. A success forgives them.
const PER_ACCOUNT: Limit = Limit {
    kind: "account",
    free: 5,
    window_secs: 24 * 3600,
};
/// An address may be a whole office behind one NAT: more, over a shorter window.
const PER_ADDRESS: Limit = Limit {
    kind: "address",
    free: 20,
    window_secs: 3600,
};
const MAX_DELAY_SECS: i64 = 15 * 60;

impl Limit {
    /// How many seconds a try must still wait after `failures` failures in the window, the
    /// last at `last` (micros), at `now` (micros); `None` when it may go ahead.
    fn wait(self, failures: i64, last: Option<i64>, now: i64) -> Option<u64> {
        let over = failures - self.free;
        let last = last?;
        if over < 0 {
            return None;
        }
        let delay = if over >= 10 {
            MAX_DELAY_SECS
        } else {
            (1i64 << over).min(MAX_DELAY_SECS)
        };
        let ready = last.saturating_add(delay.saturating_mul(1_000_000));
        (now < ready).then(|| {
            let micros = ready - now;
            u64::try_from(micros.div_euclid(1_000_000) + i64::from(micros % 1_000_000 != 0))
                .unwrap_or(1)
        })
    }
}

/// A sign-in let through the throttle: already counted as a failure (committed), until its
/// password proves right. Check the password with [`Attempt::verify`] (argon2: tens of
/// milliseconds and 19 MiB of memory), then settle it with [`finish_sign_in`].
#[derive(Debug)]
pub struct Attempt {
    /// The account, when there is an active one for the e-mail address.
    account: Option<i64>,
    /// The account's password hash.
    hash: Option<String>,
    /// (limit, key hash) of the account and the address.
    keys: [(Limit, String); 2],
    /// Names this attempt's failure rows.
    id: String,
}

impl Attempt {
    /// Whether `password` is the account's. Takes as long for a missing account (checked
    /// against a dummy hash) as for one that exists.
    pub fn verify(&self, password: &str) -> bool {
        match &self.hash {
            Some(hash) => verify_password(password, hash) && self.account.is_some(),
            None => {
                // As long as for an account that exists, and never true.
                std::hint::black_box(verify_password(password, dummy_hash()));
                false
            }
        }
    }
}

/// Begins a staff member's sign-in with a password; `from` is the client's address (only its
/// hash is kept). Refused with [`AppError::Throttled`] while the account or the address must
/// still wait after earlier failures; otherwise the try is counted as a failure at once, in
/// its own committed transaction (so neither an error later nor concurrent tries escape the
/// count), and the account's hash is read.
pub fn begin_sign_in(
    store: &mut Store,
    email: &str,
    from: &str,
    now: Timestamp,
) -> Result<Attempt, AppError> {
    let email = email.trim().to_lowercase();
    let keys = [
        (PER_ACCOUNT, hash_secret(&format!("account:{email}"))),
        (PER_ADDRESS, hash_secret(&format!("address:{from}"))),
    ];
    let id = secret()?;
    let at = micros(now);
    let account = store.tx(|tx| -> Result<Option<(i64, String)>, AppError> {
        let mut wait: Option<(u64, &str)> = None;
        for (limit, key) in &keys {
            // Tries under one key are counted one after another: SQLite's transaction holds
            // the write lock already, PostgreSQL takes a lock per key.
            if tx.dialect() == Dialect::Postgres {
                tx.exec(
                    &format!(
                        "SELECT pg_advisory_xact_lock({}, hashtext(?))",
                        if limit.kind == "account" { 7301 } else { 7302 }
                    ),
                    &[key.into()],
                )?;
            }
            let since = at.saturating_sub(limit.window_secs.saturating_mul(1_000_000));
            tx.exec(
                "DELETE FROM sign_in_failures WHERE key_hash = ? AND at <= ?",
                &[key.into(), Val::Int(since)],
            )?;
            let r = tx.query_one(
                "SELECT COUNT(*), MAX(at) FROM sign_in_failures WHERE key_hash = ? AND at > ?",
                &[key.into(), Val::Int(since)],
            )?;
            if let Some(secs) = limit.wait(r.int(0)?, r.opt_int(1)?, at)
                && wait.is_none_or(|(w, _)| secs > w)
            {
                wait = Some((secs, limit.kind));
            }
        }
        if let Some((secs, kind)) = wait {
            return Err(AppError::Throttled {
                message: format!("too many failed sign-ins for this {kind}: try again in {secs} s"),
                retry_after: secs,
            });
        }
        for (_, key) in &keys {
            tx.exec(
                "INSERT INTO sign_in_failures (key_hash, at, attempt) VALUES (?, ?, ?)",
                &[key.into(), Val::Int(at), (&id).into()],
            )?;
        }
        // Failures of keys not seen since the longest window go too.
        let oldest = at.saturating_sub(PER_ACCOUNT.window_secs.saturating_mul(1_000_000));
        tx.exec(
            "DELETE FROM sign_in_failures WHERE at <= ?",
            &[Val::Int(oldest)],
        )?;
        tx.query_opt(
            "SELECT id, password_hash FROM users WHERE email = ? AND disabled_at IS NULL",
            &[(&email).into()],
        )?
        .map(|r| Ok((r.int(0)?, r.text(1)?)))
        .transpose()
    })?;
    Ok(Attempt {
        hash: account.as_ref().map(|(_, h)| h.clone()),
        account: account.map(|(id, _)| id),
        keys,
        id,
    })
}

/// Settles a sign-in whose password was checked: a right one opens a session and takes the
/// account's failures back (the address's count keeps its other failures); a wrong one stays
/// counted and is refused in the same words whether the account exists or not.
pub fn finish_sign_in(
    store: &mut Store,
    attempt: Attempt,
    verified: bool,
    now: Timestamp,
) -> Result<NewSession, AppError> {
    let user_id = match attempt.account {
        Some(id) if verified => id,
        _ => return Err(AppError::Unauthenticated(SIGN_IN_REFUSED.into())),
    };
    store.tx(|tx| -> Result<NewSession, AppError> {
        let [(_, account), (_, address)] = &attempt.keys;
        tx.exec(
            "DELETE FROM sign_in_failures WHERE key_hash = ?",
            &[account.into()],
        )?;
        tx.exec(
            "DELETE FROM sign_in_failures WHERE key_hash = ? AND attempt = ?",
            &[address.into(), (&attempt.id).into()],
        )?;
        new_session(tx, Some(user_id), None, now, STAFF_SESSION_HOURS)
    })
}

/// Signs a staff member in with a password, all in the calling thread: [`begin_sign_in`],
/// [`Attempt::verify`], [`finish_sign_in`]. The server runs the check on its own hashing
/// threads instead.
pub fn sign_in(
    store: &mut Store,
    email: &str,
    password: &str,
    from: &str,
    now: Timestamp,
) -> Result<NewSession, AppError> {
    let attempt = begin_sign_in(store, email, from, now)?;
    let verified = attempt.verify(password);
    finish_sign_in(store, attempt, verified, now)
}

fn new_session(
    tx: &mut dyn Tx,
    user_id: Option<i64>,
    customer_id: Option<i64>,
    now: Timestamp,
    hours: i64,
) -> Result<NewSession, AppError> {
    let (token, csrf) = (secret()?, secret()?);
    let expires_at = now.checked_add(hours.hours()).unwrap_or(now);
    tx.exec(
        "INSERT INTO sessions (token_hash, user_id, customer_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        &[
            hash_secret(&token).into(),
            user_id.into(),
            customer_id.into(),
            (&csrf).into(),
            Val::Int(micros(now)),
            Val::Int(micros(expires_at)),
        ],
    )?;
    // Expired sessions go as new ones come.
    tx.exec(
        "DELETE FROM sessions WHERE expires_at <= ?",
        &[Val::Int(micros(now))],
    )?;
    Ok(NewSession {
        token,
        csrf,
        expires_at,
    })
}

/// Who a session cookie belongs to, and its CSRF token; `None` when unknown or expired.
pub fn session(
    tx: &mut dyn Tx,
    token: &str,
    now: Timestamp,
) -> Result<Option<(Principal, String)>, AppError> {
    let Some(r) = tx.query_opt(
        "SELECT s.user_id, s.customer_id, s.csrf, u.email, u.role, u.disabled_at
         FROM sessions s LEFT JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > ?",
        &[hash_secret(token).into(), Val::Int(micros(now))],
    )?
    else {
        return Ok(None);
    };
    let csrf = r.text(2)?;
    if let Some(customer_id) = r.opt_int(1)? {
        return Ok(Some((Principal::Customer { customer_id }, csrf)));
    }
    let Some(user_id) = r.opt_int(0)? else {
        return Ok(None);
    };
    if r.opt_int(5)?.is_some() {
        return Ok(None);
    }
    let role = Role::parse(&r.text(4)?)
        .map_err(|_| AppError::corrupt("users.role", format!("user {user_id}")))?;
    Ok(Some((
        Principal::Staff {
            user_id,
            email: r.text(3)?,
            role,
            sellers: scope(sellers_of(tx, user_id)?),
            scopes: None,
        },
        csrf,
    )))
}

fn scope(list: Vec<String>) -> Sellers {
    if list.iter().any(|s| s == "*") {
        Sellers::All
    } else {
        Sellers::Only(list)
    }
}

/// Ends a session.
pub fn sign_out(store: &mut Store, token: &str) -> Result<(), AppError> {
    store.tx(|tx| -> Result<(), AppError> {
        tx.exec(
            "DELETE FROM sessions WHERE token_hash = ?",
            &[hash_secret(token).into()],
        )?;
        Ok(())
    })
}

/// What an API token may do.
pub const SCOPES: &[&str] = &[
    "cases:read",
    "cases:write",
    "refunds:write",
    "registry:write",
    "customers:read",
    "customers:erase",
    "webhooks:write",
    "audit:read",
    "metrics:read",
    "policies:write",
];

/// A new API token for the staff account `email`, with these scopes; the secret is returned
/// once and only its hash kept.
pub fn create_token(
    store: &mut Store,
    email: &str,
    name: &str,
    scopes: &[String],
    actor: &str,
    now: Timestamp,
) -> Result<(i64, String), AppError> {
    let email = normalise_email(email)?;
    if scopes.is_empty() {
        return Err(AppError::invalid(
            "scopes",
            format!("name at least one scope: {}", SCOPES.join(", ")),
        ));
    }
    for s in scopes {
        if !SCOPES.contains(&s.as_str()) {
            return Err(AppError::invalid(
                "scopes",
                format!("`{s}` is not a scope: {}", SCOPES.join(", ")),
            ));
        }
    }
    let secret = format!("act_{}", secret()?);
    store.tx(|tx| -> Result<(i64, String), AppError> {
        let user = tx
            .query_opt(
                "SELECT id FROM users WHERE email = ? AND disabled_at IS NULL",
                &[(&email).into()],
            )?
            .ok_or_else(|| AppError::not_found("active account", &email))?
            .int(0)?;
        let id = tx
            .query_one(
                "INSERT INTO api_tokens (token_hash, name, user_id, scopes, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                &[
                    hash_secret(&secret).into(),
                    name.into(),
                    Val::Int(user),
                    scopes.join(" ").into(),
                    Val::Int(micros(now)),
                ],
            )?
            .int(0)?;
        audit::append(
            tx,
            now,
            &Event::new(actor, "api_token", id, "create", json!({"user": user, "name": name, "scopes": scopes})),
        )?;
        Ok((id, secret))
    })
}

/// Revokes an API token.
pub fn revoke_token(
    store: &mut Store,
    id: i64,
    actor: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    store.tx(|tx| -> Result<(), AppError> {
        let n = tx.exec(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            &[Val::Int(micros(now)), Val::Int(id)],
        )?;
        if n == 0 {
            return Err(AppError::not_found("active token", id.to_string()));
        }
        audit::append(tx, now, &Event::new(actor, "api_token", id, "revoke", None))?;
        Ok(())
    })
}

/// Who an API token belongs to; `None` when unknown, revoked or its account disabled.
pub fn token(tx: &mut dyn Tx, secret: &str) -> Result<Option<Principal>, AppError> {
    // One statement: a row per seller the account works for (one with none when it works
    // for none), as every API request asks it.
    let rows = tx.query(
        "SELECT t.user_id, t.scopes, u.email, u.role, s.seller FROM api_tokens t
         JOIN users u ON u.id = t.user_id
         LEFT JOIN user_sellers s ON s.user_id = t.user_id
         WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL
         ORDER BY s.seller",
        &[hash_secret(secret).into()],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let user_id = r.int(0)?;
    let role = Role::parse(&r.text(3)?)
        .map_err(|_| AppError::corrupt("users.role", format!("user {user_id}")))?;
    let mut sellers = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(s) = row.opt_text(4)? {
            sellers.push(s);
        }
    }
    Ok(Some(Principal::Staff {
        user_id,
        email: r.text(2)?,
        role,
        sellers: scope(sellers),
        scopes: Some(r.text(1)?.split_whitespace().map(str::to_string).collect()),
    }))
}

/// A customer asks to sign in with an order number and the e-mail address on it. When both
/// match, a one-time link (valid half an hour) goes to that address through the outbox, and
/// their older unused links stop working; when not, or when three links went to them in the
/// last quarter of an hour, nothing happens. Either way the caller is told the same.
///
/// `lang` is the language the customer asked in (the portal's), kept as the one their
/// e-mails are written in; without one, the kept one (else their country's) is used.
pub fn request_sign_in_link(
    store: &mut Store,
    order_no: &str,
    email: &str,
    link_base: &str,
    lang: Option<&str>,
    now: Timestamp,
) -> Result<(), AppError> {
    let email = email.trim().to_lowercase();
    let token = secret()?;
    store.tx(|tx| -> Result<(), AppError> {
        let Some(c) = tx.query_opt(
            "SELECT c.id, c.email, c.lang, c.country FROM orders o JOIN customers c ON c.id = o.customer_id
             WHERE o.order_no = ? AND c.erased_at IS NULL",
            &[order_no.trim().into()],
        )?
        else {
            return Ok(());
        };
        let Some(on_file) = c.opt_text(1)? else {
            return Ok(());
        };
        if on_file.trim().to_lowercase() != email {
            return Ok(());
        }
        let customer = c.int(0)?;
        if tx.dialect() == Dialect::Postgres {
            // Two requests at once are counted one after the other.
            tx.exec(
                "SELECT id FROM customers WHERE id = ? FOR UPDATE",
                &[Val::Int(customer)],
            )?;
        }
        let since = micros(
            now.checked_sub(LINK_WINDOW_MINUTES.minutes())
                .unwrap_or(now),
        );
        let recent = tx
            .query_one(
                "SELECT COUNT(*) FROM sign_in_links WHERE customer_id = ? AND created_at > ?",
                &[Val::Int(customer), Val::Int(since)],
            )?
            .int(0)?;
        if recent >= LINKS_PER_WINDOW {
            return Ok(());
        }
        // The new link is the only one that works; links of no more use (and not counted
        // any more) go.
        tx.exec(
            "UPDATE sign_in_links SET expires_at = ? WHERE customer_id = ? AND used_at IS NULL AND expires_at > ?",
            &[Val::Int(micros(now)), Val::Int(customer), Val::Int(micros(now))],
        )?;
        tx.exec(
            "DELETE FROM sign_in_links WHERE customer_id = ? AND created_at <= ? AND (used_at IS NOT NULL OR expires_at <= ?)",
            &[Val::Int(customer), Val::Int(since), Val::Int(micros(now))],
        )?;
        let expires = now.checked_add(LINK_MINUTES.minutes()).unwrap_or(now);
        tx.exec(
            "INSERT INTO sign_in_links (token_hash, customer_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            &[
                hash_secret(&token).into(),
                Val::Int(customer),
                Val::Int(micros(now)),
                Val::Int(micros(expires)),
            ],
        )?;
        let chosen = lang.and_then(crate::mail_words::MailLang::parse);
        let kept = crate::mail_words::MailLang::of(c.opt_text(2)?.as_deref(), c.opt_text(3)?.as_deref());
        let lang = chosen.unwrap_or(kept);
        if let Some(l) = chosen {
            tx.exec(
                "UPDATE customers SET lang = ? WHERE id = ?",
                &[l.tag().into(), Val::Int(customer)],
            )?;
        }
        let (subject, body) =
            lang.sign_in_link(order_no.trim(), LINK_MINUTES, &format!("{link_base}{token}"));
        crate::outbox::queue(tx, &on_file, &subject, &body, now)
    })
}

/// Exchanges a sign-in link's token for a customer session; the link works once.
pub fn redeem_sign_in_link(
    store: &mut Store,
    token: &str,
    now: Timestamp,
) -> Result<NewSession, AppError> {
    store.tx(|tx| -> Result<NewSession, AppError> {
        let customer = tx
            .query_opt(
                "UPDATE sign_in_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
                 RETURNING customer_id",
                &[Val::Int(micros(now)), hash_secret(token).into(), Val::Int(micros(now))],
            )?
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "this sign-in link is unknown, used or expired: ask for a new one".into(),
                )
            })?
            .int(0)?;
        new_session(tx, None, Some(customer), now, CUSTOMER_SESSION_HOURS)
    })
}

/// Whether a token's scopes include `scope` (a signed-in person has their role's all).
pub fn has_scope(scopes: Option<&[String]>, scope: &str) -> bool {
    scopes.is_none_or(|s| s.iter().any(|x| x == scope))
}

/// A staff member of one of these roles whose token (if any) has `scope`; else forbidden.
pub(crate) fn staff_with<'a>(
    who: &'a Principal,
    roles: &[Role],
    scope: &str,
    what: &str,
) -> Result<&'a Sellers, AppError> {
    match who {
        Principal::Staff {
            role,
            sellers,
            scopes,
            ..
        } if roles.contains(role) && has_scope(scopes.as_deref(), scope) => Ok(sellers),
        _ => Err(AppError::Forbidden(format!("you may not {what}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_short_guessable_and_personal_passwords_are_refused() {
        let ada = [
            "ada.lovelace@example.org",
            "Ada Lovelace",
            "IMASK",
            "CryptKi",
        ];
        for bad in [
            "short",
            "password123",
            "qwertyuiop",
            "1234567890",
            "aaaaaaaaaaaa",
            "ababababab",
            "Password1!",
            "Summer2024!",
            "aftercare2026",
            "Aftercare2026!",
            "ada.lovelace-1815",
            "lovelace1815",
            "Imask2026!",
            "cryptki-2025",
            "satoshinakamoto",
            "1qaz2wsx3edc",
        ] {
            let e = check_password(bad, &ada).err();
            assert!(
                matches!(&e, Some(AppError::Invalid { field, .. }) if field == "password"),
                "{bad}: {e:?}"
            );
        }
        for good in [
            "violet tram seventeen",
            "correct horse battery staple",
            "Tq7#mVx2-Lp9w",
        ] {
            assert!(check_password(good, &ada).is_ok(), "{good}");
        }
        let e = check_password("Password1!", &ada)
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.starts_with("password: this password is too easy to guess")),
            "{e:?}"
        );
    }

    #[test]
    fn each_try_after_the_free_ones_waits_twice_as_long_up_to_a_quarter_hour() {
        let s = 1_000_000;
        let (free, last) = (PER_ACCOUNT.free, 10 * s);
        assert_eq!(PER_ACCOUNT.wait(0, None, last), None);
        assert_eq!(PER_ACCOUNT.wait(free - 1, Some(last), last), None);
        assert_eq!(PER_ACCOUNT.wait(free, Some(last), last), Some(1));
        assert_eq!(PER_ACCOUNT.wait(free, Some(last), last + s), None);
        assert_eq!(PER_ACCOUNT.wait(free + 1, Some(last), last), Some(2));
        // Rounded up: half a second left is one to wait.
        assert_eq!(
            PER_ACCOUNT.wait(free + 1, Some(last), last + s + s / 2),
            Some(1)
        );
        assert_eq!(
            PER_ACCOUNT.wait(free + 3, Some(last), last + 3 * s),
            Some(5)
        );
        assert_eq!(PER_ACCOUNT.wait(free + 9, Some(last), last), Some(512));
        assert_eq!(PER_ACCOUNT.wait(free + 10, Some(last), last), Some(900));
        assert_eq!(PER_ACCOUNT.wait(i64::MAX, Some(last), last), Some(900));
        assert_eq!(
            PER_ADDRESS.wait(PER_ADDRESS.free - 1, Some(last), last),
            None
        );
    }

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("violet tram seventeen").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"), "{h}");
        // Again and again on one thread's memory, in any order.
        for _ in 0..2 {
            assert!(verify_password("violet tram seventeen", &h));
            assert!(!verify_password("violet tram eighteen", &h));
            assert!(!verify_password("violet tram seventeen", dummy_hash()));
        }
        // The hashes other parameters made verify too (a cheaper hash, argon2i).
        use argon2::password_hash::{PasswordHasher, SaltString};
        let other = argon2::Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 3, 1, Some(16)).unwrap_or_default(),
        );
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap_or_else(|_| unreachable!());
        let h = other
            .hash_password(b"violet tram seventeen", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(h.starts_with("$argon2i$"), "{h}");
        assert!(verify_password("violet tram seventeen", &h));
        assert!(!verify_password("violet tram seventeen!", &h));
        assert!(!verify_password(
            "violet tram seventeen",
            "$argon2id$not a hash"
        ));
    }

    #[test]
    fn secrets_are_random_and_stored_as_hashes() {
        let (a, b) = (secret().unwrap_or_default(), secret().unwrap_or_default());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(hash_secret(&a), a);
        assert_eq!(hash_secret(&a), hash_secret(&a));
    }
}

//! Evidence: photos attached to a case. An upload is trusted for nothing: its type is told by
//! its bytes (JPEG, PNG or WebP; a name, an extension or a header say nothing), its size and
//! pixel count are bounded before it is decoded (a small file that unpacks to gigapixels is
//! refused unread), and what is kept is a fresh JPEG encoded from the decoded pixels, so no
//! metadata (EXIF, GPS), no trailing bytes and no second format survive. Files are stored under
//! random names. The case's `evidence.photos` is the kinds of the photos stored, never what a
//! request says; attaching a photo decides the case again, so the policy says at once what is
//! still missing (CryptKi 5.1: outer box, inner box, labels, damage).

use std::io::Cursor;
use std::path::PathBuf;

use aftercare_store::{Store, Val};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::accounts::Principal;
use crate::time::micros;
use crate::{AppError, Policies};

/// Largest upload accepted.
pub const MAX_BYTES: usize = 10 << 20;
/// Largest side, and most pixels, of an image accepted.
pub const MAX_SIDE: u32 = 10_000;
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most pixels per byte of the file, above a floor any small photo stays under: a photo is
/// a few pixels per byte (JPEG) or less (PNG); a file that declares hundreds per byte is
/// mostly nothing and would cost seconds of decoding for no picture.
pub const MAX_PIXELS_PER_BYTE: u64 = 64;
pub const FREE_PIXELS: u64 = 1_000_000;
/// Most photos on one case, and uploads by one customer in a day.
pub const MAX_PER_CASE: i64 = 40;
pub const MAX_PER_CUSTOMER_DAY: i64 = 100;
/// Quality of the re-encoded JPEG.
const QUALITY: u8 = 88;

/// The kinds of photo the policies ask for (`evidence.photos`).
pub const KINDS: &[&str] = &[
    "outer_box",
    "inner_box",
    "packaging_damage",
    "product",
    "product_damage",
    "item_received",
    "labels",
];

/// A checked, re-encoded image.
#[derive(Debug)]
pub struct Clean {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn refuse(message: impl Into<String>) -> AppError {
    AppError::invalid("file", message)
}

/// Checks an upload and re-encodes it; refuses anything that is not a sound JPEG, PNG or WebP
/// image within the limits.
pub fn clean(bytes: &[u8]) -> Result<Clean, AppError> {
    use image::{ImageFormat, ImageReader, Limits};
    if bytes.is_empty() {
        return Err(refuse("the file is empty"));
    }
    if bytes.len() > MAX_BYTES {
        return Err(refuse(format!(
            "the file is larger than {} MB",
            MAX_BYTES >> 20
        )));
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => f,
        _ => return Err(refuse("not a JPEG, PNG or WebP image")),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + (16 << 20));
    let reader = |limits: Limits| {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        r.limits(limits);
        r
    };
    // The size is read from the header first: a bomb is refused before it is unpacked.
    let (w, h) = reader(limits.clone())
        .into_dimensions()
        .map_err(|e| refuse(format!("the image cannot be read: {e}")))?;
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || pixels > MAX_PIXELS {
        return Err(refuse(format!(
            "the image is {w}×{h} pixels; at most {MAX_SIDE} a side and {} megapixels",
            MAX_PIXELS / 1_000_000
        )));
    }
    let bytes_len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if pixels > FREE_PIXELS.max(bytes_len.saturating_mul(MAX_PIXELS_PER_BYTE)) {
        return Err(refuse(format!(
            "the image declares {w}×{h} pixels in {bytes_len} bytes: too many pixels for so small a file"
        )));
    }
    let decoded = reader(limits)
        .decode()
        .map_err(|e| refuse(format!("the image is damaged or incomplete: {e}")))?;
    let rgb = image::DynamicImage::ImageRgb8(decoded.to_rgb8());
    let mut jpeg = Vec::new();
    rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut jpeg, QUALITY,
    ))
    .map_err(|e| AppError::Config(format!("cannot encode a JPEG: {e}")))?;
    Ok(Clean {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Where evidence files are kept.
pub trait Blobs: Send + Sync + std::fmt::Debug {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String>;
    fn get(&self, name: &str) -> Result<Vec<u8>, String>;
    fn delete(&self, name: &str);
}

/// A local folder (the default).
#[derive(Debug)]
pub struct Folder(pub PathBuf);

impl Folder {
    fn path(&self, name: &str) -> Result<PathBuf, String> {
        // Names are ours (random hex), but a name is never a path.
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            || name.starts_with('.')
        {
            return Err(format!("`{name}` is not a blob name"));
        }
        Ok(self.0.join(name))
    }
}

impl Blobs for Folder {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        std::fs::create_dir_all(&self.0).map_err(|e| format!("{}: {e}", self.0.display()))?;
        let path = self.path(name)?;
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn delete(&self, name: &str) {
        if let Ok(p) = self.path(name) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A photo on record.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    pub id: i64,
    pub case_id: i64,
    pub kind: String,
    pub content_type: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub uploaded_at: String,
}

/// A photo attached, and what the case's decision still asks for.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attached {
    pub photo: Photo,
    /// The documents and evidence the decision still lists as missing.
    pub still_missing: Vec<String>,
}

/// Attaches a photo of `kind` to case `case_id` as `who` (the case's customer, or staff of
/// its seller), then decides the case again: [`admit`], [`clean`], keep the file, [`record`],
/// one after the other on this thread. A server does the same steps without holding a
/// database connection while it decodes.
#[expect(
    clippy::too_many_arguments,
    reason = "one use case's inputs; each is needed"
)]
pub fn attach(
    store: &mut Store,
    blobs: &dyn Blobs,
    policies: &Policies,
    who: &Principal,
    case_id: i64,
    kind: &str,
    upload: &[u8],
    now: Timestamp,
) -> Result<Attached, AppError> {
    admit(store, policies, who, case_id, kind, now)?;
    let clean = clean(upload)?;
    let name = keep(blobs, &clean)?;
    let result = record(store, policies, who, case_id, kind, &clean, &name, now);
    if result.is_err() {
        // Nothing half-written: the file goes with the rolled-back row.
        blobs.delete(&name);
    }
    result
}

/// Whether `who` may attach a photo of `kind` to case `case_id` now: a kind the policies ask
/// for, a case they see, and room for it (at most [`MAX_PER_CASE`] photos on a case and
/// [`MAX_PER_CUSTOMER_DAY`] uploads by a customer in a day). Checked before the upload is
/// decoded, and again when it is recorded.
pub fn admit(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    case_id: i64,
    kind: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    if !KINDS.contains(&kind) {
        return Err(AppError::invalid(
            "kind",
            format!("`{kind}` is not a kind of photo: {}", KINDS.join(", ")),
        ));
    }
    if let Principal::Staff { scopes, .. } = who
        && !crate::accounts::has_scope(scopes.as_deref(), "cases:write")
    {
        return Err(AppError::Forbidden(
            "this token may not attach evidence".into(),
        ));
    }
    store.read(|tx| {
        crate::access::load_for(tx, policies, who, case_id)?;
        room(tx, who, case_id, now)
    })
}

fn room(
    tx: &mut dyn aftercare_store::Tx,
    who: &Principal,
    case_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let on_case = tx
        .query_one(
            "SELECT COUNT(*) FROM evidence WHERE case_id = ?",
            &[Val::Int(case_id)],
        )?
        .int(0)?;
    if on_case >= MAX_PER_CASE {
        return Err(AppError::invalid(
            "file",
            format!("case {case_id} has {MAX_PER_CASE} photos already, the most it takes"),
        ));
    }
    if let Principal::Customer { .. } = who {
        let since = now.checked_sub(jiff::ToSpan::hours(24)).unwrap_or(now);
        let today = tx
            .query_one(
                "SELECT COUNT(*) FROM evidence WHERE uploaded_by = ? AND uploaded_at > ?",
                &[who.actor().into(), Val::Int(micros(since))],
            )?
            .int(0)?;
        if today >= MAX_PER_CUSTOMER_DAY {
            return Err(AppError::Throttled {
                message: format!("at most {MAX_PER_CUSTOMER_DAY} photos a day: try again tomorrow"),
                retry_after: 3600,
            });
        }
    }
    Ok(())
}

/// Keeps a cleaned photo's file under a new random name; returns the name.
pub fn keep(blobs: &dyn Blobs, clean: &Clean) -> Result<String, AppError> {
    let name = format!("{}.jpg", crate::accounts::secret()?);
    blobs
        .put(&name, &clean.jpeg)
        .map_err(|e| AppError::Config(format!("evidence store: {e}")))?;
    Ok(name)
}

/// Records a photo kept as `blob`, and decides the case again. The caller deletes the file
/// when this fails.
#[expect(
    clippy::too_many_arguments,
    reason = "one use case's inputs; each is needed"
)]
pub fn record(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    case_id: i64,
    kind: &str,
    clean: &Clean,
    blob: &str,
    now: Timestamp,
) -> Result<Attached, AppError> {
    let actor = who.actor();
    store.tx(|tx| -> Result<Attached, AppError> {
        let mut case = crate::case::load(tx, case_id)?;
        // The room again, under the case's lock: two uploads racing cannot both take the
        // last place.
        room(tx, who, case_id, now)?;
        let id = tx
            .query_one(
                "INSERT INTO evidence (case_id, kind, blob, content_type, bytes, width, height, sha256, uploaded_by, uploaded_at)
                 VALUES (?, ?, ?, 'image/jpeg', ?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    Val::Int(case_id),
                    kind.into(),
                    blob.into(),
                    Val::Int(i64::try_from(clean.jpeg.len()).unwrap_or(i64::MAX)),
                    Val::Int(i64::from(clean.width)),
                    Val::Int(i64::from(clean.height)),
                    aftercare_store::hex(&Sha256::digest(&clean.jpeg)).into(),
                    (&actor).into(),
                    Val::Int(micros(now)),
                ],
            )?
            .int(0)?;
        // The case now has a photo of this kind: the service's facts say so (they are read
        // from the stored photos), and it is decided again.
        tx.exec(
            "UPDATE cases SET updated_at = ? WHERE id = ?",
            &[Val::Int(micros(now)), Val::Int(case_id)],
        )?;
        crate::audit::append(
            tx,
            now,
            &crate::audit::Event::new(&actor, "case", case_id, "evidence", serde_json::json!({"photo": id, "kind": kind})),
        )?;
        case.updated_at = now;
        let (decision, seq) = crate::decision::decide_recorded(tx, policies, &case, &actor, now)?;
        crate::effects::announce(tx, policies, &case, "decide", &seq, now)?;
        Ok(Attached {
            photo: Photo {
                id,
                case_id,
                kind: kind.to_string(),
                content_type: "image/jpeg".into(),
                bytes: i64::try_from(clean.jpeg.len()).unwrap_or(i64::MAX),
                width: i64::from(clean.width),
                height: i64::from(clean.height),
                uploaded_at: now.to_string(),
            },
            still_missing: decision.missing,
        })
    })
}

/// The photos of a case `who` sees.
pub fn list(
    store: &mut Store,
    policies: &Policies,
    who: &Principal,
    case_id: i64,
) -> Result<Vec<Photo>, AppError> {
    store.read(|tx| -> Result<Vec<Photo>, AppError> {
        crate::access::load_for(tx, policies, who, case_id)?;
        tx.query(
            "SELECT id, kind, content_type, bytes, width, height, uploaded_at FROM evidence WHERE case_id = ? ORDER BY id",
            &[Val::Int(case_id)],
        )?
        .iter()
        .map(|r| {
            Ok(Photo {
                id: r.int(0)?,
                case_id,
                kind: r.text(1)?,
                content_type: r.text(2)?,
                bytes: r.int(3)?,
                width: r.int(4)?,
                height: r.int(5)?,
                uploaded_at: crate::time::from_micros(r.int(6)?)?.to_string(),
            })
        })
        .collect()
    })
}

/// A photo's bytes and type, if `who` sees its case.
pub fn get(
    store: &mut Store,
    blobs: &dyn Blobs,
    policies: &Policies,
    who: &Principal,
    id: i64,
) -> Result<(String, Vec<u8>), AppError> {
    let (blob, content_type) = store.read(|tx| -> Result<(String, String), AppError> {
        let r = tx
            .query_opt(
                "SELECT case_id, blob, content_type FROM evidence WHERE id = ?",
                &[Val::Int(id)],
            )?
            .ok_or_else(|| AppError::not_found("photo", id.to_string()))?;
        crate::access::load_for(tx, policies, who, r.int(0)?)
            .map_err(|_| AppError::not_found("photo", id.to_string()))?;
        Ok((r.text(1)?, r.text(2)?))
    })?;
    let bytes = blobs
        .get(&blob)
        .map_err(|e| AppError::Config(format!("evidence store: {e}")))?;
    Ok((content_type, bytes))
}

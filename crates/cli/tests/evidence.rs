//! Evidence uploads, black-box: the policy's photo checklist fills as photos arrive, and
//! hostile files (an HTML polyglot, an SVG with a script, a PNG with GPS in its EXIF, a
//! decompression bomb, a truncated file, a wrong extension) are refused with a 4xx naming the
//! file, or kept only as a clean re-encoded JPEG, and nothing else is written.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail on error"
)]

mod support;

use std::io::Cursor;
use std::path::PathBuf;

use support::{Response, Server, databases, root, run, run_env};

const PASSWORD: &str = "violet tram seventeen";

/// A small photo: a gradient, as JPEG or PNG.
fn photo(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    c.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    c
}

/// A PNG with an eXIf chunk holding a GPS position, right after its header.
fn png_with_gps() -> Vec<u8> {
    let png = photo(image::ImageFormat::Png);
    let ihdr_end = 8 + 4 + 4 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    out.extend(png_chunk(
        b"eXIf",
        b"MM\0*\0\0\0\x08GPSLatitude 48.858370 N GPSLongitude 2.294481 E",
    ));
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

/// A 1×1 PNG whose header claims 50 000 × 50 000 pixels: tiny on disk, 10 GB unpacked.
fn bomb() -> Vec<u8> {
    let mut png = photo(image::ImageFormat::Png);
    png[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

struct Setup {
    server: Server,
    headers: Vec<(String, String)>,
    case: i64,
    evidence: PathBuf,
}

fn setup(db: &str, name: &str) -> Setup {
    run(
        db,
        &[
            "import",
            root().join("examples/registry.json").to_str().unwrap(),
        ],
    );
    run_env(
        db,
        &[("AFTERCARE_PASSWORD", PASSWORD)],
        &[
            "user",
            "add",
            "--email",
            "agent@cryptki.test",
            "--name",
            "A",
            "--role",
            "agent",
            "--sellers",
            "CryptKi",
        ],
    );
    let evidence =
        std::env::temp_dir().join(format!("aftercare_evidence_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&evidence);
    // Three days after SO-CRK-1's delivery: the delivery-damage claim is in time, so the photos
    // it waits for are asked for (a claim no photo can make good asks for none).
    let server = Server::start_with(
        db,
        &[
            "--evidence-dir",
            evidence.to_str().unwrap(),
            "--now",
            "2024-01-08T10:00:00Z",
        ],
    );
    let r = server.post_json(
        "/api/v1/session",
        &format!(r#"{{"email": "agent@cryptki.test", "password": "{PASSWORD}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let headers = vec![
        (
            "Cookie".to_string(),
            r.header("set-cookie")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string(),
        ),
        (
            "X-CSRF-Token".to_string(),
            r.json()["csrf"].as_str().unwrap().to_string(),
        ),
    ];
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // A CryptKi delivery-damage claim with its description and order number, no photos yet.
    let r = server.send(
        "POST",
        "/api/v1/cases",
        &h,
        Some(
            r#"{"kind": "delivery_damage", "serial": "CRK-0001", "order_no": "SO-CRK-1",
                 "facts": {"problem.reported": "delivery_damage"},
                 "description": "The box came crushed at one corner."}"#,
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_i64().unwrap();
    Setup {
        server,
        headers,
        case,
        evidence,
    }
}

fn upload(s: &Setup, kind: &str, bytes: &[u8], content_type: &str) -> Response {
    let mut h: Vec<(&str, &str)> = s
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.push(("Content-Type", content_type));
    support::request(
        &s.server.addr,
        "POST",
        &format!("/api/v1/cases/{}/evidence?kind={kind}", s.case),
        &h,
        Some(bytes),
    )
}

fn files(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn the_policy_checklist_of_photos_fills_as_they_arrive() {
    for db in databases() {
        let s = setup(&db.url, db.name);
        let lacks = |r: &Response| -> Vec<String> {
            r.json()["still_missing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let r = upload(
            &s,
            "outer_box",
            &photo(image::ImageFormat::Jpeg),
            "image/jpeg",
        );
        assert_eq!(r.status, 201, "{}: {}", db.name, r.text());
        let missing = lacks(&r);
        assert!(
            !missing.contains(&"photos of the outer shipping box".to_string()),
            "{missing:?}"
        );
        assert!(
            missing.contains(&"photos of the inner product box".to_string()),
            "{missing:?}"
        );
        for kind in ["inner_box", "labels", "packaging_damage"] {
            let r = upload(&s, kind, &photo(image::ImageFormat::Png), "image/png");
            assert_eq!(r.status, 201, "{kind}: {}", r.text());
        }
        let r = upload(&s, "labels", &photo(image::ImageFormat::Jpeg), "image/jpeg");
        let missing = lacks(&r);
        assert!(
            missing.iter().all(|m| !m.starts_with("photos of")),
            "{}: {missing:?}",
            db.name
        );
        let h: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let list = s
            .server
            .send(
                "GET",
                &format!("/api/v1/cases/{}/evidence", s.case),
                &h,
                None,
            )
            .json();
        assert_eq!(list.as_array().unwrap().len(), 5, "{list}");
        // The case's decision on record says the same.
        let shown = s
            .server
            .send("GET", &format!("/api/v1/cases/{}", s.case), &h, None)
            .json();
        let missing = shown["latest_decision"]["decision"]["missing"]
            .as_array()
            .unwrap();
        assert!(
            missing.iter().all(|m| m["photo"].is_null()),
            "{}: {missing:?}",
            db.name
        );
        // The photo list is the service's: the case's own facts never hold it.
        assert!(shown["facts"]["evidence.photos"].is_null(), "{shown}");
        let _ = std::fs::remove_dir_all(&s.evidence);
    }
}

#[test]
fn hostile_uploads_are_refused_or_kept_only_re_encoded() {
    let db = &databases()[0];
    let s = setup(&db.url, "hostile");
    let h: Vec<(&str, &str)> = s
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    // Refused, naming the file, and nothing written: no file, no row.
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#;
    let mut truncated = photo(image::ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 2);
    for (what, bytes, kind) in [
        ("an SVG with a script", svg.to_vec(), "product"),
        ("a decompression bomb", bomb(), "product"),
        ("a truncated JPEG", truncated, "product"),
        ("an empty file", Vec::new(), "product"),
        ("an unknown kind", photo(image::ImageFormat::Jpeg), "selfie"),
    ] {
        let r = upload(&s, kind, &bytes, "image/png");
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        let field = r.json()["field"].as_str().unwrap().to_string();
        assert!(field == "file" || field == "query", "{what}: {field}");
        assert_eq!(files(&s.evidence), 0, "{what}: a file was written");
    }
    let list = s
        .server
        .send(
            "GET",
            &format!("/api/v1/cases/{}/evidence", s.case),
            &h,
            None,
        )
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");

    // Kept, but only as a fresh JPEG: no GPS, no HTML, whatever the name or header said.
    let mut polyglot = photo(image::ImageFormat::Jpeg);
    polyglot
        .extend_from_slice(b"<html><body><script>alert(document.cookie)</script></body></html>");
    for (what, bytes, header) in [
        ("a PNG with GPS in its EXIF", png_with_gps(), "image/png"),
        ("a JPEG with HTML after it", polyglot, "text/html"),
        (
            "a JPEG sent as a PNG",
            photo(image::ImageFormat::Jpeg),
            "image/png",
        ),
    ] {
        let r = upload(&s, "product_damage", &bytes, header);
        assert_eq!(r.status, 201, "{what}: {}", r.text());
        let id = r.json()["photo"]["id"].as_i64().unwrap();
        let got = s
            .server
            .send("GET", &format!("/api/v1/evidence/{id}"), &h, None);
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), Some("image/jpeg"), "{what}");
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
        assert!(
            got.header("content-disposition")
                .unwrap()
                .starts_with("attachment"),
            "{what}"
        );
        assert_eq!(&got.body[..3], &[0xFF, 0xD8, 0xFF], "{what}: not a JPEG");
        for marker in [&b"GPS"[..], b"<script", b"<html", b"Exif"] {
            assert!(
                !got.body.windows(marker.len()).any(|w| w == marker),
                "{what}: {marker:?} survived"
            );
        }
        image::load_from_memory(&got.body).unwrap();
    }
    assert_eq!(files(&s.evidence), 3);
    let _ = std::fs::remove_dir_all(&s.evidence);
}

#[test]
fn another_sellers_staff_cannot_see_or_fetch_a_cases_photos() {
    let db = &databases()[0];
    let s = setup(&db.url, "foreign");
    let r = upload(
        &s,
        "outer_box",
        &photo(image::ImageFormat::Jpeg),
        "image/jpeg",
    );
    let id = r.json()["photo"]["id"].as_i64().unwrap();
    run_env(
        &db.url,
        &[("AFTERCARE_PASSWORD", PASSWORD)],
        &[
            "user",
            "add",
            "--email",
            "agent@imask.test",
            "--name",
            "B",
            "--role",
            "agent",
            "--sellers",
            "IMASK",
        ],
    );
    let r = s.server.post_json(
        "/api/v1/session",
        &format!(r#"{{"email": "agent@imask.test", "password": "{PASSWORD}"}}"#),
    );
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = r.json()["csrf"].as_str().unwrap().to_string();
    let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    assert_eq!(
        s.server
            .send("GET", &format!("/api/v1/evidence/{id}"), &h, None)
            .status,
        404
    );
    assert_eq!(
        s.server
            .send(
                "GET",
                &format!("/api/v1/cases/{}/evidence", s.case),
                &h,
                None
            )
            .status,
        404
    );
    let r = support::request(
        &s.server.addr,
        "POST",
        &format!("/api/v1/cases/{}/evidence?kind=product", s.case),
        &h,
        Some(&photo(image::ImageFormat::Jpeg)),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(files(&s.evidence), 1);
    let _ = std::fs::remove_dir_all(&s.evidence);
}

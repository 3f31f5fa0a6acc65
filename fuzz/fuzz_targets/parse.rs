//! Any bytes through the expression parser, the policy loader and the facts loaders: errors
//! are fine, panics are bugs.
#![no_main]

use aftercare_policy::expr::syntax;
use aftercare_policy::{Facts, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = syntax::parse(text);
        let _ = load::load("fuzz.toml", text);
        let _ = Facts::from_toml_str("fuzz.toml", text);
        let _ = Facts::from_json_str(text);
    }
});

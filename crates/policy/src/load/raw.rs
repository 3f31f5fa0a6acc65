//! The shape of a policy file as TOML: what serde reads, with spans kept for error messages.
//! Unknown keys are refused here, so a misspelt key is a located error.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) policy: RawMeta,
    #[serde(default)]
    pub(super) define: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub(super) clause: Vec<Spanned<RawClause>>,
    #[serde(default)]
    pub(super) rule: Vec<Spanned<RawRule>>,
    pub(super) warranty: Option<RawWarranty>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeta {
    pub(super) id: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) title: String,
    pub(super) seller: Option<String>,
    pub(super) version: String,
    pub(super) effective_from: Spanned<toml::value::Datetime>,
    pub(super) effective_to: Option<Spanned<toml::value::Datetime>>,
    pub(super) jurisdiction: String,
    pub(super) time_zone: Spanned<String>,
    pub(super) currency: Option<Spanned<String>>,
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) law: Vec<Spanned<String>>,
    pub(super) applies: Option<Spanned<String>>,
    pub(super) binds: Option<Spanned<String>>,
    pub(super) version_by: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub(super) value: Spanned<toml::Value>,
    #[serde(default = "yes")]
    pub(super) stated: bool,
    pub(super) note: Option<String>,
}

pub(super) fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClause {
    pub(super) id: Spanned<String>,
    pub(super) title: String,
    pub(super) text: String,
    #[serde(default)]
    pub(super) formerly: Vec<Spanned<String>>,
    /// The title in other languages, by language tag (`zh-CN`).
    pub(super) titles: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// The text in other languages, by language tag.
    pub(super) texts: Option<Spanned<std::collections::BTreeMap<String, String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: Option<Spanned<String>>,
    pub(super) clause: Spanned<String>,
    pub(super) when: Option<Spanned<String>>,
    pub(super) note: Option<String>,
    pub(super) allow: Option<Vec<Spanned<String>>>,
    pub(super) deny: Option<Vec<Spanned<String>>>,
    pub(super) set: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    pub(super) require: Option<Spanned<String>>,
    pub(super) label: Option<String>,
    #[serde(rename = "for")]
    pub(super) for_remedies: Option<Vec<Spanned<String>>>,
    pub(super) deadline: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) within: Option<Spanned<String>>,
    pub(super) flag: Option<Spanned<String>>,
    pub(super) notice: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWarranty {
    #[serde(default)]
    pub(super) start: Vec<Spanned<RawStart>>,
    #[serde(default)]
    pub(super) component: Vec<Spanned<RawComponent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStart {
    pub(super) clause: Spanned<String>,
    pub(super) basis: Spanned<String>,
    pub(super) from: Spanned<String>,
    pub(super) when: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComponent {
    pub(super) name: String,
    pub(super) classes: Vec<Spanned<String>>,
    pub(super) period: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub(super) covered: bool,
    pub(super) clause: Spanned<String>,
    pub(super) start: Option<Vec<Spanned<RawStart>>>,
}

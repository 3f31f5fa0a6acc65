//! The pages' languages: English and Simplified Chinese. Every text of a page is a field of
//! [`Texts`], grouped by the page that shows it: `t.common` for the layout and the texts
//! several pages show, `t.case` for what the pages of a case share (the customer's case page
//! and slip, the guided start's preview, the desk's case page), and one group per page or
//! family of pages (`t.landing`, `t.warranty`, `t.portal`, `t.start`, `t.desk`,
//! `t.desk_case`). Each group is a struct in a file of its own, with its English and Chinese
//! values beside it as struct literals that name every field, so a text missing in one
//! language is a compile error, not a blank on a page; [`EN`] and [`ZH_CN`] put the groups
//! together. A text belongs to the one page that shows it, or to `case` or `common` when
//! several do.
//!
//! The language is the one a `?lang=` link chose (kept in a cookie), else the browser's
//! `Accept-Language`, else English. Dates are written the way each language writes them.

mod case;
mod common;
mod desk;
mod desk_case;
mod landing;
mod portal;
mod start;
mod studio;
mod warranty;

pub use case::Case;
pub use common::Common;
pub use desk::Desk;
pub use desk_case::DeskCase;
pub use landing::Landing;
pub use portal::Portal;
pub use start::Start;
pub use studio::Studio;
pub use warranty::Warranty;

use axum::http::HeaderMap;
use axum::http::header;
use jiff::civil::Date;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

/// The cookie that keeps a language chosen with a link.
pub const COOKIE: &str = "aftercare_lang";

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s == "en" || s.starts_with("en-") {
            Some(Lang::En)
        } else if s == "zh" || s.starts_with("zh-") {
            Some(Lang::ZhCn)
        } else {
            None
        }
    }

    /// From a `?lang=` value, then the cookie, then `Accept-Language` (by its q-values).
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .and_then(Lang::parse);
        if let Some(l) = cookie {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let Some(l) = it.next().and_then(Lang::parse) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::ZhCn => &ZH_CN,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }

    /// What a warranty was counted from, in words (the policy language's `basis` values).
    pub fn basis(self, basis: &str) -> String {
        let words: &[(&str, &str, &str)] = &[
            ("invoice", "the invoice date", "发票日期"),
            ("purchase", "the purchase date", "购买日期"),
            ("shipment", "the shipping date", "发货日期"),
            ("delivery", "the delivery date", "签收日期"),
            ("serial", "the date in the serial number", "序列号中的日期"),
            ("registry", "the seller's records", "商家记录"),
        ];
        match words.iter().find(|(k, ..)| *k == basis) {
            Some((_, en, zh)) => match self {
                Lang::En => (*en).to_string(),
                Lang::ZhCn => (*zh).to_string(),
            },
            None => basis.to_string(),
        }
    }

    /// A case state in words.
    /// How a case was found by a search (`aftercare_app::search::Match`).
    pub fn found_by(self, matched: &str) -> String {
        let words: &[(&str, &str, &str)] = &[
            ("case", "case number", "售后单号"),
            ("authorisation", "authorisation number", "授权号"),
            ("order", "order number", "订单号"),
            ("serial", "serial", "序列号"),
            ("email", "e-mail", "邮箱"),
            ("name", "name", "姓名"),
            ("customer", "customer", "顾客"),
        ];
        match words.iter().find(|(k, ..)| *k == matched) {
            Some((_, en, zh)) => match self {
                Lang::En => (*en).to_string(),
                Lang::ZhCn => (*zh).to_string(),
            },
            None => matched.to_string(),
        }
    }

    pub fn state(self, state: &str) -> String {
        let words: &[(&str, &str, &str)] = &[
            ("draft", "Draft, not sent yet", "草稿，尚未提交"),
            ("submitted", "Sent, waiting for review", "已提交，等待审核"),
            ("needs_info", "More information needed", "需要补充信息"),
            (
                "approved",
                "Approved: please ship the item",
                "已批准：请寄出商品",
            ),
            ("rejected", "Not approved", "未获批准"),
            (
                "awaiting_device",
                "On its way to the service centre",
                "寄往服务中心途中",
            ),
            (
                "received",
                "Received, waiting for inspection",
                "已收到，等待检测",
            ),
            (
                "closed_not_received",
                "Closed: the item did not arrive",
                "已关闭：未收到商品",
            ),
            ("rejected_on_arrival", "Refused on arrival", "到货拒收"),
            ("inspecting", "Being inspected", "检测中"),
            ("refunding", "Refund under way", "退款处理中"),
            ("replacing", "Replacement under way", "换货处理中"),
            ("repairing", "Being repaired", "维修中"),
            (
                "awaiting_payment",
                "Quote sent: waiting for your answer",
                "已报价：等待您的答复",
            ),
            ("paid", "Quote paid", "报价已支付"),
            (
                "returned_unrepaired",
                "Returned without repair",
                "未维修退回",
            ),
            ("shipped_back", "Shipped back to you", "已寄回给您"),
            ("closed", "Closed", "已关闭"),
            ("cancelled", "Cancelled", "已取消"),
        ];
        match words.iter().find(|(k, ..)| *k == state) {
            Some((_, en, zh)) => match self {
                Lang::En => (*en).to_string(),
                Lang::ZhCn => (*zh).to_string(),
            },
            None => state.replace('_', " "),
        }
    }

    /// A fact the policy needs, in words: the schema's description in English; in Chinese
    /// for the facts a customer meets most (others keep the English words).
    pub fn fact(self, path: &str) -> String {
        let zh: &[(&str, &str)] = &[
            ("diagnosis.causes", "检测结果"),
            ("condition.complete", "商品、配件、包装及说明书是否齐全"),
            ("condition.activated", "是否已激活、开机或试用"),
            ("condition.packaging_opened", "包装是否已拆封"),
            ("condition.seal_broken", "封条是否已破损"),
            ("order.delivered", "签收日期"),
            ("order.distance", "是否为远程购买（网购）"),
            ("invoice.status", "购买凭证"),
            ("warranty_card.present", "保修卡"),
            ("evidence.photos", "照片"),
            ("problem.reported", "您反映的问题"),
            ("return.received", "服务中心收货日期"),
            ("quote.accepted", "是否同意付费维修"),
            ("buyer.original", "是否为原始购买人"),
        ];
        if self == Lang::ZhCn
            && let Some((_, w)) = zh.iter().find(|(k, _)| *k == path)
        {
            return (*w).to_string();
        }
        aftercare_policy::schema::fact_id(path)
            .map(|id| aftercare_policy::schema::fact(id).doc.to_string())
            .unwrap_or_else(|| path.to_string())
    }

    /// A customer's move, as its button says it.
    pub fn action(self, action: &str) -> Option<&'static str> {
        let t = self.texts();
        Some(match action {
            "submit" => t.portal.act_submit,
            "provide_info" => t.portal.act_provide_info,
            "device_shipped" => t.portal.act_device_shipped,
            "pay" => t.portal.act_pay,
            "decline_quote" => t.portal.act_decline_quote,
            "cancel" => t.portal.act_cancel,
            _ => return None,
        })
    }

    /// An event of a case as its customer reads it in the history; `None` for what is not
    /// an event to them (a re-decision).
    pub fn event(self, action: &str) -> Option<String> {
        if action == "decide" {
            return None;
        }
        Some(self.word(
            &[
                ("open", "Request opened", "申请已创建"),
                ("evidence", "Photo added", "已上传照片"),
                ("submit", "Request sent", "申请已提交"),
                ("request_info", "More information asked for", "要求补充信息"),
                ("provide_info", "Information added", "已补充信息"),
                ("approve", "Approved", "已批准"),
                ("reject", "Not approved", "未获批准"),
                ("device_shipped", "Item shipped", "商品已寄出"),
                ("receive", "Item received", "商品已收到"),
                (
                    "not_received",
                    "Closed: the item did not arrive",
                    "已关闭：未收到商品",
                ),
                ("reject_on_arrival", "Refused on arrival", "到货拒收"),
                ("inspect", "Inspected", "已检测"),
                ("quote", "Repair quote sent", "已发送维修报价"),
                ("pay", "Quote accepted and paid", "已接受并支付报价"),
                ("decline_quote", "Quote declined", "已拒绝报价"),
                ("expire_quote", "Quote expired", "报价已过期"),
                ("repair", "Repaired", "已维修"),
                ("replace", "Replaced", "已换货"),
                ("repair_report", "What the repair did", "维修结果已登记"),
                ("refund", "Refund made", "已退款"),
                ("refund_paid", "Refund paid out", "退款已到账"),
                ("return_unrepaired", "Returned without repair", "未维修退回"),
                ("ship_back", "Shipped back to you", "已寄回给您"),
                ("close", "Closed", "已关闭"),
                ("cancel", "Cancelled", "已取消"),
                (
                    "service_level_breached",
                    "Service time target passed",
                    "超出服务时限",
                ),
                (
                    "ship_by_reminder",
                    "Reminder: ship the item",
                    "提醒：请寄出商品",
                ),
                (
                    "quote_reminder",
                    "Reminder: answer the quote",
                    "提醒：请答复报价",
                ),
            ],
            action,
        ))
    }

    /// A staff move, as its button says it.
    pub fn staff_action(self, action: &str) -> String {
        self.word(
            &[
                ("submit", "Send for the customer", "代顾客提交"),
                ("request_info", "Ask for information", "要求补充信息"),
                ("provide_info", "Information received", "已收到补充信息"),
                ("approve", "Approve", "批准"),
                ("reject", "Reject", "拒绝"),
                ("device_shipped", "Customer has shipped it", "顾客已寄出"),
                ("receive", "Record receipt", "登记收货"),
                ("reject_on_arrival", "Refuse on arrival", "到货拒收"),
                ("inspect", "Save the inspection", "保存检测结果"),
                ("refund", "Refund", "退款"),
                ("replace", "Replaced", "已换货"),
                ("repair", "Repaired", "已维修"),
                ("quote", "Send the quote", "发送报价"),
                ("pay", "Quote paid", "报价已支付"),
                ("decline_quote", "Quote declined", "报价被拒绝"),
                ("return_unrepaired", "Return unrepaired", "未维修退回"),
                ("refund_paid", "Refund paid out", "退款已付"),
                ("ship_back", "Shipped back", "已寄回"),
                ("close", "Close", "关闭"),
                ("cancel", "Cancel", "取消"),
            ],
            action,
        )
    }

    /// A case kind in words.
    pub fn kind(self, kind: &str) -> String {
        let words: &[(&str, &str, &str)] = &[
            ("return", "Return", "退货"),
            ("delivery_damage", "Damaged in delivery", "运输损坏"),
            ("wrong_item", "Wrong item", "发错商品"),
            ("warranty_service", "Warranty service", "保修服务"),
            ("paid_repair", "Paid repair", "付费维修"),
            ("service_withdrawal", "Withdrawal", "撤回"),
        ];
        match words.iter().find(|(k, ..)| *k == kind) {
            Some((_, en, zh)) => match self {
                Lang::En => (*en).to_string(),
                Lang::ZhCn => (*zh).to_string(),
            },
            None => kind.replace('_', " "),
        }
    }

    /// One of a word table's entries in this language; the key itself when it has none.
    fn word(self, table: &[(&str, &str, &str)], key: &str) -> String {
        match table.iter().find(|(k, ..)| *k == key) {
            Some((_, en, zh)) => match self {
                Lang::En => (*en).to_string(),
                Lang::ZhCn => (*zh).to_string(),
            },
            None => key.replace('_', " "),
        }
    }

    /// A cause found at inspection, in words.
    pub fn cause(self, cause: &str) -> String {
        self.word(
            &[
                ("manufacturing", "Manufacturing fault", "制造缺陷"),
                ("no_fault", "No fault found", "未发现故障"),
                ("normal_wear", "Normal wear", "正常磨损"),
                ("drop", "Dropped", "跌落"),
                ("crush", "Crushed", "挤压"),
                ("liquid", "Liquid", "进液"),
                ("corrosion", "Corrosion", "腐蚀"),
                ("foreign_matter", "Foreign matter", "异物"),
                ("pests", "Pests", "虫害"),
                ("force_majeure", "Force majeure", "不可抗力"),
                ("improper_use", "Improper use", "使用不当"),
                ("improper_storage", "Improper storage", "保管不当"),
                ("unauthorised_repair", "Unauthorised repair", "非授权维修"),
                ("opened", "Opened", "被拆开"),
                ("labels_removed", "Labels removed", "标签被撕"),
                ("tampering", "Tampering", "被篡改"),
                ("incompatibility", "Incompatibility", "不兼容"),
                ("fixable_by_upgrade", "Fixed by an upgrade", "升级即可解决"),
                (
                    "firmware_not_installed",
                    "Firmware not installed",
                    "未安装固件",
                ),
                ("third_party_charger", "Third-party charger", "第三方充电器"),
                ("incorrect_power", "Incorrect power supply", "电源不当"),
                ("software", "Software", "软件问题"),
                ("transport", "Transport", "运输"),
                ("improper_packaging", "Improper packaging", "包装不当"),
                ("customer_damage", "Damage by the customer", "人为损坏"),
            ],
            cause,
        )
    }

    /// A service-level target of the reports, in words.
    pub fn target(self, target: &str) -> String {
        self.word(
            &[
                ("ship_by", "Sent by the last day to ship", "按期寄出"),
                ("arrive_by", "Device arrives in time", "设备按期寄达"),
                ("quote_pay_by", "Quote paid in time", "报价按期支付"),
                ("inspect_by", "Inspected in time", "按时检测"),
                ("repair_by", "Repaired in time", "按时维修"),
            ],
            target,
        )
    }

    /// A remedy in words.
    pub fn remedy(self, remedy: &str) -> String {
        self.word(
            &[
                ("return", "Return with refund", "退货退款"),
                ("withdrawal", "Withdrawal (cancel the purchase)", "撤销购买"),
                (
                    "replacement",
                    "Replacement with the same model",
                    "换同型号新品",
                ),
                ("free_repair", "Free repair", "免费维修"),
                (
                    "repair_or_replace",
                    "Repair or replacement, at your choice",
                    "维修或换货（由您选择）",
                ),
                (
                    "replace_after_repairs",
                    "Replacement after failed repairs",
                    "多次维修未果后换货",
                ),
                ("accessory_replacement", "Accessory replacement", "配件更换"),
                ("accessory_return", "Accessory return", "配件退货"),
                (
                    "paid_repair",
                    "Paid repair with a quote",
                    "付费维修（先报价）",
                ),
                (
                    "exchange",
                    "Exchange at the seller's discretion",
                    "由商家决定的换货",
                ),
                (
                    "wrong_item",
                    "Replacement or refund for a wrong item",
                    "发错商品的换货或退款",
                ),
                (
                    "delivery_damage",
                    "Replacement or refund for delivery damage",
                    "运输损坏的换货或退款",
                ),
            ],
            remedy,
        )
    }

    /// A deadline's name in words.
    pub fn deadline(self, name: &str) -> String {
        self.word(
            &[
                ("report_by", "Report the problem by", "请在此日期前反映问题"),
                ("ship_by", "Ship the item by", "请在此日期前寄出"),
                (
                    "arrive_by",
                    "The item must arrive by",
                    "商品须在此日期前送达",
                ),
                (
                    "send_back_by",
                    "Send the goods back by",
                    "请在此日期前寄回商品",
                ),
                ("refund_by", "Refund due by", "退款截止日期"),
                ("quote_pay_by", "Pay the quote by", "请在此日期前支付报价"),
                ("inspect_by", "Inspection due by", "检测截止日期"),
                ("repair_by", "Repair due by", "维修截止日期"),
            ],
            name,
        )
    }

    /// A kind of photo in words.
    pub fn photo(self, kind: &str) -> String {
        self.word(
            &[
                ("outer_box", "The outer shipping box", "外包装箱"),
                ("inner_box", "The inner product box", "内包装盒"),
                (
                    "packaging_damage",
                    "The damage to the packaging",
                    "包装破损处",
                ),
                ("product", "The product", "商品"),
                ("product_damage", "The damage to the product", "商品损坏处"),
                ("item_received", "The item you received", "收到的商品"),
                ("labels", "All labels and barcodes", "所有标签和条形码"),
            ],
            kind,
        )
    }

    /// Who pays, in words.
    pub fn party(self, party: Option<&str>) -> &'static str {
        let t = self.texts();
        match party {
            Some("customer") => t.case.party_customer,
            Some("seller") => t.case.party_seller,
            _ => t.case.party_unknown,
        }
    }

    /// Who pays, in words for staff.
    pub fn payer(self, party: Option<&str>) -> &'static str {
        match (self, party) {
            (Lang::En, Some("customer")) => "the customer",
            (Lang::ZhCn, Some("customer")) => "顾客",
            _ => self.party(party),
        }
    }

    /// A kind of request as the customer says it when starting one.
    pub fn kind_question(self, kind: &str) -> String {
        self.word(
            &[
                ("warranty_service", "It has a fault", "商品有故障"),
                ("return", "I want to return it", "我想退货"),
                ("delivery_damage", "It arrived damaged", "收到时已损坏"),
                ("wrong_item", "I received the wrong item", "收到的商品不对"),
            ],
            kind,
        )
    }

    /// What the guided start asks a customer about a fact, if a customer can say it.
    pub fn question(self, path: &str) -> Option<Question> {
        let (path, answer, en, zh) = QUESTIONS.iter().find(|(p, ..)| *p == path)?;
        Some(Question {
            path,
            text: match self {
                Lang::En => en,
                Lang::ZhCn => zh,
            },
            answer: *answer,
        })
    }

    /// A date as this language writes it: `5 March 2027`, `2027年3月5日`.
    pub fn date(self, d: Date) -> String {
        match self {
            Lang::En => d.strftime("%-d %B %Y").to_string(),
            Lang::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        }
    }
}

/// How a question is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    YesNo,
    Date,
}

/// A question the guided start asks about one fact.
#[derive(Clone, Copy, Debug)]
pub struct Question {
    pub path: &'static str,
    pub text: &'static str,
    pub answer: Answer,
}

/// The facts a customer can tell, with the question that asks for each: only facts whose
/// source is the customer (`policy facts`). What the records say (an invoice, who bought it)
/// or staff establish (what inspection found, when the parcel arrived) is never asked.
pub static QUESTIONS: &[(&str, Answer, &str, &str)] = &[
    (
        "problem.discovered",
        Answer::Date,
        "When did you notice the problem?",
        "您是什么时候发现问题的？",
    ),
    (
        "condition.packaging_opened",
        Answer::YesNo,
        "Have you opened the packaging, even partly?",
        "您是否已拆开包装（包括部分拆开）？",
    ),
    (
        "condition.seal_broken",
        Answer::YesNo,
        "Is the seal or tamper-evident sticker broken, even partly?",
        "封条或防拆贴是否已破损（包括部分破损）？",
    ),
    (
        "condition.activated",
        Answer::YesNo,
        "Have you activated, set up, powered on or tried the device?",
        "您是否已激活、设置、开机或试用过设备？",
    ),
    (
        "condition.complete",
        Answer::YesNo,
        "Do you still have everything that came in the box: accessories, packaging, manuals?",
        "包装内的全部物品（配件、包装、说明书）是否齐全？",
    ),
    (
        "condition.gifts_returned",
        Answer::YesNo,
        "Will you send back any gifts that came with it?",
        "是否会一并退回赠品？",
    ),
    (
        "warranty_card.present",
        Answer::YesNo,
        "Do you have the warranty card?",
        "您是否有保修卡？",
    ),
    (
        "customer.keeps_parts",
        Answer::YesNo,
        "Do you want to keep any replaced parts?",
        "是否需要保留更换下来的零件？",
    ),
];

/// Every text of the pages, in one language, by the page that shows it.
#[derive(Debug)]
pub struct Texts {
    pub common: Common,
    pub case: Case,
    pub landing: Landing,
    pub warranty: Warranty,
    pub portal: Portal,
    pub start: Start,
    pub desk: Desk,
    pub desk_case: DeskCase,
    pub studio: Studio,
}

pub static EN: Texts = Texts {
    common: common::EN,
    case: case::EN,
    landing: landing::EN,
    warranty: warranty::EN,
    portal: portal::EN,
    start: start::EN,
    desk: desk::EN,
    desk_case: desk_case::EN,
    studio: studio::EN,
};

pub static ZH_CN: Texts = Texts {
    common: common::ZH_CN,
    case: case::ZH_CN,
    landing: landing::ZH_CN,
    warranty: warranty::ZH_CN,
    portal: portal::ZH_CN,
    start: start::ZH_CN,
    desk: desk::ZH_CN,
    desk_case: desk_case::ZH_CN,
    studio: studio::ZH_CN,
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_guided_start_asks_only_what_a_customer_may_state() {
        use aftercare_policy::schema::{Source, fact, fact_id};
        for (path, ..) in QUESTIONS {
            let def = fact_id(path).map(fact);
            assert!(
                def.is_some_and(|d| d.stated_by(Source::Customer)),
                "{path} is asked of customers but is not theirs to state"
            );
        }
    }

    #[test]
    fn the_language_comes_from_the_link_then_the_cookie_then_the_browser() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::choose(None, &h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-DE,zh-CN;q=0.8,en;q=0.5"),
        );
        assert_eq!(Lang::choose(None, &h), Lang::ZhCn);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("zh;q=0.3, en-GB;q=0.9"),
        );
        assert_eq!(Lang::choose(None, &h), Lang::En);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; aftercare_lang=zh-CN"),
        );
        assert_eq!(Lang::choose(None, &h), Lang::ZhCn);
        assert_eq!(Lang::choose(Some("en"), &h), Lang::En);
        assert_eq!(
            Lang::choose(Some("fr"), &h),
            Lang::ZhCn,
            "an unknown ?lang= is ignored"
        );
    }

    #[test]
    fn facts_are_named_in_words() {
        assert_eq!(Lang::En.fact("diagnosis.causes"), "what inspection found");
        assert_eq!(Lang::ZhCn.fact("diagnosis.causes"), "检测结果");
        assert_eq!(
            Lang::ZhCn.fact("history.failed_repairs"),
            "repairs of the same fault that did not cure it",
            "no Chinese yet: the English words, never the path"
        );
        assert_eq!(Lang::En.fact("no.such"), "no.such");
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        let d = jiff::civil::date(2027, 3, 5);
        assert_eq!(Lang::En.date(d), "5 March 2027");
        assert_eq!(Lang::ZhCn.date(d), "2027年3月5日");
    }

    /// Completeness in both languages is the compiler's; that every text is shown somewhere
    /// is this test's: each field of a group's file is read (`t.<group>.<field>`, or
    /// `….texts().<group>.<field>`) by a page, a template or a word table here.
    #[test]
    fn every_text_is_read_by_a_page() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = |sub: &str| {
            std::fs::read_dir(dir.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect::<Vec<_>>()
        };
        let mut readers = String::new();
        for p in files("src/pages").into_iter().chain(files("templates")) {
            readers.push_str(&std::fs::read_to_string(p).unwrap());
        }
        readers.push_str(include_str!("mod.rs"));
        let mut checked = 0;
        for p in files("src/pages/i18n") {
            let group = p.file_stem().unwrap().to_str().unwrap();
            if group == "mod" {
                continue;
            }
            let src = std::fs::read_to_string(&p).unwrap();
            let fields = src.lines().filter_map(|l| {
                let (field, _) = l
                    .trim()
                    .strip_prefix("pub ")?
                    .split_once(": &'static str")?;
                Some(field)
            });
            for field in fields {
                let read = format!(".{group}.{field}");
                let is_read = readers.match_indices(&read).any(|(i, _)| {
                    !readers[i + read.len()..]
                        .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                assert!(is_read, "no page reads t{read}");
                checked += 1;
            }
        }
        assert!(checked > 0, "no texts found in src/pages/i18n");
    }
}

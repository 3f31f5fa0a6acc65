//! The pages' languages: English and Simplified Chinese. Every text of a page is a field of
//! [`Texts`], so a text missing in one language is a compile error, not a blank on a page.
//! The language is the one a `?lang=` link chose (kept in a cookie), else the browser's
//! `Accept-Language`, else English. Dates are written the way each language writes them.

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
            "submit" => t.act_submit,
            "provide_info" => t.act_provide_info,
            "device_shipped" => t.act_device_shipped,
            "pay" => t.act_pay,
            "decline_quote" => t.act_decline_quote,
            "cancel" => t.act_cancel,
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
            Some("customer") => t.party_customer,
            Some("seller") => t.party_seller,
            _ => t.party_unknown,
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

/// Every text of the pages, in one language.
#[derive(Debug)]
pub struct Texts {
    pub lang_name: &'static str,
    pub skip_to_content: &'static str,
    pub nav_home: &'static str,
    pub nav_warranty: &'static str,
    pub nav_api: &'static str,
    pub landing_title: &'static str,
    pub landing_lead: &'static str,
    pub landing_check: &'static str,
    pub landing_check_text: &'static str,
    pub landing_api: &'static str,
    pub landing_api_text: &'static str,
    pub landing_demo: &'static str,
    pub landing_demo_text: &'static str,
    pub landing_demo_customer: &'static str,
    pub col_account: &'static str,
    pub col_role: &'static str,
    pub col_sellers: &'static str,
    pub warranty_title: &'static str,
    pub warranty_lead: &'static str,
    pub serial_label: &'static str,
    pub serial_hint: &'static str,
    pub check: &'static str,
    pub product: &'static str,
    pub policy: &'static str,
    pub as_of: &'static str,
    pub component: &'static str,
    pub status: &'static str,
    pub period: &'static str,
    pub basis: &'static str,
    pub clause: &'static str,
    pub covered_until: &'static str,
    pub ended_on: &'static str,
    pub not_covered: &'static str,
    pub not_started: &'static str,
    pub unknown_dates: &'static str,
    pub by_law: &'static str,
    pub by_seller: &'static str,
    pub this_item: &'static str,
    pub parts_title: &'static str,
    pub part_fitted: &'static str,
    pub replaces: &'static str,
    pub replaced_by: &'static str,
    pub no_such_serial: &'static str,
    pub bad_serial: &'static str,
    pub footer: &'static str,
    pub nav_portal: &'static str,
    pub portal_sign_in_title: &'static str,
    pub portal_sign_in_lead: &'static str,
    pub order_label: &'static str,
    pub email_label: &'static str,
    pub send_link: &'static str,
    pub link_sent: &'static str,
    pub sign_in_with_link: &'static str,
    pub sign_in: &'static str,
    pub link_invalid: &'static str,
    pub my_cases: &'static str,
    pub no_cases: &'static str,
    pub col_case: &'static str,
    pub col_kind: &'static str,
    pub col_state: &'static str,
    pub col_updated: &'static str,
    pub authorisation: &'static str,
    pub ship_by: &'static str,
    pub what_you_can_get: &'static str,
    pub still_needed: &'static str,
    pub deadlines: &'static str,
    pub history: &'static str,
    pub status_allowed: &'static str,
    pub status_denied: &'static str,
    pub status_pending: &'static str,
    pub decided_on: &'static str,
    pub sign_out: &'static str,
    pub nav_desk: &'static str,
    pub desk_sign_in_title: &'static str,
    pub password_label: &'static str,
    pub sign_in_failed: &'static str,
    pub sign_in_busy: &'static str,
    pub queue_title: &'static str,
    pub col_due: &'static str,
    pub col_order: &'static str,
    pub overdue: &'static str,
    pub target_missed: &'static str,
    pub at_risk: &'static str,
    pub no_deadline: &'static str,
    pub filter_any: &'static str,
    pub filter_apply: &'static str,
    pub desk_empty: &'static str,
    pub actions_title: &'static str,
    pub act_submit: &'static str,
    pub act_provide_info: &'static str,
    pub act_device_shipped: &'static str,
    pub act_pay: &'static str,
    pub act_decline_quote: &'static str,
    pub act_cancel: &'static str,
    pub changed_meanwhile: &'static str,
    pub start_title: &'static str,
    pub start_lead: &'static str,
    pub start_item: &'static str,
    pub start_kind: &'static str,
    pub start_next: &'static str,
    pub start_questions: &'static str,
    pub start_no_questions: &'static str,
    pub answer_yes: &'static str,
    pub answer_no: &'static str,
    pub answer_unknown: &'static str,
    pub description_label: &'static str,
    pub start_check: &'static str,
    pub start_open: &'static str,
    pub start_open_note: &'static str,
    pub preview_title: &'static str,
    pub the_document_says: &'static str,
    pub notices_title: &'static str,
    pub no_items: &'static str,
    pub start_new: &'static str,
    pub date_in_future: &'static str,
    pub reason_allowed: &'static str,
    pub reason_denied: &'static str,
    pub ordered_on: &'static str,
    pub photos_title: &'static str,
    pub photo_needed: &'static str,
    pub photo_received: &'static str,
    pub photo_upload: &'static str,
    pub photo_kind_label: &'static str,
    pub photo_file_label: &'static str,
    pub photo_added: &'static str,
    pub photo_refused: &'static str,
    pub photos_uploaded: &'static str,
    pub freight_title: &'static str,
    pub freight_to_seller: &'static str,
    pub freight_to_customer: &'static str,
    pub party_customer: &'static str,
    pub party_seller: &'static str,
    pub party_unknown: &'static str,
    pub ack_label: &'static str,
    pub held_submit: &'static str,
    pub held_ship: &'static str,
    pub slip_link: &'static str,
    pub slip_title: &'static str,
    pub slip_send_to: &'static str,
    pub slip_no_address: &'static str,
    pub slip_packing: &'static str,
    pub slip_print: &'static str,
    pub slip_qr: &'static str,
    pub slip_pack_original: &'static str,
    pub slip_pack_reference: &'static str,
    pub quote_title: &'static str,
    pub quote_total: &'static str,
    pub quote_pay_by: &'static str,
    pub not_offered: &'static str,
    pub once_provided: &'static str,
    pub desk_case_title: &'static str,
    pub col_customer: &'static str,
    pub opened_on: &'static str,
    pub decision_title: &'static str,
    pub decided_at: &'static str,
    pub changed_since: &'static str,
    pub nothing_changed: &'static str,
    pub first_decision: &'static str,
    pub flags_title: &'static str,
    pub refund_amount: &'static str,
    pub facts_title: &'static str,
    pub col_fact: &'static str,
    pub col_value: &'static str,
    pub evidence_title: &'static str,
    pub no_photos: &'static str,
    pub timeline_title: &'static str,
    pub col_when: &'static str,
    pub col_who: &'static str,
    pub col_what: &'static str,
    pub inspection_title: &'static str,
    pub inspection_causes: &'static str,
    pub inspection_condition: &'static str,
    pub preview_decision: &'static str,
    pub preview_button: &'static str,
    pub quote_builder: &'static str,
    pub quote_kind: &'static str,
    pub quote_part: &'static str,
    pub quote_labour: &'static str,
    pub quote_description: &'static str,
    pub quote_amount: &'static str,
    pub note_label: &'static str,
    pub authorisation_label: &'static str,
    pub arrival_title: &'static str,
    pub desk_done: &'static str,
    pub desk_refused: &'static str,
    pub back_to_queue: &'static str,
    pub col_seller: &'static str,
    pub next_page: &'static str,
    pub first_page: &'static str,
    pub your_description: &'static str,
    pub customer_description: &'static str,
    pub freight_back_to_customer: &'static str,
    pub refund_if_granted: &'static str,
    pub message_label: &'static str,
    pub repair_title: &'static str,
    pub repair_cured: &'static str,
    pub repair_parts: &'static str,
    pub repair_other_part: &'static str,
    pub repair_replacement_serial: &'static str,
    pub repair_save: &'static str,
    pub repairs_done: &'static str,
    pub repair_fixed: &'static str,
    pub repair_failed: &'static str,
    pub warranty_until: &'static str,
    pub exchanged_for: &'static str,
    pub parts_to_customer: &'static str,
}

pub static EN: Texts = Texts {
    lang_name: "English",
    skip_to_content: "Skip to content",
    nav_home: "Aftercare",
    nav_warranty: "Check a warranty",
    nav_api: "API",
    landing_title: "After-sales service that follows the seller's own document",
    landing_lead: "Each seller's warranty, return and repair document is an executable policy. \
        For any case, Aftercare decides what the customer can get and why, citing the document's own clauses, \
        and runs the case through its deadlines.",
    landing_check: "Check a warranty",
    landing_check_text: "Enter a serial number to see what is covered, until when, and by which clause.",
    landing_api: "JSON API",
    landing_api_text: "Integrations use the same functions over HTTP; the OpenAPI document describes every route.",
    landing_demo: "Demo accounts",
    landing_demo_text: "This server runs the demo. Staff sign in with these accounts and the password",
    landing_demo_customer: "A customer asks for a sign-in link with order number and e-mail:",
    col_account: "Account",
    col_role: "Role",
    col_sellers: "Sellers",
    warranty_title: "Check a warranty",
    warranty_lead: "What the seller's policy and the law cover for this item, and until when.",
    serial_label: "Serial number",
    serial_hint: "On the box, the invoice or the back of the device, for example IMA-DEMO-1.",
    check: "Check",
    product: "Product",
    policy: "Policy",
    as_of: "As of",
    component: "Coverage",
    status: "Status",
    period: "Period",
    basis: "Counted from",
    clause: "Clause",
    covered_until: "Covered until",
    ended_on: "Ended on",
    not_covered: "Not covered",
    not_started: "Not started yet",
    unknown_dates: "Dates not known",
    by_law: "by law",
    by_seller: "seller's warranty",
    this_item: "applies to this item",
    parts_title: "Parts fitted in repairs",
    part_fitted: "fitted on",
    replaces: "This unit replaced",
    replaced_by: "This unit was replaced by",
    no_such_serial: "No product has this serial number. Check it and try again.",
    bad_serial: "A serial number is 1 to 64 letters, digits, '-', '_', '.' or '/'.",
    footer: "Aftercare: open-source after-sales service.",
    nav_portal: "My cases",
    portal_sign_in_title: "Your after-sales cases",
    portal_sign_in_lead: "Give the order number and the e-mail address you ordered with: we send a sign-in link to that address.",
    order_label: "Order number",
    email_label: "E-mail address",
    send_link: "Send me a sign-in link",
    link_sent: "If this order was placed with this address, a sign-in link is on its way to it. It works once, for 30 minutes.",
    sign_in_with_link: "Sign in to see your cases",
    sign_in: "Sign in",
    link_invalid: "This sign-in link is unknown, used or expired: ask for a new one.",
    my_cases: "Your cases",
    no_cases: "You have no after-sales case yet.",
    col_case: "Case",
    col_kind: "Request",
    col_state: "Status",
    col_updated: "Last change",
    authorisation: "Authorisation number",
    ship_by: "Ship the item by",
    what_you_can_get: "What you can get",
    still_needed: "Still needed",
    deadlines: "Deadlines",
    history: "History",
    status_allowed: "yes",
    status_denied: "no",
    status_pending: "to be decided",
    decided_on: "decided on",
    sign_out: "Sign out",
    nav_desk: "Service desk",
    desk_sign_in_title: "Service desk: sign in",
    password_label: "Password",
    sign_in_failed: "The e-mail address or the password is not right, or there were too many tries: wait a few minutes.",
    sign_in_busy: "Too many people are signing in at this moment: try again in a few seconds.",
    queue_title: "Queue: nearest deadline first",
    col_due: "Next deadline",
    col_order: "Order",
    overdue: "overdue",
    target_missed: "service target missed",
    at_risk: "due within 24 hours",
    no_deadline: "none",
    filter_any: "any",
    filter_apply: "Filter",
    desk_empty: "Nothing in the queue.",
    actions_title: "What you can do now",
    act_submit: "Send the request",
    act_provide_info: "I have added the information",
    act_device_shipped: "I have shipped the item",
    act_pay: "Accept and pay the quote",
    act_decline_quote: "Decline the quote",
    act_cancel: "Cancel the request",
    changed_meanwhile: "The case changed while you were looking at it; here it is as it is now.",
    start_title: "Start a request",
    start_lead: "Choose the item and what happened. We ask only what this seller's policy needs, and show what you can get before anything is sent.",
    start_item: "Which item?",
    start_kind: "What happened?",
    start_next: "Next",
    start_questions: "A few questions from the seller's policy",
    start_no_questions: "The policy needs nothing more from you for now.",
    answer_yes: "Yes",
    answer_no: "No",
    answer_unknown: "Not sure",
    description_label: "Describe what happened",
    start_check: "Check again",
    start_open: "Open my request",
    start_open_note: "Nothing goes to the seller yet: next you add the photos the policy asks for, then send the request.",
    preview_title: "What you can get, if the answers are right",
    the_document_says: "The document says",
    notices_title: "Before you send anything",
    no_items: "There is no item on your orders to start a request for.",
    start_new: "Start a new request",
    date_in_future: "This date is after today.",
    reason_allowed: "allowed by",
    reason_denied: "not allowed by",
    ordered_on: "ordered",
    photos_title: "Photos the policy asks for",
    photo_needed: "still needed",
    photo_received: "received",
    photo_upload: "Upload",
    photo_kind_label: "What the photo shows",
    photo_file_label: "Photo (JPEG, PNG or WebP, up to 10 MB)",
    photo_added: "Photo received.",
    photo_refused: "This file was not accepted: send a JPEG, PNG or WebP photo of up to 10 MB.",
    photos_uploaded: "Your photos",
    freight_title: "Who pays the shipping",
    freight_to_seller: "Sending it to the service centre",
    freight_to_customer: "Sending it back to you",
    party_customer: "you",
    party_seller: "the seller",
    party_unknown: "not decided yet",
    ack_label: "I have erased the device and backed up its recovery phrase, PIN and passwords; I accept that the service centre may wipe it.",
    held_submit: "The request cannot be sent yet: the policy processes it only once everything under “Still needed” is there.",
    held_ship: "Tick the confirmation first: the device's data must be erased and backed up before you send it.",
    slip_link: "Print the return slip",
    slip_title: "Return slip",
    slip_send_to: "Send to",
    slip_no_address: "The seller has not given its service centre's address here: use the address in your approval e-mail.",
    slip_packing: "How to pack it",
    slip_print: "Print",
    slip_qr: "Scan at the service centre",
    slip_pack_original: "Use the original packaging if you still have it, and include every accessory.",
    slip_pack_reference: "Write the authorisation number on the parcel.",
    quote_title: "Repair quote",
    quote_total: "Total",
    quote_pay_by: "Pay by",
    not_offered: "not offered for this request",
    once_provided: "once you provide",
    desk_case_title: "Case",
    col_customer: "Customer",
    opened_on: "Opened",
    decision_title: "Decision",
    decided_at: "Decided",
    changed_since: "What changed since the previous decision",
    nothing_changed: "Nothing changed since the previous decision.",
    first_decision: "This is the case's first decision.",
    flags_title: "For staff",
    refund_amount: "Refund",
    facts_title: "Facts",
    col_fact: "Fact",
    col_value: "Value",
    evidence_title: "Evidence",
    no_photos: "No photos yet.",
    timeline_title: "Audit timeline",
    col_when: "When",
    col_who: "Who",
    col_what: "What",
    inspection_title: "Inspection",
    inspection_causes: "What inspection found",
    inspection_condition: "Condition",
    preview_decision: "Decided with these findings (not saved yet)",
    preview_button: "Preview the decision",
    quote_builder: "Quote",
    quote_kind: "Kind",
    quote_part: "Part",
    quote_labour: "Labour",
    quote_description: "Description",
    quote_amount: "Amount",
    note_label: "Note (kept in the audit timeline)",
    authorisation_label: "Authorisation number (default RA-<case number>)",
    arrival_title: "On arrival",
    desk_done: "Done.",
    desk_refused: "The policy holds this step back",
    back_to_queue: "Queue",
    col_seller: "Seller",
    next_page: "Next page",
    first_page: "First page",
    your_description: "What you told us",
    customer_description: "The customer's description",
    freight_back_to_customer: "Sending it back to the customer",
    refund_if_granted: "Refund, if one is granted",
    message_label: "Message to the customer (shown on their case page)",
    repair_title: "Repair report",
    repair_cured: "Is the fault cured?",
    repair_parts: "Parts replaced",
    repair_other_part: "Another part (its name)",
    repair_replacement_serial: "Serial of the unit given in exchange",
    repair_save: "Record the repair",
    repairs_done: "Repairs",
    repair_fixed: "cured",
    repair_failed: "not cured (counts as a failed repair)",
    warranty_until: "warranty until",
    exchanged_for: "exchanged for unit",
    parts_to_customer: "Replaced parts are packed for the customer, who asked to keep them.",
};

pub static ZH_CN: Texts = Texts {
    lang_name: "中文",
    skip_to_content: "跳到正文",
    nav_home: "Aftercare 售后",
    nav_warranty: "查询保修",
    nav_api: "接口",
    landing_title: "按商家自己的售后条款办理的售后服务",
    landing_lead: "每个商家的保修、退货和维修条款都是可执行的政策。对每一个售后单，Aftercare 判断顾客能得到什么以及为什么，\
        引用条款原文的编号，并按期限推进整个流程。",
    landing_check: "查询保修",
    landing_check_text: "输入序列号，查看保修范围、截止日期和依据的条款。",
    landing_api: "JSON 接口",
    landing_api_text: "系统集成通过 HTTP 调用同样的功能；OpenAPI 文档描述了每个接口。",
    landing_demo: "演示账号",
    landing_demo_text: "本服务器运行的是演示数据。员工可用以下账号登录，密码为",
    landing_demo_customer: "顾客凭订单号和电子邮箱申请登录链接：",
    col_account: "账号",
    col_role: "角色",
    col_sellers: "商家",
    warranty_title: "查询保修",
    warranty_lead: "商家政策和法律对这件商品的保障范围及截止日期。",
    serial_label: "序列号",
    serial_hint: "见包装盒、发票或设备背面，例如 IMA-DEMO-1。",
    check: "查询",
    product: "产品",
    policy: "政策",
    as_of: "查询日期",
    component: "保障项目",
    status: "状态",
    period: "期间",
    basis: "起算依据",
    clause: "条款",
    covered_until: "保修至",
    ended_on: "已于以下日期到期",
    not_covered: "不在保障范围内",
    not_started: "尚未开始",
    unknown_dates: "日期未知",
    by_law: "法定",
    by_seller: "商家保修",
    this_item: "适用于本商品",
    parts_title: "维修中更换的零件",
    part_fitted: "更换日期",
    replaces: "本机替换了",
    replaced_by: "本机已被替换为",
    no_such_serial: "没有产品使用这个序列号，请核对后重试。",
    bad_serial: "序列号为 1 至 64 个字母、数字或 '-'、'_'、'.'、'/'。",
    footer: "Aftercare：开源售后服务系统。",
    nav_portal: "我的售后",
    portal_sign_in_title: "您的售后单",
    portal_sign_in_lead: "请输入订单号和下单时使用的电子邮箱，我们会向该邮箱发送登录链接。",
    order_label: "订单号",
    email_label: "电子邮箱",
    send_link: "发送登录链接",
    link_sent: "如果该订单使用的是此邮箱，登录链接已发送。链接仅可使用一次，30 分钟内有效。",
    sign_in_with_link: "登录查看您的售后单",
    sign_in: "登录",
    link_invalid: "该登录链接无效、已使用或已过期，请重新申请。",
    my_cases: "您的售后单",
    no_cases: "您还没有售后单。",
    col_case: "售后单",
    col_kind: "类型",
    col_state: "状态",
    col_updated: "最近更新",
    authorisation: "授权号",
    ship_by: "请在此日期前寄出",
    what_you_can_get: "您可以获得",
    still_needed: "仍需提供",
    deadlines: "期限",
    history: "处理记录",
    status_allowed: "可以",
    status_denied: "不可以",
    status_pending: "待定",
    decided_on: "取决于",
    sign_out: "退出登录",
    nav_desk: "服务台",
    desk_sign_in_title: "服务台登录",
    password_label: "密码",
    sign_in_failed: "邮箱或密码不正确，或尝试次数过多，请稍候再试。",
    sign_in_busy: "当前登录的人数过多，请几秒钟后再试。",
    queue_title: "待办：按最近期限排序",
    col_due: "下一个期限",
    col_order: "订单",
    overdue: "已逾期",
    target_missed: "已超出服务时限",
    at_risk: "24 小时内到期",
    no_deadline: "无",
    filter_any: "全部",
    filter_apply: "筛选",
    desk_empty: "待办为空。",
    actions_title: "您现在可以",
    act_submit: "提交申请",
    act_provide_info: "我已补充信息",
    act_device_shipped: "我已寄出商品",
    act_pay: "接受并支付报价",
    act_decline_quote: "拒绝报价",
    act_cancel: "取消申请",
    changed_meanwhile: "在您查看期间售后单已有变化，以下是最新状态。",
    start_title: "发起售后申请",
    start_lead: "请选择商品和遇到的情况。我们只询问该商家政策需要的信息，并在提交前告诉您可以获得什么。",
    start_item: "哪件商品？",
    start_kind: "发生了什么？",
    start_next: "下一步",
    start_questions: "商家政策需要了解的几个问题",
    start_no_questions: "目前政策不需要您提供更多信息。",
    answer_yes: "是",
    answer_no: "否",
    answer_unknown: "不确定",
    description_label: "请描述发生的情况",
    start_check: "重新查看",
    start_open: "创建申请",
    start_open_note: "此时还不会提交给商家：接下来请上传政策要求的照片，然后提交申请。",
    preview_title: "如果以上回答属实，您可以获得",
    the_document_says: "条款原文",
    notices_title: "寄出前请注意",
    no_items: "您的订单中没有可以申请售后的商品。",
    start_new: "发起新的申请",
    date_in_future: "该日期晚于今天。",
    reason_allowed: "依据",
    reason_denied: "不符合",
    ordered_on: "下单日期",
    photos_title: "政策要求的照片",
    photo_needed: "仍需上传",
    photo_received: "已收到",
    photo_upload: "上传",
    photo_kind_label: "照片内容",
    photo_file_label: "照片（JPEG、PNG 或 WebP，最大 10 MB）",
    photo_added: "照片已收到。",
    photo_refused: "文件未被接受：请上传不超过 10 MB 的 JPEG、PNG 或 WebP 照片。",
    photos_uploaded: "您上传的照片",
    freight_title: "运费由谁承担",
    freight_to_seller: "寄往服务中心",
    freight_to_customer: "寄回给您",
    party_customer: "您",
    party_seller: "商家",
    party_unknown: "尚未确定",
    ack_label: "我已清除设备数据，并备份了助记词、PIN 码和密码；我同意服务中心可能清除设备数据。",
    held_submit: "暂时无法提交：请先提供“仍需提供”中列出的全部内容。",
    held_ship: "请先勾选确认：寄出前必须清除并备份设备数据。",
    slip_link: "打印退货单",
    slip_title: "退货单",
    slip_send_to: "寄送至",
    slip_no_address: "商家未在此提供服务中心地址，请使用批准邮件中的地址。",
    slip_packing: "包装要求",
    slip_print: "打印",
    slip_qr: "服务中心扫码",
    slip_pack_original: "请尽量使用原包装，并放入全部配件。",
    slip_pack_reference: "请在包裹上写明授权号。",
    quote_title: "维修报价",
    quote_total: "合计",
    quote_pay_by: "请在此日期前支付",
    not_offered: "本申请不适用",
    once_provided: "请先提供",
    desk_case_title: "售后单",
    col_customer: "顾客",
    opened_on: "创建日期",
    decision_title: "判定",
    decided_at: "判定时间",
    changed_since: "与上次判定相比的变化",
    nothing_changed: "与上次判定相比没有变化。",
    first_decision: "这是该售后单的第一次判定。",
    flags_title: "员工注意事项",
    refund_amount: "退款",
    facts_title: "事实",
    col_fact: "事实",
    col_value: "值",
    evidence_title: "证据照片",
    no_photos: "暂无照片。",
    timeline_title: "审计记录",
    col_when: "时间",
    col_who: "操作人",
    col_what: "操作",
    inspection_title: "检测",
    inspection_causes: "检测结果",
    inspection_condition: "状况",
    preview_decision: "按以上检测结果的判定（尚未保存）",
    preview_button: "预览判定",
    quote_builder: "报价",
    quote_kind: "类型",
    quote_part: "零件",
    quote_labour: "工时",
    quote_description: "说明",
    quote_amount: "金额",
    note_label: "备注（记入审计记录）",
    authorisation_label: "授权号（默认 RA-<售后单号>）",
    arrival_title: "到货情况",
    desk_done: "已完成。",
    desk_refused: "政策暂不允许此操作",
    back_to_queue: "待办",
    col_seller: "商家",
    next_page: "下一页",
    first_page: "第一页",
    your_description: "您的描述",
    customer_description: "顾客的描述",
    freight_back_to_customer: "寄回给顾客",
    refund_if_granted: "退款金额（如获批准）",
    message_label: "给顾客的留言（显示在其售后单页面）",
    repair_title: "维修报告",
    repair_cured: "故障是否已排除？",
    repair_parts: "更换的零件",
    repair_other_part: "其他零件（名称）",
    repair_replacement_serial: "换货单元的序列号",
    repair_save: "登记维修结果",
    repairs_done: "维修记录",
    repair_fixed: "已修复",
    repair_failed: "未修复（计为一次维修失败）",
    warranty_until: "保修至",
    exchanged_for: "换为单元",
    parts_to_customer: "顾客要求保留更换下来的零件，已随商品一并包装。",
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
}

//! The customers' e-mails in English and Simplified Chinese. A customer reads them in the
//! language they last used the portal in; before that, in Chinese when they live in mainland
//! China or Singapore, else in English. Every text of every e-mail is here, in both languages.

use aftercare_policy::value::Money;
use jiff::civil::Date;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailLang {
    En,
    ZhCn,
}

impl MailLang {
    /// `en` or `zh-CN` (as the portal names them), else none.
    pub fn parse(tag: &str) -> Option<MailLang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "en" || t.starts_with("en-") {
            Some(MailLang::En)
        } else if t == "zh" || t.starts_with("zh-") {
            Some(MailLang::ZhCn)
        } else {
            None
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            MailLang::En => "en",
            MailLang::ZhCn => "zh-CN",
        }
    }

    /// The stored choice, else the country's usual language.
    pub fn of(stored: Option<&str>, country: Option<&str>) -> MailLang {
        stored.and_then(MailLang::parse).unwrap_or(match country {
            Some("CN" | "SG") => MailLang::ZhCn,
            _ => MailLang::En,
        })
    }

    pub fn date(self, d: Date) -> String {
        match self {
            MailLang::En => d.strftime("%-d %B %Y").to_string(),
            MailLang::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        }
    }

    /// A case's name in a subject: its authorisation number, else its number.
    pub fn reference(self, authorisation: Option<&str>, id: i64) -> String {
        match (authorisation, self) {
            (Some(a), _) => a.to_string(),
            (None, MailLang::En) => format!("case {id}"),
            (None, MailLang::ZhCn) => format!("售后单 {id}"),
        }
    }

    /// "the date on your case page", for a date not set.
    pub fn see_page(self) -> &'static str {
        match self {
            MailLang::En => "the date on your case page",
            MailLang::ZhCn => "售后单页面上的日期",
        }
    }

    pub fn sign_in_link(self, order_no: &str, minutes: i64, link: &str) -> (String, String) {
        match self {
            MailLang::En => (
                "Your sign-in link".into(),
                format!(
                    "Hello,\n\nSomeone (we hope you) asked to see the after-sales cases of order {order_no}.\n\
                     Open this link within {minutes} minutes to sign in; it works once:\n\n  {link}\n\n\
                     If you did not ask, ignore this message: nothing happens without the link.\n"
                ),
            ),
            MailLang::ZhCn => (
                "您的登录链接".into(),
                format!(
                    "您好：\n\n有人（希望是您本人）申请查看订单 {order_no} 的售后单。\n\
                     请在 {minutes} 分钟内打开以下链接登录，链接仅可使用一次：\n\n  {link}\n\n\
                     如果不是您本人申请，请忽略本邮件：没有链接，什么也不会发生。\n"
                ),
            ),
        }
    }
}

/// What a case e-mail says: its event's facts.
#[derive(Debug)]
pub struct CaseMail<'a> {
    pub reference: &'a str,
    pub policy: &'a str,
    /// The ship-by date as the language writes it, when the case has one.
    pub ship_by: Option<&'a str>,
    /// The open quote's amount and its last day to pay, as the language writes it.
    pub quote: Option<(Money, Option<String>)>,
}

/// The subject and body of the e-mail a case event sends its customer, if it sends one.
pub fn case_mail(lang: MailLang, event: &str, m: &CaseMail<'_>) -> Option<(String, String)> {
    let (r, policy) = (m.reference, m.policy);
    let ship_by = m.ship_by.unwrap_or_else(|| lang.see_page());
    let amount = |zh: bool| {
        m.quote.as_ref().map_or_else(
            || {
                if zh {
                    "（见售后单页面）".to_string()
                } else {
                    "(see your case page)".to_string()
                }
            },
            |(a, _)| a.to_string(),
        )
    };
    let pay_by = m.quote.as_ref().and_then(|(_, d)| d.clone());
    Some(match (lang, event) {
        // A policy without a ship-by date gets no date it does not set.
        (MailLang::En, "approve") => {
            let (subject, ship) = match m.ship_by {
                Some(d) => (
                    format!("{r}: approved; please ship by {d}"),
                    format!("Please ship the item by {d}"),
                ),
                None => (
                    format!("{r}: approved; please ship the item"),
                    "Please ship the item".to_string(),
                ),
            };
            (
                subject,
                format!(
                    "Your after-sales request {r} ({policy}) is approved.\n\n\
                     {ship}, with the authorisation number {r} on the parcel.\n\
                     Your case page shows the service address, who pays the freight and how to pack.\n"
                ),
            )
        }
        (MailLang::ZhCn, "approve") => {
            let (subject, ship) = match m.ship_by {
                Some(d) => (
                    format!("{r}：已批准，请于{d}前寄出"),
                    format!("请于{d}前寄出商品"),
                ),
                None => (format!("{r}：已批准，请寄出商品"), "请寄出商品".to_string()),
            };
            (
                subject,
                format!(
                    "您的售后申请 {r}（{policy}）已获批准。\n\n\
                     {ship}，并在包裹上注明授权号 {r}。\n\
                     售后单页面列有服务地址、运费承担方和包装要求。\n"
                ),
            )
        }
        (MailLang::En, "reject_on_arrival") => (
            format!("{r}: your parcel was refused on arrival"),
            format!(
                "The parcel for {r} reached the service centre damaged or soaked, and {policy} has it \
                 refused rather than repaired. It is sent back to you as it arrived.\n\n\
                 If the carrier damaged it, make your claim with the carrier. Your case page shows the \
                 clause and what the service centre wrote.\n"
            ),
        ),
        (MailLang::ZhCn, "reject_on_arrival") => (
            format!("{r}：包裹到货拒收"),
            format!(
                "{r} 的包裹到达服务中心时已破损或浸湿，按《{policy}》的规定予以拒收、不予维修，\
                 将按原样退回给您。\n\n如为承运商造成的损坏，请向承运商索赔。售后单页面列有所依据的条款\
                 及服务中心的说明。\n"
            ),
        ),
        (MailLang::En, "reject") => (
            format!("{r}: not approved"),
            format!(
                "Your after-sales request {r} was not approved. Your case page shows why, citing the clauses of {policy}.\n"
            ),
        ),
        (MailLang::ZhCn, "reject") => (
            format!("{r}：未获批准"),
            format!(
                "您的售后申请 {r} 未获批准。售后单页面列出了原因及所依据的《{policy}》条款。\n"
            ),
        ),
        (MailLang::En, "quote") => {
            let by = pay_by.map_or_else(String::new, |d| {
                format!(
                    " Please accept and pay it by {d}; after that the item is returned unrepaired."
                )
            });
            let a = amount(false);
            (
                format!("{r}: repair quote {a}"),
                format!(
                    "The repair of {r} is not covered free of charge, and we quote {a}.{by}\n\n\
                     Accept or decline it on your case page.\n"
                ),
            )
        }
        (MailLang::ZhCn, "quote") => {
            let by = pay_by.map_or_else(String::new, |d| {
                format!("请于{d}前接受并付款，逾期商品将不经维修退回。")
            });
            let a = amount(true);
            (
                format!("{r}：维修报价 {a}"),
                format!(
                    "{r} 的维修不在免费范围内，报价 {a}。{by}\n\n请在售后单页面接受或拒绝报价。\n"
                ),
            )
        }
        (MailLang::En, "quote_reminder") => {
            let by = pay_by.unwrap_or_else(|| lang.see_page().into());
            (
                format!("{r}: the repair quote expires on {by}"),
                format!(
                    "A reminder: the repair quote for {r} must be accepted and paid by {by}; \
                     after that the item is returned unrepaired. Accept or decline it on your case page.\n"
                ),
            )
        }
        (MailLang::ZhCn, "quote_reminder") => {
            let by = pay_by.unwrap_or_else(|| lang.see_page().into());
            (
                format!("{r}：维修报价将于{by}到期"),
                format!(
                    "提醒：{r} 的维修报价须于{by}前接受并付款，逾期商品将不经维修退回。请在售后单页面接受或拒绝报价。\n"
                ),
            )
        }
        (MailLang::En, "ship_by_reminder") => (
            format!("{r}: last day to ship is {ship_by}"),
            format!(
                "A reminder: the item for {r} must be shipped by {ship_by}, or the request closes.\n"
            ),
        ),
        (MailLang::ZhCn, "ship_by_reminder") => (
            format!("{r}：最晚寄出日期为{ship_by}"),
            format!("提醒：{r} 的商品须于{ship_by}前寄出，否则申请将被关闭。\n"),
        ),
        (MailLang::En, "expire_quote") => (
            format!("{r}: the quote expired"),
            format!(
                "The repair quote for {r} was not paid in time; the item is returned unrepaired.\n"
            ),
        ),
        (MailLang::ZhCn, "expire_quote") => (
            format!("{r}：报价已过期"),
            format!("{r} 的维修报价未按时支付，商品将不经维修退回。\n"),
        ),
        (MailLang::En, "not_received") => (
            format!("{r}: closed, the item did not arrive"),
            format!(
                "We did not receive the item for {r} in time, so the request is closed. Contact us if you shipped it.\n"
            ),
        ),
        (MailLang::ZhCn, "not_received") => (
            format!("{r}：已关闭，未收到商品"),
            format!("我们未能按时收到 {r} 的商品，申请已关闭。如您已寄出，请与我们联系。\n"),
        ),
        (MailLang::En, "ship_back") => (
            format!("{r}: your item is on its way back"),
            format!("The item for {r} has been shipped back to you.\n"),
        ),
        (MailLang::ZhCn, "ship_back") => (
            format!("{r}：商品已寄回"),
            format!("{r} 的商品已寄回给您。\n"),
        ),
        (MailLang::En, "close") => (
            format!("{r}: closed"),
            format!("Your after-sales request {r} is closed. Thank you.\n"),
        ),
        (MailLang::ZhCn, "close") => (
            format!("{r}：已关闭"),
            format!("您的售后申请 {r} 已关闭，谢谢。\n"),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_without_a_ship_by_date_invents_none() {
        for lang in [MailLang::En, MailLang::ZhCn] {
            let m = CaseMail {
                reference: "RA-000001",
                policy: "IMASK",
                ship_by: None,
                quote: None,
            };
            let (subject, body) = case_mail(lang, "approve", &m).unwrap_or_default();
            assert!(!subject.contains(lang.see_page()), "{subject}");
            assert!(!body.contains(lang.see_page()), "{body}");
            let dated = CaseMail {
                ship_by: Some("12 March 2024"),
                ..m
            };
            let (subject, _) = case_mail(lang, "approve", &dated).unwrap_or_default();
            assert!(subject.contains("12 March 2024"), "{subject}");
        }
    }

    #[test]
    fn every_case_e_mail_is_written_in_both_languages() {
        let m = CaseMail {
            reference: "RA-000001",
            policy: "IMASK",
            ship_by: Some("x"),
            quote: None,
        };
        for event in [
            "approve",
            "reject",
            "reject_on_arrival",
            "quote",
            "quote_reminder",
            "ship_by_reminder",
            "expire_quote",
            "not_received",
            "ship_back",
            "close",
        ] {
            let en = case_mail(MailLang::En, event, &m).unwrap();
            let zh = case_mail(MailLang::ZhCn, event, &m).unwrap();
            assert_ne!(en, zh, "{event}");
            assert!(
                zh.0.contains("RA-000001") && zh.1.contains("RA-000001"),
                "{event}"
            );
            assert!(
                zh.1.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{event}: {zh:?}"
            );
        }
        assert!(case_mail(MailLang::En, "submit", &m).is_none());
    }

    #[test]
    fn the_language_is_the_customers_choice_else_their_countrys() {
        assert_eq!(MailLang::of(Some("en"), Some("CN")), MailLang::En);
        assert_eq!(MailLang::of(None, Some("CN")), MailLang::ZhCn);
        assert_eq!(MailLang::of(Some("fr"), Some("DE")), MailLang::En);
        assert_eq!(
            MailLang::ZhCn.date(jiff::civil::date(2027, 2, 28)),
            "2027年2月28日"
        );
    }
}

/// The landing page (`GET /`): what Aftercare is, the ways in, a demo server's accounts.
#[derive(Debug)]
pub struct Landing {
    pub title: &'static str,
    pub lead: &'static str,
    pub check: &'static str,
    pub check_text: &'static str,
    pub api: &'static str,
    pub api_text: &'static str,
    pub demo: &'static str,
    pub demo_text: &'static str,
    pub demo_customer: &'static str,
    pub col_account: &'static str,
    pub col_role: &'static str,
    pub col_sellers: &'static str,
}

pub(super) const EN: Landing = Landing {
    title: "After-sales service that follows the seller's own document",
    lead: "Each seller's warranty, return and repair document is an executable policy. \
        For any case, Aftercare decides what the customer can get and why, citing the document's own clauses, \
        and runs the case through its deadlines.",
    check: "Check a warranty",
    check_text: "Enter a serial number to see what is covered, until when, and by which clause.",
    api: "JSON API",
    api_text: "Integrations use the same functions over HTTP; the OpenAPI document describes every route.",
    demo: "Demo accounts",
    demo_text: "This server runs the demo. Staff sign in with these accounts and the password",
    demo_customer: "A customer asks for a sign-in link with order number and e-mail:",
    col_account: "Account",
    col_role: "Role",
    col_sellers: "Sellers",
};

pub(super) const ZH_CN: Landing = Landing {
    title: "按商家自己的售后条款办理的售后服务",
    lead: "每个商家的保修、退货和维修条款都是可执行的政策。对每一个售后单，Aftercare 判断顾客能得到什么以及为什么，\
        引用条款原文的编号，并按期限推进整个流程。",
    check: "查询保修",
    check_text: "输入序列号，查看保修范围、截止日期和依据的条款。",
    api: "JSON 接口",
    api_text: "系统集成通过 HTTP 调用同样的功能；OpenAPI 文档描述了每个接口。",
    demo: "演示账号",
    demo_text: "本服务器运行的是演示数据。员工可用以下账号登录，密码为",
    demo_customer: "顾客凭订单号和电子邮箱申请登录链接：",
    col_account: "账号",
    col_role: "角色",
    col_sellers: "商家",
};

-- Which seller policy applies to a SKU for buyers in a given country, where it differs from
-- the SKU's default (`skus.policy_id`).
CREATE TABLE sku_policies (
    sku TEXT NOT NULL REFERENCES skus (code),
    country TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    PRIMARY KEY (sku, country)
);

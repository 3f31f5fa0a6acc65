-- Staff find a case by order number, or by the customer's e-mail or name (issue 21): each by an
-- index, within the caller's sellers. Case ids, authorisation numbers and serials have theirs.
CREATE INDEX cases_by_order ON cases (order_no);
CREATE INDEX customers_by_email ON customers (lower(email));
-- Names are found by the start of the name, lower-cased: `LIKE 'start%'`, which needs the
-- pattern operator class under the database's collation.
CREATE INDEX customers_by_name ON customers (lower(name) text_pattern_ops);

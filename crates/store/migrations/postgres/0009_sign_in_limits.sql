-- A sign-in counts as failed from the moment the throttle lets it through until its password
-- proves right: `attempt` names the rows a success takes back. Failures older than the
-- longest window go, by `at`.
ALTER TABLE sign_in_failures ADD COLUMN attempt TEXT;
CREATE INDEX sign_in_failures_by_at ON sign_in_failures (at);

-- The links a customer asked for lately (a few per quarter of an hour), and all of a customer's
-- links when they are erased.
CREATE INDEX sign_in_links_by_customer ON sign_in_links (customer_id, created_at);

-- What-if (issue 20) counts a policy's recorded decisions since a date before it reads them by
-- ranges of ids: this index answers the count without reading the decisions' facts.
CREATE INDEX decisions_by_policy ON decisions (policy_id, decided_at);

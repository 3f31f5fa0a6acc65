-- The customer's own words about a case ("the screen flickers after a drop"): shown to staff,
-- kept out of the audit chain so erasing the customer can remove them.
ALTER TABLE cases ADD COLUMN description TEXT;

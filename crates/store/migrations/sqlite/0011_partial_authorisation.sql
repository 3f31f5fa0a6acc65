-- An authorisation number names one case; a case without one (every draft, every case not yet
-- approved) is left out of the index, so opening a case writes one index page fewer. Look-ups
-- by number (`authorisation = ?`) still use it: the condition implies the number is there.
DROP INDEX cases_by_authorisation;
CREATE UNIQUE INDEX cases_by_authorisation ON cases (authorisation) WHERE authorisation IS NOT NULL;

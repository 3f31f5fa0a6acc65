-- A decision's summary is its whole explanation: about 21 kB of JSON for an IMASK case, kept
-- for every decision. PostgreSQL compresses such a value before it stores it, with pglz by
-- default: under load the insert took 1.3 ms, the costliest statement of a move.
-- LZ4 compresses several times faster. New rows use it; rows already stored keep pglz and
-- read as before. A server built without LZ4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE decisions ALTER COLUMN summary SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL has no lz4: decisions stay compressed with pglz';
END $$;

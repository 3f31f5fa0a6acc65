-- PostgreSQL only (it compresses a decision's summary with LZ4 from now on); SQLite stores
-- text as it is. The version is kept in step with PostgreSQL's.
SELECT 1;

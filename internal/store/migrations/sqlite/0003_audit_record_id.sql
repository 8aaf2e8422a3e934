-- Audit records carry the ID the audit log gave them, so a batch retried
-- after an unclear failure (the commit landed but its answer was lost)
-- is stored once.
ALTER TABLE audit_records ADD COLUMN record_id TEXT;
CREATE UNIQUE INDEX audit_records_record_id_idx ON audit_records (record_id) WHERE record_id IS NOT NULL;

-- 0001-init.sql — facturo's first schema, for SQLite and PostgreSQL.
--
-- Portable DDL; lines "-- @sqlite", "-- @pg" and "-- @both" switch which
-- backend runs the statements that follow.  Every key leads with
-- tenant_id (DESIGN invariant 5) so the schema can be distributed by
-- tenant; the two deliberate cross-tenant lookups are api_keys.prefix
-- (a bearer key names no tenant) and the job claim index.  Money columns
-- are BIGINT micros (millionths of the currency unit).  Times are BIGINT
-- UTC seconds.  Ids come from one sequence (facturo_ids).  Byte strings
-- are BYTEA (in SQLite that name gives NUMERIC affinity, which stores
-- BLOB values unchanged).

-- @sqlite
-- One row: the last id handed out (UPDATE … RETURNING under the write lock).
CREATE TABLE facturo_ids (one INTEGER PRIMARY KEY CHECK (one = 1),
                          value BIGINT NOT NULL);
INSERT INTO facturo_ids VALUES (1, 0);
-- @pg
CREATE SEQUENCE facturo_ids;
-- @both

-- Merchants.  csd_key_box/csd_pw_box: libsodium secretbox (nonce || box)
-- under the master key; csd_cer is public.  chain_head: chain_hash of the
-- newest invoice (tamper-evident chain, invariant 4).
CREATE TABLE tenants (
  id BIGINT NOT NULL PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  rfc TEXT NOT NULL,
  name TEXT NOT NULL,
  regime TEXT NOT NULL,
  zip TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT 'America/Mexico_City',
  window_days INTEGER NOT NULL DEFAULT 7,
  periodicity TEXT NOT NULL DEFAULT '',
  series TEXT NOT NULL DEFAULT '',
  stamp TEXT NOT NULL DEFAULT '',
  branding TEXT,
  csd_cer BYTEA,
  csd_key_box BYTEA,
  csd_pw_box BYTEA,
  csd_serial TEXT NOT NULL DEFAULT '',
  csd_not_after BIGINT NOT NULL DEFAULT 0,
  chain_head TEXT NOT NULL DEFAULT '',
  chain_count BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE branches (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  zip TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, code)
);

-- next_folio: the folio the next invoice of the series gets (gapless:
-- taken by UPDATE inside the invoice's transaction).
CREATE TABLE series (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  code TEXT NOT NULL,
  next_folio BIGINT NOT NULL DEFAULT 1,
  PRIMARY KEY (tenant_id, code)
);

CREATE TABLE users (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL,
  pwhash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, email)
);

-- hash: hex SHA-256 of the whole key (keys carry 256 random bits).
CREATE TABLE api_keys (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  prefix TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id)
);

-- Receipts from the point of sale.  subtotal, discount, taxes, withheld,
-- total: BIGINT micros.  items: JSON text.
CREATE TABLE tickets (
  tenant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  branch_id BIGINT NOT NULL,
  folio_number TEXT NOT NULL,
  date BIGINT NOT NULL,
  payment_form TEXT NOT NULL,
  currency TEXT NOT NULL,
  items TEXT NOT NULL,
  subtotal BIGINT NOT NULL,
  discount BIGINT NOT NULL DEFAULT 0,
  taxes BIGINT NOT NULL,
  withheld BIGINT NOT NULL DEFAULT 0,
  total BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, branch_id, folio_number),
  UNIQUE (tenant_id, key),
  FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
CREATE INDEX tickets_date ON tickets (tenant_id, date);
CREATE INDEX tickets_status ON tickets (tenant_id, status, id);

CREATE TABLE products (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  sku TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  doc TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX products_sku ON products (tenant_id, sku) WHERE sku <> '';

CREATE TABLE customers (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  rfc TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  doc TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX customers_rfc ON customers (tenant_id, rfc);

-- One row per Idempotency-Key: written in the transaction that creates
-- the object, so a key yields one object even across processes.
CREATE TABLE idempotency (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  body TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- Issued documents, never changed once written (invariant 4): sha256 of
-- xml, chain_hash = SHA-256(prev_hash || sha256).  total: BIGINT micros.
CREATE TABLE invoices (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  uuid TEXT NOT NULL,
  series TEXT NOT NULL DEFAULT '',
  folio BIGINT NOT NULL DEFAULT 0,
  type TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'valid',
  customer_rfc TEXT NOT NULL DEFAULT '',
  customer_name TEXT NOT NULL DEFAULT '',
  customer_email TEXT NOT NULL DEFAULT '',
  total BIGINT NOT NULL,
  currency TEXT NOT NULL,
  xml BYTEA NOT NULL,
  pdf BYTEA,
  sha256 TEXT NOT NULL,
  prev_hash TEXT NOT NULL DEFAULT '',
  chain_hash TEXT NOT NULL,
  chain_seq BIGINT NOT NULL,
  cancel_reason TEXT NOT NULL DEFAULT '',
  cancel_substitute TEXT NOT NULL DEFAULT '',
  cancel_requested_at BIGINT NOT NULL DEFAULT 0,
  cancel_ack TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, uuid),
  UNIQUE (tenant_id, chain_seq)
);
CREATE UNIQUE INDEX invoices_folio ON invoices (tenant_id, series, folio)
  WHERE folio > 0;

-- Tickets of an invoice.  active = 1 while the invoice is valid: the
-- partial unique index keeps a ticket in at most one valid invoice
-- (DESIGN invariant 1), whatever the number of processes.
CREATE TABLE invoice_tickets (
  tenant_id BIGINT NOT NULL,
  invoice_id BIGINT NOT NULL,
  ticket_id BIGINT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (tenant_id, invoice_id, ticket_id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE UNIQUE INDEX invoice_tickets_one ON invoice_tickets (tenant_id, ticket_id)
  WHERE active = 1;

-- Durable outbox.  state: queued, running, done, dead.
CREATE TABLE jobs (
  tenant_id BIGINT NOT NULL REFERENCES tenants (id),
  id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  run_after BIGINT NOT NULL,
  last_error TEXT,
  claimed_by TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
-- Workers claim across tenants: the one index not led by tenant_id.
CREATE INDEX jobs_due ON jobs (state, run_after);

-- Tracking timeline of an invoice (issued, emailed, opened, …).
CREATE TABLE invoice_events (
  tenant_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  invoice_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  detail TEXT,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX invoice_events_invoice ON invoice_events (tenant_id, invoice_id, at);

-- @pg
COMMENT ON TABLE tenants IS 'Merchants; csd_key_box/csd_pw_box are secretbox-encrypted under the master key';
COMMENT ON TABLE tickets IS 'Receipts pushed by the point of sale';
COMMENT ON COLUMN tickets.subtotal IS 'micros (millionths) of currency';
COMMENT ON COLUMN tickets.discount IS 'micros (millionths) of currency';
COMMENT ON COLUMN tickets.taxes IS 'micros (millionths) of currency, transferred taxes';
COMMENT ON COLUMN tickets.withheld IS 'micros (millionths) of currency, withheld taxes';
COMMENT ON COLUMN tickets.total IS 'micros (millionths) of currency';
COMMENT ON TABLE invoices IS 'Issued documents, never updated except status, pdf and cancellation fields';
COMMENT ON COLUMN invoices.total IS 'micros (millionths) of currency';
COMMENT ON TABLE invoice_tickets IS 'A ticket in at most one valid invoice (unique index invoice_tickets_one)';
COMMENT ON TABLE idempotency IS 'Idempotency-Key replay records';
COMMENT ON TABLE jobs IS 'Durable outbox, claimed with FOR UPDATE SKIP LOCKED';
COMMENT ON TABLE invoice_events IS 'Tracking timeline of invoices';

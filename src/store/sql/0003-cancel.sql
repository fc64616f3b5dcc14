-- 0003-cancel.sql — what the stamping provider answered to a cancellation.
--
-- 0001 kept the request (cancel_reason, cancel_substitute,
-- cancel_requested_at) and the acuse text (cancel_ack).  These add where
-- the cancellation stands ('' never requested, 'requested' sent with no
-- answer recorded yet, 'pending' the receiver must accept, 'cancelled',
-- 'rejected'), the acuse's own date (Mexico City local time, as the
-- provider gives it), the provider's name and SAT's EstatusUUID code.
-- Written by store_invoice_cancel_request / store_invoice_cancel_answer
-- (POST /v1/invoices/{id}/cancel, docs/invoices.md).

ALTER TABLE invoices ADD COLUMN cancel_status TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN cancel_ack_date TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN cancel_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN cancel_sat_code TEXT NOT NULL DEFAULT '';

-- @pg
COMMENT ON COLUMN invoices.cancel_status IS 'requested, pending, cancelled, rejected, or empty';

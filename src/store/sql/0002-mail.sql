-- 0002-mail.sql — a merchant's own SMTP password, encrypted at rest.
--
-- mail_smtp_pw_box: libsodium secretbox (nonce || box) of the password
-- under the master key, exactly like csd_key_box/csd_pw_box; NULL when
-- the merchant has none.  The other mail settings (sender, reply-to,
-- language, SMTP URL without password, user, templates) are not secret
-- and live in tenants.branding under "mail" (docs/mail.md).  Written by
-- `facturo tenant mail`, read by the mail worker (jobs/outbox.c).

ALTER TABLE tenants ADD COLUMN mail_smtp_pw_box BYTEA;

-- @pg
COMMENT ON COLUMN tenants.mail_smtp_pw_box IS 'Merchant SMTP password, secretbox-encrypted under the master key';

#!/usr/bin/python3
"""Delivery of an invoice over real HTTP and real SMTP (issue 5).

A real `facturo serve` (tests/portal/portal_env.py: merchant "tienda" with
SAT's test CSD) and a real aiosmtpd (tests/mail/mailtest.py) that demands
AUTH.  The merchant's mail settings, SMTP password included, are set with
`facturo tenant mail`.  Proves: an invoice issued through
POST /v1/tickets/{id}/invoice arrives with XML and PDF byte-equal to
/v1/invoices/{id}/xml and /pdf; the mail's download links give the same
bytes and record "downloaded"; the tracking image records "opened";
POST /v1/invoices/{id}/email resends (to other addresses, to the original
ones, idempotently, in the merchant's language, at once); a 550 shows as
mail_failed with the reason; GET /v1/invoices/{id}/events lists it all in
order; forged and expired links get 403/410 without leaking; another
tenant's key gets 404 on both API routes; the SMTP password is neither in
the database in clear nor in the logs.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time

SRC = os.environ.get("FACTURO_SRC",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "mail"))
sys.path.insert(0, os.path.join(SRC, "tests", "portal"))
import mailtest  # noqa: E402
from mailtest import Smtpd, check, finish  # noqa: E402
import portal_env  # noqa: E402

PASSWORD = "Pw-%s-zq" % os.urandom(6).hex()
POLL_MS = 3000  # worker polling: a mail sent sooner proves jobs_wake
RECEIVER = {"customer": {"legal_name": "UNIVERSIDAD ROBOTICA ESPANOLA",
                         "tax_id": "URE180429TM6", "tax_system": "601",
                         "address": {"zip": "86991"},
                         "email": ["cliente@example.org",
                                   "conta@example.net"]},
            "use": "G03"}


def req(env, method, path, body=None, key=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", env.port, timeout=30)
    h = dict(headers or {})
    if key is not False:
        h["Authorization"] = "Bearer " + (key or env.key)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hdr = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdr, raw


def jreq(env, method, path, body=None, key=None, headers=None):
    st, _, raw = req(env, method, path, body, key, headers)
    return st, json.loads(raw) if raw else None


def events(env, inv):
    st, js = jreq(env, "GET", "/v1/invoices/%s/events" % inv)
    return js["events"] if st == 200 else []


def kinds(env, inv):
    return [e["kind"] for e in events(env, inv)]


def wait_event(env, inv, kind, count=1, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if kinds(env, inv).count(kind) >= count:
            return True
        time.sleep(0.1)
    return False


def parts(msg):
    """(text, html, {filename: bytes}) of a parsed message."""
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    att = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    return text, html, att


def path_of(url, base):
    check(url.startswith(base + "/_mail/"), "link under the base URL: " + url)
    return url[len(base):]


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_token(purpose, payload, expires):
    """A token as web/token.c makes them, under serve's derived secret."""
    master = bytes.fromhex(portal_env.SECRET)
    key = hashlib.blake2b(b"facturo/http-secret/v1", digest_size=32,
                          key=master).digest()
    body = b64(payload.encode()) + "." + str(expires)
    mac = hmac.new(key, purpose.encode() + b"\0" + body.encode(),
                   hashlib.sha256).digest()
    return body + "." + b64(mac)


def token_payload(token):
    p = token.split(".")[0]
    return base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode()


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    pg = os.environ.get("FACTURO_TEST_PG")
    schema = None
    if backend == "postgres":
        if not pg:
            if os.environ.get("FACTURO_REQUIRE_PG") == "1":
                print("FAIL: FACTURO_REQUIRE_PG=1 but FACTURO_TEST_PG is not"
                      " set")
                sys.exit(1)
            print("SKIP: FACTURO_TEST_PG not set")
            sys.exit(77)
        # A schema of our own: workers claim jobs of every tenant of the
        # database, so another test's servers must not see ours.
        schema = "dl_" + os.urandom(6).hex()
        portal_env.subprocess.run(["psql", "-q", pg, "-c",
                                   "CREATE SCHEMA " + schema], check=True)
    work = tempfile.mkdtemp(prefix="facturo-delivery-")
    os.environ["FACTURO_MAIL_POLL_MS"] = str(POLL_MS)
    os.environ.pop("FACTURO_MAIL_FROM", None)
    smtpd = Smtpd(extra=["--auth", "facturo:" + PASSWORD]).start()
    env = None
    try:
        db = None
        if schema:
            db = pg + ("&" if "?" in pg else "?") \
                + "options=-csearch_path%3D" + schema
        env = portal_env.Env(work, db=db)
        env.schema = schema
        scenarios(env, smtpd, work)
    finally:
        if env:
            env.stop()
        smtpd.stop()
        if schema:
            portal_env.subprocess.run(
                ["psql", "-q", pg, "-c", "SET client_min_messages=warning;"
                 " DROP SCHEMA %s CASCADE" % schema])
    if env:
        log = open(env.log, errors="replace").read()
        check(PASSWORD not in log, "the SMTP password is not in the log")
        check("AddressSanitizer" not in log and "runtime error" not in log,
              "no sanitizer report in the server's log")
    if not mailtest.failures:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(smtpd.dir, ignore_errors=True)
    finish()


def tenant_mail(env, *args):
    p = portal_env.subprocess.run(
        [portal_env.BIN, "tenant", "mail", "--db", env.db, "--tenant",
         "tienda"] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def scenarios(env, smtpd, work):
    base = env.url
    # --- the merchant's settings, password encrypted --------------------
    pwf = os.path.join(work, "smtp-password")
    with open(pwf, "w") as f:
        f.write(PASSWORD + "\n")
    rc, out = tenant_mail(
        env, "--from", "facturas@kemper.example.mx", "--from-name",
        "Cafetería Kemper", "--reply-to", "ventas@kemper.example.mx",
        "--lang", "es", "--smtp-url", smtpd.url(), "--smtp-user", "facturo",
        "--smtp-password-file", pwf)
    check(rc == 0 and "set (encrypted)" in out, "tenant mail sets: " + out)
    check(PASSWORD not in out, "tenant mail never prints the password")
    rc, out = tenant_mail(env, "--smtp-url",
                          "smtp://facturo:%s@127.0.0.1:25" % PASSWORD)
    check(rc == 2 and PASSWORD not in out,
          "a password inside --smtp-url is refused (exit 2)")
    rc, out = tenant_mail(env, "--lang", "fr")
    check(rc == 2, "tenant mail --lang fr is refused (exit 2)")
    if env.schema is None:
        raw = b""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(env.dbfile + suffix):
                raw += open(env.dbfile + suffix, "rb").read()
        c = sqlite3.connect(env.dbfile, timeout=10)
        box = c.execute("SELECT length(mail_smtp_pw_box) FROM tenants"
                        " WHERE slug = 'tienda'").fetchone()[0]
        c.close()
    else:
        pg = os.environ["FACTURO_TEST_PG"]
        raw = portal_env.subprocess.run(
            ["psql", "-qAt", pg, "-c", "SELECT t::text, encode("
             "mail_smtp_pw_box, 'escape') FROM %s.tenants t" % env.schema],
            capture_output=True, check=True).stdout
        box = int(portal_env.subprocess.run(
            ["psql", "-qAt", pg, "-c", "SELECT length(mail_smtp_pw_box) FROM"
             " %s.tenants WHERE slug = 'tienda'" % env.schema],
            capture_output=True, text=True, check=True).stdout.strip() or 0)
    check(PASSWORD.encode() not in raw,
          "the SMTP password is not in the database in clear")
    check(box and box > len(PASSWORD), "an encrypted password box is stored")

    # --- issue with e-mail through the API --------------------------------
    t = env.ticket("D-1")
    t0 = time.time()
    st, inv = jreq(env, "POST", "/v1/tickets/%s/invoice" % t["id"], RECEIVER,
                   headers={"Accept-Language": "en"})
    check(st == 201, "invoice issued (%d %r)" % (st, inv))
    iid = inv["id"]
    msgs = smtpd.wait_messages(1, timeout=POLL_MS / 1000 + 10)
    print("issued invoice mailed after %.2f s (worker poll %d ms)"
          % (time.time() - t0, POLL_MS))
    check(len(msgs) == 1, "the mail arrived (logged in with the stored"
          " password)")
    if not msgs:
        print(open(env.log).read()[-3000:])
        return
    msg, envl, _ = msgs[0]
    check(sorted(envl["rcpt"]) == ["cliente@example.org", "conta@example.net"],
          "sent to both addresses: %r" % envl["rcpt"])
    check(envl["from"] == "facturas@kemper.example.mx",
          "envelope sender is the merchant's")
    check(msg["Reply-To"] == "ventas@kemper.example.mx", "merchant's reply-to")
    check("Cafetería Kemper" in str(msg["From"]), "merchant's display name")
    check(str(msg["Subject"]).startswith("Factura"),
          "issued mail in the merchant's language (es), not the client's"
          " Accept-Language (en): %s" % msg["Subject"])
    text, html, att = parts(msg)
    st, _, xml = req(env, "GET", "/v1/invoices/%s/xml" % iid)
    st2, _, pdf = req(env, "GET", "/v1/invoices/%s/pdf" % iid)
    xml_name = [n for n in att if n.endswith(".xml")]
    pdf_name = [n for n in att if n.endswith(".pdf")]
    check(st == 200 and xml_name and att[xml_name[0]] == xml,
          "XML attachment byte-equal to GET /xml")
    check(st2 == 200 and pdf_name and att[pdf_name[0]] == pdf
          and pdf.startswith(b"%PDF"), "PDF attachment byte-equal to GET /pdf")

    # --- download links ---------------------------------------------------
    links = re.findall(r"(https?://\S+/_mail/d/[A-Za-z0-9_.\-]+)", text)
    check(len(links) == 2, "two download links in the text body: %r" % links)
    got = {}
    for url in links:
        st, h, body = req(env, "GET", path_of(url, base), key=False)
        kind = "pdf" if h.get("content-type") == "application/pdf" else "xml"
        got[kind] = (st, h, body)
    st, h, body = got.get("pdf", (0, {}, b""))
    check(st == 200 and body == pdf, "PDF link gives the same bytes")
    check(h.get("content-disposition") == 'attachment; filename="%s"'
          % (pdf_name[0] if pdf_name else "?"),
          "attachment with the file name: %r" % h.get("content-disposition"))
    check(h.get("cache-control") == "no-store", "download is no-store")
    st, h, body = got.get("xml", (0, {}, b""))
    check(st == 200 and body == xml
          and h.get("content-type") == "application/xml",
          "XML link gives the same bytes")
    ev = events(env, iid)
    dl = [e for e in ev if e["kind"] == "downloaded"]
    check(len(dl) == 2 and {e["detail"]["file"] for e in dl} == {"pdf", "xml"}
          and all(e["actor"] == "recipient" for e in dl),
          "timeline shows both downloads")

    # --- tracking image ---------------------------------------------------
    pix = re.findall(r'src="(https?://[^"]+/_mail/t/[^"]+)"', html)
    check(len(pix) == 1 and pix[0].endswith(".gif"),
          "a tracking image in the HTML body")
    if pix:
        for _ in range(2):
            st, h, body = req(env, "GET", path_of(pix[0], base), key=False)
        check(st == 200 and h.get("content-type") == "image/gif"
              and body.startswith(b"GIF89a") and len(body) == 43
              and h.get("cache-control") == "no-store",
              "tracking image is a no-store GIF")
        check(kinds(env, iid).count("opened") == 1,
              "opened recorded once for two loads")
        st, h, body2 = req(env, "GET", "/_mail/t/forged.123.abc.gif",
                           key=False)
        check(st == 200 and body2 == body, "a forged image token still gets"
              " the GIF")
        check(kinds(env, iid).count("opened") == 1,
              "a forged image token records nothing")

    # --- forged and expired links -------------------------------------------
    tok = links[0].rsplit("/", 1)[1] if links else "x.1.y"
    forged = tok[:-2] + ("AA" if not tok.endswith("AA") else "BB")
    st1, h1, b1 = req(env, "GET", "/_mail/d/" + forged, key=False)
    st2, h2, b2 = req(env, "GET", "/_mail/d/garbage", key=False)
    check(st1 == 403 and st2 == 403 and b1 == b2
          and json.loads(b1)["error"]["code"] == "link_invalid",
          "forged links: 403, one answer for all (%d %d)" % (st1, st2))
    uuid = re.search(rb'UUID="([0-9A-Fa-f-]{36})"', xml)
    check(not uuid or uuid.group(1) not in b1, "no invoice data in the 403")
    payload = token_payload(tok)
    expired = make_token("mail-dl", payload, int(time.time()) - 60)
    st, _, b = req(env, "GET", "/_mail/d/" + expired, key=False)
    check(st == 410 and json.loads(b)["error"]["code"] == "link_expired"
          and (not uuid or uuid.group(1) not in b),
          "an expired link: 410 without the invoice (%d)" % st)
    fresh = make_token("mail-dl", payload, int(time.time()) + 600)
    st, _, b = req(env, "GET", "/_mail/d/" + fresh, key=False)
    check(st == 200, "the same payload freshly signed works (the 410 above"
          " was the date)")
    tid, _, jid, _ = payload.split(".")
    gone = make_token("mail-dl", "%s.999999999.%s.pdf" % (tid, jid),
                      int(time.time()) + 600)
    st, _, b = req(env, "GET", "/_mail/d/" + gone, key=False)
    check(st == 404 and json.loads(b)["error"]["code"] == "not_found",
          "an authentic link to no such invoice: 404 (%d)" % st)
    other = make_token("mail-dl", "%d.%s.%s.pdf" % (int(tid) + 1000, iid,
                                                  jid),
                       int(time.time()) + 600)
    st, _, b = req(env, "GET", "/_mail/d/" + other, key=False)
    check(st == 404, "a link naming another tenant finds nothing (%d)" % st)
    as_pixel = make_token("mail-open", payload, int(time.time()) + 600)
    st, _, _ = req(env, "GET", "/_mail/d/" + as_pixel, key=False)
    check(st == 403, "an image token is refused as a download link")

    # --- resend -----------------------------------------------------------
    n0 = len(smtpd.messages())
    t0 = time.time()
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"to": ["otro@example.com"]},
                  headers={"Accept-Language": "en"})
    check(st == 202 and js["to"] == ["otro@example.com"] and js["job"],
          "resend accepted: %d %r" % (st, js))
    msgs = smtpd.wait_messages(n0 + 1, timeout=10)
    took = time.time() - t0
    check(len(msgs) == n0 + 1 and msgs[-1][1]["rcpt"] == ["otro@example.com"],
          "a second message arrives at the other address")
    check(took < POLL_MS / 1000 * 0.8,
          "sent at once, not at the next poll (%.2f s)" % took)
    if len(msgs) > n0:
        check(str(msgs[-1][0]["Subject"]).startswith("Factura"),
              "resend in the merchant's language, not Accept-Language")
        _, _, att2 = parts(msgs[-1][0])
        check(att2.get(xml_name[0] if xml_name else "?") == xml,
              "resent XML is the same document")

    rc, out = tenant_mail(env, "--lang", "en")
    check(rc == 0, "merchant language set to en")
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid, None,
                  headers={"Idempotency-Key": "resend-1"})
    st2, js2 = jreq(env, "POST", "/v1/invoices/%s/email" % iid, None,
                    headers={"Idempotency-Key": "resend-1"})
    check(st == 202 and sorted(js["to"]) == ["cliente@example.org",
                                             "conta@example.net"],
          "resend without 'to' goes to the original addresses: %r" % (js,))
    check(st2 == 202 and js2 == js, "same Idempotency-Key: same job")
    msgs = smtpd.wait_messages(n0 + 2, timeout=10)
    time.sleep(0.5)
    msgs = smtpd.messages()
    check(len(msgs) == n0 + 2, "one message for the idempotent pair")
    if len(msgs) >= n0 + 2:
        check(str(msgs[n0 + 1][0]["Subject"]).startswith("Invoice"),
              "merchant language en: English subject")

    # the merchant's own template, read from a directory into the database
    tdir = os.path.join(work, "tpl", "en")
    os.makedirs(tdir)
    with open(os.path.join(tdir, "invoice.subject.txt"), "w") as f:
        f.write("Custom {{series}}{{folio}} for {{receiver_rfc}}\n")
    rc, out = tenant_mail(env, "--templates", os.path.dirname(tdir))
    check(rc == 0 and "en/subject" in out, "tenant mail --templates")
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"to": "plantilla@example.com"})
    msgs = smtpd.wait_messages(n0 + 3, timeout=10)
    check(len(msgs) == n0 + 3
          and re.match(r"^Custom A\d+ for URE180429TM6$",
                       str(msgs[-1][0]["Subject"])),
          "the merchant's subject template is used: %s"
          % (msgs[-1][0]["Subject"] if msgs else None))

    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"to": ["not an address"]})
    check(st == 400 and js["error"]["field"] == "to", "bad address: 400 to")
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"bcc": ["a@b.mx"]})
    check(st == 400 and js["error"]["code"] == "unknown_field",
          "unknown field: 400")
    st, _ = jreq(env, "POST", "/v1/invoices/999999999/email", {})
    check(st == 404, "resend of no such invoice: 404")

    # --- permanent failure ------------------------------------------------
    smtpd.set_mode("550")
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"to": "rechazo@example.com"})
    check(st == 202, "resend to a refusing server queued")
    check(wait_event(env, iid, "mail_failed"), "mail_failed in the timeline")
    smtpd.set_mode("ok")
    failed = [e for e in events(env, iid) if e["kind"] == "mail_failed"]
    check(failed and failed[0]["detail"]["reply"].startswith("550 5.7.1"),
          "mail_failed carries the server's reason: %r"
          % (failed[0]["detail"] if failed else None))

    # --- the timeline -----------------------------------------------------
    ev = events(env, iid)
    ks = [e["kind"] for e in ev]
    times = [e["time"] for e in ev]
    check(times == sorted(times), "events in time order")
    expect = ["issued", "mail_queued", "mail_sent", "downloaded", "opened",
              "mail_queued", "mail_sent", "mail_queued", "mail_sent",
              "mail_queued", "mail_failed"]
    it = iter(ks)
    check(all(k in it for k in expect),
          "timeline lists the events in order: %r" % ks)
    sent = [e for e in ev if e["kind"] == "mail_sent"]
    check(len(sent) == 4 and all(e["detail"]["reply"].startswith("250")
                                 and e["actor"] == "system" for e in sent),
          "mail_sent carries the SMTP reply")
    check(ev and ev[0]["kind"] == "issued"
          and ev[0]["actor"].startswith("apikey:")
          and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ev[0]["time"]),
          "issued first, with actor and time")
    st, _ = jreq(env, "GET", "/v1/invoices/999999999/events")
    check(st == 404, "events of no such invoice: 404")

    # --- tenant isolation ---------------------------------------------------
    portal_env.run("tenant", "create", "--db", env.db, "--slug", "otra",
                   "--rfc", "EKU9003173C9", "--name", "OTRA SA", "--regime",
                   "601", "--zip", "06000")
    kb = portal_env.run("apikey", "create", "--db", env.db, "--tenant",
                        "otra").strip().split()[-1]
    before = len(ev)
    n1 = len(smtpd.messages())
    st, js = jreq(env, "GET", "/v1/invoices/%s/events" % iid, key=kb)
    check(st == 404 and "events" not in (js or {}),
          "tenant B's key: 404 on A's timeline")
    st, js = jreq(env, "POST", "/v1/invoices/%s/email" % iid,
                  {"to": ["intruso@example.com"]}, key=kb)
    check(st == 404, "tenant B's key: 404 on resending A's invoice")
    time.sleep(1)
    check(len(events(env, iid)) == before and len(smtpd.messages()) == n1,
          "and nothing was queued or sent")


if __name__ == "__main__":
    main()

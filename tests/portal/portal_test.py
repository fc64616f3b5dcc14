#!/usr/bin/env python3
"""The self-invoicing portal over real HTTP, without a browser (suite
'api'): every answer a shopper can get, CSRF refusal, the look-up
throttle and proof of work, the window's edge, no data leak by RFC, one
invoice for two simultaneous confirmations, signed download links, and
the XML passing `facturo cfdi verify`.

    portal_test.py      (FACTURO_BIN, FACTURO_SHARED from meson)

Each check says what it proves; the first failure exits 1.
"""
import datetime
import hashlib
import html
import http.client
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import portal_env as E  # noqa: E402

STEP = ["setup"]


def step(s):
    STEP[0] = s
    print("--", s, flush=True)


def check(cond, what):
    if not cond:
        print("FAIL [%s]: %s" % (STEP[0], what), flush=True)
        sys.exit(1)


class Browser:
    """A cookie jar and form poster, like a browser without JavaScript."""

    N = [0]

    def __init__(self, env, lang=None, addr=None):
        self.env = env
        self.cookies = {}
        # Each browser its own client address (through the trusted proxy
        # header), so the look-up throttle counts them apart.
        Browser.N[0] += 1
        self.addr = addr or "198.51.100.%d" % (Browser.N[0] % 250 + 1)
        if lang:
            self.cookies["lang"] = lang

    def req(self, method, path, form=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.env.port, timeout=60)
        h = dict(headers or {})
        h["X-Forwarded-For"] = self.addr
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, val = v.split(";")[0].split("=", 1)
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = val
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def page(self, method, path, form=None):
        st, h, data = self.req(method, path, form)
        return st, h, data.decode("utf-8")


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


def alert(page):
    m = re.search(r'<div class="alert"[^>]*>(.*?)</div>', page, re.S)
    return re.sub(r"<[^>]+>", "", m.group(1)).strip() if m else None


def title(page):
    m = re.search(r'<h1[^>]*>(.*?)</h1>', page, re.S)
    return html.unescape(m.group(1)).strip() if m else None


RECEIVER = {"rfc": "URE180429TM6", "name": "UNIVERSIDAD ROBOTICA ESPANOLA",
            "zip": "86991", "regime": "601", "use": "G03",
            "email": "compras@ure.example.com"}


def lookup(b, page, folio, total=E.ITEMS_TOTAL, branch="S01", extra=None):
    f = {"csrf": field(page, "csrf"), "cart": field(page, "cart") or "",
         "branch": branch, "folio": folio, "total": total}
    f.update(extra or {})
    return b.page("POST", "/tienda/lookup", f)


def data(b, page, **over):
    f = {"csrf": field(page, "csrf"), "cart": field(page, "cart")}
    f.update(RECEIVER)
    f.update(over)
    return b.page("POST", "/tienda/data", f)


def confirm_form(page):
    keys = ["csrf", "cart", "rfc", "name", "zip", "regime", "use", "email"]
    return {k: field(page, k) for k in keys}


def deadline_day(purchase):
    """Last local day a ticket bought on `purchase` (YYYY-MM-DD…) may be
    invoiced: 7 days later, but never past its month (the tenant's
    global-invoice period, monthly by default)."""
    d = datetime.date.fromisoformat(purchase[:10])
    nxt = (d.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return min(d + datetime.timedelta(days=7),
               nxt - datetime.timedelta(days=1)).isoformat()


def mail_jobs(env):
    c = sqlite3.connect(env.dbfile, timeout=10)
    n = c.execute("SELECT count(*) FROM jobs WHERE kind = 'mail'").fetchone()[0]
    c.close()
    return n


def main():
    workdir = tempfile.mkdtemp(prefix="portal-test-")
    env = E.Env(workdir)
    try:
        scenarios(env, workdir)
        throttle(workdir)
    finally:
        env.stop()
    step("server logs free of sanitizer reports (ASan/UBSan builds)")
    for name in ("srv.log", "thr.log"):
        log = open(os.path.join(workdir, name), errors="replace").read()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(bad not in log, "%s in %s:\n%s" % (bad, name, log[-3000:]))
    shutil.rmtree(workdir, ignore_errors=True)
    print("portal: all checks passed")


def scenarios(env, workdir):
    step("portal page: branding, Spanish by default, security headers")
    b = Browser(env)
    st, h, p = b.page("GET", "/tienda/")
    check(st == 200, "GET /tienda/ -> %d" % st)
    check("Cafetería Kemper" in p, "display name from branding")
    check('<html lang="es">' in p and "Busca tu ticket" in p, "Spanish")
    csp = h.get("content-security-policy", "")
    check("script-src 'self'" in csp and "unsafe-inline" not in csp
          and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp,
          "strict CSP: %r" % csp)
    check(h.get("x-frame-options") == "DENY"
          and h.get("x-content-type-options") == "nosniff", "headers")
    check("<script>" not in p and "onclick" not in p and "style=" not in p,
          "no inline script or style")
    check("fcsrf" in b.cookies, "CSRF cookie set")
    st, h, css = b.req("GET", "/tienda/theme.css")
    check(st == 200 and b"--brand:#7a1f3d" in css, "theme colours %r" % css)
    st, h, png = b.req("GET", "/tienda/logo")
    check(st == 200 and h["content-type"] == "image/png"
          and png == E.PNG, "logo served from branding")
    st, h, js = b.req("GET", "/static/portal.js")
    check(st == 200 and b"sha256" in js and "javascript" in h["content-type"],
          "script served as a file")
    st, _, _ = b.req("GET", "/static/../portal.c")
    check(st == 404, "static path traversal -> %d" % st)
    st, _, p2 = Browser(env).page("GET", "/nope/")
    check(st == 404, "unknown merchant -> %d" % st)

    step("English by choice (?lang=en sets a cookie)")
    st, _, p = b.page("GET", "/tienda/?lang=en")
    check('<html lang="en">' in p and "Find your ticket" in p, "English")
    st, _, p = b.page("GET", "/tienda/")
    check("Find your ticket" in p, "language kept by cookie")
    b.page("GET", "/tienda/?lang=es")

    step("QR link opens with the ticket found")
    t1 = env.ticket("P-1")
    path = urllib.parse.urlsplit(t1["self_invoice_url"]).path
    st, _, p = b.page("GET", path)
    check(st == 200 and "P-1" in p and "$141.00" in p and field(p, "cart"),
          "ticket found by key: %d" % st)
    st, _, nf = Browser(env).page("GET", "/tienda/t/AAAAAAAAAAAAAAAAAAAA")
    check(st == 404, "unknown key -> %d" % st)

    step("CSRF: a post without the token, or with another browser's, is refused")
    f = {"csrf": field(p, "cart"), "cart": field(p, "cart")}
    f.update(RECEIVER)
    st, _, _ = b.page("POST", "/tienda/data", f)
    check(st == 403, "forged token -> %d" % st)
    other = Browser(env)
    other.page("GET", "/tienda/")
    f["csrf"] = field(p, "csrf")
    st, _, _ = other.page("POST", "/tienda/data", f)
    check(st == 403, "token of another cookie -> %d" % st)

    step("fiscal data errors next to the field, in plain words")
    st, _, e = data(b, p, rfc="URE180429TM7")
    check(st == 422 and 'id="rfc-err"' in e and "verificador" in e,
          "check digit message: %d" % st)
    check('name="rfc_ok"' in e, "offer to confirm an RFC SAT issued")
    st, _, e = data(b, p, regime="605", use="G03", rfc="XOJI740919U48",
                    name="INGRID XODAR JIMENEZ", zip="88965")
    check(st == 422 and 'id="use-err"' in e and "605" in html.unescape(e),
          "uso not allowed for régimen 605: %d" % st)
    st, _, e = data(b, p, rfc="XOJI740919U48", regime="601")
    check(st == 422 and 'id="regime-err"' in e, "moral regime for a física")
    st, _, e = data(b, p, zip="123", email="not-an-address", name="")
    check(st == 422 and 'id="zip-err"' in e and 'id="email-err"' in e
          and 'id="name-err"' in e, "several fields at once")
    check("UNIVERSIDAD" not in e or 'value="UNIVERSIDAD' not in e, "no echo")
    st, _, e = data(b, p, rfc="XOJI740919U48", name="INGRID XODAR JIMENEZ",
                    zip="88965", regime="605", use="CN01", email="")
    check(st == 422 and 'id="email-err"' in e, "e-mail required")
    m = re.search(r'<select id="use".*?</select>', e, re.S).group(0)
    check('value="G03"' not in m and 'value="CN01"' in m and 'value="D01"' in m,
          "usos narrowed to rules_uses_for(física, 605)")

    en = Browser(env, lang="en")
    st, _, pe = en.page("GET", urllib.parse.urlsplit(t1["self_invoice_url"]).path)
    st, _, e = data(en, pe, rfc="URE180429TM7")
    check(st == 422
          and "The RFC's check digit is wrong" in html.unescape(e),
          "English message")
    st, _, e = data(en, pe, rfc="XOJI740919U48", regime="605", use="G03")
    check("Uso CFDI G03 is not allowed for régimen 605" in html.unescape(e),
          "English uso message")

    step("preview exactly as it will be issued")
    st, _, pv = data(b, p)
    check(st == 200 and 'id="preview"' in pv, "preview %d" % st)
    check("Café americano" in pv and "Pan dulce" in pv, "items")
    check("IVA 16%" in pv and "$16.00" in pv and "IVA 0%" in pv, "taxes")
    check("$125.00" in pv and "$141.00 MXN" in pv, "subtotal and total")
    check("URE180429TM6" in pv and "UNIVERSIDAD ROBOTICA ESPANOLA" in pv
          and "G03" in pv, "receiver")

    step("confirm issues through issue_invoice_for_tickets; downloads")
    cf = confirm_form(pv)
    jobs0 = mail_jobs(env)
    st, _, done = b.page("POST", "/tienda/confirm", cf)
    check(st == 200 and 'id="uuid"' in done, "done %d %s" % (st, title(done)))
    uuid = re.search(r'id="uuid">([0-9A-F-]{36})<', done).group(1)
    check("compras@ure.example.com" in done and mail_jobs(env) == jobs0 + 1,
          "mail queued to the address")
    xml_url = html.unescape(re.search(r'id="dl-xml" href="([^"]+)"', done).group(1))
    pdf_url = html.unescape(re.search(r'id="dl-pdf" href="([^"]+)"', done).group(1))
    check(uuid not in xml_url and "P-1" not in xml_url, "links carry no UUID")
    st, h, xml = Browser(env).req("GET", xml_url)
    check(st == 200 and uuid.encode() in xml, "XML by signed link %d" % st)
    check(h.get("content-disposition", "") == 'attachment; filename="EKU9003173C9-A-%s.xml"'
          % re.search(r'<dd>A-(\d+)</dd>', done).group(1),
          "as a download named RFC-series-folio: %r" % h.get("content-disposition"))
    path = os.path.join(workdir, "p1.xml")
    open(path, "wb").write(xml)
    v = subprocess.run([E.BIN, "cfdi", "verify", path], capture_output=True,
                       text=True)
    check(v.returncode == 0, "cfdi verify: %s" % v.stdout + v.stderr)
    check(b'Rfc="URE180429TM6"' in xml and b'UsoCFDI="G03"' in xml,
          "receiver in the XML")
    st, h, pdf = Browser(env).req("GET", pdf_url)
    check(st == 200 and pdf[:5] == b"%PDF-", "PDF by signed link %d" % st)
    c = sqlite3.connect(env.dbfile, timeout=10)
    viewed = [r[0] for r in c.execute(
        "SELECT e.detail FROM invoice_events e JOIN invoices i"
        " ON i.tenant_id = e.tenant_id AND i.id = e.invoice_id"
        " WHERE i.uuid = ? AND e.kind = 'viewed' AND e.actor = 'portal'"
        " ORDER BY e.id", (uuid,))]
    c.close()
    check(viewed == ['{"document":"xml"}', '{"document":"pdf"}'],
          "both downloads on the invoice's timeline as viewed: %r" % viewed)
    bad = xml_url[:-3] + ("AAA" if not xml_url.endswith("AAA") else "BBB")
    st, _, _ = Browser(env).req("GET", bad)
    check(st == 404, "tampered link -> %d" % st)
    swapped = xml_url.replace("/dl/", "/dl/x")
    st, _, _ = Browser(env).req("GET", swapped)
    check(st == 404, "forged link -> %d" % st)

    step("already invoiced: offer to resend, show nothing of it")
    c = Browser(env)
    st, _, ip = c.page("GET", "/tienda/")
    st, _, r = lookup(c, ip, "P-1")
    check(st == 409 and 'name="resend"' in r, "invoiced page %d" % st)
    for secret in ("URE180429TM6", "UNIVERSIDAD", "compras@", uuid):
        check(secret not in r, "invoiced page shows %s" % secret)
    st, _, rs = c.page("POST", "/tienda/resend",
                       {"csrf": field(r, "csrf"), "resend": field(r, "resend")})
    check(st == 200 and "compras@" not in rs and "reenviamos" in rs
          and mail_jobs(env) == jobs0 + 2, "resend queued: %d" % st)
    form = {"csrf": field(r, "csrf"), "resend": field(r, "resend")}
    st, _, _ = c.page("POST", "/tienda/resend", form)
    check(st == 200 and mail_jobs(env) == jobs0 + 3, "second resend")
    st, _, _ = c.page("POST", "/tienda/resend", form)
    check(st == 429 and mail_jobs(env) == jobs0 + 3,
          "third resend within 30 minutes refused -> %d" % st)
    st, _, again = b.page("POST", "/tienda/confirm", cf)
    check(st == 200 and uuid in again, "same browser again: same invoice")
    st, _, _ = c.page("POST", "/tienda/confirm",
                      dict(cf, csrf=field(r, "csrf")))
    check(st == 409, "other browser replaying the form -> %d" % st)

    step("typed look-up: all three must match; one answer for any mismatch")
    t2 = env.ticket("P-2")
    t3 = env.ticket("P-3", branch="S02")
    d = Browser(env)
    st, _, ip = d.page("GET", "/tienda/")
    st, _, w1 = lookup(d, ip, "P-2", total="141.01")
    st2, _, w2 = lookup(d, ip, "P-404")
    check(st == 404 and st2 == 404 and alert(w1) == alert(w2),
          "wrong total / wrong folio, same answer: %r %r" % (alert(w1), alert(w2)))
    check('value="P-404"' in w2, "typed values kept")
    st, _, w3 = lookup(d, ip, "P-2", branch="S02")
    check(st == 404 and alert(w3) == alert(w1), "wrong store, same answer")
    d = Browser(env)  # another client: this one has used its free tries
    st, _, ip = d.page("GET", "/tienda/")
    st, _, f2 = lookup(d, ip, "P-2", total="$141")
    check(st == 200 and "P-2" in f2, "total compared as money (141 = 141.00)")
    st, _, f3 = lookup(d, f2, "P-3", branch="S02", total="141.00")
    check(st == 200 and "P-2" in f3 and "P-3" in f3 and "$282.00" in f3,
          "second ticket added to the same invoice")
    st, _, pv = data(d, f3, rfc="XOJI740919U48", name="INGRID XODAR JIMENEZ",
                     zip="88965", regime="605", use="CN01",
                     email="ingrid@example.com, otra@example.com")
    check(st == 200 and "$282.00 MXN" in pv, "preview of two tickets %d" % st)
    st, _, done = d.page("POST", "/tienda/confirm", confirm_form(pv))
    check(st == 200 and 'id="uuid"' in done, "two tickets, one invoice")
    check("otra@example.com" in done, "two e-mail addresses")

    step("no data leak by RFC")
    e2 = Browser(env)
    t4 = env.ticket("P-4")
    st, _, p4 = e2.page("GET", urllib.parse.urlsplit(t4["self_invoice_url"]).path)
    check("URE180429TM6" not in p4 and "UNIVERSIDAD" not in p4, "clean form")
    st, _, e = data(e2, p4, name="", email="")
    check(st == 422 and "UNIVERSIDAD" not in e and "compras@" not in e,
          "typing a known RFC reveals no name or e-mail")
    st, _, pv = data(e2, p4, name="OTRO NOMBRE", email="yo@example.com")
    check("UNIVERSIDAD" not in pv and "compras@" not in pv,
          "preview shows only what was typed")

    step("remember my data on this device, and forget it")
    st, _, pv = data(e2, p4, name="OTRO NOMBRE", email="yo@example.com",
                     remember="1")
    check("fdata" in e2.cookies, "remember cookie set")
    t5 = env.ticket("P-5")
    st, _, p5 = e2.page("GET", urllib.parse.urlsplit(t5["self_invoice_url"]).path)
    check('value="OTRO NOMBRE"' in p5 and 'value="yo@example.com"' in p5,
          "form prefilled from the cookie")
    check(Browser(env).page("GET", urllib.parse.urlsplit(
        t5["self_invoice_url"]).path)[2].count("OTRO NOMBRE") == 0,
        "another device sees nothing")
    check('name="remember" value="1" checked' in p5, "box ticked")
    st, _, _ = data(e2, p5, name="OTRO NOMBRE", email="yo@example.com")
    check("fdata" not in e2.cookies, "unticking the box forgets the data")
    st, _, _ = data(e2, p5, name="OTRO NOMBRE", email="yo@example.com",
                    remember="1")
    check("fdata" in e2.cookies, "remembered again")
    st, _, fg = e2.page("POST", "/tienda/forget", {"csrf": field(p5, "csrf")})
    check(st == 200 and "fdata" not in e2.cookies, "cookie erased")
    st, _, p5 = e2.page("GET", urllib.parse.urlsplit(t5["self_invoice_url"]).path)
    check("OTRO NOMBRE" not in p5, "nothing prefilled after forgetting")

    step("expired: until when, and the general-public invoice")
    tx = env.ticket("P-OLD", date=E.local(days_ago=8, at=(23, 59, 59)))
    st, _, x = Browser(env).page(
        "GET", urllib.parse.urlsplit(tx["self_invoice_url"]).path)
    day = deadline_day(E.local(days_ago=8))
    check(st == 410 and "factura global" in x and day + " 23:59" in x,
          "expired page with deadline %s: %d" % (day, st))
    step("in the global invoice: the same 'expired' answer")
    tg = env.ticket("P-GLOBAL", date=E.local(days_ago=40))
    period = E.local(days_ago=40)[:7]
    gi = subprocess.run([E.BIN, "global-invoice", "--db", env.db, "--tenant",
                         "tienda", "--period", period], capture_output=True,
                        text=True, timeout=120)
    check(gi.returncode == 0, "global-invoice %s: %s" % (period, gi.stderr))
    st, js = env.api("GET", "/v1/tickets/%s" % tg["id"])
    check(js["status"] == "in_global", "ticket in the global invoice")
    st, _, x = Browser(env).page(
        "GET", urllib.parse.urlsplit(tg["self_invoice_url"]).path)
    check(st == 410 and "factura global" in x and 'class="deadline"' in x,
          "in_global -> expired page: %d" % st)

    step("window edge: bought 7 days ago at 00:00:01 is still open today")
    te = env.ticket("P-EDGE", date=E.local(days_ago=7, at=(0, 0, 1)))
    st, _, x = Browser(env).page(
        "GET", urllib.parse.urlsplit(te["self_invoice_url"]).path)
    day = deadline_day(E.local(days_ago=7))
    if day == E.local(minutes_ago=0)[:10]:
        check(st == 200 and "P-EDGE" in x, "last day of the window -> %d" % st)
    else:  # the month ended in between: the global-invoice period caps it
        check(st == 410 and day + " 23:59" in x,
              "window capped at the month's end %s -> %d" % (day, st))

    step("cancelled")
    tc = env.ticket("P-CAN")
    check(env.cancel(tc["id"]) == 200, "cancel via API")
    st, _, x = Browser(env).page(
        "GET", urllib.parse.urlsplit(tc["self_invoice_url"]).path)
    check(st == 410 and "cancel" in x, "cancelled page %d" % st)

    step("two simultaneous confirmations of one ticket: one invoice")  # INVARIANT 1
    t6 = env.ticket("P-6")
    g = Browser(env)
    st, _, p6 = g.page("GET", urllib.parse.urlsplit(t6["self_invoice_url"]).path)
    st, _, pv = data(g, p6)
    cf = confirm_form(pv)
    out = [None] * 4

    def go(i):
        out[i] = g.page("POST", "/tienda/confirm", cf)
    th = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    uuids = {re.search(r'id="uuid">([^<]+)<', o[2]).group(1)
             for o in out if o[0] == 200}
    check(all(o[0] == 200 for o in out) and len(uuids) == 1,
          "4 tabs: %r %r" % ([o[0] for o in out], uuids))
    st, js = env.api("GET", "/v1/invoices?limit=200")
    n = sum(1 for i in js["data"] if i.get("uuid") in uuids)
    check(n == 1, "one invoice stored for the ticket (%d)" % n)

    step("failed look-ups and issuances are logged without fiscal data")
    log = open(env.log, encoding="utf-8", errors="replace").read()
    check("look-up failed" in log and "portal: tenant" in log
          and "issue issued" in log, "log lines")
    for s in ("URE180429TM6", "UNIVERSIDAD", "compras@", "XOJI740919U48"):
        check(s not in log, "log holds %s" % s)


def solve(challenge, bits):
    n = 0
    while True:
        h = hashlib.sha256(("%s:%d" % (challenge, n)).encode()).digest()
        v = int.from_bytes(h[:4], "big")
        if v >> (32 - bits) == 0:
            return str(n)
        n += 1


def throttle(workdir):
    """A fresh server process: the throttle is per process."""
    step("throttle: proof of work after repeated failures, wait without JS")
    env = E.Env(workdir, name="thr")
    try:
        env.ticket("Q-1")
        b = Browser(env)
        st, _, p = b.page("GET", "/tienda/")
        check(field(p, "pow_challenge") is None, "no challenge at first")
        for i in range(3):
            st, _, p = lookup(b, p, "NOPE-%d" % i)
            check(st == 404, "failure %d -> %d" % (i, st))
        challenge = field(p, "pow_challenge")
        check(challenge and 'data-pow-bits="14"' in p,
              "challenge offered after 3 failures")
        st, _, w = lookup(b, p, "Q-1")
        check(st == 429 and field(w, "pow_challenge"),
              "4th look-up without proof of work must wait: %d" % st)
        waited = int(re.search(r"(\d+) segundos", w).group(1))
        check(1 <= waited <= 5, "first wait 5 s (%d)" % waited)
        st, _, w = lookup(b, p, "Q-1", extra={"pow_challenge": challenge,
                                               "pow_nonce": "1"})
        check(st == 429, "wrong nonce refused -> %d" % st)
        nonce = solve(challenge, 14)
        st, _, ok = lookup(b, p, "Q-1", extra={"pow_challenge": challenge,
                                                "pow_nonce": nonce})
        check(st == 200 and "Q-1" in ok, "valid proof of work -> %d" % st)
        st, _, w = lookup(b, p, "NOPE-9", extra={"pow_challenge": challenge,
                                                  "pow_nonce": nonce})
        check(st == 404, "valid proof, wrong ticket -> %d" % st)
        st, _, w = lookup(b, w, "NOPE-10")
        check(st == 429, "stale challenge (failures moved on) -> %d" % st)
        waited = int(re.search(r"(\d+) segundos", w).group(1))
        check(5 < waited <= 10, "the wait grows (%d)" % waited)
        check('data-pow-bits="15"' in w, "difficulty grows")

        step("throttle: per store+folio, from any address")
        env.ticket("Q-2")
        for i in range(3):
            x = Browser(env)
            st, _, xp = x.page("GET", "/tienda/")
            st, _, _ = lookup(x, xp, "Q-2", total="1%d.00" % i)
            check(st == 404, "guessing the total, address %d -> %d" % (i, st))
        x = Browser(env)
        st, _, xp = x.page("GET", "/tienda/")
        st, _, w = lookup(x, xp, "Q-2")
        check(st == 429 and field(w, "pow_challenge"),
              "a fresh address must prove work for that folio -> %d" % st)
        ch = field(w, "pow_challenge")
        st, _, ok = lookup(x, w, "Q-2", extra={"pow_challenge": ch,
                                                "pow_nonce": solve(ch, 14)})
        check(st == 200 and "Q-2" in ok, "with proof of work -> %d" % st)

        step("throttle: hard limit per address per minute")
        codes = []
        h = Browser(env)
        for i in range(62):  # > 2 x 30: holds even if a minute turns
            st, _, _ = h.page("GET", "/tienda/t/AAAAAAAAAAAAAAAAAAA%d" % (i % 10))
            codes.append(st)
        check(429 in codes, "429 after %d look-ups a minute" % E_LIMIT())
        for folio in ("Q-3", "Q-4"):  # again if a minute turned meanwhile
            minute = int(time.time()) // 60
            pages = []
            for i in range(32):  # one folio from many addresses
                x = Browser(env)
                st, _, xp = x.page("GET", "/tienda/")
                pages.append(lookup(x, xp, folio, total="9.%02d" % i))
            if int(time.time()) // 60 == minute:
                break
        check([p_[0] for p_ in pages[:3]] == [404] * 3, "first tries run")
        check(pages[10][0] == 429 and field(pages[10][2], "pow_challenge"),
              "then proof of work or a wait")
        check(pages[31][0] == 429 and 'id="notice-title"' in pages[31][2]
              and field(pages[31][2], "pow_challenge") is None,
              "past 30 a minute, refused outright, proof or not")
    finally:
        env.stop()


def E_LIMIT():
    return 30


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""HTTP integration tests of `facturo serve` (suite 'api').

    api_test.py sqlite     the scenarios against a fresh SQLite file
    api_test.py postgres   the same against a fresh database on the server
                           FACTURO_TEST_PG points to (exit 77 without it,
                           unless FACTURO_REQUIRE_PG=1), plus two facturo
                           processes sharing it (INVARIANT 1 / idempotency)

Everything goes through the real CLI (migrate, tenant create, apikey
create/revoke) and a real server on an ephemeral port.  Each check says
what it proves; any failure exits 1 with the step's name.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = os.environ.get("FACTURO_BIN", "build/facturo")
BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
FAILS = []
STEP = ["setup"]


def step(name):
    STEP[0] = name


def check(cond, what):
    if not cond:
        FAILS.append("%s: %s" % (STEP[0], what))
        print("FAIL %s: %s" % (STEP[0], what), flush=True)
    return cond


def fatal(what):
    print("FATAL %s: %s" % (STEP[0], what), flush=True)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(*args, check_rc=True):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=60)
    if check_rc and p.returncode != 0:
        fatal("facturo %s -> %d: %s" % (" ".join(args[:2]), p.returncode,
                                        p.stderr.strip()))
    return p


# ---------------------------------------------------------------------------
# Database and server

class Server:
    def __init__(self, db, workdir, extra=(), name="srv"):
        self.port = free_port()
        self.log = open(os.path.join(workdir, name + ".log"), "ab")
        env = dict(os.environ)
        env.pop("FACTURO_CONFIG", None)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", db, "--listen", "127.0.0.1:%d" % self.port,
             "--base-url", "https://facturo.test", "--threads", "4",
             "--rate-limit", "0"] + list(extra),
            stdout=self.log, stderr=self.log, env=env)
        self.logpath = os.path.join(workdir, name + ".log")
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fatal("serve exited %d; log:\n%s" % (self.proc.returncode,
                                                      open(self.logpath).read()))
            try:
                st, _, _ = self.req("GET", "/healthz")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        fatal("serve did not come up")

    def req(self, method, path, body=None, key=None, headers=None, raw=None,
            timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        try:
            js = json.loads(text) if text else None
        except ValueError:
            js = text
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, hdrs, js

    def raw(self, head, body=b""):
        """Sends head + body on a socket, tolerating the server closing
        early (as it does for 413), and returns the status code."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            s.sendall(head)
            try:
                s.sendall(body)
            except OSError:
                pass
            resp = b""
            while b"\r\n" not in resp:
                chunk = s.recv(4096)
                if not chunk:
                    break
                resp += chunk
        except OSError:
            return 0
        finally:
            s.close()
        m = re.match(rb"HTTP/1\.1 (\d+)", resp)
        return int(m.group(1)) if m else 0

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def make_db(workdir):
    if BACKEND == "sqlite":
        return "sqlite:" + os.path.join(workdir, "facturo.db")
    url = os.environ.get("FACTURO_TEST_PG")
    if not url:
        if os.environ.get("FACTURO_REQUIRE_PG") == "1":
            fatal("FACTURO_TEST_PG is not set")
        print("SKIP: FACTURO_TEST_PG not set")
        sys.exit(77)
    name = "facturo_api_%d_%d" % (os.getpid(), int(time.time()))
    p = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
                        "CREATE DATABASE %s" % name],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fatal("createdb: " + p.stderr)
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query,
                                    u.fragment)), (url, name)


def tenant(db, slug, rfc, regime="601"):
    run("tenant", "create", "--db", db, "--slug", slug, "--rfc", rfc,
        "--name", "Comercio " + slug.upper(), "--regime", regime,
        "--zip", "06000")
    key = run("apikey", "create", "--db", db, "--tenant", slug).stdout.strip()
    if not re.fullmatch(r"fk_[0-9a-f]{16}_[0-9a-f]{64}", key):
        fatal("apikey create printed %r" % key)
    return key


# ---------------------------------------------------------------------------
# Tickets

def ticket_body(folio, branch="S01", date="2026-11-20T12:30:00", **kw):
    b = {
        "branch": branch, "folio_number": folio, "date": date,
        "payment_form": "01",
        "items": [
            {"quantity": 2, "product": {
                "description": "Café americano", "product_key": "90101501",
                "unit_key": "H87", "unit_name": "Pieza", "price": "116.00",
                "tax_included": True,
                "taxes": [{"type": "IVA", "rate": "0.16"}]}},
            {"quantity": "3", "discount": "1.50", "product": {
                "description": "Galleta", "product_key": "50181900",
                "unit_key": "H87", "price": 10.5, "tax_included": False,
                "taxes": [{"type": "IVA", "rate": 0.16, "factor": "Tasa",
                           "withholding": False}]}},
            {"product": {
                "description": "Servicio de asesoría", "product_key": "80101500",
                "unit_key": "E48", "price": "1000", "tax_included": False,
                "taxes": [{"type": "IVA", "rate": "0.16"},
                          {"type": "ISR", "rate": "0.10",
                           "withholding": True}]}},
        ],
    }
    b.update(kw)
    return b


# Hand-computed: item 1: 2 x 116.00 with 16 % IVA included = 2 x 100.00
# net, IVA 32.00; item 2: 3 x 10.50 = 31.50, discount 1.50, base 30.00,
# IVA 4.80; item 3: 1000.00, IVA 160.00, ISR withheld 100.00.
# subtotal 1231.50, discount 1.50, transferred 196.80, withheld 100.00,
# total 1231.50 - 1.50 + 196.80 - 100.00 = 1326.80.
EXPECTED = {"subtotal": "1231.50", "discount": "1.50",
            "total_transferred": "196.80", "total_withheld": "100.00",
            "total": "1326.80"}


def check_totals(t, what):
    for k, v in EXPECTED.items():
        check(t.get(k) == v, "%s: %s is %r, want %s" % (what, k, t.get(k), v))


SEC_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def check_headers(h, what):
    for k, v in SEC_HEADERS.items():
        check(h.get(k) == v, "%s: header %s=%r" % (what, k, h.get(k)))
    check("default-src 'none'" in h.get("content-security-policy", ""),
          "%s: CSP" % what)
    check(re.fullmatch(r"[0-9a-f]{16}", h.get("x-request-id", "")),
          "%s: X-Request-Id" % what)


def err_of(js):
    e = (js or {}).get("error", {}) if isinstance(js, dict) else {}
    return e.get("code"), e.get("field")


def scenarios(db, workdir, srv, ka, kb):
    step("healthz")
    st, h, js = srv.req("GET", "/healthz")
    check(st == 200 and js.get("status") == "ok", "healthz %d %r" % (st, js))
    check_headers(h, "healthz")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    st, _, js = srv.req("GET", "/healthz")
    check(st == 200 and srv.proc.poll() is None, "SIGHUP ignored: %d" % st)

    step("404/405")
    st, h, js = srv.req("GET", "/nope", key=ka)
    check(st == 404 and err_of(js)[0] == "not_found", "404 %d %r" % (st, js))
    check_headers(h, "404")
    st, h, js = srv.req("PUT", "/v1/tickets", key=ka)
    check(st == 405 and "GET" in h.get("allow", "")
          and "POST" in h.get("allow", ""), "405 %d %r" % (st, h.get("allow")))

    step("401")
    st, h, js = srv.req("GET", "/v1/tickets")
    check(st == 401 and err_of(js)[0] == "unauthorized", "no key %d" % st)
    check_headers(h, "401")
    st, _, _ = srv.req("GET", "/v1/tickets", key="fk_0123456789abcdef_" + "0" * 64)
    check(st == 401, "unknown key %d" % st)
    st, _, _ = srv.req("GET", "/v1/tickets", key="garbage")
    check(st == 401, "garbage key %d" % st)
    st, _, _ = srv.req("GET", "/v1/tickets", headers={"Authorization": "Basic " + ka})
    check(st == 401, "basic scheme %d" % st)

    step("ticket create")
    st, h, t = srv.req("POST", "/v1/tickets", ticket_body("F-1"), key=ka)
    if not check(st == 201, "create %d %r" % (st, t)):
        fatal("cannot create tickets")
    check_headers(h, "POST ticket")
    check_totals(t, "POST answer")
    check(re.fullmatch(r"[1-9][0-9]*", t["id"]), "id %r" % t["id"])
    check(len(t["key"]) >= 13, "key has >= 64 bits: %r" % t["key"])
    check(t["self_invoice_url"] == "https://facturo.test/ta/t/" + t["key"],
          "self_invoice_url %r" % t["self_invoice_url"])
    check(t["status"] == "open", "status %r" % t["status"])
    check(t["date"] == "2026-11-20T12:30:00-06:00", "date %r" % t["date"])
    check(len(t["items"]) == 3, "items")
    taxes = {(x["type"], x["withholding"]): x for x in t["taxes"]}
    check(taxes.get(("IVA", False), {}).get("amount") == "196.80"
          and taxes[("IVA", False)].get("base") == "1230.00"
          and taxes[("IVA", False)].get("rate") == "0.160000",
          "IVA summary %r" % t["taxes"])
    check(taxes.get(("ISR", True), {}).get("amount") == "100.00",
          "ISR summary %r" % t["taxes"])
    tid = t["id"]

    step("ticket get")
    st, h, g = srv.req("GET", "/v1/tickets/" + tid, key=ka)
    check(st == 200, "get %d" % st)
    check_totals(g, "GET")
    check(g["key"] == t["key"] and g["items"] == t["items"]
          and g["taxes"] == t["taxes"], "GET equals POST answer")
    st, _, _ = srv.req("GET", "/v1/tickets/999999999", key=ka)
    check(st == 404, "missing ticket %d" % st)
    st, _, _ = srv.req("GET", "/v1/tickets/abc", key=ka)
    check(st == 404, "non-numeric id %d" % st)

    step("ticket duplicate folio")
    st, _, js = srv.req("POST", "/v1/tickets", ticket_body("F-1"), key=ka)
    check(st == 409 and err_of(js) == ("ticket_exists", "folio_number"),
          "dup folio %d %r" % (st, js))

    step("idempotency")
    hk = {"Idempotency-Key": "idem-001"}
    st1, h1, a1 = srv.req("POST", "/v1/tickets", ticket_body("IDEM-1"), key=ka,
                          headers=hk)
    st2, h2, a2 = srv.req("POST", "/v1/tickets", ticket_body("IDEM-1"), key=ka,
                          headers=hk)
    check(st1 == 201 and st2 == 201 and a1 == a2,
          "replay %d %d same=%s" % (st1, st2, a1 == a2))
    check(h2.get("idempotent-replayed") == "true", "replay header")
    st3, _, a3 = srv.req("POST", "/v1/tickets", ticket_body("IDEM-2"), key=ka,
                         headers=hk)
    check(st3 == 409 and err_of(a3)[0] == "idempotency_key_reused",
          "other body %d %r" % (st3, a3))
    # The same key under another tenant is another key.
    st4, _, a4 = srv.req("POST", "/v1/tickets", ticket_body("IDEM-1"), key=kb,
                         headers=hk)
    check(st4 == 201 and a4["id"] != a1["id"], "key scoped by tenant %d" % st4)
    st, _, lst = srv.req("GET", "/v1/tickets?limit=200", key=ka)
    check(sum(1 for x in lst["data"] if x["folio_number"] == "IDEM-1") == 1,
          "one ticket for the replayed key")
    st, _, js = srv.req("POST", "/v1/tickets", ticket_body("IDEM-3"), key=ka,
                        headers={"Idempotency-Key": "x" * 300})
    check(st == 400 and err_of(js)[0] == "invalid_idempotency_key",
          "long key %d" % st)

    step("validation")
    cases = [
        ("missing folio", {k: v for k, v in ticket_body("V").items()
                           if k != "folio_number"}, "required", "folio_number"),
        ("unknown top field", dict(ticket_body("V"), color="red"),
         "unknown_field", "color"),
        ("bad payment form", dict(ticket_body("V"), payment_form="77"),
         "payment_form", "payment_form"),
        ("bad date", dict(ticket_body("V"), date="2026-02-30T10:00:00"),
         "date_format", "date"),
        ("bad currency", dict(ticket_body("V"), currency="ZZZ"),
         "currency_unknown", "currency"),
        ("no items", dict(ticket_body("V"), items=[]), "items_missing",
         "items"),
    ]
    b = ticket_body("V")
    b["items"][1]["product"]["price"] = "10.1234567"
    cases.append(("7 decimals", b, "amount_format", "items[1].product.price"))
    b = ticket_body("V")
    b["items"][0]["product"]["price"] = 1e30
    cases.append(("exponent", b, "amount_format", "items[0].product.price"))
    b = ticket_body("V")
    b["items"][0]["product"]["color"] = "red"
    cases.append(("unknown nested", b, "unknown_field",
                  "items[0].product.color"))
    b = ticket_body("V")
    b["items"][0]["quantity"] = "-1"
    cases.append(("negative qty", b, "quantity_format", "items[0].quantity"))
    b = ticket_body("V")
    b["items"][2]["product"]["taxes"][0]["rate"] = "0.17"
    cases.append(("rate not in c_TasaOCuota", b, None, None))
    b = ticket_body("V")
    b["items"] = [b["items"][1]] * 1001
    cases.append(("1001 items", b, "items_count", "items"))
    b = ticket_body("V", branch="x" * 40)
    cases.append(("long branch", b, "text_length", "branch"))
    for what, body, code, field in cases:
        st, h, js = srv.req("POST", "/v1/tickets", body, key=ka)
        c, f = err_of(js)
        check(st == 400 and (code is None or (c, f) == (code, field))
              and c is not None,
              "%s: %d %r" % (what, st, js))
    st, _, js = srv.req("POST", "/v1/tickets", raw=b'{"branch": ', key=ka,
                        headers={"Content-Type": "application/json"})
    check(st == 400 and err_of(js)[0] == "invalid_json", "truncated %d" % st)
    deep = b"[" * 50 + b"]" * 50
    st, _, js = srv.req("POST", "/v1/tickets", raw=b'{"items":' + deep + b"}",
                        key=ka, headers={"Content-Type": "application/json"})
    check(st == 400 and err_of(js)[0] == "invalid_json", "deep %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets", raw=b"{}", key=ka,
                        headers={"Content-Type": "text/plain"})
    check(st == 415, "content type %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets",
                        raw=b'{"branch":"S","branch":"T"}', key=ka,
                        headers={"Content-Type": "application/json"})
    check(st == 400, "duplicate key %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets", ticket_body("V"), key=ka,
                        headers={"Accept-Language": "es-MX"})
    # (valid: just checks Spanish does not break a success)
    check(st == 201, "es success %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets", dict(ticket_body("V2"), x=1),
                        key=ka, headers={"Accept-Language": "es-MX"})
    check(st == 400 and "desconocido" in js["error"]["message"],
          "Spanish message %r" % js)

    step("413")
    big = b'{"branch":"' + b"x" * (1024 * 1024 + 10) + b'"}'
    head = (b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\n")
    st = srv.raw(head % (b"/v1/tickets", ka.encode())
                 + b"Content-Length: %d\r\n\r\n" % len(big), big)
    check(st == 413, "413 over the ticket limit: %d" % st)
    st = srv.raw(head % (b"/v1/products", ka.encode())
                 + b"Content-Length: 20000\r\n\r\n", b" " * 20000)
    check(st == 413, "413 small route %d" % st)
    # Chunked (no Content-Length): counted while it arrives.
    chunks = b"".join(b"%x\r\n%s\r\n" % (1000, b" " * 1000) for _ in range(40))
    st = srv.raw(head % (b"/v1/products", ka.encode())
                 + b"Transfer-Encoding: chunked\r\n\r\n", chunks + b"0\r\n\r\n")
    check(st == 413, "chunked 413 %d" % st)
    st, _, js = srv.req("GET", "/v1/tickets/" + tid, raw=b"abc", key=ka)
    check(st == 413, "body on GET %d" % st)
    st, _, _ = srv.req("POST", "/v1/tickets", raw=b"", key=ka)
    check(st == 415 or st == 400, "empty POST %d" % st)

    step("cancel")
    st, _, js = srv.req("POST", "/v1/tickets/%s/cancel" % tid, key=ka)
    check(st == 200 and js["status"] == "cancelled", "cancel %d %r" % (st, js))
    st, _, js = srv.req("POST", "/v1/tickets/%s/cancel" % tid, key=ka)
    check(st == 409 and err_of(js)[0] == "ticket_cancelled", "re-cancel %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets/%s/cancel" % tid, {"why": 1}, key=ka)
    check(st == 400 and err_of(js) == ("unknown_field", "why"), "cancel field")
    st, _, g = srv.req("GET", "/v1/tickets/" + tid, key=ka)
    check(g["status"] == "cancelled", "cancel persisted")

    step("list + pagination")
    made = []
    for i in range(5):
        st, _, js = srv.req("POST", "/v1/tickets",
                            ticket_body("P-%d" % i, branch="PAG",
                                        date="2026-11-%02dT10:00:00" % (10 + i)),
                            key=ka)
        check(st == 201, "create page ticket %d" % st)
        made.append(js["id"])
    seen, cursor, pages = [], None, 0
    while True:
        q = "/v1/tickets?branch=PAG&limit=2" + ("&cursor=" + cursor if cursor else "")
        st, _, js = srv.req("GET", q, key=ka)
        check(st == 200, "page %d" % st)
        pages += 1
        seen += [x["id"] for x in js["data"]]
        check(len(js["data"]) <= 2, "limit respected")
        cursor = js["next_cursor"]
        if not cursor or pages > 5:
            break
    check(seen == list(reversed(made)), "pages newest first, complete: %r vs %r"
          % (seen, made))
    check(pages == 3, "3 pages of 2, got %d" % pages)
    st, _, js = srv.req("GET", "/v1/tickets?branch=PAG&date_from=2026-11-11"
                        "&date_to=2026-11-13", key=ka)
    check([x["folio_number"] for x in js["data"]] == ["P-3", "P-2", "P-1"],
          "date filter %r" % [x["folio_number"] for x in js["data"]])
    srv.req("POST", "/v1/tickets/%s/cancel" % made[0], key=ka)
    st, _, js = srv.req("GET", "/v1/tickets?branch=PAG&status=cancelled", key=ka)
    check([x["id"] for x in js["data"]] == [made[0]], "status filter")
    st, _, js = srv.req("GET", "/v1/tickets?branch=NOPE", key=ka)
    check(st == 200 and js["data"] == [], "unknown branch: empty")
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=AAAA",
                "status=weird", "date_from=2026-13-01"]:
        st, _, js = srv.req("GET", "/v1/tickets?" + bad, key=ka)
        check(st == 400, "bad query %s -> %d" % (bad, st))

    step("products")
    prod = {"description": "Café de olla", "product_key": "50201700",
            "unit_key": "H87", "price": "35.50", "sku": "CAF-1",
            "taxes": [{"type": "IVA", "rate": "0.16"}]}
    st, _, p = srv.req("POST", "/v1/products", prod, key=ka)
    check(st == 201 and p["price"] == "35.50" and p["sku"] == "CAF-1",
          "create product %d %r" % (st, p))
    pid = p.get("id")
    st, _, js = srv.req("POST", "/v1/products", prod, key=ka)
    check(st == 409 and err_of(js)[0] == "product_exists", "dup sku %d" % st)
    st, _, js = srv.req("POST", "/v1/products", dict(prod, sku="X", price="1.0000001"),
                        key=ka)
    check(st == 400 and err_of(js)[1] == "price", "bad price %r" % (js,))
    st, _, js = srv.req("POST", "/v1/products", dict(prod, sku="Y", size=3), key=ka)
    check(st == 400 and err_of(js) == ("unknown_field", "size"), "unknown %r" % (js,))
    st, _, g = srv.req("GET", "/v1/products/" + pid, key=ka)
    check(st == 200 and g["description"] == "Café de olla", "get product")
    st, _, g = srv.req("PATCH", "/v1/products/" + pid, {"price": 40, "sku": None},
                       key=ka)
    check(st == 200 and g["price"] == "40.00" and "sku" not in g,
          "patch product %d %r" % (st, g))
    st, _, g = srv.req("PATCH", "/v1/products/" + pid, {"price": "-1"}, key=ka)
    check(st == 400 and err_of(g)[1] == "price", "bad patch %r" % (g,))
    st, _, js = srv.req("GET", "/v1/products", key=ka)
    check(st == 200 and pid in [x["id"] for x in js["data"]], "list products")
    st, _, _ = srv.req("DELETE", "/v1/products/" + pid, key=ka)
    check(st == 204, "delete product %d" % st)
    st, _, _ = srv.req("GET", "/v1/products/" + pid, key=ka)
    check(st == 404, "deleted product gone %d" % st)

    step("customers")
    cus = {"legal_name": "ESCUELA KEMPER URGATE", "tax_id": "EKU9003173C9",
           "tax_system": "601", "zip": "42501", "email": "pagos@example.com",
           "use": "G03"}
    st, _, c = srv.req("POST", "/v1/customers", cus, key=ka)
    check(st == 201 and c["tax_id"] == "EKU9003173C9", "create customer %d %r"
          % (st, c))
    cid = c.get("id")
    st, _, js = srv.req("POST", "/v1/customers", dict(cus, tax_id="NOTANRFC"),
                        key=ka)
    check(st == 400 and err_of(js)[1] == "tax_id", "bad rfc %r" % (js,))
    st, _, js = srv.req("POST", "/v1/customers", dict(cus, zip="123"), key=ka)
    check(st == 400 and err_of(js)[1] == "zip", "bad zip %r" % (js,))
    st, _, js = srv.req("PATCH", "/v1/customers/" + cid, {"email": None}, key=ka)
    check(st == 200 and "email" not in js, "patch customer %d" % st)
    st, _, js = srv.req("GET", "/v1/customers", key=ka)
    check(st == 200 and cid in [x["id"] for x in js["data"]], "list customers")

    step("isolation")
    # Objects of tenant B ...
    st, _, tb = srv.req("POST", "/v1/tickets", ticket_body("B-1"), key=kb)
    st2, _, pb = srv.req("POST", "/v1/products", dict(prod, sku="B"), key=kb)
    st3, _, cb = srv.req("POST", "/v1/customers", cus, key=kb)
    if not check(st == 201 and st2 == 201 and st3 == 201, "B objects"):
        return
    ids = {"tickets": tb["id"], "products": pb["id"], "customers": cb["id"]}
    receiver = {"customer": {"legal_name": "ESCUELA KEMPER URGATE",
                             "tax_id": "EKU9003173C9", "tax_system": "601",
                             "address": {"zip": "42501"}}, "use": "G03"}
    bodies = {("PATCH", "/v1/products/{id}"): {"price": 1},
              ("PATCH", "/v1/customers/{id}"): {"legal_name": "X"},
              ("POST", "/v1/tickets/{id}/invoice"): receiver}
    routes = run("serve", "--print-routes").stdout.split("\n")
    if any(" /v1/invoices/" in l for l in routes):
        # An invoice of B (sandbox stamp with SAT's test CSD for B's RFC).
        csd = os.path.join(os.environ.get("FACTURO_SHARED", "../shared"),
                           "sat", "csd", "CACX7605101P8")
        run("tenant", "csd", "--db", db, "--tenant", "tb",
            "--cer", os.path.join(csd, "CACX7605101P8.cer"),
            "--key", os.path.join(csd, "CACX7605101P8.key"),
            "--password-file", os.path.join(csd, "password.txt"))
        run("tenant", "set", "--db", db, "--tenant", "tb", "--stamp", "sandbox")
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 86400))
        simple = ticket_body("B-INV", date=now + "Z")
        simple["items"] = simple["items"][:1]
        st, _, tb2 = srv.req("POST", "/v1/tickets", simple, key=kb)
        st2, _, ib = srv.req("POST", "/v1/tickets/%s/invoice" % tb2.get("id"),
                             receiver, key=kb)
        if check(st == 201 and st2 in (200, 201),
                 "B's invoice: %d %d %r" % (st, st2, ib)):
            ids["invoices"] = ib["id"]
    covered = 0
    for line in routes:
        if not line.strip():
            continue
        method, pattern, auth, _ = line.split()
        if auth == "public":
            continue
        m = re.fullmatch(r"/v1/(\w+)(/\{id\}.*)?", pattern)
        if not check(m, "route %s not understood by the test" % pattern):
            continue
        res = m.group(1)
        if m.group(2) is None:
            # collection routes: A never sees B's objects
            if method == "GET":
                st, _, js = srv.req("GET", pattern + "?limit=200", key=ka)
                check(st == 200 and ids.get(res, "-") not in
                      [x["id"] for x in js["data"]],
                      "%s %s lists B's object" % (method, pattern))
            covered += 1
            continue
        if not check(res in ids, "no B object for %s" % pattern):
            continue
        path = pattern.replace("{id}", ids[res])
        st, _, js = srv.req(method, path, bodies.get((method, pattern)), key=ka)
        check(st == 404, "%s %s with A's key -> %d (want 404)" % (method, path, st))
        covered += 1
    check(covered == len([l for l in routes if "api_key" in l]),
          "every API route covered")
    # ... are untouched, still B's
    st, _, js = srv.req("GET", "/v1/tickets/" + tb["id"], key=kb)
    check(st == 200 and js["status"] == "open", "B's ticket intact")
    st, _, js = srv.req("GET", "/v1/products/" + pb["id"], key=kb)
    check(st == 200, "B's product intact")

    step("revoked key")
    ktmp = run("apikey", "create", "--db", db, "--tenant", "ta").stdout.strip()
    st, _, _ = srv.req("GET", "/v1/tickets", key=ktmp)
    check(st == 200, "fresh key works %d" % st)
    prefix = ktmp.split("_")[1]
    run("apikey", "revoke", "--db", db, "--tenant", "ta", prefix)
    st, _, js = srv.req("GET", "/v1/tickets", key=ktmp)
    check(st == 401, "revoked key -> %d" % st)

    step("metrics")
    st, h, text = srv.req("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    check(st == 200 and h.get("content-type", "").startswith("text/plain"),
          "metrics %d" % st)
    check(re.search(r'facturo_http_requests_total\{method="POST",'
                    r'route="/v1/tickets",status="201"\} \d+', text),
          "request counter by route and status")
    check(re.search(r'facturo_http_request_duration_seconds_bucket\{method="GET",'
                    r'route="/v1/tickets/\{id\}",le="\+Inf"\} \d+', text),
          "latency histogram per route")
    check(ka not in text and "/v1/tickets/" + tid not in text,
          "no keys or concrete paths in metrics")

    step("log hygiene")
    log = open(srv.logpath, encoding="utf-8", errors="replace").read()
    check(ka not in log and kb not in log and "Café" not in log
          and "EKU9003173C9" not in log, "no keys, bodies or fiscal data in logs")
    check(re.search(r"POST /v1/tickets 201 \d+\.\d+ms id=[0-9a-f]{16}", log),
          "one line per request with status, latency and id")


def rate_limit(db, workdir, ka):
    step("429")
    srv = Server(db, workdir, ["--rate-limit", "1", "--rate-burst", "3"], "rl")
    try:
        codes = []
        ra = None
        for _ in range(10):
            st, h, js = srv.req("GET", "/v1/tickets?limit=1", key=ka)
            codes.append(st)
            if st == 429:
                ra = h.get("retry-after")
                check(err_of(js)[0] == "rate_limited", "429 body")
        check(codes[:3] == [200, 200, 200] and 429 in codes, "codes %r" % codes)
        check(ra is not None and ra.isdigit() and int(ra) >= 1,
              "Retry-After %r" % ra)
        st, _, _ = srv.req("GET", "/healthz")
        check(st == 200, "public routes not limited")
    finally:
        srv.stop()


def sigterm_inflight(db, workdir, ka):
    step("SIGTERM in flight")
    srv = Server(db, workdir, name="term")
    body = json.dumps(ticket_body("TERM-1")).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + ka.encode() + b"\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
    time.sleep(1.0)                 # the request is admitted, body pending
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    refused = False
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    except OSError:
        refused = True
    check(refused, "no new connections after SIGTERM")
    s.sendall(body[100:])
    s.settimeout(10)
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    check(resp.startswith(b"HTTP/1.1 201"), "in-flight request finished: %r"
          % resp[:40])
    rc = srv.proc.wait(15)
    check(rc == 0, "exit status %d after SIGTERM" % rc)


def durability(db, workdir, ka):
    """SIGKILL during a burst: every 201 survives, nothing partial."""
    step("durability (SIGKILL)")
    srv = Server(db, workdir, name="kill")
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n):
        i = 0
        while not stop.is_set():
            folio = "K-%d-%d" % (n, i)
            i += 1
            try:
                st, _, js = srv.req("POST", "/v1/tickets",
                                    ticket_body(folio, branch="KILL"), key=ka,
                                    timeout=5)
            except Exception:
                return
            if st == 201:
                with lock:
                    acked[js["id"]] = js["total"]
    ths = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in ths:
        t.start()
    time.sleep(1.0)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in ths:
        t.join()
    check(len(acked) > 10, "burst made tickets (%d)" % len(acked))
    srv2 = Server(db, workdir, name="kill2")
    try:
        missing = [i for i in acked
                   if srv2.req("GET", "/v1/tickets/" + i, key=ka)[0] != 200]
        check(not missing, "acknowledged tickets lost: %r" % missing[:5])
        seen, cursor = 0, None
        while True:
            q = "/v1/tickets?branch=KILL&limit=200" + (
                "&cursor=" + cursor if cursor else "")
            st, _, js = srv2.req("GET", q, key=ka)
            for x in js["data"]:
                seen += 1
                st, _, g = srv2.req("GET", "/v1/tickets/" + x["id"], key=ka)
                if not check(st == 200 and len(g["items"]) == 3
                             and g["total"] == EXPECTED["total"],
                             "partial ticket %s" % x["id"]):
                    break
            cursor = js["next_cursor"]
            if not cursor:
                break
        check(seen >= len(acked), "stored %d >= acked %d" % (seen, len(acked)))
    finally:
        srv2.stop()


def same_keys_parallel(db, workdir, ka):
    """Group commit (SQLite): the same key twice in one batch is one ticket."""
    step("parallel retries, one process")
    srv = Server(db, workdir, ["--threads", "16"], name="par")
    results = []
    lock = threading.Lock()

    def send(k):
        for i in range(200):
            st, _, js = srv.req("POST", "/v1/tickets",
                                ticket_body("SK-%d" % (i // 2), branch="SAMEKEY"),
                                key=ka, headers={"Idempotency-Key": "sk-%d" % (i // 2)})
            with lock:
                results.append((i // 2, st, json.dumps(js, sort_keys=True)))
    ths = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    check(all(st == 201 for _, st, _ in results),
          "all 201: %r" % sorted({st for _, st, _ in results}))
    by = {}
    for i, _, body in results:
        by.setdefault(i, set()).add(body)
    check(len(by) == 100 and all(len(v) == 1 for v in by.values()),
          "one identical answer per key")
    st, _, js = srv.req("GET", "/v1/tickets?branch=SAMEKEY&limit=200", key=ka)
    check(len(js["data"]) == 100 and js["next_cursor"] is None,
          "exactly 100 tickets, got %d" % len(js["data"]))
    srv.stop()


def two_processes(db, workdir, ka):
    """INVARIANT 1 at the API: two processes, same 500 tickets, same keys."""
    step("two processes, 500 tickets")
    s1 = Server(db, workdir, name="p1")
    s2 = Server(db, workdir, name="p2")
    results = []
    lock = threading.Lock()

    def send(srv, idxs):
        for i in idxs:
            st, _, js = srv.req("POST", "/v1/tickets",
                                ticket_body("C-%d" % i, branch="CONC"), key=ka,
                                headers={"Idempotency-Key": "conc-%d" % i})
            with lock:
                results.append((i, st, js.get("id") if isinstance(js, dict) else None))
    ths = []
    for srv in (s1, s2):
        for k in range(4):
            ths.append(threading.Thread(target=send,
                                        args=(srv, range(k, 500, 4))))
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    bad = [r for r in results if r[1] != 201]
    check(not bad, "non-201 answers: %r" % bad[:5])
    by = {}
    for i, st, tid in results:
        by.setdefault(i, set()).add(tid)
    check(all(len(v) == 1 for v in by.values()),
          "both processes answered the same ticket per key")
    n, cursor = 0, None
    while True:
        q = "/v1/tickets?branch=CONC&limit=200" + ("&cursor=" + cursor if cursor else "")
        st, _, js = s1.req("GET", q, key=ka)
        n += len(js["data"])
        cursor = js["next_cursor"]
        if not cursor:
            break
    check(n == 500, "exactly 500 tickets, got %d" % n)
    s1.stop()
    s2.stop()


def config_precedence(workdir):
    """flags > environment > config file > defaults (docs/operations.md)."""
    step("config precedence")
    conf = os.path.join(workdir, "f.conf")
    with open(conf, "w") as f:
        f.write("# comment\n\nrate_limit = 5\nthreads = 3\n"
                "listen = 127.0.0.2:9999\nlog_level = \"warn\"\n")
    env = dict(os.environ, FACTURO_RATE_LIMIT="7", FACTURO_CONFIG=conf)
    p = subprocess.run([BIN, "serve", "--threads", "9", "--print-config"],
                       capture_output=True, text=True, env=env)
    cfg = dict(l.split(" = ", 1) for l in p.stdout.splitlines() if " = " in l)
    check(p.returncode == 0, "print-config rc %d" % p.returncode)
    check(cfg.get("threads") == "9", "flag beats env/file: %r" % cfg.get("threads"))
    check(cfg.get("rate_limit") == "7", "env beats file: %r" % cfg.get("rate_limit"))
    check(cfg.get("listen") == "127.0.0.2:9999", "file beats default")
    check(cfg.get("log_level") == "warn", "quoted value")
    check(cfg.get("rate_burst") == "100", "default")
    check(cfg.get("stamp") == "sandbox" and cfg.get("global_interval") == "600",
          "stamping provider and global-invoice job defaults: %r" % cfg)
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--db",
                        "sqlite:" + os.path.join(workdir, "stamp.db")],
                       capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, FACTURO_STAMP="no-such-pac"))
    check(p.returncode == 2 and "no-such-pac" in p.stderr
          and p.stderr.count("\n") == 1,
          "unknown stamping provider refused at start: %d %r"
          % (p.returncode, p.stderr))
    for bad_args, what in [(["--threads", "x"], "bad number"),
                           (["--listen", "nope"], "bad listen"),
                           (["--color", "red"], "unknown flag"),
                           (["--base-url", "javascript:alert(1)"], "bad base URL"),
                           (["--base-url", "https://x/\"><b>"], "quote in base URL")]:
        p = subprocess.run([BIN, "serve", "--print-config"] + bad_args,
                           capture_output=True, text=True)
        check(p.returncode == 2 and p.stderr.count("\n") == 1,
              "%s -> exit %d, %r" % (what, p.returncode, p.stderr))
    with open(conf, "a") as f:
        f.write("bogus = 1\n")
    p = subprocess.run([BIN, "serve", "--config", conf, "--print-config"],
                       capture_output=True, text=True)
    check(p.returncode == 2 and ":7:" in p.stderr, "bad file line named: %r"
          % p.stderr)


def secret_file(db, workdir):
    step("secret file")
    if not db.startswith("sqlite:"):
        return
    path = db[len("sqlite:"):] + ".secret"
    check(os.path.exists(path) and (os.stat(path).st_mode & 0o777) == 0o600,
          "secret created 0600 next to the database")
    os.chmod(path, 0o644)
    p = subprocess.run([BIN, "serve", "--db", db, "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "0600" in p.stderr,
          "group-readable secret refused: %d %r" % (p.returncode, p.stderr))
    os.chmod(path, 0o600)


def main():
    if not os.path.exists(BIN):
        fatal("no binary at " + BIN)
    workdir = tempfile.mkdtemp(prefix="facturo-api-")
    pgdrop = None
    try:
        d = make_db(workdir)
        if isinstance(d, tuple):
            db, pgdrop = d
        else:
            db = d
        config_precedence(workdir)
        step("cli")
        run("migrate", "--db", db)
        ka = tenant(db, "ta", "EKU9003173C9")
        kb = tenant(db, "tb", "CACX7605101P8", "612")
        srv = Server(db, workdir)
        t0 = time.time()
        try:
            scenarios(db, workdir, srv, ka, kb)
        finally:
            rc = srv.stop()
            step("shutdown")
            check(rc == 0, "serve exit status %d" % rc)
        secret_file(db, workdir)
        rate_limit(db, workdir, ka)
        sigterm_inflight(db, workdir, ka)
        if BACKEND == "sqlite":
            same_keys_parallel(db, workdir, ka)
            durability(db, workdir, ka)
        else:
            two_processes(db, workdir, ka)
        step("sanitizers")
        for f in os.listdir(workdir):
            if f.endswith(".log"):
                text = open(os.path.join(workdir, f), errors="replace").read()
                check(not re.search(r"runtime error:|AddressSanitizer|"
                                    r"LeakSanitizer", text),
                      "sanitizer report in %s" % f)
        print("api %s: %d failures in %.1fs" % (BACKEND, len(FAILS),
                                                time.time() - t0))
    finally:
        if FAILS or os.environ.get("FACTURO_KEEP"):
            for f in os.listdir(workdir):
                if f.endswith(".log"):
                    print("---- %s (tail)" % f)
                    print("".join(open(os.path.join(workdir, f),
                                       errors="replace").readlines()[-30:]))
        shutil.rmtree(workdir, ignore_errors=True)
        if pgdrop:
            subprocess.run(["psql", pgdrop[0], "-qc",
                            "DROP DATABASE IF EXISTS %s WITH (FORCE)" % pgdrop[1]],
                           capture_output=True)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issuing invoices over real HTTP against `facturo serve` (suite 'api').

    issue_test.py sqlite|postgres FIXTURE

Reuses tests/api/api_test.py (Server, check, step, ticket bodies); the
merchants, their CSDs (SAT's test CSDs from ../shared) and API keys are
made by FIXTURE (tests/issue/fixture.c) through the store API.  Each check
says what it proves; any failure exits 1 with the step's name.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("FACTURO_SRC", "."), "tests",
                                "api"))
import api_test as A  # noqa: E402  (BACKEND is read from sys.argv[1])
from api_test import check, step, fatal, err_of  # noqa: E402

FIXTURE = sys.argv[2]
SHARED = os.environ.get("FACTURO_SHARED", "../shared")
BIN = A.BIN
MX = datetime.timezone(datetime.timedelta(hours=-6))
os.environ.setdefault("FACTURO_SECRET_KEY", "ab" * 32)

RECEIVER = {"customer": {"legal_name": "UNIVERSIDAD ROBOTICA ESPANOLA",
                         "tax_id": "URE180429TM6", "tax_system": "601",
                         "address": {"zip": "86991"}},
            "use": "G03"}


def fixture(*args):
    p = subprocess.run([FIXTURE] + list(args), capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        fatal("fixture %s: %s" % (args[1], p.stderr.strip()))
    return p.stdout


def tenant(db, slug, rfc, name, csd=True, window="7", periodicity="04"):
    d = os.path.join(SHARED, "sat", "csd", rfc)
    args = [db, "tenant", slug, rfc, name, "601", "06000"]
    if csd:
        args += [os.path.join(d, rfc + ".cer"), os.path.join(d, rfc + ".key"),
                 os.path.join(d, "password.txt")]
    else:
        args += ["-", "-", "-"]
    return fixture(*(args + [window, periodicity])).strip()


def now_local(minutes_ago=1):
    t = datetime.datetime.now(MX) - datetime.timedelta(minutes=minutes_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def new_ticket(srv, key, folio, date=None, branch="S01"):
    st, _, t = srv.req("POST", "/v1/tickets",
                       A.ticket_body(folio, branch=branch,
                                     date=date or now_local()), key=key)
    if st != 201:
        fatal("ticket %s: %d %r" % (folio, st, t))
    return t


def verify(xml, workdir, name):
    path = os.path.join(workdir, name + ".xml")
    with open(path, "wb") as f:
        f.write(xml)
    p = subprocess.run([BIN, "cfdi", "verify", path], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def get_bytes(srv, path, key):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    c.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    body = r.read()
    ct = r.getheader("Content-Type", "")
    c.close()
    return r.status, ct, body


def issue_scenarios(db, workdir, srv, ka, kb, knocsd):
    step("issue: 201 with uuid")
    t = new_ticket(srv, ka, "I-1")
    st, _, inv = srv.req("POST", "/v1/tickets/%s/invoice" % t["id"],
                         RECEIVER, key=ka)
    if not check(st == 201, "invoice %d %r" % (st, inv)):
        fatal("cannot issue")
    check(re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}"
                       r"-[0-9A-F]{12}", inv.get("uuid", "")),
          "uuid %r" % inv.get("uuid"))
    check(inv["total"] == A.EXPECTED["total"] and inv["tickets"] == [t["id"]]
          and inv["customer"]["tax_id"] == "URE180429TM6"
          and inv["status"] == "valid", "invoice body %r" % inv)
    st, _, g = srv.req("GET", "/v1/tickets/" + t["id"], key=ka)
    check(g["status"] == "invoiced", "ticket now invoiced: %r" % g["status"])

    step("issue: XML passes facturo cfdi verify")
    st, ct, xml = get_bytes(srv, "/v1/invoices/%s/xml" % inv["id"], ka)
    check(st == 200 and ct.startswith("application/xml"), "xml %d %s" % (st, ct))
    rc, out = verify(xml, workdir, "one")
    check(rc == 0, "verify rc %d: %s" % (rc, out))
    check(inv["uuid"].encode() in xml and b'Total="1326.80"' in xml
          and b'Rfc="URE180429TM6"' in xml and b'UsoCFDI="G03"' in xml,
          "stamped XML carries uuid, total and receiver")
    check(("%s" % inv["sha256"]) == __import__("hashlib").sha256(xml).hexdigest(),
          "sha256 of the stored bytes")

    step("issue: PDF rendered once, served identically")
    st1, ct1, p1 = get_bytes(srv, "/v1/invoices/%s/pdf" % inv["id"], ka)
    st2, ct2, p2 = get_bytes(srv, "/v1/invoices/%s/pdf" % inv["id"], ka)
    check(st1 == 200 and ct1 == "application/pdf" and p1.startswith(b"%PDF"),
          "pdf %d %s %r" % (st1, ct1, p1[:8]))
    check(st2 == 200 and p1 == p2, "second PDF identical (%d bytes)" % len(p2))

    step("issue: second request -> same invoice")  # INVARIANT 1
    st, _, again = srv.req("POST", "/v1/tickets/%s/invoice" % t["id"],
                           RECEIVER, key=ka)
    check(st == 200 and again["id"] == inv["id"]
          and again["uuid"] == inv["uuid"], "again %d %r" % (st, again))

    step("issue: 'issued' event; e-mail queued in the same transaction")
    ev = fixture(db, "events", "ta", inv["id"]).splitlines()
    check(len(ev) == 1 and ev[0].startswith("issued apikey:")
          and t["id"] in ev[0] and inv["uuid"] in ev[0], "events %r" % ev)
    tm = new_ticket(srv, ka, "I-MAIL")
    b = json.loads(json.dumps(RECEIVER))
    b["customer"]["email"] = ["compras@example.com", "conta@example.com"]
    st, _, im = srv.req("POST", "/v1/tickets/%s/invoice" % tm["id"], b, key=ka)
    check(st == 201 and im["customer"]["email"] == "compras@example.com",
          "invoice with e-mail %d %r" % (st, im))
    ev = fixture(db, "events", "ta", im["id"]).splitlines()
    check([e.split()[0] for e in ev] == ["issued", "mail_queued"]
          and "conta@example.com" in ev[1], "events %r" % ev)

    step("issue: Idempotency-Key replay")
    t2 = new_ticket(srv, ka, "I-IDEM")
    hk = {"Idempotency-Key": "inv-idem-1"}
    s1, _, a1 = srv.req("POST", "/v1/tickets/%s/invoice" % t2["id"], RECEIVER,
                        key=ka, headers=hk)
    s2, h2, a2 = srv.req("POST", "/v1/tickets/%s/invoice" % t2["id"], RECEIVER,
                         key=ka, headers=hk)
    check(s1 == 201 and s2 == 201 and a1 == a2
          and h2.get("idempotent-replayed") == "true",
          "replay %d %d %r" % (s1, s2, a2))

    step("issue: 20 concurrent requests -> one invoice")  # INVARIANT 1
    # Half with an Idempotency-Key (the grouped, idempotent path), half
    # without (the issuing transaction alone): both paths race.
    for rnd in range(3):
        t3 = new_ticket(srv, ka, "I-CONC-%d" % rnd)
        res = []
        lock = threading.Lock()

        def hit(i):
            hdr = {"Idempotency-Key": "conc-%d-%d" % (rnd, i)} if i % 2 else None
            st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % t3["id"],
                                RECEIVER, key=ka, headers=hdr)
            with lock:
                res.append((st, js.get("id") if isinstance(js, dict) else None,
                            js.get("uuid") if isinstance(js, dict) else None))
        ths = [threading.Thread(target=hit, args=(i,)) for i in range(20)]
        for x in ths:
            x.start()
        for x in ths:
            x.join()
        ids = {r[1] for r in res}
        uuids = {r[2] for r in res}
        codes = sorted(r[0] for r in res)
        check(len(ids) == 1 and None not in ids and len(uuids) == 1,
              "one invoice id/uuid for 20 requests: %r" % res)
        check(codes.count(201) == 1 and codes.count(200) == 19,
              "one 201, nineteen 200: %r" % codes)

    step("issue: outside the window -> 409 ticket_expired")
    old = new_ticket(srv, ka, "I-OLD", date="2026-10-10T10:00:00")
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % old["id"],
                        RECEIVER, key=ka)
    check(st == 409 and err_of(js)[0] == "ticket_expired", "expired %d %r"
          % (st, js))
    st, _, g = srv.req("GET", "/v1/tickets/" + old["id"], key=ka)
    check(g["status"] == "open", "refusal changed nothing: %r" % g["status"])

    step("issue: cancelled ticket -> 409 ticket_cancelled")
    c = new_ticket(srv, ka, "I-CANC")
    st, _, _ = srv.req("POST", "/v1/tickets/%s/cancel" % c["id"], {}, key=ka)
    check(st == 200, "cancel %d" % st)
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % c["id"], RECEIVER,
                        key=ka)
    check(st == 409 and err_of(js)[0] == "ticket_cancelled",
          "cancelled %d %r" % (st, js))

    step("issue: receiver errors name the field")
    r = new_ticket(srv, ka, "I-RCV")
    cases = [
        ({"tax_id": "URE180429TM5"}, None, ("rfc_check_digit", "customer.tax_id")),
        ({"tax_id": "XOJI740919U48", "tax_system": "605",
          "legal_name": "INGRID XODAR JIMENEZ"}, "G03", (None, "use")),
        ({"address": {"zip": "8699"}}, None, (None, "customer.address.zip")),
        ({"email": "no-at-sign"}, None, (None, "customer.email")),
        ({"tax_system": "999"}, None, (None, "customer.tax_system")),
    ]
    for cust, use, (code, field) in cases:
        b = json.loads(json.dumps(RECEIVER))
        b["customer"].update(cust)
        if use:
            b["use"] = use
        st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % r["id"], b,
                            key=ka)
        c0, f0 = err_of(js)
        check(st == 400 and f0 == field and (code is None or c0 == code),
              "%r -> %d %r" % (cust, st, js))
    b = json.loads(json.dumps(RECEIVER))
    b["customer"]["nickname"] = "x"
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % r["id"], b, key=ka)
    check(st == 400 and err_of(js) == ("unknown_field", "customer.nickname"),
          "unknown field %d %r" % (st, js))
    st, _, g = srv.req("GET", "/v1/tickets/" + r["id"], key=ka)
    check(g["status"] == "open", "bad receivers changed nothing")

    step("issue: merchant without CSD -> 409 csd_missing")
    n = new_ticket(srv, knocsd, "I-NOCSD")
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % n["id"], RECEIVER,
                        key=knocsd)
    check(st == 409 and err_of(js)[0] == "csd_missing", "no csd %d %r"
          % (st, js))

    step("issue: stamping provider unavailable -> 503, nothing written")
    kx = fixture(db, "tenant", "tx", "EKU9003173C9", "ESCUELA KEMPER URGATE",
                 "601", "06000",
                 *[os.path.join(SHARED, "sat", "csd", "EKU9003173C9", f)
                   for f in ("EKU9003173C9.cer", "EKU9003173C9.key",
                             "password.txt")],
                 "7", "04", "X", "no-such-pac").strip()
    x = new_ticket(srv, kx, "I-PAC")
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % x["id"], RECEIVER,
                        key=kx)
    check(st == 503 and err_of(js)[0] == "stamp_unavailable",
          "no provider %d %r" % (st, js))
    check(status_of(srv, kx, x["id"]) == "open"
          and int(fixture(db, "count", "tx")) == 0, "nothing written")

    step("issue: tenant isolation")  # INVARIANT 5
    for path in ("/v1/invoices/%s", "/v1/invoices/%s/xml",
                 "/v1/invoices/%s/pdf"):
        st, _, _ = srv.req("GET", path % inv["id"], key=kb)
        check(st == 404, "B reads A's %s -> %d" % (path, st))
    st, _, js = srv.req("GET", "/v1/invoices", key=kb)
    check(st == 200 and js["data"] == [], "B lists nothing of A: %r" % js)
    st, _, _ = srv.req("POST", "/v1/tickets/%s/invoice" % r["id"], RECEIVER,
                       key=kb)
    check(st == 404, "B invoices A's ticket -> %d" % st)
    st, _, _ = srv.req("GET", "/v1/invoices/999999999", key=ka)
    check(st == 404, "missing invoice -> %d" % st)

    step("issue: list with filters and cursor")
    st, _, js = srv.req("GET", "/v1/invoices?limit=1", key=ka)
    check(st == 200 and len(js["data"]) == 1 and js["next_cursor"],
          "first page %r" % js)
    seen = [js["data"][0]["id"]]
    cur = js["next_cursor"]
    while cur:
        st, _, js = srv.req("GET", "/v1/invoices?limit=1&cursor=" + cur, key=ka)
        seen += [x["id"] for x in js["data"]]
        cur = js["next_cursor"]
    check(len(seen) == 6 and len(set(seen)) == 6, "6 invoices paged: %r" % seen)
    st, _, js = srv.req("GET", "/v1/invoices?customer=XAXX010101000", key=ka)
    check(st == 200 and js["data"] == [], "customer filter %r" % js)
    st, _, js = srv.req("GET", "/v1/invoices?customer=URE180429TM6&status=valid",
                        key=ka)
    check(st == 200 and len(js["data"]) == 6, "rfc+status filter")
    st, _, js = srv.req("GET", "/v1/invoices?date_to=2020-01-01", key=ka)
    check(st == 200 and js["data"] == [], "date filter")
    st, _, js = srv.req("GET", "/v1/invoices?status=bogus", key=ka)
    check(st == 400, "bad status -> %d" % st)
    qr(srv, workdir, ka, kb, t)
    return inv


def qr(srv, workdir, ka, kb, t):
    step("ticket QR: PNG decodes to the self_invoice_url")
    st, ct, png = get_bytes(srv, "/v1/tickets/%s/qr?format=png" % t["id"], ka)
    check(st == 200 and ct == "image/png" and png.startswith(b"\x89PNG"),
          "png %d %s" % (st, ct))
    path = os.path.join(workdir, "qr.png")
    with open(path, "wb") as f:
        f.write(png)
    p = subprocess.run(["zbarimg", "--raw", "-q", path], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0 and p.stdout.strip() == t["self_invoice_url"],
          "zbarimg read %r, want %r" % (p.stdout.strip(), t["self_invoice_url"]))
    st, ct, png2 = get_bytes(srv, "/v1/tickets/%s/qr" % t["id"], ka)
    check(st == 200 and png2 == png, "png is the default format")
    st, ct, svg = get_bytes(srv, "/v1/tickets/%s/qr?format=svg" % t["id"], ka)
    check(st == 200 and ct == "image/svg+xml" and b"<svg" in svg
          and b"<path" in svg, "svg %d %s" % (st, ct))
    st, _, _ = get_bytes(srv, "/v1/tickets/%s/qr?format=gif" % t["id"], ka)
    check(st == 400, "unknown format -> %d" % st)
    st, _, _ = get_bytes(srv, "/v1/tickets/%s/qr" % t["id"], kb)
    check(st == 404, "other tenant's ticket QR -> %d" % st)


def facturo(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=120)


def png_file(path, w, h):
    import struct
    import zlib

    def chunk(t, d):
        return (struct.pack(">I", len(d)) + t + d
                + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff))
    raw = b"".join(b"\0" + bytes([20, 90, 160]) * w for _ in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf_images(workdir, pdf):
    """(width, height) of every image pdfimages -list finds in pdf."""
    path = os.path.join(workdir, "logo-check.pdf")
    with open(path, "wb") as f:
        f.write(pdf)
    p = subprocess.run(["pdfimages", "-list", path], capture_output=True,
                       text=True, timeout=60)
    return [(int(x.split()[3]), int(x.split()[4]))
            for x in p.stdout.splitlines()[2:] if len(x.split()) > 4]


def logo_scenario(db, workdir, srv):
    step("pdf: the merchant's logo (tenant brand) is on the stored PDF")
    kl = tenant(db, "tl", "EKU9003173C9", "ESCUELA KEMPER URGATE")
    png_file(os.path.join(workdir, "logo1.png"), 37, 19)
    png_file(os.path.join(workdir, "logo2.png"), 29, 13)
    p = facturo("tenant", "brand", "--db", db, "--tenant", "tl", "--logo",
                os.path.join(workdir, "logo1.png"))
    check(p.returncode == 0, "tenant brand: %s" % p.stderr)
    t = new_ticket(srv, kl, "L-1")
    st, _, inv = srv.req("POST", "/v1/tickets/%s/invoice" % t["id"],
                         RECEIVER, key=kl)
    check(st == 201, "invoice %d %r" % (st, inv))
    st, ct, p1 = get_bytes(srv, "/v1/invoices/%s/pdf" % inv["id"], kl)
    imgs = pdf_images(workdir, p1)
    check(st == 200 and (37, 19) in imgs, "logo 37x19 in the PDF: %r" % imgs)
    p = facturo("tenant", "brand", "--db", db, "--tenant", "tl", "--logo",
                os.path.join(workdir, "logo2.png"))
    st, ct, p2 = get_bytes(srv, "/v1/invoices/%s/pdf" % inv["id"], kl)
    check(p.returncode == 0 and st == 200 and p2 == p1,
          "PDF kept with the logo of its first render")


def cancel_scenario(db, workdir, srv, ka, kb):
    """POST /v1/invoices/{id}/cancel (issue 3): motives, errors, acuse,
    timeline, tenant scope and Idempotency-Key replay."""
    step("cancel: invoices to cancel")
    invs = []
    for f in ("C-1", "C-2", "C-3"):
        t = new_ticket(srv, ka, f)
        st, _, inv = srv.req("POST", "/v1/tickets/%s/invoice" % t["id"],
                             RECEIVER, key=ka)
        if not check(st == 201, "invoice %s: %d %r" % (f, st, inv)):
            fatal("cannot issue for cancel")
        invs.append((t, inv))
    (t1, i1), (t2, i2), (t3, i3) = invs
    path = "/v1/invoices/%s/cancel"

    step("cancel: validation (400 naming the field)")
    st, _, js = srv.req("POST", path % i1["id"], {"motive": "01"}, key=ka)
    check(st == 400 and err_of(js) == ("missing_field", "substitution"),
          "01 without substitution %d %r" % (st, js))
    st, _, js = srv.req("POST", path % i1["id"],
                        {"motive": "01", "substitution": i1["uuid"].lower()},
                        key=ka)
    check(st == 400 and err_of(js)[1] == "substitution",
          "01 with the same UUID %d %r" % (st, js))
    st, _, js = srv.req("POST", path % i1["id"],
                        {"motive": "01", "substitution": "not-a-uuid"}, key=ka)
    check(st == 400 and err_of(js)[1] == "substitution",
          "01 with a malformed UUID %d %r" % (st, js))
    st, _, js = srv.req("POST", path % i1["id"],
                        {"motive": "01",
                         "substitution": "6F0B1E5C-1111-4222-8333-444455556666"},
                        key=ka)
    check(st == 400 and err_of(js) == ("cancel_substitute_unknown",
                                       "substitution"),
          "01 with an unknown invoice %d %r" % (st, js))
    for bad in ("05", "", 2, None):
        st, _, js = srv.req("POST", path % i1["id"], {"motive": bad}, key=ka)
        check(st == 400 and err_of(js)[1] == "motive",
              "motive %r -> %d %r" % (bad, st, js))
    st, _, js = srv.req("POST", path % i1["id"],
                        {"motive": "02", "substitution": i2["uuid"]}, key=ka)
    check(st == 400 and err_of(js)[1] == "substitution",
          "02 with a substitution %d %r" % (st, js))
    st, _, js = srv.req("POST", path % i1["id"], {"motive": "02", "x": 1},
                        key=ka)
    check(st == 400 and err_of(js) == ("unknown_field", "x"),
          "unknown field %d %r" % (st, js))
    st, _, g = srv.req("GET", "/v1/invoices/" + i1["id"], key=ka)
    check(st == 200 and g["status"] == "valid" and "cancellation" not in g,
          "refused requests leave the invoice valid: %r" % g.get("status"))

    step("cancel: other tenant -> 404, invoice untouched")
    st, _, js = srv.req("POST", path % i1["id"], {"motive": "02"}, key=kb)
    check(st == 404, "B's key on A's invoice %d" % st)
    st, _, _ = srv.req("GET", "/v1/invoices/%s/cancellation/acuse" % i1["id"],
                       key=kb)
    check(st == 404, "B's key on A's acuse %d" % st)

    step("cancel: 02 -> 200 cancelled, acuse stored, event")
    st, _, c = srv.req("POST", path % i1["id"], {"motive": "02"}, key=ka)
    cc = (c or {}).get("cancellation", {}) if isinstance(c, dict) else {}
    check(st == 200 and c["status"] == "cancelled" and c["id"] == i1["id"]
          and cc.get("motive") == "02" and cc.get("substitution") is None
          and cc.get("status") == "cancelled"
          and cc.get("provider") == "sandbox"
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d",
                           cc.get("acknowledged_at") or "")
          and cc.get("requested_at", "").endswith("Z"),
          "cancel 02 %d %r" % (st, c))
    st, _, g = srv.req("GET", "/v1/invoices/" + i1["id"], key=ka)
    check(st == 200 and g["status"] == "cancelled"
          and g.get("cancellation") == cc, "GET shows it %r" % g)
    st, ct, acuse = get_bytes(srv, "/v1/invoices/%s/cancellation/acuse"
                              % i1["id"], ka)
    check(st == 200 and ct.startswith("application/xml")
          and i1["uuid"].encode() in acuse and b"<Motivo>02</Motivo>" in acuse
          and b"NO fiscal validity" in acuse, "acuse %d %r" % (st, acuse[:200]))
    st, _, _ = srv.req("GET", "/v1/invoices/%s/cancellation/acuse" % i2["id"],
                       key=ka)
    check(st == 404, "no acuse for a valid invoice %d" % st)
    ev = fixture(db, "events", "ta", i1["id"]).splitlines()
    check([e.split()[0] for e in ev][-1:] == ["cancelled"]
          and ev[-1].split()[1] == "api" and '"motive":"02"' in ev[-1],
          "events %r" % ev)
    st, _, lst = srv.req("GET", "/v1/invoices?status=cancelled&limit=200",
                         key=ka)
    check(st == 200 and [x["id"] for x in lst["data"]] == [i1["id"]],
          "list ?status=cancelled %r" % [x["id"] for x in lst["data"]])

    step("cancel: second cancel -> 409; tickets stay out")
    st, _, js = srv.req("POST", path % i1["id"], {"motive": "02"}, key=ka)
    check(st == 409 and err_of(js)[0] == "invoice_cancelled",
          "second cancel %d %r" % (st, js))
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % t1["id"], RECEIVER,
                        key=ka)
    check(st == 409, "ticket of a cancelled invoice not re-invoiced %d %r"
          % (st, js))

    step("cancel: 01 with a valid substitute, Idempotency-Key replay")
    hk = {"Idempotency-Key": "cancel-idem-1"}
    body = {"motive": "01", "substitution": i3["uuid"].lower()}
    s1, _, a1 = srv.req("POST", path % i2["id"], body, key=ka, headers=hk)
    s2, h2, a2 = srv.req("POST", path % i2["id"], body, key=ka, headers=hk)
    check(s1 == 200 and a1["status"] == "cancelled"
          and a1["cancellation"]["motive"] == "01"
          and a1["cancellation"]["substitution"] == i3["uuid"],
          "cancel 01 %d %r" % (s1, a1))
    check(s2 == 200 and a2 == a1 and h2.get("idempotent-replayed") == "true",
          "replay %d %r" % (s2, h2))
    ev = fixture(db, "events", "ta", i2["id"]).splitlines()
    check([e.split()[0] for e in ev].count("cancelled") == 1,
          "one event for the replayed cancel %r" % ev)
    s3, _, js = srv.req("POST", path % i2["id"], {"motive": "03"}, key=ka,
                        headers=hk)
    check(s3 == 409 and err_of(js)[0] == "idempotency_key_reused",
          "same key, other body %d %r" % (s3, js))
    st, _, js = srv.req("POST", path % i3["id"],
                        {"motive": "01", "substitution": i2["uuid"]}, key=ka)
    check(st == 400 and err_of(js)[1] == "substitution",
          "a cancelled invoice cannot substitute %d %r" % (st, js))


def status_of(srv, key, tid):
    return srv.req("GET", "/v1/tickets/" + tid, key=key)[2]["status"]


def global_scenarios(db, workdir, srv):
    step("global: set-up")
    kg = tenant(db, "tg", "EKU9003173C9", "ESCUELA KEMPER URGATE",
                window="2", periodicity="04")
    now = datetime.datetime.now(MX)
    yday = (now - datetime.timedelta(days=1)).replace(hour=10, minute=0,
                                                      second=0, microsecond=0)
    period = yday.strftime("%Y-%m")
    first = yday.replace(day=1)
    other = (first - datetime.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")

    def at(h):
        return yday.replace(hour=h).strftime("%Y-%m-%dT%H:%M:%S")
    e1 = new_ticket(srv, kg, "G-EXP1", date=at(10))
    e2 = new_ticket(srv, kg, "G-EXP2", date=at(11), branch="S02")
    inv = new_ticket(srv, kg, "G-INV", date=at(12))
    can = new_ticket(srv, kg, "G-CAN", date=at(13))
    cur = new_ticket(srv, kg, "G-NOW")
    oth = new_ticket(srv, kg, "G-OTHER", date=other)
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % inv["id"], RECEIVER,
                        key=kg)
    check(st == 201, "invoice G-INV %d %r" % (st, js))
    st, _, _ = srv.req("POST", "/v1/tickets/%s/cancel" % can["id"], {}, key=kg)
    check(st == 200, "cancel G-CAN %d" % st)
    fixture(db, "window", "tg", "0")  # now yesterday's tickets are expired
    count0 = int(fixture(db, "count", "tg"))

    step("global: bad usage")
    p = facturo("global-invoice", "--db", db, "--tenant", "tg", "--period",
                "2026-W48")
    check(p.returncode == 2 and "periodicity" in p.stderr,
          "weekly label for a monthly tenant -> %d %r" % (p.returncode, p.stderr))
    p = facturo("global-invoice", "--db", db, "--tenant", "nope", "--period",
                period)
    check(p.returncode == 2, "unknown tenant -> %d" % p.returncode)
    p = facturo("global-invoice", "--db", db)
    check(p.returncode == 2, "no arguments -> %d" % p.returncode)

    step("global: takes exactly the expired open tickets of the period")
    p = facturo("global-invoice", "--db", db, "--tenant", "tg", "--period",
                period)
    m = re.search(r"global invoice (\d+) \S+ uuid ([0-9A-F-]{36}): period "
                  r"%s, 2 ticket\(s\)" % period, p.stdout)
    if not check(p.returncode == 0 and m, "run 1: %d %r %r"
                 % (p.returncode, p.stdout, p.stderr)):
        return kg
    gid, guuid = m.group(1), m.group(2)
    st, _, g = srv.req("GET", "/v1/invoices/" + gid, key=kg)
    check(st == 200 and sorted(g["tickets"]) == sorted([e1["id"], e2["id"]])
          and g["customer"]["tax_id"] == "XAXX010101000" and g["uuid"] == guuid,
          "global invoice %r" % g)
    want = {e1["id"]: "in_global", e2["id"]: "in_global",
            inv["id"]: "invoiced", can["id"]: "cancelled",
            cur["id"]: "open", oth["id"]: "open"}
    got = {k: status_of(srv, kg, k) for k in want}
    check(got == want, "statuses %r" % got)

    step("global: XML verifies, InformacionGlobal and conceptos")
    st, ct, xml = get_bytes(srv, "/v1/invoices/%s/xml" % gid, kg)
    rc, out = verify(xml, workdir, "global")
    check(rc == 0, "verify rc %d: %s" % (rc, out))
    check(('Periodicidad="04" Meses="%s" A\u00f1o="%s"'
           % (period[5:], period[:4])).encode() in xml,
          "InformacionGlobal %r" % re.findall(rb"<cfdi:InformacionGlobal[^>]*>",
                                               xml))
    check(b'Rfc="XAXX010101000"' in xml and b'UsoCFDI="S01"' in xml,
          "receiver is the general public")
    ids = re.findall(rb'NoIdentificacion="([^"]*)"', xml)
    check(set(ids) == {b"S01-G-EXP1", b"S02-G-EXP2"},
          "conceptos are exactly the two expired tickets: %r" % ids)
    # Two tax rates per ticket (IVA 16 %; IVA 16 % + ISR withheld): two
    # conceptos per ticket, totals as the tickets' (1326.80 each).
    check(len(ids) == 4 and b'Total="2653.60"' in xml,
          "%d conceptos, total %r" % (len(ids),
                                      re.findall(rb' Total="[^"]*"', xml)))

    step("global: second run takes nothing")
    p = facturo("global-invoice", "--db", db, "--tenant", "tg", "--period",
                period)
    check(p.returncode == 0 and "no ticket to include" in p.stdout,
          "run 2: %d %r" % (p.returncode, p.stdout))
    check(int(fixture(db, "count", "tg")) == count0 + 1,
          "exactly one document added")

    step("global: a ticket in the global invoice cannot be self-invoiced")
    st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % e1["id"], RECEIVER,
                        key=kg)
    check(st == 409 and err_of(js)[0] == "ticket_in_global",
          "in_global %d %r" % (st, js))

    step("global: --auto (the server's job), daily periodicity")
    kd = tenant(db, "td", "EKU9003173C9", "ESCUELA KEMPER URGATE",
                window="7", periodicity="01")
    d1 = new_ticket(srv, kd, "D-1", date=at(9))
    d2 = new_ticket(srv, kd, "D-2")
    p = facturo("global-invoice", "--db", db, "--auto")
    check(p.returncode == 0 and re.match(r"[1-9]\d* global invoice", p.stdout),
          "auto: %d %r %r" % (p.returncode, p.stdout, p.stderr))
    check(status_of(srv, kd, d1["id"]) == "in_global"
          and status_of(srv, kd, d2["id"]) == "open",
          "auto took yesterday's ticket only")
    p = facturo("global-invoice", "--db", db, "--auto")
    check(p.returncode == 0 and p.stdout.startswith("0 global"),
          "auto again: %r" % p.stdout)
    return kg


def global_two_processes(db, workdir, srv):
    """Two facturo processes issue the same period at once (PostgreSQL)."""
    step("global: two processes, one period")
    kp = tenant(db, "tp", "EKU9003173C9", "ESCUELA KEMPER URGATE",
                window="2", periodicity="04")
    fixture(db, "window", "tp", "0")
    yday = datetime.datetime.now(MX) - datetime.timedelta(days=1)
    period = yday.strftime("%Y-%m")
    ids = [new_ticket(srv, kp, "PP-%d" % i,
                      date=yday.strftime("%Y-%m-%dT%H:%M:") + "%02d" % i)["id"]
           for i in range(30)]
    procs = [subprocess.Popen([BIN, "global-invoice", "--db", db, "--tenant",
                               "tp", "--period", period],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    taken = 0
    for p, (o, e) in zip(procs, outs):
        check(p.returncode == 0, "rc %d %r" % (p.returncode, e))
        m = re.search(r"(\d+) ticket\(s\),", o)
        taken += int(m.group(1)) if m else 0
    check(taken == 30, "tickets taken once in total: %d (%r)" % (taken, outs))
    check(all(status_of(srv, kp, i) == "in_global" for i in ids),
          "every ticket in_global")


def folios_gapless(db, slug):
    step("series folios gapless")  # INVARIANT 3
    rows = [l.split() for l in fixture(db, "folios", slug).splitlines()]
    folios = sorted(int(r[1]) for r in rows if r[0] == "A")
    check(folios == list(range(1, len(folios) + 1)),
          "folios %r" % folios)
    uuids = [r[2] for r in rows]
    check(len(set(uuids)) == len(uuids), "distinct uuids")
    return len(rows)


def two_processes(db, workdir, ka):
    """INVARIANT 1 across processes: two servers on one PostgreSQL."""
    step("two processes, one ticket")
    s1 = A.Server(db, workdir, name="p1")
    s2 = A.Server(db, workdir, name="p2")
    try:
        for k in range(3):
            t = new_ticket(s1, ka, "P2-%d" % k)
            res = []
            lock = threading.Lock()

            def hit(srv):
                st, _, js = srv.req("POST", "/v1/tickets/%s/invoice" % t["id"],
                                    RECEIVER, key=ka)
                with lock:
                    res.append((st, js.get("id"), js.get("uuid")))
            ths = [threading.Thread(target=hit, args=(s,))
                   for s in (s1, s2) * 5]
            for x in ths:
                x.start()
            for x in ths:
                x.join()
            check(len({r[1] for r in res}) == 1 and None not in {r[1] for r in res}
                  and [r[0] for r in res].count(201) == 1,
                  "ticket %d: one invoice across processes: %r" % (k, res))
    finally:
        s1.stop()
        s2.stop()


def main():
    workdir = tempfile.mkdtemp(prefix="facturo-issue-")
    pgdrop = None
    try:
        d = A.make_db(workdir)
        if isinstance(d, tuple):
            db, pgdrop = d
        else:
            db = d
        step("fixture")
        ka = tenant(db, "ta", "EKU9003173C9", "ESCUELA KEMPER URGATE")
        kb = tenant(db, "tb", "CACX7605101P8", "XOCHILT CASAS CHAVEZ")
        kn = tenant(db, "tn", "IIA040805DZ4", "SIN CSD", csd=False)
        srv = A.Server(db, workdir)
        t0 = time.time()
        try:
            issue_scenarios(db, workdir, srv, ka, kb, kn)
            cancel_scenario(db, workdir, srv, ka, kb)
            logo_scenario(db, workdir, srv)
            global_scenarios(db, workdir, srv)
            if A.BACKEND == "postgres":
                global_two_processes(db, workdir, srv)
        finally:
            rc = srv.stop()
            step("shutdown")
            check(rc == 0, "serve exit status %d" % rc)
        if A.BACKEND == "postgres":
            two_processes(db, workdir, ka)
        n = folios_gapless(db, "ta")
        check(n >= 3, "invoices stored: %d" % n)
        folios_gapless(db, "tg")
        print("issue %s: %d failures in %.1fs" % (A.BACKEND, len(A.FAILS),
                                                  time.time() - t0))
    finally:
        if A.FAILS or os.environ.get("FACTURO_KEEP"):
            for f in os.listdir(workdir):
                if f.endswith(".log"):
                    print("---- %s (tail)" % f)
                    print("".join(open(os.path.join(workdir, f),
                                       errors="replace").readlines()[-30:]))
        shutil.rmtree(workdir, ignore_errors=True)
        if pgdrop:
            subprocess.run(["psql", pgdrop[0], "-qc",
                            "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                            % pgdrop[1]], capture_output=True)
    sys.exit(1 if A.FAILS else 0)


if __name__ == "__main__":
    main()

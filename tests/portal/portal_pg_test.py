#!/usr/bin/env python3
"""The portal on two facturo processes sharing one PostgreSQL (suite
'api'): a shopper's forms travel between processes (same server secret),
and one ticket confirmed on both processes at once yields one invoice
(INVARIANT 1).  Needs FACTURO_TEST_PG; exits 77 without it unless
FACTURO_REQUIRE_PG=1.
"""
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import portal_env as E  # noqa: E402
import portal_test as P  # noqa: E402
from portal_test import Browser, check, field, step  # noqa: E402


def main():
    pg = os.environ.get("FACTURO_TEST_PG")
    if not pg:
        if os.environ.get("FACTURO_REQUIRE_PG") == "1":
            print("FAIL: FACTURO_REQUIRE_PG=1 but FACTURO_TEST_PG is not set")
            sys.exit(1)
        print("SKIP: FACTURO_TEST_PG not set")
        sys.exit(77)
    workdir = tempfile.mkdtemp(prefix="portal-pg-")
    slug = "portal-" + secrets.token_hex(4)
    a = E.Env(workdir, name="a", db=pg, slug=slug)
    b = E.Env(workdir, name="b", db=pg, slug=slug, create=False)
    try:
        step("a search made on one process is carried on by the other")
        t = a.ticket("PG-1")
        path = urllib.parse.urlsplit(t["self_invoice_url"]).path
        sh = Browser(a)
        st, _, p = sh.page("GET", path)
        check(st == 200 and field(p, "cart"), "ticket found on A: %d" % st)
        sh.env = b
        f = {"csrf": field(p, "csrf"), "cart": field(p, "cart")}
        f.update(P.RECEIVER)
        st, _, pv = sh.page("POST", "/%s/data" % slug, f)
        check(st == 200 and 'id="preview"' in pv, "preview on B: %d" % st)

        step("confirmed on both processes at once: one invoice")  # INVARIANT 1
        cf = P.confirm_form(pv)
        out = [None] * 6

        def go(i):
            br = Browser(a if i % 2 == 0 else b, addr=sh.addr)
            br.cookies = dict(sh.cookies)
            out[i] = br.page("POST", "/%s/confirm" % slug, cf)
        th = [threading.Thread(target=go, args=(i,)) for i in range(6)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        codes = [o[0] for o in out]
        uuids = {re.search(r'id="uuid">([^<]+)<', o[2]).group(1)
                 for o in out if o[0] == 200}
        check(codes == [200] * 6 and len(uuids) == 1,
              "6 confirmations on 2 processes: %r %r" % (codes, uuids))
        st, js = a.api("GET", "/v1/invoices?limit=200")
        check(sum(1 for i in js["data"] if i["uuid"] in uuids) == 1,
              "one invoice stored")
        st, js = b.api("GET", "/v1/tickets/%s" % t["id"])
        check(js["status"] == "invoiced", "ticket invoiced")

        step("another browser replaying the confirmation on B sees nothing")
        o = Browser(b)
        st, _, op = o.page("GET", "/%s/" % slug)
        st, _, r = o.page("POST", "/%s/confirm" % slug,
                          dict(cf, csrf=field(op, "csrf")))
        check(st == 409 and "URE180429TM6" not in r
              and not any(u in r for u in uuids), "409 without data: %d" % st)
    finally:
        a.stop()
        b.stop()
    step("server logs free of sanitizer reports (ASan/UBSan builds)")
    for name in ("a.log", "b.log"):
        log = open(os.path.join(workdir, name), errors="replace").read()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(bad not in log, "%s in %s:\n%s" % (bad, name, log[-3000:]))
    shutil.rmtree(workdir, ignore_errors=True)
    print("portal_pg: all checks passed")


if __name__ == "__main__":
    main()

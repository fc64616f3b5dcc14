#!/usr/bin/env python3
"""A merchant ready for the self-invoicing portal, for tests/portal and
tests/browser.

As a module: Env(workdir) migrates a SQLite database, creates the merchant
"tienda" (SAT's test CSD EKU9003173C9 from ../shared, branch S01, branding
with a logo and colours), starts `facturo serve` on a free port and offers
ticket() to push tickets through the JSON API.

As a program (the browser test spawns it):
    portal_env.py WORKDIR
prints one JSON line {"url", "slug", "tickets": {...}} with prepared
tickets, then serves until stdin closes.
"""
import base64
import datetime
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time

BIN = os.environ.get("FACTURO_BIN", "facturo")
SHARED = os.environ.get("FACTURO_SHARED", "../shared")
MX = datetime.timezone(datetime.timedelta(hours=-6))
SECRET = "cd" * 32

# A 1x1 PNG (the logo only needs to be served and drawn).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

ITEMS = [
    {"quantity": 2, "product": {
        "description": "Café americano", "product_key": "90101501",
        "unit_key": "H87", "unit_name": "Pieza", "price": "58.00",
        "tax_included": True, "taxes": [{"type": "IVA", "rate": "0.16"}]}},
    {"quantity": 1, "product": {
        "description": "Pan dulce", "product_key": "50181900",
        "unit_key": "H87", "unit_name": "Pieza", "price": "25.00",
        "tax_included": True, "taxes": [{"type": "IVA", "rate": "0"}]}},
]
ITEMS_TOTAL = "141.00"  # 2 x 58.00 + 25.00, taxes included


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("facturo %s: %s" % (" ".join(args[:2]), p.stderr))
    return p.stdout


def local(days_ago=0, minutes_ago=1, at=None):
    t = datetime.datetime.now(MX) - datetime.timedelta(days=days_ago,
                                                       minutes=minutes_ago)
    if at is not None:
        t = t.replace(hour=at[0], minute=at[1], second=at[2])
    return t.strftime("%Y-%m-%dT%H:%M:%S")


class Env:
    """db: None (a SQLite file in workdir) or a URL shared with another
    Env (e.g. PostgreSQL), in which case the merchant `slug` is created
    by the first Env only (create=True)."""

    def __init__(self, workdir, name="srv", db=None, slug="tienda",
                 create=True):
        os.environ["FACTURO_SECRET_KEY"] = SECRET
        self.workdir = workdir
        self.slug = slug
        self.dbfile = os.path.join(workdir, name + ".db")
        self.db = db or "sqlite:" + self.dbfile
        if create and (db or not os.path.exists(self.dbfile)):
            self._merchant()
        self.key = run("apikey", "create", "--db", self.db, "--tenant",
                       slug).strip().split()[-1]
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(workdir, name + ".log")
        env = dict(os.environ)
        env.pop("FACTURO_CONFIG", None)
        env.pop("FACTURO_SMTP_URL", None)
        env["FACTURO_TRUSTED_PROXY"] = "127.0.0.1"
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--listen",
             "127.0.0.1:%d" % self.port, "--base-url", self.url,
             "--threads", "8", "--rate-limit", "0"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.api("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("serve did not come up: " + open(self.log).read())

    def _merchant(self):
        run("migrate", "--db", self.db)
        run("tenant", "create", "--db", self.db, "--slug", self.slug, "--rfc",
            "EKU9003173C9", "--name", "ESCUELA KEMPER URGATE", "--regime",
            "601", "--zip", "06000")
        d = os.path.join(SHARED, "sat", "csd", "EKU9003173C9")
        run("tenant", "csd", "--db", self.db, "--tenant", self.slug, "--cer",
            os.path.join(d, "EKU9003173C9.cer"), "--key",
            os.path.join(d, "EKU9003173C9.key"), "--password-file",
            os.path.join(d, "password.txt"))
        run("branch", "add", "--db", self.db, "--tenant", self.slug, "--code",
            "S01", "--name", "Sucursal Centro")
        run("branch", "add", "--db", self.db, "--tenant", self.slug, "--code",
            "S02", "--name", "Sucursal Norte")
        if self.db.startswith("sqlite:"):
            self.set_branding({
                "display_name": "Cafetería Kemper",
                "color": "#7a1f3d", "accent": "#fbeff3",
                "logo": "data:image/png;base64,"
                + base64.b64encode(PNG).decode()})

    def set_branding(self, b):
        # No admin command sets branding yet: write the tenant's column.
        c = sqlite3.connect(self.dbfile, timeout=10)
        c.execute("UPDATE tenants SET branding = ? WHERE slug = ?",
                  (json.dumps(b), self.slug))
        c.commit()
        c.close()

    def api(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Authorization": "Bearer " + self.key} if path != "/healthz" \
            else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        return r.status, json.loads(text) if text else None

    def ticket(self, folio, date=None, branch="S01", items=None):
        st, js = self.api("POST", "/v1/tickets", {
            "branch": branch, "folio_number": folio,
            "date": date or local(), "payment_form": "01",
            "items": items or ITEMS})
        if st != 201:
            raise RuntimeError("ticket %s: %d %r" % (folio, st, js))
        return js

    def cancel(self, tid):
        return self.api("POST", "/v1/tickets/%s/cancel" % tid, {})[0]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    workdir = sys.argv[1]
    os.makedirs(workdir, exist_ok=True)
    e = Env(workdir)
    t = {}
    for name in ("qr_phone", "qr_desktop", "typed", "typed2", "nojs",
                 "tabs", "errors_ok"):
        t[name] = e.ticket("B-" + name.upper())
    t["expired"] = e.ticket("B-EXPIRED", date=local(days_ago=10))
    t["cancelled"] = e.ticket("B-CANCELLED")
    e.cancel(t["cancelled"]["id"])
    print(json.dumps({"url": e.url, "slug": "tienda", "total": ITEMS_TOTAL,
                      "key": e.key,
                      "bin": BIN, "tickets": t}), flush=True)
    try:
        sys.stdin.read()
    finally:
        e.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""`facturo tenant mail` on one backend (argv[1]: sqlite | postgres).

Proves: --help; bad input exits 2 with one line and changes nothing; the
settings land in branding.mail (other branding keys kept); an empty value
removes a setting; --templates reads DIR/<lang>/invoice.* and refuses a
template that does not parse; the SMTP password round-trips through the
encrypted column (shown as set, removed by an empty file) and is never in
the database in clear nor in the command's output; a wrong master key
cannot read it.  PostgreSQL needs FACTURO_TEST_PG (else exit 77 unless
FACTURO_REQUIRE_PG=1).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid

BIN = os.environ["FACTURO_BIN"]
SECRET = "ef" * 32
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def fac(db, *args, env=None, stdin=None):
    e = dict(os.environ)
    e["FACTURO_SECRET_KEY"] = SECRET
    e.update(env or {})
    p = subprocess.run([BIN] + list(args) + ["--db", db], capture_output=True,
                       text=True, timeout=60, env=e, input=stdin)
    return p.returncode, p.stdout, p.stderr


def main():
    backend = sys.argv[1]
    work = tempfile.mkdtemp(prefix="facturo-tenant-mail-")
    pg_schema = None
    if backend == "sqlite":
        dbfile = os.path.join(work, "t.db")
        db = "sqlite:" + dbfile
    else:
        url = os.environ.get("FACTURO_TEST_PG")
        if not url:
            if os.environ.get("FACTURO_REQUIRE_PG") == "1":
                print("FAIL: FACTURO_TEST_PG is not set")
                sys.exit(1)
            print("SKIP: FACTURO_TEST_PG not set")
            sys.exit(77)
        pg_schema = "tm_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", "-q", url, "-c", "CREATE SCHEMA " + pg_schema],
                       check=True)
        sep = "&" if "?" in url else "?"
        db = url + sep + "options=-csearch_path%3D" + pg_schema
    try:
        run(db, backend, work, dbfile if backend == "sqlite" else None,
            pg_schema)
    finally:
        if pg_schema:
            subprocess.run(["psql", "-q", os.environ["FACTURO_TEST_PG"], "-c",
                            "SET client_min_messages=warning; DROP SCHEMA %s"
                            " CASCADE" % pg_schema])
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    sys.exit(1 if failures else 0)


def branding(db, dbfile, schema):
    if dbfile:
        c = sqlite3.connect(dbfile)
        v = c.execute("SELECT branding FROM tenants WHERE slug='t1'")\
            .fetchone()[0]
        c.close()
    else:
        v = subprocess.run(
            ["psql", "-qAt", os.environ["FACTURO_TEST_PG"], "-c",
             "SELECT branding FROM %s.tenants WHERE slug='t1'" % schema],
            capture_output=True, text=True, check=True).stdout.strip()
    return json.loads(v) if v else None


def raw_db(dbfile, schema):
    """Everything the database holds for the tenants, as bytes."""
    if dbfile:
        out = b""
        for s in ("", "-wal", "-shm"):
            if os.path.exists(dbfile + s):
                out += open(dbfile + s, "rb").read()
        return out
    return subprocess.run(
        ["psql", "-qAt", os.environ["FACTURO_TEST_PG"], "-c",
         "SELECT t::text, encode(mail_smtp_pw_box, 'escape') FROM %s.tenants t"
         % schema], capture_output=True, check=True).stdout


def run(db, backend, work, dbfile, schema):
    rc, out, _ = fac(db, "tenant", "mail", "--help")
    check(rc == 0 and "usage" in out, "--help")
    rc, _, _ = fac(db, "migrate")
    rc, _, err = fac(db, "tenant", "create", "--slug", "t1", "--rfc",
                     "EKU9003173C9", "--name", "ESCUELA KEMPER URGATE",
                     "--regime", "601", "--zip", "06000")
    check(rc == 0, "tenant created " + err)
    if dbfile:
        c = sqlite3.connect(dbfile)
        c.execute("UPDATE tenants SET branding = ? WHERE slug = 't1'",
                  (json.dumps({"color": "#123456"}),))
        c.commit()
        c.close()
    else:
        subprocess.run(["psql", "-q", os.environ["FACTURO_TEST_PG"], "-c",
                        "UPDATE %s.tenants SET branding = '{\"color\":"
                        "\"#123456\"}' WHERE slug = 't1'" % schema],
                       check=True)

    for args, what in (
            (["--from", "not-an-address"], "--from"),
            (["--reply-to", "a@b"], "--reply-to"),
            (["--lang", "fr"], "--lang"),
            (["--from-name", "x\ny"], "--from-name"),
            (["--smtp-url", "http://mail.example.com"], "--smtp-url"),
            (["--smtp-url", "smtp://u:secret@mail.example.com"],
             "--smtp-url"),
            (["--smtp-password-file", os.path.join(work, "none")],
             "--smtp-password-file"),
            (["--templates", os.path.join(work, "none")], "--templates"),
            (["--bogus", "1"], "unknown"),
            ([], "--tenant")):
        full = ["tenant", "mail"] + (["--tenant", "t1"] if args else []) + args
        rc, out, err = fac(db, *full)
        check(rc == 2 and what in err and err.count("\n") == 1
              and "secret" not in err,
              "exit 2 naming %s: %r" % (what, err))
    rc, _, err = fac(db, "tenant", "mail", "--tenant", "nope")
    check(rc == 2 and "nope" in err, "unknown tenant: exit 2")
    check(branding(db, dbfile, schema) == {"color": "#123456"},
          "refused commands changed nothing")

    pw = "Tm-" + uuid.uuid4().hex
    pwf = os.path.join(work, "pw")
    open(pwf, "w").write(pw + "\n")
    rc, out, err = fac(db, "tenant", "mail", "--tenant", "t1", "--from",
                       "facturas@t1.example.mx", "--from-name", "Tienda Uno",
                       "--reply-to", "ventas@t1.example.mx", "--lang", "en",
                       "--smtp-url", "smtp://mail.t1.example.mx:587?tls=starttls",
                       "--smtp-user", "facturo", "--smtp-password-file", pwf)
    check(rc == 0, "settings set " + err)
    check("smtp_password  set (encrypted)" in out and pw not in out + err,
          "password shown as set, never printed")
    b = branding(db, dbfile, schema)
    check(b.get("color") == "#123456", "other branding keys kept")
    m = b.get("mail", {})
    check(m == {"from": "facturas@t1.example.mx", "from_name": "Tienda Uno",
                "reply_to": "ventas@t1.example.mx", "lang": "en",
                "smtp_url": "smtp://mail.t1.example.mx:587?tls=starttls",
                "smtp_user": "facturo"}, "branding.mail: %r" % m)
    check(pw.encode() not in raw_db(dbfile, schema),
          "password not in the database in clear")

    rc, out, err = fac(db, "tenant", "mail", "--tenant", "t1",
                       env={"FACTURO_SECRET_KEY": "01" * 32})
    check("smtp_password  set, but it cannot be read" in out
          and pw not in out + err,
          "another master key cannot read the password")

    # templates from a directory
    tdir = os.path.join(work, "tpl")
    os.makedirs(os.path.join(tdir, "en"))
    os.makedirs(os.path.join(tdir, "es"))
    open(os.path.join(tdir, "en", "invoice.subject.txt"), "w").write(
        "Your invoice {{series}}{{folio}}\n")
    open(os.path.join(tdir, "es", "invoice.txt"), "w").write(
        "Hola {{receiver_name}}\n")
    rc, out, err = fac(db, "tenant", "mail", "--tenant", "t1", "--templates",
                       tdir)
    check(rc == 0 and "en/subject" in out and "es/text" in out,
          "templates read: " + out + err)
    t = branding(db, dbfile, schema)["mail"].get("templates", {})
    check(t == {"en": {"invoice": {"subject": "Your invoice"
                                   " {{series}}{{folio}}\n"}},
                "es": {"invoice": {"text": "Hola {{receiver_name}}\n"}}},
          "templates stored: %r" % t)
    open(os.path.join(tdir, "es", "invoice.html"), "w").write(
        "<p>{{#uuid}}unclosed</p>")
    rc, _, err = fac(db, "tenant", "mail", "--tenant", "t1", "--templates",
                     tdir)
    check(rc == 2 and "invoice.html" in err, "a bad template is refused")

    # removing: empty values, empty password file
    rc, out, _ = fac(db, "tenant", "mail", "--tenant", "t1", "--reply-to", "",
                     "--templates", "", "--smtp-password-file", "-",
                     stdin="\n")
    m = branding(db, dbfile, schema)["mail"]
    check(rc == 0 and "reply_to" not in m and "templates" not in m
          and m.get("from") == "facturas@t1.example.mx",
          "empty values remove just those settings")
    check("smtp_password  -" in out, "an empty password removes it")
    rc, out, _ = fac(db, "tenant", "mail", "--tenant", "t1", "--from", "",
                     "--from-name", "", "--lang", "", "--smtp-url", "",
                     "--smtp-user", "")
    check(rc == 0 and branding(db, dbfile, schema) == {"color": "#123456"},
          "all removed: the mail object goes, the rest stays")


if __name__ == "__main__":
    main()

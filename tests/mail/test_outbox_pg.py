#!/usr/bin/python3
"""The outbox on PostgreSQL (FACTURO_TEST_PG): two facturo processes
sending from one database never send a message twice, and a worker killed
mid-run loses nothing.  Uses a private database created for the run, so
other suites' jobs are never claimed here.  Exit 77 (skip) without
FACTURO_TEST_PG unless FACTURO_REQUIRE_PG=1."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mailtest import Smtpd, check, finish  # noqa: E402

TOOL = os.environ['MAIL_TOOL']
PG = os.environ.get('FACTURO_TEST_PG')
if not PG:
    if os.environ.get('FACTURO_REQUIRE_PG') == '1':
        print('FACTURO_TEST_PG is not set')
        sys.exit(1)
    print('skip: FACTURO_TEST_PG is not set')
    sys.exit(77)

name = 'facturo_mail_%d' % os.getpid()
subprocess.run(['psql', '-q', PG, '-c', 'CREATE DATABASE ' + name],
               check=True, capture_output=True)
u = urllib.parse.urlsplit(PG)
DB = urllib.parse.urlunsplit((u.scheme, u.netloc, '/' + name, u.query, ''))
work = tempfile.mkdtemp(prefix='facturo-outbox-pg-')


def tool(*args, timeout=60):
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr


def job_state(j):
    import json
    return json.loads(tool('job', DB, tenant, j)[1])['state']


try:
    rc, tenant, err = tool('init', DB)
    check(rc == 0, 'PostgreSQL database migrated, tenant created ' + err)
    xml_p = os.path.join(work, 'f.xml')
    with open(xml_p, 'wb') as f:
        f.write(b'<?xml version="1.0"?><cfdi:Comprobante/>\n')
    pdf_p = os.path.join(work, 'f.pdf')
    with open(pdf_p, 'wb') as f:
        f.write(b'%PDF-1.4\n' + os.urandom(20000))
    folio = [0]

    def issue():
        folio[0] += 1
        rc, out, err = tool('issue', DB, tenant, folio[0], xml_p, pdf_p,
                            'cliente@example.org')
        if rc != 0:
            raise RuntimeError(err)
        return out.split()[1]

    srv = Smtpd().start()
    mid = '<facturo.%s.%%s@tienda.example.com>' % tenant

    # two processes, two threads each, one database
    jobs = [issue() for _ in range(40)]
    ps = [subprocess.Popen([TOOL, 'work', DB, '40', '--until-idle', '--smtp',
                            srv.url(), '--workers', '2', '--id', 'pg%d' % k],
                           stderr=subprocess.DEVNULL) for k in range(2)]
    for p in ps:
        p.wait(90)
    ids = [m[0]['Message-ID'] for m in srv.messages()]
    check(len(ids) == 40 and set(ids) == {mid % j for j in jobs},
          'two processes: 40 jobs, 40 messages, none twice (%d, %d distinct)'
          % (len(ids), len(set(ids))))
    check(all(job_state(j) == 'done' for j in jobs), 'every job done')

    # a killed worker loses nothing
    n0 = len(ids)
    srv.set_mode('slow')
    jobs = [issue() for _ in range(8)]
    p = subprocess.Popen([TOOL, 'work', DB, '30', '--until-idle', '--smtp',
                          srv.url(), '--workers', '1', '--lease', '2'],
                         stderr=subprocess.DEVNULL)
    # kill it once it has sent something and is busy with the rest
    end = time.time() + 20
    while time.time() < end and len(srv.messages()) <= n0:
        time.sleep(0.02)
    time.sleep(0.1)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    before = len(srv.messages()) - n0
    check(0 < before < 8, 'worker killed mid-run (%d sent before)' % before)
    tool('work', DB, 30, '--until-idle', '--smtp', srv.url(), '--lease', '2',
         timeout=60)
    ids = [m[0]['Message-ID'] for m in srv.messages()[n0:]]
    check(set(ids) == {mid % j for j in jobs}, 'all delivered after the kill')
    check(len(ids) - len(set(ids)) <= 1,
          'at most the in-flight message repeated (%d extra)'
          % (len(ids) - len(set(ids))))
    check(all(job_state(j) == 'done' for j in jobs), 'every job done')
    srv.stop()
finally:
    subprocess.run(['psql', '-q', PG, '-c', 'DROP DATABASE IF EXISTS ' + name
                    + ' WITH (FORCE)'], capture_output=True)
finish()

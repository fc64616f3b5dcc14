#!/usr/bin/python3
"""The durable outbox against a real SMTP server (aiosmtpd) and a real
store (SQLite here; PostgreSQL in test_outbox_pg.py): an invoice's mail is
queued in the issuing transaction, sent once with the stored XML and PDF
attached byte for byte, waits while the server is down, retries on 451,
fails with the reason on 550, can be re-sent elsewhere, survives a killed
worker, and leaves its timeline in invoice_events."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mailtest import Smtpd, check, finish  # noqa: E402

TOOL = os.environ['MAIL_TOOL']
work = tempfile.mkdtemp(prefix='facturo-outbox-')
DB = 'sqlite:' + os.path.join(work, 'db.sqlite')
BRANDING = json.dumps({'mail': {
    'from': 'facturas@cafeteria.example.mx',
    'from_name': 'Cafetería Ñandú',
    'reply_to': 'ventas@cafeteria.example.mx'}})


def tool(*args, timeout=60):
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr


def wfile(name, data):
    p = os.path.join(work, name)
    with open(p, 'wb') as f:
        f.write(data)
    return p


xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante '
       'xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Total="1234.50">'
       '<!-- Cafetería Ñandú --></cfdi:Comprobante>\n').encode()
pdf = b'%PDF-1.4\n' + os.urandom(60000) + b'\n%%EOF\n'
xml_p, pdf_p = wfile('f.xml', xml), wfile('f.pdf', pdf)
folio = [0]


def issue(email='cliente@example.org', *to):
    folio[0] += 1
    args = ['issue', DB, tenant, folio[0], xml_p, pdf_p, email]
    for t in to:
        args += ['--to', t]
    rc, out, err = tool(*args)
    if rc != 0:
        raise RuntimeError('issue failed: ' + err)
    inv, job = out.split()
    return inv, job


def events(inv):
    return json.loads(tool('events', DB, tenant, inv)[1])


def job(j):
    return json.loads(tool('job', DB, tenant, j)[1])


def work_(seconds, srv, *extra):
    return tool('work', DB, seconds, '--smtp', srv.url(), *extra,
                timeout=seconds + 30)


rc, tenant, _ = tool('init', DB, BRANDING)
check(rc == 0, 'store migrated, tenant created')
srv = Smtpd().start()

# --- queued in the issuing transaction, sent once, byte for byte ---------
inv, j = issue('cliente@example.org', 'cliente@example.org',
               'contabilidad@example.net')
ev = events(inv)
check([e['kind'] for e in ev] == ['mail_queued'], 'queued event on issue')
check(ev[0]['detail']['to'] == ['cliente@example.org',
                                'contabilidad@example.net']
      and ev[0]['actor'] == 'user:1', 'queued event names addresses, actor')
work_(10, srv, '--until-idle')
msgs = srv.messages()
check(len(msgs) == 1, 'one message sent')
msg, env, raw = msgs[0]
check(env['rcpt'] == ['cliente@example.org', 'contabilidad@example.net'],
      'envelope: both recipients')
check(env['from'] == 'facturas@cafeteria.example.mx', 'envelope sender')
check(msg['From'].addresses[0].display_name == 'Cafetería Ñandú'
      and msg['From'].addresses[0].addr_spec
      == 'facturas@cafeteria.example.mx', 'From per merchant')
check(str(msg['Reply-To']) == 'ventas@cafeteria.example.mx',
      'Reply-To per merchant')
check(msg['Subject'] == 'Factura A1 de Cafetería Ñandú',
      'Spanish subject with accents: %r' % msg['Subject'])
check(msg['Message-ID'] == '<facturo.%s.%s@cafeteria.example.mx>'
      % (tenant, j), 'Message-ID fixed per job')
atts = {a.get_filename(): a for a in msg.iter_attachments()}
pdf_a = [a for n, a in atts.items() if n.endswith('.pdf')]
xml_a = [a for n, a in atts.items() if n.endswith('.xml')]
check(len(pdf_a) == 1 and pdf_a[0].get_payload(decode=True) == pdf
      and pdf_a[0].get_content_type() == 'application/pdf',
      'stored PDF attached byte for byte')
check(len(xml_a) == 1 and xml_a[0].get_payload(decode=True) == xml
      and xml_a[0].get_content_type() == 'application/xml',
      'stored XML attached byte for byte')
text = msg.get_body(('plain',)).get_content()
html = msg.get_body(('html',)).get_content()
check('1,234.50 MXN' in text and 'Señora Pérez' in text
      and 'https://facturo.example.com/_mail/d/' in text, 'text body')
check('https://facturo.example.com/_mail/t/' in html and '.gif"' in html
      and 'Descargar PDF' in html and 'Cafetería Ñandú' in html,
      'HTML body with links and tracking image')
uuid = xml_a[0].get_filename().split('_')[1][:-4]
check(uuid in text and uuid in html, 'UUID in both bodies')
ev = events(inv)
check([e['kind'] for e in ev] == ['mail_queued', 'mail_sent'],
      'timeline: queued, sent')
check(ev[1]['detail']['reply'].startswith('250 2.0.0 Ok: queued as'),
      'sent event keeps the server reply')
check(job(j)['state'] == 'done', 'job done')
work_(0.5, srv)
check(len(srv.messages()) == 1, 'a second worker run sends nothing again')

# --- resend, to other addresses, in English ------------------------------
rc, out, _ = tool('enqueue', DB, tenant, inv, '--to', 'otra@example.com',
                  '--lang', 'en')
check(rc == 0, 'resend queued')
rc, out, _ = tool('enqueue', DB, tenant, inv, '--to', 'bad address')
check(rc == 2, 'resend to an invalid address refused')
work_(10, srv, '--until-idle')
msgs = srv.messages()
check(len(msgs) == 2 and msgs[1][1]['rcpt'] == ['otra@example.com']
      and msgs[1][0]['Subject'] == 'Invoice A1 from Cafetería Ñandú',
      'resent to another address in English')
check([e['kind'] for e in events(inv)]
      == ['mail_queued', 'mail_sent', 'mail_queued', 'mail_sent'],
      'timeline shows the resend')
rc, out, _ = tool('enqueue', DB, tenant, inv)
check(rc == 0, 'resend to the invoice\'s own address')
work_(10, srv, '--until-idle')
msgs = srv.messages()
check(len(msgs) == 3 and msgs[2][1]['rcpt'] == ['cliente@example.org'],
      'resent to the customer e-mail stored with the invoice')

# --- no PDF stored: rendered from the XML once, stored, attached ----------
sample = os.path.join(os.environ['FACTURO_SHARED'], 'sat', 'samples',
                      'ingreso-test-stamped-finkok.xml')
with open(sample, 'rb') as f:
    cfdi = f.read()
cfdi_p = wfile('cfdi.xml', cfdi)
folio[0] += 1
rc, out, err = tool('issue', DB, tenant, folio[0], cfdi_p, '-',
                    'cliente@example.org')
inv2, j2 = out.split()
stored = os.path.join(work, 'stored.pdf')
check(tool('pdf', DB, tenant, inv2, stored)[0] == 1, 'no PDF before sending')
n0 = len(srv.messages())
work_(20, srv, '--until-idle')
rc = tool('pdf', DB, tenant, inv2, stored)[0]
check(rc == 0, 'PDF rendered and stored by the worker')
m1 = srv.messages()[n0][0]
a1 = {a.get_content_type(): a.get_payload(decode=True)
      for a in m1.iter_attachments()}
with open(stored, 'rb') as f:
    stored_pdf = f.read()
check(a1.get('application/pdf', b'')[:5] == b'%PDF-'
      and a1['application/pdf'] == stored_pdf
      and a1.get('application/xml') == cfdi,
      'rendered PDF attached, byte for byte as stored; XML as stored')
time.sleep(1.1)
tool('enqueue', DB, tenant, inv2)
work_(20, srv, '--until-idle')
a2 = {a.get_content_type(): a.get_payload(decode=True)
      for a in srv.messages()[n0 + 1][0].iter_attachments()}
check(a2.get('application/pdf') == stored_pdf,
      'a resend attaches the stored PDF (made once and kept)')

# --- tracking ---------------------------------------------------------------
rc, out, _ = tool('track', DB, tenant, inv, j)
check(rc == 0 and out == 'OK 0', 'links: made, checked, refused when '
      'forged/expired/misused (%s)' % out)
kinds = [e['kind'] for e in events(inv)]
check(kinds.count('opened') == 1 and kinds.count('downloaded') == 3,
      'opened recorded once (pixel hits repeated), each download recorded')

# --- server down: the job waits, then is delivered once ---------------------
n0 = len(srv.messages())
srv.stop()
inv, j = issue()
work_(2.5, srv)
st = job(j)
check(st['state'] == 'queued' and st['attempts'] >= 1
      and st['last_error'].startswith('curl:'),
      'server down: job waits in the queue (%r)' % st)
check('mail_deferred' in [e['kind'] for e in events(inv)],
      'deferred event recorded')
srv.start()
work_(15, srv, '--until-idle')
check(len(srv.messages()) == n0 + 1, 'delivered once when the server is back')
check(job(j)['state'] == 'done', 'job done after the outage')
check([e['kind'] for e in events(inv)].count('mail_sent') == 1,
      'one sent event')

# --- 550: failed with the reason ---------------------------------------------
n0 = len(srv.messages())
srv.set_mode('550')
inv, j = issue()
work_(10, srv, '--until-idle')
st = job(j)
ev = events(inv)
check(st['state'] == 'dead' and st['attempts'] == 1
      and st['last_error'] == '550 5.7.1 Recipient refused by policy',
      '550: job failed at once with the reason (%r)' % st)
check(ev[-1]['kind'] == 'mail_failed' and ev[-1]['detail']['reply']
      == '550 5.7.1 Recipient refused by policy', 'failed event with reason')
check(len(srv.messages()) == n0, '550: nothing stored')

# --- 451: retried with backoff, then delivered; or failed after the limit ---
srv.set_mode('451')
inv, j = issue()
work_(4, srv)
st = job(j)
check(st['state'] == 'queued' and st['attempts'] >= 2
      and st['last_error'].startswith('451 4.3.0'),
      '451: retried, still queued (%r)' % st)
srv.set_mode('ok')
work_(15, srv, '--until-idle')
check(job(j)['state'] == 'done' and len(srv.messages()) == n0 + 1,
      '451 then 250: delivered once')
srv.set_mode('451')
inv, j = issue()
work_(15, srv, '--until-idle', '--max-attempts', '2')
st = job(j)
check(st['state'] == 'dead' and st['attempts'] == 2
      and events(inv)[-1]['kind'] == 'mail_failed',
      '451 until the attempt limit: failed (%r)' % st)
srv.set_mode('ok')

# --- no address known: nothing queued ---------------------------------------
rc, out, err = tool('issue', DB, tenant, 999, xml_p, '-', 'not-an-address')
check(rc != 0, 'an invoice without a usable address queues nothing')

# --- a job whose workers keep dying is stopped, not retried forever -------
srv.set_mode('slow')
inv, j = issue()
p = subprocess.Popen([TOOL, 'work', DB, '30', '--smtp', srv.url(),
                      '--workers', '1', '--lease', '2', '--max-attempts', '1'])
end = time.time() + 10
while time.time() < end and job(j)['state'] != 'running':
    time.sleep(0.02)
os.kill(p.pid, signal.SIGKILL)
p.wait()
work_(15, srv, '--until-idle', '--lease', '2', '--max-attempts', '1')
st = job(j)
check(st['state'] == 'dead' and 'too many attempts' in st['last_error']
      and events(inv)[-1]['kind'] == 'mail_failed',
      'crash-looping job ends failed (%r)' % st)
srv.set_mode('ok')

# --- a killed worker loses nothing --------------------------------------------
n0 = len(srv.messages())
srv.set_mode('slow')
jobs = [issue()[1] for _ in range(8)]
p = subprocess.Popen([TOOL, 'work', DB, '30', '--until-idle', '--smtp',
                      srv.url(), '--workers', '1', '--lease', '2'])
# kill it once it has sent something and is busy with the rest
end = time.time() + 20
while time.time() < end and len(srv.messages()) <= n0:
    time.sleep(0.02)
time.sleep(0.1)
os.kill(p.pid, signal.SIGKILL)
p.wait()
sent_before = len(srv.messages()) - n0
states = [job(x)['state'] for x in jobs]
check(0 < sent_before < 8 and any(s != 'done' for s in states),
      'worker killed mid-run (%d sent before)' % sent_before)
work_(30, srv, '--until-idle', '--lease', '2')
srv.set_mode('ok')
got = srv.messages()[n0:]
ids = [m[0]['Message-ID'] for m in got]
want = ['<facturo.%s.%s@cafeteria.example.mx>' % (tenant, x) for x in jobs]
check(all(job(x)['state'] == 'done' for x in jobs), 'every job done')
check(set(ids) == set(want), 'every message delivered after the kill')
check(len(ids) - len(set(ids)) <= 1,
      'at most the one in-flight message repeated (%d extra)'
      % (len(ids) - len(set(ids))))

# --- two worker processes on one database ------------------------------------
n0 = len(srv.messages())
jobs = [issue()[1] for _ in range(20)]
ps = [subprocess.Popen([TOOL, 'work', DB, '30', '--until-idle', '--smtp',
                        srv.url(), '--workers', '2', '--id', 'w%d' % k])
      for k in range(2)]
for p in ps:
    p.wait(60)
got = srv.messages()[n0:]
ids = [m[0]['Message-ID'] for m in got]
check(len(ids) == 20 and len(set(ids)) == 20,
      'two processes: 20 jobs, 20 messages, none twice (%d/%d)'
      % (len(ids), len(set(ids))))
srv.stop()
finish()

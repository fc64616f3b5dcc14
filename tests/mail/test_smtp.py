#!/usr/bin/python3
"""mail_build + mail_send against a real SMTP server (aiosmtpd) on
loopback: the MIME parses with Python's email module, attachments are byte
for byte the inputs, headers and both bodies are right; 550 is permanent
with the server's reason, 451 and a stopped server are temporary; AUTH and
STARTTLS work."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mailtest import Smtpd, check, finish  # noqa: E402

TOOL = os.environ['MAIL_TOOL']
work = tempfile.mkdtemp(prefix='facturo-mail-')


def wfile(name, data):
    p = os.path.join(work, name)
    with open(p, 'wb') as f:
        f.write(data)
    return p


pdf = os.urandom(150000) + b'\r\n.\r\n' + bytes(range(256))
xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante '
       'Nombre="Cafetería Ñandú"/>\n').encode()
text = ('Hola señora Pérez:\n\nSu factura A-17 por $1,234.50 MXN.\n'
        '.\nUna línea muy larga ' + 'x' * 300 + '\n-- \nTienda\n')
html = ('<p>Hola señora <b>Pérez</b>:</p>\n<p>Factura A-17 — '
        '$1,234.50</p>' + '<span>y</span>' * 100 + '\n')
subject = 'Factura A-17 de Cafetería Ñandú — ¡gracias!'
pdf_p, xml_p = wfile('f.pdf', pdf), wfile('f.xml', xml)
text_p, html_p = wfile('t.txt', text.encode()), wfile('h.html', html.encode())


def send(url, *extra, to=('cliente@example.org', 'conta@example.net')):
    args = [TOOL, 'send', '--smtp', url, '--from',
            'facturas@tienda.example.com', '--from-name', 'Cafetería Ñandú',
            '--reply-to', 'ventas@tienda.example.com', '--subject', subject,
            '--text', text_p, '--html', html_p,
            '--attach', pdf_p + ':Factura A-17.pdf:application/pdf',
            '--attach', xml_p + ':Factura Año 17.xml:application/xml']
    for t in to:
        args += ['--to', t]
    r = subprocess.run(args + list(extra), capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout.strip()


def nl(s):
    return s.replace('\r\n', '\n')


# --- a delivered message, parsed ----------------------------------------
srv = Smtpd().start()
rc, reply = send(srv.url())
check(rc == 0, 'sent (exit %d, %r)' % (rc, reply))
check(reply.startswith('250 2.0.0 Ok: queued as T'),
      'reply is the server\'s last line: %r' % reply)
msgs = srv.wait_messages(1)
check(len(msgs) == 1, 'one message received')
msg, env, raw = msgs[0]
check(env['from'] == 'facturas@tienda.example.com', 'envelope sender')
check(env['rcpt'] == ['cliente@example.org', 'conta@example.net'],
      'envelope recipients')
check(not msg.defects, 'no MIME defects: %r' % msg.defects)
check(msg['Subject'] == subject, 'Subject with accents: %r' % msg['Subject'])
check(msg['From'].addresses[0].display_name == 'Cafetería Ñandú'
      and msg['From'].addresses[0].addr_spec == 'facturas@tienda.example.com',
      'From')
check(str(msg['Reply-To']) == 'ventas@tienda.example.com', 'Reply-To')
check([a.addr_spec for a in msg['To'].addresses]
      == ['cliente@example.org', 'conta@example.net'], 'To (two addresses)')
check(msg['Date'] is not None and msg['Date'].datetime is not None, 'Date')
check(msg['Message-ID'] is not None
      and msg['Message-ID'].endswith('@tienda.example.com>'), 'Message-ID')
check(msg.get_content_type() == 'multipart/mixed', 'multipart/mixed')
parts = list(msg.iter_parts())
check(parts[0].get_content_type() == 'multipart/alternative',
      'first part multipart/alternative')
body_t = msg.get_body(('plain',))
body_h = msg.get_body(('html',))
check(body_t is not None and nl(body_t.get_content()) == text,
      'text body intact')
check(body_h is not None and nl(body_h.get_content()) == html,
      'HTML body intact')
atts = list(msg.iter_attachments())
check(len(atts) == 2, 'two attachments')
check(atts[0].get_filename() == 'Factura A-17.pdf'
      and atts[0].get_content_type() == 'application/pdf'
      and atts[0].get_content_disposition() == 'attachment'
      and atts[0].get_payload(decode=True) == pdf,
      'PDF attachment byte for byte')
check(atts[1].get_filename() == 'Factura Año 17.xml'
      and atts[1].get_content_type() == 'application/xml'
      and atts[1].get_payload(decode=True) == xml,
      'XML attachment byte for byte, RFC 2231 name')
check(all(len(line) <= 998 for line in raw.split(b'\r\n')), 'line lengths')

# --- refusals -------------------------------------------------------------
srv.set_mode('550')
rc, reply = send(srv.url())
check(rc == 3 and reply == '550 5.7.1 Recipient refused by policy',
      '550 is permanent with the reason (%d %r)' % (rc, reply))
srv.set_mode('451')
rc, reply = send(srv.url())
check(rc == 1 and reply.startswith('451 4.3.0'),
      '451 is temporary (%d %r)' % (rc, reply))
srv.set_mode('ok')
rc, reply = send(srv.url(), to=('cliente@example.org\r\nBcc: x@example.com',))
check(rc == 2, 'header injection through a recipient refused (%d)' % rc)
srv.stop()
rc, reply = send(srv.url())
check(rc == 1 and reply.startswith('curl:'),
      'server down is temporary (%d %r)' % (rc, reply))
check(len(srv.messages()) == 1, 'nothing else was stored')

# --- AUTH -----------------------------------------------------------------
srv = Smtpd(extra=['--auth', 'tienda:s3cr3t']).start()
rc, reply = send('smtp://tienda:wrong@127.0.0.1:%d?tls=none' % srv.port)
check(rc == 3 and reply.startswith('535'),
      'bad password is permanent (%d %r)' % (rc, reply))
rc, reply = send('smtp://tienda:s3cr3t@127.0.0.1:%d?tls=none' % srv.port)
check(rc == 0, 'AUTH with user and password (%d %r)' % (rc, reply))
check(len(srv.wait_messages(1)) == 1, 'authenticated message stored')
srv.stop()

# --- STARTTLS ---------------------------------------------------------------
key, crt = os.path.join(work, 'k.pem'), os.path.join(work, 'c.pem')
subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                '-keyout', key, '-out', crt, '-days', '2', '-subj',
                '/CN=localhost', '-addext',
                'subjectAltName=IP:127.0.0.1,DNS:localhost'], check=True, capture_output=True)
srv = Smtpd(extra=['--tls', crt, key]).start()
rc, reply = send(srv.url('tls=none'))
check(rc == 3 and reply.startswith('530'),
      'server requiring STARTTLS refuses clear text (%d %r)' % (rc, reply))
rc, reply = send(srv.url('tls=starttls'))
check(rc == 1 and 'curl:' in reply,
      'untrusted certificate is refused (%d %r)' % (rc, reply))
rc, reply = send(srv.url('tls=starttls&ca_file=' + crt + '&helo=localhost'))
check(rc == 0, 'STARTTLS verified against ca_file (%d %r)' % (rc, reply))
rc, reply = send(srv.url('tls=starttls&insecure=1'))
check(rc == 0, 'STARTTLS (%d %r)' % (rc, reply))
msgs = srv.wait_messages(1)
check(len(msgs) >= 1 and msgs[-1][0]['Subject'] == subject,
      'message over STARTTLS intact')
srv.stop()
finish()

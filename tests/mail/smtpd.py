#!/usr/bin/python3
"""A real SMTP server on loopback for the mail tests (Debian's aiosmtpd).

Each accepted message is written to DIR as NNNN.eml (the DATA bytes) and
NNNN.json (envelope: sender, recipients), atomically, in arrival order.
The answer to DATA comes from --mode, or from the first word of the file
--mode-file when that exists (so a test can switch modes live):
  ok   250 and store the message
  451  "451 4.3.0 Mailbox busy, try again later"
  550  "550 5.7.1 Recipient refused by policy"
  slow 250 after 0.3 s (so a test can kill a client mid-transaction)
--auth USER:PASS requires AUTH (PLAIN/LOGIN, allowed without TLS);
--tls CERT KEY offers STARTTLS with that certificate.
Writes "ready" to stdout when listening; stops on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir, mode, mode_file):
        self.outdir = outdir
        self.mode = mode
        self.mode_file = mode_file
        self.lock = threading.Lock()
        self.count = len([f for f in os.listdir(outdir) if f.endswith('.eml')])

    def current_mode(self):
        if self.mode_file and os.path.exists(self.mode_file):
            with open(self.mode_file) as f:
                words = f.read().split()
                if words:
                    return words[0]
        return self.mode

    async def handle_DATA(self, server, session, envelope):
        mode = self.current_mode()
        if mode == '550':
            return '550 5.7.1 Recipient refused by policy'
        if mode == '451':
            return '451 4.3.0 Mailbox busy, try again later'
        if mode == 'slow':
            await asyncio.sleep(0.3)
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.outdir, '%04d' % n)
        with open(base + '.tmp', 'wb') as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + '.json', 'w') as f:
            json.dump({'from': envelope.mail_from,
                       'rcpt': envelope.rcpt_tos}, f)
        os.rename(base + '.tmp', base + '.eml')
        return '250 2.0.0 Ok: queued as T%04d' % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--mode', default='ok')
    ap.add_argument('--mode-file')
    ap.add_argument('--auth')
    ap.add_argument('--tls', nargs=2)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kw = {}
    if a.auth:
        user, pw = a.auth.split(':', 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword)
                  and data.login == user.encode()
                  and data.password == pw.encode())
            return AuthResult(success=ok, handled=False)
        kw.update(authenticator=authenticator, auth_require_tls=False,
                  auth_required=True)
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw.update(tls_context=ctx, require_starttls=True)
    c = Controller(Handler(a.dir, a.mode, a.mode_file),
                   hostname='127.0.0.1', port=a.port, **kw)
    c.start()
    print('ready', flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()


if __name__ == '__main__':
    sys.exit(main())

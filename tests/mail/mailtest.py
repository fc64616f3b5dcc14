"""Shared helpers for the mail suite's Python drivers: a real SMTP server
(smtpd.py, aiosmtpd) on a free loopback port, and reading what it got."""
import email
import email.policy
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Smtpd:
    """A real SMTP server writing messages to self.dir."""

    def __init__(self, mode='ok', port=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix='facturo-smtpd-')
        self.port = port or free_port()
        self.mode_file = os.path.join(self.dir, 'mode')
        self.extra = list(extra)
        self.proc = None
        self.set_mode(mode)

    def set_mode(self, mode):
        with open(self.mode_file, 'w') as f:
            f.write(mode)

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'smtpd.py'), '--dir',
             os.path.join(self.dir, 'mail'), '--port', str(self.port),
             '--mode-file', self.mode_file] + self.extra,
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != 'ready':
            raise RuntimeError('smtpd did not start')
        return self

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def url(self, query='tls=none'):
        return 'smtp://127.0.0.1:%d?%s' % (self.port, query)

    def messages(self):
        """[(message, envelope)] in arrival order."""
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, 'mail', '*.eml'))):
            with open(p, 'rb') as f:
                raw = f.read()
            with open(p[:-4] + '.json') as f:
                env = json.load(f)
            out.append((email.message_from_bytes(
                raw, policy=email.policy.default), env, raw))
        return out

    def wait_messages(self, n, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            m = self.messages()
            if len(m) >= n:
                return m
            time.sleep(0.05)
        return self.messages()


failures = []


def check(cond, what):
    if cond:
        print('ok:', what)
    else:
        print('FAIL:', what)
        failures.append(what)


def finish():
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)

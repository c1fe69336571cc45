"""SIGHUP against the real binary: a new configuration for new sessions, atomically, without
dropping a connection; a bad one refused with the reason in the log; certificates reloaded."""
import hashlib
import os
import shutil
import smtplib
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import Gateway, RawClient, make_certificate  # noqa: E402


def served_cert_digest(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        smtp.starttls(context=ctx)
        return hashlib.sha256(smtp.sock.getpeercert(binary_form=True)).hexdigest()


def file_digest(cert):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(cert).read())).hexdigest()


def rcpt_code(port, address):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("ann@customer.test")
        return smtp.rcpt(address)[0]


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pd-reload-")
        self.cert, self.key = make_certificate(self.dir, "first")
        self.live_cert = os.path.join(self.dir, "live.pem")
        self.live_key = os.path.join(self.dir, "live.key")
        shutil.copy(self.cert, self.live_cert)
        shutil.copy(self.key, self.live_key)
        self.gw = Gateway(extra=f'[tls]\ncert = "{self.live_cert}"\nkey = "{self.live_key}"')
        with open(self.gw.config) as f:
            self.original = f.read()

    def tearDown(self):
        self.gw.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_new_address_is_accepted_after_sighup_without_dropping_a_session(self):
        open_session = RawClient(self.gw.port)
        open_session.reply()
        open_session.send("EHLO client.test\r\n")
        open_session.reply()
        self.assertEqual(rcpt_code(self.gw.port, "billing@acme.test"), 550)
        with open(self.gw.config, "w") as f:
            f.write(self.original.replace('"help@acme.test"]', '"help@acme.test", "billing@acme.test"]'))
        self.gw.hup_and_wait("configuration reloaded")
        self.assertEqual(rcpt_code(self.gw.port, "billing@acme.test"), 250)
        # The session opened before the reload is still served.
        open_session.send("NOOP\r\n")
        self.assertEqual(open_session.reply(), ["250 2.0.0 Ok"])
        open_session.close()

    def test_bad_configuration_is_refused_and_the_old_one_keeps_running(self):
        with open(self.gw.config, "w") as f:
            f.write(self.original + "\n[bogus]\nkey = 1\n")
        self.gw.hup_and_wait("configuration refused")
        self.assertIn("bogus: unknown key", self.gw.read_log())
        self.assertEqual(rcpt_code(self.gw.port, "support@acme.test"), 250)
        self.assertIsNone(self.gw.proc.poll())

    def test_sighup_while_starting_is_held_until_the_gateway_serves(self):
        # systemd's ExecReload or an operator's kill -HUP right after a start: the reload is
        # done once the gateway serves; SIGHUP's default action would have ended the process.
        self.assertEqual(self.gw.terminate(), 0)
        self.gw.restart(hup_at="embedded redis-server pid")
        deadline = time.time() + 10
        while "configuration reloaded" not in self.gw.read_log():
            self.assertIsNone(self.gw.proc.poll(), self.gw.read_log())
            self.assertLess(time.time(), deadline, self.gw.read_log())
            time.sleep(0.05)
        self.assertEqual(rcpt_code(self.gw.port, "support@acme.test"), 250)

    def test_certificate_is_reloaded_on_sighup(self):
        self.assertEqual(served_cert_digest(self.gw.port), file_digest(self.cert))
        second_cert, second_key = make_certificate(self.dir, "second")
        shutil.copy(second_cert, self.live_cert)
        shutil.copy(second_key, self.live_key)
        self.gw.hup_and_wait("configuration reloaded")
        self.assertEqual(served_cert_digest(self.gw.port), file_digest(second_cert))


if __name__ == "__main__":
    unittest.main()

"""STARTTLS and implicit TLS against the real binary, with real TLS clients (Python's ssl,
`openssl s_client -starttls smtp`, `swaks --tls`)."""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import (Gateway, RawClient, free_port, make_certificate,  # noqa: E402
                              trusting_context)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pd-tls-")
        cls.cert, cls.key = make_certificate(cls.dir)
        cls.tls_port = free_port()
        cls.gw = Gateway(smtp_extra=f'listen_tls = ["127.0.0.1:{cls.tls_port}"]',
                         extra=f'[tls]\ncert = "{cls.cert}"\nkey = "{cls.key}"')

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def context(self):
        return trusting_context(self.cert)

    def test_starttls_with_smtplib_delivers_over_tls13(self):
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            self.assertTrue(smtp.has_extn("starttls"))
            code, _ = smtp.starttls(context=self.context())
            self.assertEqual(code, 220)
            self.assertEqual(smtp.sock.version(), "TLSv1.3")
            smtp.ehlo("client.test")
            self.assertFalse(smtp.has_extn("starttls"))
            smtp.mail("ann@customer.test")
            smtp.rcpt("support@acme.test")
            code, text = smtp.data(b"Subject: over TLS\r\n\r\nsecret body\r\n")
        self.assertEqual(code, 250, text)
        ticket_id = int(re.match(rb"2\.0\.0 Ok: ticket (\d+)", text).group(1))
        self.assertEqual(self.gw.ticket(ticket_id)["subject"], "over TLS")

    def test_openssl_s_client_starttls_smtp_delivers_over_tls13(self):
        dialogue = ("EHLO client.test\nMAIL FROM:<carol@customer.test>\n"
                    "RCPT TO:<support@acme.test>\nDATA\nSubject: via s_client\n\nhello\n.\nQUIT\n")
        out = subprocess.run(
            ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{self.gw.port}",
             "-CAfile", self.cert, "-tls1_3", "-brief", "-crlf", "-ign_eof"],
            input=dialogue.encode(), capture_output=True, timeout=30)
        text = (out.stdout + out.stderr).decode(errors="replace")
        self.assertIn("Protocol version: TLSv1.3", text)
        self.assertIn("Verification: OK", text)
        m = re.search(r"250 2\.0\.0 Ok: ticket (\d+)", text)
        self.assertTrue(m, text)
        self.assertEqual(self.gw.ticket(int(m.group(1)))["subject"], "via s_client")

    def test_swaks_tls_delivers(self):
        out = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{self.gw.port}", "--tls", "--to",
             "support@acme.test", "--from", "bob@customer.test", "--header",
             "Subject: swaks over TLS"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"TLS started with cipher TLSv1\.3")
        self.assertRegex(out.stdout, r"<~  250 2\.0\.0 Ok: ticket \d+")

    def test_implicit_tls_port_greets_under_tls(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as raw:
            with self.context().wrap_socket(raw) as tls:
                self.assertEqual(tls.version(), "TLSv1.3")
                greeting = tls.recv(1024)
                self.assertTrue(greeting.startswith(b"220 mx.postdesk.test"), greeting)

    def test_commands_pipelined_before_the_handshake_are_discarded(self):
        c = RawClient(self.gw.port)
        c.reply()
        c.send("EHLO client.test\r\n")
        c.reply()
        # CVE-2011-0411: the injected MAIL must not be taken as sent under TLS.
        c.send("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
        self.assertEqual(c.reply(), ["220 2.0.0 Ready to start TLS"])
        tls = self.context().wrap_socket(c.sock)
        tls.sendall(b"RCPT TO:<support@acme.test>\r\n")
        self.assertTrue(tls.recv(1024).startswith(b"503 5.5.1"))
        tls.close()

    def test_cleartext_on_the_implicit_tls_port_is_dropped(self):
        c = RawClient(self.tls_port)
        c.send("EHLO client.test\r\n")
        self.assertTrue(c.closed())


if __name__ == "__main__":
    unittest.main()

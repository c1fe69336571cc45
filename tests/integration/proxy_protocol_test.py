"""Behind a load balancer: [smtp] proxy_protocol_from and the PROXY protocol (versions 1 and 2).

The real gateway and its embedded Redis. Raw sockets play the balancer (127.0.0.1, the listed
one) to send every form of header, good and bad; a real HAProxy (Debian's) then carries
smtplib's mail with `send-proxy` and `send-proxy-v2`. What an operator checks: the stored
message's Received: header and the log name the client, not the balancer; the per-address
connection limit counts the client; a connection without a header is closed before the
greeting and counted; other addresses are served as before.
"""
import itertools
import os
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import (TICKET_REPLY, Gateway, RawClient, free_port,  # noqa: E402
                              make_certificate, trusting_context, wait_for, wait_port)
from operations_test import scrape  # noqa: E402

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(command, family, addresses=b""):
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(addresses)) + \
        addresses


def v2_inet6(source, source_port, destination, destination_port):
    return v2_header(1, 0x21, socket.inet_pton(socket.AF_INET6, source) +
                     socket.inet_pton(socket.AF_INET6, destination) +
                     struct.pack("!HH", source_port, destination_port))


class Connection(RawClient):
    """A RawClient from a chosen loopback address (127.0.0.1 is the listed balancer)."""

    def __init__(self, port, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0))
        self.buf = b""


def received_header(gw, ticket):
    """Our Received: header (the stored message's first field, unfolded) of `ticket`."""
    lines = gw.raw_message(ticket).split(b"\r\n")
    field = [lines[0]] + list(itertools.takewhile(lambda l: l[:1] in (b" ", b"\t"), lines[1:]))
    return b" ".join(line.strip() for line in field).decode()


def send_message(client, subject):
    """The dialogue after the greeting, on a RawClient; returns the ticket id of the reply to
    the final dot."""
    client.send("EHLO client.test\r\n")
    assert client.reply()[-1].startswith("250 ")
    client.send("MAIL FROM:<ann@customer.test>\r\n")
    assert client.reply() == ["250 2.1.0 Ok"]
    client.send("RCPT TO:<support@acme.test>\r\n")
    assert client.reply() == ["250 2.1.5 Ok"]
    client.send("DATA\r\n")
    assert client.reply()[0].startswith("354")
    client.send(f"From: ann@customer.test\r\nSubject: {subject}\r\n\r\nHello.\r\n.\r\n")
    reply = client.reply()[0]
    match = TICKET_REPLY.match(reply[4:])
    assert reply.startswith("250 ") and match, reply
    return int(match.group(1))


class ProxyProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http_port = free_port()
        cls.gw = Gateway(smtp_extra='proxy_protocol_from = ["127.0.0.1/32"]',
                         limits="max_connections_per_ip = 2",
                         extra=f'[http]\nlisten = "127.0.0.1:{cls.http_port}"')

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def header_errors(self):
        return scrape(self.http_port).get("postdesk_proxy_header_errors_total")

    def test_version1_client_is_the_one_in_received_and_the_log(self):
        c = Connection(self.gw.port)
        c.send("PROXY TCP4 192.0.2.7 198.51.100.25 40001 25\r\n")
        self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
        ticket = send_message(c, "Through a balancer")
        c.close()
        received = received_header(self.gw, ticket)
        self.assertIn("([192.0.2.7])", received)
        self.assertNotIn("127.0.0.1", received)
        self.assertTrue(wait_for(lambda: "client=192.0.2.7 " in self.gw.read_log()))

    def test_version2_ipv6_client_with_the_header_and_ehlo_in_one_write(self):
        c = Connection(self.gw.port)
        # A balancer may pass the client's first bytes on in the same segment as its header.
        c.send(v2_inet6("2001:db8::7", 40002, "2001:db8::25", 25) + b"EHLO early.test\r\n")
        self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
        self.assertTrue(c.reply()[-1].startswith("250 "))
        ticket = send_message(c, "Through a balancer, in version 2")
        c.close()
        self.assertIn("([2001:db8::7])", received_header(self.gw, ticket))

    def test_connection_limit_counts_the_client_not_the_balancer(self):
        held = []
        for _ in range(2):
            c = Connection(self.gw.port)
            c.send("PROXY TCP4 192.0.2.50 198.51.100.25 40003 25\r\n")
            self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
            held.append(c)
        third = Connection(self.gw.port)
        third.send("PROXY TCP4 192.0.2.50 198.51.100.25 40004 25\r\n")
        self.assertEqual(third.reply(), [
            "421 4.7.0 mx.postdesk.test Error: too many connections from your address"])
        self.assertTrue(third.closed())
        # Four connections from the balancer: the limit of 2 is per client it names.
        other = Connection(self.gw.port)
        other.send("PROXY TCP4 192.0.2.51 198.51.100.25 40005 25\r\n")
        self.assertEqual(other.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
        for c in held + [third, other]:
            c.close()

    def test_missing_or_malformed_header_closes_before_the_greeting(self):
        before = self.header_errors()
        start = len(self.gw.read_log())
        for first in (b"EHLO client.test\r\n", b"PROXY TCP4 192.0.2.7 nowhere 1 2\r\n",
                      v2_header(1, 0x21, b"\x00" * 20)):
            c = Connection(self.gw.port)
            c.send(first)
            self.assertTrue(c.closed(), first)  # and not a byte of SMTP before that
            c.close()
        log = wait_for(lambda: (lambda text: text if text.count("proxy=127.0.0.1: ") >= 3
                                else None)(self.gw.read_log()[start:]))
        self.assertIn("not a PROXY protocol header; connection closed", log)
        self.assertIn("PROXY version 1 header has an address that is not TCP4", log)
        self.assertIn("PROXY version 2 header too short for its addresses", log)
        self.assertEqual(self.header_errors(), before + 3)

    def test_silent_balancer_connection_is_closed_after_five_seconds(self):
        before = self.header_errors()
        c = Connection(self.gw.port)
        c.sock.settimeout(15)
        started = time.monotonic()
        self.assertTrue(c.closed())
        self.assertGreaterEqual(time.monotonic() - started, 4.5)
        c.close()
        self.assertIn("no PROXY header within 5s", self.gw.read_log())
        self.assertEqual(self.header_errors(), before + 1)

    def test_sigterm_does_not_wait_for_a_balancer_still_silent(self):
        gw = Gateway(smtp_extra='proxy_protocol_from = ["127.0.0.1"]')
        try:
            c = Connection(gw.port)
            time.sleep(0.2)  # accepted, waiting for its header
            started = time.monotonic()
            self.assertEqual(gw.terminate(), 0)
            # Before the header's 5 s, and far before the 10 s shutdown grace.
            self.assertLess(time.monotonic() - started, 4)
            self.assertTrue(c.closed())
            c.close()
        finally:
            gw.stop()

    def test_health_checks_are_served_as_the_balancer(self):
        for header in (v2_header(0, 0x00), b"PROXY UNKNOWN\r\n"):
            c = Connection(self.gw.port)
            c.send(header)
            self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
            c.send("QUIT\r\n")
            self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
            c.close()

    def test_other_addresses_speak_smtp_at_once(self):
        c = Connection(self.gw.port, source="127.0.0.2")
        self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
        ticket = send_message(c, "Straight from the client")
        c.close()
        self.assertIn("([127.0.0.2])", received_header(self.gw, ticket))
        # A header from an address that is not listed is an SMTP syntax error, not a client.
        c = Connection(self.gw.port, source="127.0.0.2")
        c.reply()
        c.send("PROXY TCP4 192.0.2.66 198.51.100.25 40006 25\r\n")
        self.assertTrue(c.reply()[0].startswith("500 5.5.2"))
        c.close()


class ProxiedImplicitTlsTest(unittest.TestCase):
    """On a listen_tls port the balancer's header comes before the client's TLS handshake."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pd-proxy-tls-")
        cls.cert, key = make_certificate(cls.dir)
        cls.tls_port = free_port()
        cls.gw = Gateway(smtp_extra=f'listen_tls = ["127.0.0.1:{cls.tls_port}"]\n'
                                    'proxy_protocol_from = ["127.0.0.1"]',
                         extra=f'[tls]\ncert = "{cls.cert}"\nkey = "{key}"')

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def context(self):
        return trusting_context(self.cert)

    def test_header_then_handshake_then_mail_under_tls(self):
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
        raw.sendall(b"PROXY TCP4 203.0.113.9 198.51.100.25 40010 465\r\n")
        with self.context().wrap_socket(raw) as tls:
            c = RawClient.__new__(RawClient)
            c.sock, c.buf = tls, b""
            self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
            ticket = send_message(c, "Through a balancer, under TLS")
        received = received_header(self.gw, ticket)
        self.assertIn("([203.0.113.9])", received)
        self.assertIn("with ESMTPS", received)

    def test_header_and_client_hello_in_one_write(self):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context().wrap_bio(incoming, outgoing)
        with self.assertRaises(ssl.SSLWantReadError):
            tls.do_handshake()
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
        raw.sendall(b"PROXY TCP4 203.0.113.10 198.51.100.25 40011 465\r\n" + outgoing.read())
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            data = raw.recv(65536)
            self.assertTrue(data, "closed before the greeting")
            incoming.write(data)
            try:
                tls.do_handshake()
                greeting += tls.read(4096)
            except ssl.SSLWantReadError:
                pass
            raw.sendall(outgoing.read())
        self.assertEqual(greeting, b"220 mx.postdesk.test ESMTP Postdesk\r\n")
        raw.close()


HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                      else None)


@unittest.skipUnless(HAPROXY, "haproxy is not installed (tools/install-deps.sh installs it)")
class HaproxyTest(unittest.TestCase):
    """smtplib -> HAProxy (send-proxy, send-proxy-v2) -> the gateway."""

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(smtp_extra='proxy_protocol_from = ["127.0.0.1"]')
        cls.dir = tempfile.mkdtemp(prefix="pd-haproxy-")
        cls.v1_port, cls.v2_port = free_port(), free_port()
        config = os.path.join(cls.dir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write(f"""
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen smtp_v1
  bind 127.0.0.1:{cls.v1_port}
  server gateway 127.0.0.1:{cls.gw.port} send-proxy
listen smtp_v2
  bind 127.0.0.1:{cls.v2_port}
  server gateway 127.0.0.1:{cls.gw.port} send-proxy-v2
""")
        cls.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", config],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(cls.v1_port)
        wait_port(cls.v2_port)

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.terminate()
        cls.haproxy.wait(timeout=10)
        shutil.rmtree(cls.dir, ignore_errors=True)
        cls.gw.stop()

    def send_through(self, port, client_address):
        """Sends with smtplib from `client_address` through HAProxy; returns the ticket id."""
        msg = EmailMessage()
        msg["From"] = "ann@customer.test"
        msg["To"] = "support@acme.test"
        msg["Subject"] = "Sent through HAProxy"
        msg.set_content("Sent through HAProxy.\n")
        with smtplib.SMTP("127.0.0.1", port, timeout=10,
                          source_address=(client_address, 0)) as s:
            s.ehlo("client.test")
            s.mail("ann@customer.test")
            s.rcpt("support@acme.test")
            code, text = s.data(msg.as_bytes())
        self.assertEqual(code, 250, text)
        return int(TICKET_REPLY.match(text.decode()).group(1))

    def test_send_proxy_and_send_proxy_v2_name_smtplibs_address(self):
        for port, client in ((self.v1_port, "127.0.0.7"), (self.v2_port, "127.0.0.8")):
            received = received_header(self.gw, self.send_through(port, client))
            self.assertIn(f"([{client}])", received)
            self.assertTrue(wait_for(lambda: f"client={client} " in self.gw.read_log()))


if __name__ == "__main__":
    unittest.main()

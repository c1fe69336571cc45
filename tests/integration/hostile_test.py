"""Hostile clients against the real postdesk binary: the gateway keeps serving and loses nothing.

Idle and trickling clients are cut at the timeouts (RFC 5321 4.5.3.2), endless lines are refused
without buffering, pipelined garbage ends at max_errors, a client that vanishes inside DATA leaves
nothing stored, and thousands of idle connections do not slow down real mail. Every wait is a
deadline loop on something the server does; nothing sleeps and hopes.
"""
import os
import re
import resource
import select
import selectors
import smtplib
import socket
import struct
import sys
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import Gateway, RawClient  # noqa: E402

TIMEOUT_REPLY = "421 4.4.2 mx.postdesk.test Error: timeout exceeded"
TICKET_REPLY = re.compile(rb"^2\.0\.0 Ok: ticket (\d+)$")


def send_message(port, subject="Still serving", timeout=30):
    """One normal message with smtplib; returns (code, text) of the reply to the final dot."""
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@customer.test>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = subject
    msg.set_content("Hello,\nstill there?\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("ann@customer.test")
        code, text = smtp.rcpt("support@acme.test")
        assert code == 250, (code, text)
        return smtp.data(msg.as_bytes())


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}")


def open_transaction(port):
    """A RawClient inside DATA (after the 354)."""
    c = RawClient(port)
    assert c.reply()[0].startswith("220")
    c.send("EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\nRCPT TO:<support@acme.test>\r\n"
           "DATA\r\n")
    c.reply()
    assert c.reply() == ["250 2.1.0 Ok"]
    assert c.reply() == ["250 2.1.5 Ok"]
    assert c.reply() == ["354 End data with <CR><LF>.<CR><LF>"]
    return c


def trickle_until_closed(client, data, interval, limit):
    """Sends `data` one byte per `interval` seconds until the server replies or `limit` passes.

    Returns (reply lines, seconds from the start). The server's reply is awaited with select, so
    the timing comes from the server, not from a sleep."""
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < limit:
        readable, _, _ = select.select([client.sock], [], [], interval)
        if readable:
            try:
                return client.reply(), time.monotonic() - start
            except ConnectionError:
                return [], time.monotonic() - start
        try:
            client.send(data[i % len(data):i % len(data) + 1])
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed under us: the next select sees the EOF
        i += 1
    raise AssertionError(f"still open after {limit}s of trickling")


class TimeoutTest(unittest.TestCase):
    """command_timeout 2s, data_timeout 3s."""

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(limits='command_timeout = "2s"\ndata_timeout = "3s"')

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def test_idle_client_gets_421_4_4_2_after_command_timeout(self):
        c = RawClient(self.gw.port)
        self.assertTrue(c.reply()[0].startswith("220"))
        start = time.monotonic()
        self.assertEqual(c.reply(), [TIMEOUT_REPLY])  # the socket's 10 s timeout is the deadline
        elapsed = time.monotonic() - start
        self.assertTrue(c.closed())
        c.close()
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 5.0)

    def test_command_line_trickled_a_byte_at_a_time_is_cut_at_command_timeout(self):
        # Slowloris: one byte every 0.25 s of a command line that never ends. Only a complete
        # command restarts the command timeout, so the 421 comes 2 s after EHLO's.
        c = RawClient(self.gw.port)
        c.reply()
        c.send("EHLO client.test\r\n")
        c.reply()
        lines, elapsed = trickle_until_closed(c, b"NOOP " + b"x" * 500, 0.25, limit=8)
        self.assertEqual(lines, [TIMEOUT_REPLY])
        self.assertLess(elapsed, 4.0)
        self.assertTrue(c.closed())
        c.close()

    def test_client_sending_whole_commands_outlives_command_timeout(self):
        # The timeout is idle time between commands, not the session's age.
        c = RawClient(self.gw.port)
        c.reply()
        start = time.monotonic()
        while time.monotonic() - start < 3.5:
            c.send("NOOP\r\n")
            self.assertEqual(c.reply(), ["250 2.0.0 Ok"])
            time.sleep(0.5)  # paces the client; the assertion is on the server's replies
        c.send("QUIT\r\n")
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
        c.close()

    def test_data_trickled_a_byte_at_a_time_is_cut_at_data_timeout(self):
        # Whole lines, slowly: each byte is progress, but DATA has one deadline for the message.
        c = open_transaction(self.gw.port)
        lines, elapsed = trickle_until_closed(c, b"slow line\r\n", 0.2, limit=10)
        self.assertEqual(lines, [TIMEOUT_REPLY])
        self.assertGreater(elapsed, 2.5)
        self.assertLess(elapsed, 5.5)
        self.assertTrue(c.closed())
        c.close()


class EndlessLineTest(unittest.TestCase):
    def test_endless_command_line_gets_500_5_5_2_and_is_not_buffered(self):
        gw = Gateway()
        try:
            c = RawClient(gw.port)
            c.reply()
            c.send("EHLO client.test\r\n")
            c.reply()
            before = rss_kib(gw.proc.pid)
            chunk = b"A" * (1 << 20)
            for _ in range(64):  # 64 MiB without a line end
                c.send(chunk)
            self.assertEqual(c.reply(), ["500 5.5.2 Error: line too long"])
            c.send("\r\nNOOP\r\n")
            self.assertEqual(c.reply(), ["250 2.0.0 Ok"])
            growth = rss_kib(gw.proc.pid) - before
            self.assertLess(growth, 16 * 1024, f"RSS grew by {growth} KiB for a 64 MiB line")
            c.send("QUIT\r\n")
            self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
            c.close()
        finally:
            gw.stop()


class PipelinedGarbageTest(unittest.TestCase):
    def test_garbage_gets_errors_then_421_4_7_0_at_max_errors(self):
        gw = Gateway(limits="max_errors = 5")
        try:
            c = RawClient(gw.port)
            c.reply()
            c.send(b"EHLO client.test\r\n" + b"\x00\xff garbage \x1b[31m\r\n" * 3 +
                   b"MAIL FROM:<nobody\r\nDATA\r\n" + b"BOGUS\r\n" * 50)
            c.reply()
            self.assertEqual(c.reply(), ["500 5.5.2 Error: command not recognized"])
            self.assertEqual(c.reply(), ["500 5.5.2 Error: command not recognized"])
            self.assertEqual(c.reply(), ["500 5.5.2 Error: command not recognized"])
            self.assertTrue(c.reply()[0].startswith("501 5.5.4"))
            self.assertEqual(c.reply(), ["503 5.5.1 Error: need RCPT command"])
            self.assertEqual(c.reply(), ["421 4.7.0 mx.postdesk.test Error: too many errors"])
            self.assertTrue(c.closed())
            c.close()
            code, text = send_message(gw.port)
            self.assertEqual(code, 250, text)
        finally:
            gw.stop()


class DisconnectDuringDataTest(unittest.TestCase):
    def test_client_gone_inside_data_stores_nothing_and_the_server_goes_on(self):
        gw = Gateway()
        try:
            endings = [
                b"Subject: cut\r\n\r\nhalf a mess",          # in a line
                b"Subject: cut\r\n\r\nalmost done\r\n.",     # one byte short of the end
                b"Subject: cut\r\n\r\nalmost done\r\n.\r",   # CR of the final dot, no LF
                b"Subject: cut\r\n\r\nsmuggled?\n.\n",       # a bare-LF dot is not an end
            ]
            for i, tail in enumerate(endings):
                c = open_transaction(gw.port)
                c.send(tail)
                if i % 2:
                    # Reset instead of FIN (SO_LINGER 0): the server sees ECONNRESET.
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            # The server has seen every loss once it logged it.
            wait_for(lambda: gw.read_log().count("lost during DATA") == len(endings), 10,
                     "the gateway logs each lost transaction")
            code, text = send_message(gw.port, subject="After the cuts")
            self.assertEqual(code, 250, text)
            # Ticket ids start at 1: nothing was stored before this message.
            m = TICKET_REPLY.match(text)
            self.assertTrue(m, text)
            self.assertEqual(int(m.group(1)), 1)
            self.assertEqual(gw.ticket(1)["subject"], "After the cuts")
        finally:
            gw.stop()


class StressTest(unittest.TestCase):
    """From stress_connections connections on, idle sessions get stress_command_timeout (1 s
    here) instead of command_timeout (5 minutes): a flood of idle clients gives its slots back."""

    def test_idle_connections_are_cut_once_the_gateway_is_under_stress(self):
        gw = Gateway(limits='max_connections = 20\nstress_connections = 4\n'
                            'stress_command_timeout = "1s"')
        clients = []
        try:
            for _ in range(3):
                clients.append(RawClient(gw.port))
                self.assertTrue(clients[-1].reply()[0].startswith("220"))
            # Three are no stress: they stay (a 5 minute timeout), well past 1 s.
            readable, _, _ = select.select([c.sock for c in clients], [], [], 2.5)
            self.assertEqual(readable, [])
            # The fourth begins the stress: all four, the three idle ones included, are cut.
            clients.append(RawClient(gw.port))
            self.assertTrue(clients[-1].reply()[0].startswith("220"))
            start = time.monotonic()
            for c in clients:
                self.assertEqual(c.reply(), [TIMEOUT_REPLY])  # each socket's 10 s is the bound
                self.assertTrue(c.closed())
            self.assertLess(time.monotonic() - start, 5.0)
            # Mail goes on, and the stress is over with them gone.
            code, text = send_message(gw.port, subject="After the stress")
            self.assertEqual(code, 250, text)
            log = wait_for_log(gw, "stress over")
            self.assertIn("under stress: 4 connections open ([limits] stress_connections)", log)
        finally:
            for c in clients:
                c.close()
            gw.stop()

    def test_under_stress_a_client_error_is_followed_by_421_and_close(self):
        gw = Gateway(limits="max_connections = 20\nstress_connections = 2\nmax_errors = 5")
        idle = RawClient(gw.port)
        erring = RawClient(gw.port)
        try:
            self.assertTrue(idle.reply()[0].startswith("220"))
            self.assertTrue(erring.reply()[0].startswith("220"))
            erring.send(b"EHLO client.test\r\nBOGUS\r\nNOOP\r\n")
            self.assertTrue(erring.reply()[0].startswith("250"))
            self.assertEqual(erring.reply(), ["500 5.5.2 Error: command not recognized"])
            self.assertEqual(erring.reply(), ["421 4.7.0 mx.postdesk.test Error: too many errors"])
            self.assertTrue(erring.closed())
            # A sender that makes no error is served under stress as before.
            code, text = send_message(gw.port, subject="Under stress")
            self.assertEqual(code, 250, text)
        finally:
            idle.close()
            erring.close()
            gw.stop()


def wait_for_log(gw, text, timeout=10):
    """The gateway's log once it holds `text`."""
    wait_for(lambda: text in gw.read_log(), timeout, f"{text!r} in the log")
    return gw.read_log()


class ManyIdleConnectionsTest(unittest.TestCase):
    IDLE = 5000

    def test_5000_idle_connections_do_not_stop_mail(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * self.IDLE + 1000  # ours and the gateway's (it inherits the limit)
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        gw = Gateway(limits=f"max_connections_per_ip = {self.IDLE + 100}")
        idle = []
        sel = selectors.DefaultSelector()
        try:
            for _ in range(self.IDLE):
                s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
                s.setblocking(False)
                idle.append(s)
                sel.register(s, selectors.EVENT_READ, bytearray())
            # Every one of them is accepted and greeted.
            greeted = 0
            deadline = time.monotonic() + 30
            while greeted < self.IDLE and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    data = key.fileobj.recv(512)
                    self.assertTrue(data, "an idle connection was closed")
                    key.data.extend(data)
                    if key.data.endswith(b"\r\n"):
                        self.assertTrue(key.data.startswith(b"220 "), key.data)
                        sel.unregister(key.fileobj)
                        greeted += 1
            self.assertEqual(greeted, self.IDLE)
            # Real mail still flows, promptly.
            start = time.monotonic()
            code, text = send_message(gw.port, subject="Among 5000 idle", timeout=10)
            elapsed = time.monotonic() - start
            self.assertEqual(code, 250, text)
            self.assertLess(elapsed, 5.0)
            # And the idle ones are still there, unanswered and open.
            for s in idle:
                sel.register(s, selectors.EVENT_READ)
            self.assertEqual(sel.select(timeout=0), [])
        finally:
            sel.close()
            for s in idle:
                s.close()
            gw.stop()


if __name__ == "__main__":
    unittest.main()

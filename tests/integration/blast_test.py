"""postdesk-blast, the load generator, against the real gateway: what it reports must be what
the gateway did (200 messages accepted is 200 tickets stored), over every way it can talk (a
connection per message, kept connections, PIPELINING, STARTTLS), and it must never hang."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import POSTDESK, Gateway, free_port, make_certificate  # noqa: E402

BLAST = os.environ.get("POSTDESK_BLAST_BIN", "postdesk-blast")


def blast(port, *args, timeout=120):
    """Runs postdesk-blast against 127.0.0.1:port with --json; returns (exit status, summary
    dict, whole output)."""
    out = subprocess.run([BLAST, "--server", f"127.0.0.1:{port}", "--json", *args],
                         capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError("no JSON summary:\n" + text)
    return out.returncode, json.loads(lines[-1]), text


class BlastTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pd-blast-")
        cls.cert, cls.key = make_certificate(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        # A fresh gateway (and data_dir) per test: its ticket numbers start at 1. The default
        # rate guard (20 messages per sender and brand) is on: --unique-senders must avoid it.
        self.gw = Gateway(extra=f'[tls]\ncert = "{self.cert}"\nkey = "{self.key}"')

    def tearDown(self):
        self.gw.stop()

    def ticket_exists(self, ticket_id):
        out = subprocess.run([POSTDESK, "tickets", "get", str(ticket_id), "--config",
                              self.gw.config], capture_output=True, text=True, timeout=30)
        return out.returncode == 0

    def assert_200_accepted_and_stored(self, *args):
        code, summary, text = blast(self.gw.port, "-n", "200", "-c", "8", "--unique-senders",
                                    *args)
        self.assertEqual(code, 0, text)
        self.assertEqual(summary["sent"], 200, text)
        self.assertEqual(summary["accepted"], 200, text)
        self.assertEqual(summary["refused_4xx"] + summary["refused_5xx"], 0, text)
        self.assertEqual(summary["errors"], 0, text)
        self.assertEqual(summary["latency_ms"]["samples"], 200, text)
        self.assertGreater(summary["messages_per_s"], 0, text)
        lat = summary["latency_ms"]
        self.assertTrue(0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat)
        # What the report says is what the gateway did: 200 tickets, not one more.
        self.assertTrue(self.ticket_exists(200), "ticket 200 missing")
        self.assertFalse(self.ticket_exists(201), "a 201st ticket")
        first, last = self.gw.ticket(1), self.gw.ticket(200)
        self.assertIn("postdesk-blast", first["subject"])
        self.assertNotEqual(first["requester"]["email"], last["requester"]["email"])
        self.assertRegex(last["requester"]["email"], r"^bench\+\d+@load\.test$")
        return summary, text

    def test_a_new_connection_per_message(self):
        summary, text = self.assert_200_accepted_and_stored("--messages-per-connection", "1")
        self.assertEqual(summary["connections_set_up"], 200, text)

    def test_kept_connections(self):
        summary, text = self.assert_200_accepted_and_stored()
        self.assertEqual(summary["connections_set_up"], 8, text)
        self.assertFalse(summary["pipelining"])

    def test_pipelining(self):
        summary, text = self.assert_200_accepted_and_stored("--pipelining")
        self.assertTrue(summary["pipelining"], text)  # the gateway offers it: it was used
        self.assertNotIn("not offered", text)

    def test_chunking(self):
        # RFC 3030: each message one BDAT LAST chunk instead of DATA; the same 200 tickets.
        summary, text = self.assert_200_accepted_and_stored("--chunking")
        self.assertTrue(summary["chunking"], text)
        self.assertIn(", BDAT", text)

    def test_chunking_pipelined(self):
        # MAIL, RCPT and the chunk in one write: one round trip per message.
        summary, text = self.assert_200_accepted_and_stored("--chunking", "--pipelining")
        self.assertTrue(summary["chunking"] and summary["pipelining"], text)

    def test_starttls(self):
        summary, text = self.assert_200_accepted_and_stored("--starttls",
                                                            "--messages-per-connection", "20")
        self.assertTrue(summary["tls"].startswith("TLSv1.3 "), text)
        # 20 messages a connection at most: 10 connections or more (the last round of the 8 may
        # take fewer each), never more than one round of 8 beyond that.
        self.assertGreaterEqual(summary["connections_set_up"], 10, text)
        self.assertLessEqual(summary["connections_set_up"], 18, text)

    def test_starttls_checks_the_certificate_when_asked(self):
        code, summary, text = blast(self.gw.port, "-n", "5", "-c", "1", "--starttls",
                                    "--tls-ca", self.cert, "--tls-name", "mx.postdesk.test")
        self.assertEqual(code, 0, text)
        self.assertEqual(summary["accepted"], 5, text)
        code, summary, text = blast(self.gw.port, "-n", "5", "-c", "1", "--starttls",
                                    "--tls-ca", self.cert, "--tls-name", "other.test")
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["accepted"], 0, text)
        self.assertGreater(summary["errors_by_kind"]["tls"], 0, text)
        self.assertIn("certificate", text)

    def test_a_duration_run_stops_on_time(self):
        started = time.monotonic()
        code, summary, text = blast(self.gw.port, "-d", "2", "-c", "4", "--unique-senders")
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, text)
        self.assertGreater(summary["accepted"], 10, text)
        self.assertEqual(summary["accepted"], summary["sent"], text)
        self.assertLess(elapsed, 10, text)
        self.assertTrue(self.ticket_exists(summary["accepted"]))
        self.assertFalse(self.ticket_exists(summary["accepted"] + 1))

    def test_an_open_loop_rate_is_kept(self):
        code, summary, text = blast(self.gw.port, "-n", "100", "-c", "4", "--rate", "50",
                                    "--unique-senders")
        self.assertEqual(code, 0, text)
        self.assertEqual(summary["accepted"], 100, text)
        # 100 messages at 50/s take about 2 s, not as long as the server takes to answer them.
        self.assertGreater(summary["elapsed_s"], 1.8, text)
        self.assertLess(summary["elapsed_s"], 4, text)

    def test_idle_connections_are_held_and_counted(self):
        code, summary, text = blast(self.gw.port, "--idle", "40", "-d", "1")
        self.assertEqual(code, 0, text)
        self.assertEqual(summary["idle_open_peak"], 40, text)
        self.assertEqual(summary["idle_open_at_end"], 40, text)
        self.assertIn("40 of 40 idle connections open", text)

    def test_a_server_that_is_not_there_is_an_error_not_a_hang(self):
        port = free_port()
        started = time.monotonic()
        code, summary, text = blast(port, "-n", "10", "-c", "2", timeout=60)
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["accepted"], 0, text)
        self.assertGreater(summary["errors_by_kind"]["connect"], 0, text)
        self.assertIn("connection setups failed in a row", summary["fatal"])
        self.assertLess(time.monotonic() - started, 30)

    def test_usage_errors_exit_2(self):
        out = subprocess.run([BLAST, "--connections", "0"], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--connections", out.stderr)
        out = subprocess.run([BLAST, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--pipelining", out.stdout)


class FakeServer:
    """A misbehaving SMTP server in a thread: `behave(n)` decides what happens to the n-th
    message (0-based, over every connection): "ok", "close" (drop the connection after the
    data, before any reply), "silent" (never answer the final dot), "rcpt550", "dot451",
    "garbage" (a non-SMTP line instead of the reply to MAIL)."""

    def __init__(self, behave):
        self.behave = behave
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.messages = 0
        self.connections = 0
        self.stored = 0
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.sock.close()
        for conn in self.open:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self._dialogue(conn, conn.makefile("rb"))
        except OSError:
            pass
        finally:
            conn.close()

    def _dialogue(self, conn, f):
        conn.sendall(b"220 fake.test ESMTP\r\n")
        what = "ok"
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-fake.test\r\n250 PIPELINING\r\n")
            elif verb == b"MAIL":
                with self.lock:
                    what = self.behave(self.messages)
                    self.messages += 1
                if what == "garbage":
                    conn.sendall(b"hello there\r\n")
                    continue
                conn.sendall(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                conn.sendall(b"550 5.1.1 no such user\r\n" if what == "rcpt550"
                             else b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                if what == "rcpt550":
                    conn.sendall(b"554 5.5.1 no valid recipients\r\n")
                    continue
                conn.sendall(b"354 go ahead\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                if what == "close":
                    return
                if what == "silent":
                    time.sleep(30)
                    return
                if what == "dot451":
                    conn.sendall(b"451 4.3.0 try again later\r\n")
                else:
                    with self.lock:
                        self.stored += 1
                    conn.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == b"RSET":
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 what?\r\n")


class BlastMisbehavingServerTest(unittest.TestCase):
    """Whatever the server does, every message is counted once, in the right column, the run
    ends, and a lost connection is opened again."""

    def run_against(self, behave, *args, timeout=60):
        server = FakeServer(behave)
        self.addCleanup(server.stop)
        started = time.monotonic()
        code, summary, text = blast(server.port, *args, timeout=timeout)
        return server, code, summary, text, time.monotonic() - started

    def test_a_server_closing_mid_transaction_costs_that_message_and_a_reconnect(self):
        server, code, summary, text, _ = self.run_against(
            lambda n: "close" if n % 10 == 3 and n < 80 else "ok", "-n", "100", "-c", "4",
            "--pipelining")
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["sent"], 100, text)
        self.assertEqual(summary["accepted"], 92, text)
        self.assertEqual(summary["lost"], 8, text)
        self.assertEqual(summary["errors_by_kind"]["closed"], 8, text)
        self.assertEqual(server.stored, 92)
        self.assertEqual(server.connections, 4 + 8, text)  # each lost one was opened again
        self.assertIn("closed by the server awaiting the reply to the final dot", text)

    def test_refusals_are_counted_by_class_with_their_text(self):
        def behave(n):
            return "rcpt550" if n % 4 == 1 else "dot451" if n % 4 == 2 else "ok"
        for mode in ([], ["--pipelining"]):
            with self.subTest(mode=mode):
                server, code, summary, text, _ = self.run_against(behave, "-n", "40", "-c", "2",
                                                                  *mode)
                self.assertEqual(code, 1, text)
                self.assertEqual(summary["accepted"], 20, text)
                self.assertEqual(summary["refused_5xx"], 10, text)
                self.assertEqual(summary["refused_4xx"], 10, text)
                self.assertEqual(summary["errors"], 0, text)
                self.assertEqual(server.connections, 2, text)  # RSET, not a new connection
                self.assertIn("550 5.1.1 no such user", text)
                self.assertIn("451 4.3.0 try again later", text)

    def test_chunking_against_a_server_without_it_is_a_setup_error(self):
        server, code, summary, text, _ = self.run_against(lambda n: "ok", "-n", "10", "-c", "2",
                                                          "--chunking")
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["accepted"], 0, text)
        self.assertGreater(summary["errors_by_kind"]["setup_refused"], 0, text)
        self.assertIn("the server does not offer CHUNKING", text)
        self.assertEqual(server.messages, 0)

    def test_a_server_that_never_answers_times_out(self):
        _, code, summary, text, elapsed = self.run_against(
            lambda n: "silent" if n == 5 else "ok", "-n", "20", "-c", "2", "--timeout", "1")
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["accepted"], 19, text)
        self.assertEqual(summary["errors_by_kind"]["timeout"], 1, text)
        self.assertIn("no reply to the final dot within 1000 ms", text)
        self.assertLess(elapsed, 20)

    def test_an_unexpected_reply_is_a_protocol_error_shown_with_its_text(self):
        _, code, summary, text, _ = self.run_against(
            lambda n: "garbage" if n == 0 else "ok", "-n", "10", "-c", "1")
        self.assertEqual(code, 1, text)
        self.assertEqual(summary["errors_by_kind"]["protocol"], 1, text)
        self.assertEqual(summary["accepted"], 9, text)
        self.assertIn('malformed reply line "hello there"', text)


if __name__ == "__main__":
    unittest.main()

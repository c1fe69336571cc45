"""Starts the real `postdesk` binary (and, where asked, a real redis-server) for integration tests.

Each Gateway gets its own temporary data_dir and a free port, so tests never share state.
"""
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
from email.message import EmailMessage

POSTDESK = os.environ.get("POSTDESK_BIN", "postdesk")

CONFIG = """
data_dir = "{data_dir}"
[smtp]
listen = ["127.0.0.1:{port}"]
hostname = "mx.postdesk.test"
loops = 2
{smtp_extra}
{redis}
[limits]
max_message_size = "{max_size}"
shutdown_grace = "10s"
{limits}
[[brand]]
name = "acme"
addresses = ["support@acme.test", "help@acme.test"]
wildcards = ["*@in.acme.test"]
external_addresses = ["acme.support@gmail.test"]
[[brand]]
name = "globex"
addresses = ["help@globex.test"]
{extra}
"""


# Ports below Linux's ephemeral range (ip_local_port_range starts at 32768): a port the kernel
# handed out for bind(0) is released before the gateway binds it, and meanwhile any outgoing
# connection of a test running beside this one may take it as its source port. A port from
# this range is only ever taken by someone binding it on purpose.
_FIXED_PORTS = (20000, 32767)
# Ports this process handed out: two calls before either server binds (a primary and its
# replica) would otherwise draw the same port now and then, and the second server would fail to
# bind while wait_port() saw the first one listening there.
_handed_out = set()


def free_port():
    """A port nothing listens on, for a server that binds it a moment later."""
    for _ in range(1000):
        port = random.randint(*_FIXED_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port in %d-%d" % _FIXED_PORTS)


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def wait_for(predicate, timeout=10.0):
    """Polls `predicate` until it returns something true or `timeout` seconds pass; returns its
    last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


TICKET_REPLY = re.compile(r"^2\.0\.0 Ok: ticket (\d+)$")


def send_to_support(port, subject, body="Hello from a test."):
    """One message from ann@customer.test to support@acme.test with smtplib; (code, text) of the
    reply to its final dot."""
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@customer.test>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("ann@customer.test")
        smtp.rcpt("support@acme.test")
        return smtp.data(msg.as_bytes())


class RetryingSender:
    """A unittest.TestCase mixin that sends as a sender's MTA does when it hears 451."""

    def send_until_stored(self, gw, subject, deadline_s=20):
        """Sends until 250; returns the ticket id and how many 451s came first. Any other reply
        fails the test: a 5xx would make the sender drop the message."""
        deferred = 0
        deadline = time.time() + deadline_s
        while True:
            code, text = send_to_support(gw.port, subject)
            if code == 250:
                return int(TICKET_REPLY.match(text.decode()).group(1)), deferred
            self.assertEqual(code, 451, text)
            deferred += 1
            self.assertLess(time.time(), deadline, gw.read_log())
            time.sleep(0.1)


def make_certificate(directory, name="mx.postdesk.test"):
    """A self-signed certificate for `name` (its CN and subjectAltName) with its key, written
    into `directory`; returns (certificate path, key path)."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def trusting_context(cert):
    """A client TLS context that trusts `cert` alone, without checking the host name."""
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    return ctx


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class Gateway:
    """A running `postdesk serve` on a fresh data_dir."""

    def __init__(self, redis_url=None, max_size="1MiB", limits="", extra="", smtp_extra="",
                 redis_keys=""):
        """redis_keys: more lines for [redis] beside the url."""
        self.dir = tempfile.mkdtemp(prefix="pd-it-")
        self.port = free_port()
        self.config = os.path.join(self.dir, "postdesk.toml")
        redis_lines = ([f'url = "{redis_url}"'] if redis_url else []) + (
            [redis_keys] if redis_keys else [])
        redis = "[redis]\n" + "\n".join(redis_lines) if redis_lines else ""
        with open(self.config, "w") as f:
            f.write(CONFIG.format(data_dir=os.path.join(self.dir, "var"), port=self.port,
                                  redis=redis, max_size=max_size, limits=limits,
                                  extra=extra, smtp_extra=smtp_extra))
        self.log_path = os.path.join(self.dir, "postdesk.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([POSTDESK, "serve", "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_listening()
        except Exception:
            # A gateway that refuses to start has exited by now, and its log says why: read
            # before stop(), which closes it and removes the directory.
            log = self.read_log()
            self.stop()
            raise RuntimeError("gateway did not start:\n" + log)

    def wait_listening(self, timeout=15.0):
        """Waits for the gateway's "listening on" line, which it logs once every loop listens.
        Not a probe connection: one that the gateway had not yet seen close would count against
        the connection and stress limits of the test's own connections."""
        deadline = time.time() + timeout
        line = f"listening on 127.0.0.1:{self.port}"
        while not any(line + end in self.read_log() for end in (" ", ",")):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the gateway does not listen on 127.0.0.1:{self.port}")
            time.sleep(0.02)

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def hup_and_wait(self, marker, timeout=10.0):
        """SIGHUP, then waits until the log holds `marker` once more than before ("configuration
        reloaded", "configuration refused"); AssertionError, with the log, when it does not."""
        before = self.read_log().count(marker)
        self.proc.send_signal(signal.SIGHUP)
        if not wait_for(lambda: self.read_log().count(marker) > before, timeout):
            raise AssertionError(f"SIGHUP: no new {marker!r} within {timeout} s:\n"
                                 + self.read_log())

    def redis_pid(self):
        m = re.search(r"embedded redis-server pid (\d+)", self.read_log())
        return int(m.group(1)) if m else None

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def restart(self, hup_at=None):
        """Starts `postdesk serve` again on the same configuration and data_dir, once the previous
        process has exited (stopped or killed). Logs to a new file, so redis_pid() and read_log()
        describe the new process. With `hup_at`, sends SIGHUP as soon as that text is logged, while
        the process is still starting."""
        if self.proc.poll() is None:
            raise RuntimeError("restart: the gateway is still running")
        self.log.close()
        self.log_path = os.path.join(self.dir, f"postdesk.{self.proc.pid}.restart.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([POSTDESK, "serve", "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if hup_at:
            deadline = time.time() + 30
            while hup_at not in self.read_log() and self.proc.poll() is None:
                if time.time() > deadline:
                    raise RuntimeError(f"restart: {hup_at!r} was not logged:\n" + self.read_log())
                time.sleep(0.001)
            self.proc.send_signal(signal.SIGHUP)
        try:
            self.wait_listening()
        except Exception:
            log = self.read_log()
            self.stop()
            raise RuntimeError("gateway did not restart:\n" + log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def postdesk(self, *args):
        """Runs a postdesk subcommand against this gateway's configuration; returns its JSON."""
        out = subprocess.run([POSTDESK, *args, "--config", self.config],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"postdesk {' '.join(args)}: {out.stderr}")
        return json.loads(out.stdout)

    def raw_message(self, ticket_id):
        """The ticket's message as stored (`postdesk tickets raw`), as bytes."""
        out = subprocess.run([POSTDESK, "tickets", "raw", str(ticket_id), "--config", self.config],
                             capture_output=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"tickets raw {ticket_id}: {out.stderr.decode()}")
        return out.stdout

    def ticket(self, ticket_id):
        out = subprocess.run([POSTDESK, "tickets", "get", str(ticket_id), "--config", self.config],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"tickets get {ticket_id}: {out.stderr}")
        return json.loads(out.stdout)


class RedisServer:
    """A plain redis-server on a free TCP port, for the [redis] url mode."""

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="pd-redis-")
        self.port = free_port()
        auth = ["--requirepass", password] if password else []
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no"] + auth,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RawClient:
    """A line-level SMTP client over a plain socket, for what smtplib will not send."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One whole (possibly multi-line) reply, as a list of lines."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed; got " + repr(lines))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

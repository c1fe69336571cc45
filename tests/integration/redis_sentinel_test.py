"""Redis Sentinel: [redis] url = "redis-sentinel://host:port/master-name". A real primary, its
replica and a sentinel (redis-server processes). The gateway, its trigger workers, its
notification sender and its tools store on the primary the sentinel names; after a failover
(asked for, or a killed primary) they find the new one by themselves, and mail that heard 451
meanwhile comes again and is stored."""
import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import (Gateway, RawClient, RetryingSender, free_port, wait_for,  # noqa: E402
                              wait_port)

MASTER = "pd-main"


class SentinelGroup:
    """A primary and a replica (AOF on, appendfsync always), watched by one sentinel with quorum
    1 that calls a primary down after a second without an answer; with `password`, the
    sentinel's own requirepass."""

    def __init__(self, password=None):
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="pd-sentinel-")
        self.ports = [free_port(), free_port()]
        self.procs = {}
        self.sentinel = None
        try:
            self.start()
        except BaseException:
            self.stop()  # what did start, so that a failed start leaves no server behind
            raise

    def start(self):
        for i, port in enumerate(self.ports):
            replica = ["--replicaof", "127.0.0.1", str(self.ports[0])] if i else []
            self.start_server(port, replica)
        if not wait_for(lambda: "master_link_status:up" in self.cli(self.ports[1], "INFO",
                                                                       "replication"), 20):
            raise RuntimeError("the replica never synced:\n" + self.logs())
        # Started after the replica synced: the sentinel's first look at the primary lists it.
        self.sentinel_port = free_port()
        config = os.path.join(self.dir, "sentinel.conf")  # Sentinel rewrites it as it learns
        with open(config, "w") as f:
            f.write(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.ports[0]} 1\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 5000\n"
                    f"logfile {os.path.join(self.dir, 'sentinel.log')}\n"
                    + (f'requirepass "{self.password}"\n' if self.password else ""))
        self.sentinel = subprocess.Popen(["redis-server", config, "--sentinel"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.sentinel_port)
        if self.sentinel.poll() is not None:  # what listens there is another test's server
            raise RuntimeError(f"the sentinel exited ({self.sentinel.returncode}):\n" + self.logs())
        # Listed is not yet promotable: the sentinel lists a replica as soon as the primary's INFO
        # names it, and refuses to promote it (NOGOODSLAVE) until the replica's own INFO said
        # that its link to the primary is up.
        if not wait_for(self.replica_is_promotable, 20):
            raise RuntimeError("the sentinel never saw the replica: " +
                               self.sentinel_cli("SENTINEL", "REPLICAS", MASTER) + "\n" +
                               self.logs())
        self.url = f"redis-sentinel://127.0.0.1:{self.sentinel_port}/{MASTER}"

    def logs(self):
        """The last lines of every server's log, for a failed start's error."""
        text = ""
        for path in sorted(glob.glob(os.path.join(self.dir, "*.log"))):
            with open(path, errors="replace") as f:
                text += f"--- {os.path.basename(path)}\n" + "".join(f.readlines()[-15:])
        return text

    def replica_is_promotable(self):
        lines = self.sentinel_cli("SENTINEL", "REPLICAS", MASTER).split("\n")
        replica = dict(zip(lines[0::2], lines[1::2]))
        return (replica.get("port") == str(self.ports[1]) and replica.get("flags") == "slave"
                and replica.get("master-link-status") == "ok")

    def start_server(self, port, extra):
        node_dir = os.path.join(self.dir, str(port))
        os.makedirs(node_dir, exist_ok=True)
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node_dir,
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--logfile", os.path.join(self.dir, f"{port}.log"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs[port] = proc  # stopped by stop(), whatever happens next
        wait_port(port)
        if proc.poll() is not None:  # what listens there is another test's server
            raise RuntimeError(f"redis-server on {port} exited ({proc.returncode}):\n" +
                               self.logs())

    def cli(self, port, *args):
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                              text=True, timeout=30).stdout.strip()

    def sentinel_cli(self, *args):
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        return self.cli(self.sentinel_port, *auth, *args)

    def primary(self):
        """The port of the primary the sentinel names now."""
        answer = self.sentinel_cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER).split()
        return int(answer[1]) if len(answer) == 2 else None

    def caught_up(self, primary, replica):
        want = re.search(r"master_repl_offset:(\d+)", self.cli(primary, "INFO", "replication"))
        have = re.search(r"slave_repl_offset:(\d+)", self.cli(replica, "INFO", "replication"))
        return bool(want and have) and int(have.group(1)) >= int(want.group(1))

    def stop(self):
        procs = [p for p in [self.sentinel, *self.procs.values()] if p]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class StuckSentinel:
    """A sentinel that takes connections and never answers them: whoever asks it waits until its
    own timeout gives up. It holds every connection until stop(), so a connection it holds that
    the other side has not closed is a lookup that has not finished."""

    def __init__(self):
        self.port = free_port()
        # Nothing is accepted until the test looks: the kernel completes the handshakes, and a
        # client's question sits unread in the socket.
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=64)
        self.held = []

    def take_connections(self, count, timeout=10.0):
        """Accepts `count` connections, waiting up to `timeout` seconds for each; returns them."""
        taken = []
        self.listener.settimeout(timeout)
        try:
            while len(taken) < count:
                taken.append(self.listener.accept()[0])
        except socket.timeout:
            pass
        self.held += taken
        return taken

    def forget_earlier_connections(self):
        """Accepts what is waiting already (the gateway's start asked here too), so that the
        next take_connections sees only later ones."""
        self.listener.setblocking(False)
        try:
            while True:
                self.held.append(self.listener.accept()[0])
        except BlockingIOError:
            pass

    @staticmethod
    def closed_by_client(connection):
        poller = select.poll()
        poller.register(connection, select.POLLRDHUP)
        return any(events & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
                   for _, events in poller.poll(0))

    def stop(self):
        for connection in self.held:
            connection.close()
        self.listener.close()


class FailsOver:
    """For a TestCase with a running SentinelGroup as self.group."""

    def fail_over(self, how):
        """Moves the primary to the other server, by `how` ("ask" or "kill"); returns its port."""
        old = self.group.primary()
        new = next(p for p in self.group.ports if p != old)
        self.assertTrue(wait_for(lambda: self.group.caught_up(old, new), 10))
        if how == "ask":
            self.assertEqual(self.group.sentinel_cli("SENTINEL", "FAILOVER", MASTER), "OK")
        else:
            self.group.procs[old].kill()
        self.assertTrue(wait_for(lambda: self.group.primary() == new and "role:master" in
                                 self.group.cli(new, "INFO", "replication"), 30))
        return new


class RedisSentinelTest(RetryingSender, FailsOver, unittest.TestCase):
    def setUp(self):
        self.group = SentinelGroup()
        self.addCleanup(self.group.stop)
        self.gw = Gateway(redis_url=self.group.url, extra="[triggers]\ndefaults = true\n")
        self.addCleanup(self.gw.stop)

    def notified(self, subject):
        """True once a notification about the ticket of `subject` was written to the outbox
        folder (no relay is set): the workers and the notification sender both ran."""
        for path in glob.glob(os.path.join(self.gw.dir, "var", "outbox", "*.eml")):
            with open(path, errors="replace") as f:
                if subject in f.read():
                    return True
        return False

    def test_stores_on_the_primary_the_sentinel_names(self):
        primary = self.group.primary()
        ticket, deferred = self.send_until_stored(self.gw, "Through the sentinel")
        self.assertEqual(deferred, 0)
        self.assertEqual(self.group.cli(primary, "EXISTS", f"{{pd}}:ticket:{ticket}"), "1")
        self.assertEqual(self.gw.ticket(ticket)["subject"], "Through the sentinel")
        self.assertIn(f"the primary is redis://127.0.0.1:{primary}", self.gw.read_log())
        self.assertTrue(wait_for(lambda: self.gw.ticket(ticket)["events"], 10), self.gw.read_log())
        self.assertTrue(wait_for(lambda: self.notified("Through the sentinel"), 10),
                        self.gw.read_log())

    def test_asked_failover_moves_mail_workers_and_tools_to_the_new_primary(self):
        first, _ = self.send_until_stored(self.gw, "Before the failover")
        new = self.fail_over("ask")
        # The old primary takes writes until the sentinels make it a replica, and drops them
        # then: from the moment the gateway hears of the promotion, it sends it nothing more.
        self.assertTrue(wait_for(lambda: "the sentinels moved the primary (+promoted-slave" in
                                 self.gw.read_log(), 10), self.gw.read_log())
        ids, deferred = [], 0
        for i in range(6):
            ticket, refused = self.send_until_stored(self.gw, f"After the failover {i}")
            ids.append(ticket)
            deferred += refused
        # Each loop's next message hears 451 while the loop asks the sentinels again, and is sent
        # again; the ids go on from the replicated counter.
        self.assertLessEqual(deferred, 2, self.gw.read_log())  # the gateway runs 2 loops
        self.assertEqual(ids, list(range(first + 1, first + 7)))
        self.assertEqual(self.group.cli(new, "EXISTS", f"{{pd}}:ticket:{ids[-1]}"), "1")
        self.assertEqual(self.gw.ticket(first)["subject"], "Before the failover")
        self.assertTrue(wait_for(lambda: self.gw.ticket(ids[-1])["events"], 15),
                        self.gw.read_log())
        self.assertTrue(wait_for(lambda: self.notified("After the failover 5"), 15),
                        self.gw.read_log())
        # Once the old primary follows the new one, what it holds is what the new one has.
        old = next(p for p in self.group.ports if p != new)
        self.assertTrue(wait_for(lambda: "role:slave" in self.group.cli(old, "INFO", "replication")
                                 and self.group.caught_up(new, old), 20))
        for ticket in [first] + ids:
            self.assertEqual(self.group.cli(old, "EXISTS", f"{{pd}}:ticket:{ticket}"), "1")
        self.assertEqual(self.gw.terminate(), 0)

    def test_killed_primary_is_replaced_and_mail_flows_again(self):
        first, _ = self.send_until_stored(self.gw, "Before the crash")
        new = self.fail_over("kill")
        ticket, _ = self.send_until_stored(self.gw, "After the crash", deadline_s=30)
        self.assertGreater(ticket, first)
        self.assertEqual(self.group.cli(new, "EXISTS", f"{{pd}}:ticket:{ticket}"), "1")
        self.assertTrue(wait_for(lambda: self.gw.ticket(ticket)["events"], 15),
                        self.gw.read_log())


class StuckSentinelTest(RetryingSender, unittest.TestCase):
    """A sentinel that takes connections and never answers is listed before the live one: every
    lookup waits for its timeout there. That wait is the store's, never its loop's: the sessions
    on the loop are answered meanwhile (design.md: "Slow or stuck clients never block others")."""

    HOLD_S = 2  # [redis] sentinel_timeout: how long each lookup waits at the stuck sentinel

    def setUp(self):
        self.group = SentinelGroup()
        self.addCleanup(self.group.stop)
        self.stuck = StuckSentinel()
        self.addCleanup(self.stuck.stop)
        url = (f"redis-sentinel://127.0.0.1:{self.stuck.port},"
               f"127.0.0.1:{self.group.sentinel_port}/{MASTER}")
        # No trigger workers: the loops' stores are then the only connections that ask the
        # sentinels again after the kill below (the outbox keeps its connection, the failover
        # watcher its subscription to the live sentinel). Each lookup waits HOLD_S at the stuck
        # sentinel: what the sessions get meanwhile does not race the end of that wait.
        self.gw = Gateway(redis_url=url, extra="[triggers]\nworkers = 0\n",
                          redis_keys=f'sentinel_timeout = "{self.HOLD_S}s"')
        self.addCleanup(self.gw.stop)

    def kill_store_connections(self):
        """Closes the loops' store connections on the primary, in one write so that both loops
        reconnect together; returns how many there were. A store's last command is its setup's
        FUNCTION LOAD or a message's EXEC; the outbox's, the sentinel's are others."""
        primary = self.group.primary()
        clients = self.group.cli(primary, "CLIENT", "LIST").splitlines()
        ids = [re.search(r"\bid=(\d+)", c).group(1) for c in clients
               if re.search(r"\bcmd=(exec|function\|load)\b", c)]
        with socket.create_connection(("127.0.0.1", primary), timeout=10) as admin:
            admin.sendall(b"".join(b"CLIENT KILL ID %s\r\n" % i.encode() for i in ids))
            answers = b""
            while answers.count(b"\r\n") < len(ids):
                answers += admin.recv(4096)
        self.assertEqual(answers, b":1\r\n" * len(ids))
        return len(ids)

    def reconnect_through_the_stuck_sentinel(self):
        """Makes both loops' stores reconnect; returns their lookups' connections to the stuck
        sentinel, which they ask first."""
        self.stuck.forget_earlier_connections()
        self.assertEqual(self.kill_store_connections(), 2)  # the gateway runs 2 loops
        lookups = self.stuck.take_connections(2)  # after each store's backoff
        self.assertEqual(len(lookups), 2, self.gw.read_log())
        return lookups

    def test_sessions_are_answered_while_the_store_waits_for_a_stuck_sentinel(self):
        first, _ = self.send_until_stored(self.gw, "Before the reconnection")
        sessions = [RawClient(self.gw.port) for _ in range(4)]
        for session in sessions:
            self.addCleanup(session.close)
            self.assertTrue(session.reply()[0].startswith("220 "))
            session.send("EHLO client.test\r\n")
            self.assertTrue(session.reply()[-1].startswith("250 "))
        lookups = self.reconnect_through_the_stuck_sentinel()
        for session in sessions:
            session.send("NOOP\r\n")
        for session in sessions:
            self.assertEqual(session.reply(), ["250 2.0.0 Ok"])
        # A lookup ends only once its asker gives up on the stuck sentinel and closes the
        # connection: both are still open, so every session was answered while both loops'
        # stores were still waiting there.
        self.assertEqual([self.stuck.closed_by_client(c) for c in lookups], [False, False],
                         self.gw.read_log())
        # Then the live sentinel names the primary, and mail is stored again.
        ticket, _ = self.send_until_stored(self.gw, "After the reconnection")
        self.assertEqual(ticket, first + 1)
        self.assertEqual(self.group.cli(self.group.primary(), "EXISTS", f"{{pd}}:ticket:{ticket}"),
                         "1")
        self.assertTrue(all(self.stuck.closed_by_client(c) for c in lookups))
        self.assertEqual(self.gw.terminate(), 0)

    def test_sigterm_while_the_stores_wait_for_a_stuck_sentinel_drains_and_exits(self):
        self.send_until_stored(self.gw, "Before the reconnection")
        session = RawClient(self.gw.port)
        self.addCleanup(session.close)
        self.assertTrue(session.reply()[0].startswith("220 "))
        lookups = self.reconnect_through_the_stuck_sentinel()
        self.gw.proc.send_signal(signal.SIGTERM)
        # The idle session hears the drain at once, not after the lookup.
        self.assertTrue(session.reply()[0].startswith("421 "))
        self.assertEqual([self.stuck.closed_by_client(c) for c in lookups], [False, False])
        # The loops end once the pool has handed their lookups back (answered, then dropped).
        self.assertEqual(self.gw.proc.wait(timeout=30), 0, self.gw.read_log())
        self.assertIn("all loops drained", self.gw.read_log())


class SentinelConfigurationTest(unittest.TestCase):
    def test_a_master_name_the_sentinels_do_not_know_is_named_at_start(self):
        group = SentinelGroup()
        self.addCleanup(group.stop)
        with self.assertRaises(RuntimeError) as refused:
            Gateway(redis_url=f"redis-sentinel://127.0.0.1:{group.sentinel_port}/nope")
        self.assertIn(f"no sentinel named the primary of nope (127.0.0.1:{group.sentinel_port}: "
                      "no master named nope)", str(refused.exception))


class SentinelPasswordTest(RetryingSender, FailsOver, unittest.TestCase):
    """Sentinels with a requirepass of their own ([redis] sentinel_password_file), in front of a
    primary without one: the url's credentials are the primary's."""

    PASSWORD = "sentinels only"

    def setUp(self):
        self.group = SentinelGroup(password=self.PASSWORD)
        self.addCleanup(self.group.stop)
        self.secrets = tempfile.mkdtemp(prefix="pd-secret-")
        self.addCleanup(shutil.rmtree, self.secrets, True)

    def password_file(self, password):
        path = os.path.join(self.secrets, "sentinel-password")
        with open(path, "w") as f:
            f.write(password + "\n")
        return f'sentinel_password_file = "{path}"'

    def test_sentinels_are_asked_and_watched_after_auth(self):
        gw = Gateway(redis_url=self.group.url, redis_keys=self.password_file(self.PASSWORD))
        self.addCleanup(gw.stop)
        first, _ = self.send_until_stored(gw, "Past a sentinel's password")
        new = self.fail_over("ask")
        # Heard on the watcher's subscription, which authenticated too.
        self.assertTrue(wait_for(lambda: "the sentinels moved the primary" in gw.read_log(), 10),
                        gw.read_log())
        ticket, _ = self.send_until_stored(gw, "After the failover")
        self.assertEqual(ticket, first + 1)
        self.assertEqual(self.group.cli(new, "EXISTS", f"{{pd}}:ticket:{ticket}"), "1")
        self.assertNotIn("NOAUTH", gw.read_log())
        self.assertNotIn(self.PASSWORD, gw.read_log())

    def test_a_missing_or_wrong_password_is_named_at_start(self):
        with self.assertRaises(RuntimeError) as refused:
            Gateway(redis_url=self.group.url)
        self.assertIn(f"no sentinel named the primary of {MASTER} (127.0.0.1:"
                      f"{self.group.sentinel_port}: NOAUTH", str(refused.exception))
        with self.assertRaises(RuntimeError) as refused:
            Gateway(redis_url=self.group.url, redis_keys=self.password_file("not it"))
        self.assertIn(f"{self.group.sentinel_port}: AUTH: WRONGPASS", str(refused.exception))
        self.assertNotIn("not it", str(refused.exception))


if __name__ == "__main__":
    unittest.main()

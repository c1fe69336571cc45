"""Redis Cluster (design.md, "Storage" and "Scale"): a real three-node cluster of redis-server
processes. [redis] url names a node that does not serve the schema's slot ({pd}); the gateway,
its tools and its workers follow MOVED to the node that does, and follow the slot when it
moves to another node, losing nothing."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import Gateway, RetryingSender, free_port, wait_for, wait_port  # noqa: E402

class Cluster:
    """Three masters (and, with replicas=1, a replica of each), the slots spread by
    `redis-cli --cluster create`. A node that stops answering for a second is failed over."""

    def __init__(self, replicas=0):
        nodes = 3 * (1 + replicas)
        self.dir = tempfile.mkdtemp(prefix="pd-cluster-")
        self.ports = [free_port() for _ in range(nodes)]
        self.procs = []
        for port in self.ports:
            node_dir = os.path.join(self.dir, str(port))
            os.makedirs(node_dir)
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node_dir,
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "1000",
                 # The bus port is port + 10000 unless given: past 65535 for a high free port.
                 "--cluster-port", str(free_port()),
                 "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            wait_port(port)
        subprocess.run(["redis-cli", "--cluster", "create",
                        *[f"127.0.0.1:{p}" for p in self.ports],
                        "--cluster-replicas", str(replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        for port in self.ports:
            if not wait_for(lambda p=port: "cluster_state:ok" in self.cli(p, "CLUSTER", "INFO"),
                            30):
                raise RuntimeError(f"cluster node {port} never reported cluster_state:ok")
        # A replica that never synced has no data recent enough to take over its primary.
        for port in self.ports:
            if not wait_for(lambda p=port: "role:master" in self.cli(p, "INFO", "replication") or
                            "master_link_status:up" in self.cli(p, "INFO", "replication"), 30):
                raise RuntimeError(f"cluster replica {port} never synced with its primary")

    def cli(self, port, *args):
        out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.strip()

    def node_id(self, port):
        return self.cli(port, "CLUSTER", "MYID")

    def slot(self):
        return int(self.cli(self.ports[0], "CLUSTER", "KEYSLOT", "{pd}"))

    def owner(self, asking=None):
        """The port of the node that serves the slot of {pd}, as the cluster (or the node
        `asking`) sees it; None while no node does (a failover in progress)."""
        slot = self.slot()
        for line in self.cli(asking or self.ports[0], "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "fail" in fields[2]:
                continue
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for served in fields[8:]:
                low, _, high = served.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return port
        return None

    def move_slot(self, to_port):
        """Migrates the slot of {pd}, keys and all, as `redis-cli --cluster reshard` does."""
        slot, from_port = self.slot(), self.owner()
        from_id, to_id = self.node_id(from_port), self.node_id(to_port)
        self.cli(to_port, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", from_id)
        self.cli(from_port, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", to_id)
        while True:
            keys = self.cli(from_port, "CLUSTER", "GETKEYSINSLOT", str(slot), "100").split()
            if not keys:
                break
            reply = self.cli(from_port, "MIGRATE", "127.0.0.1", str(to_port), "", "0", "10000",
                             "KEYS", *keys)
            if reply != "OK":
                raise AssertionError("MIGRATE: " + reply)
        for port in self.ports:
            self.cli(port, "CLUSTER", "SETSLOT", str(slot), "NODE", to_id)

    def replica_caught_up(self, primary):
        """True once the replica of `primary` holds every write the primary has (replication is
        asynchronous: a failover loses what the replica had not received)."""
        primary_id = self.node_id(primary)
        offset = self.cli(primary, "INFO", "replication")
        want = int(re.search(r"master_repl_offset:(\d+)", offset).group(1))
        for line in self.cli(primary, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if fields[3] == primary_id:
                port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                info = self.cli(port, "INFO", "replication")
                m = re.search(r"slave_repl_offset:(\d+)", info)
                return bool(m) and int(m.group(1)) >= want
        return False

    def kill(self, port):
        self.procs[self.ports.index(port)].kill()

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisClusterTest(RetryingSender, unittest.TestCase):
    def start_cluster(self, replicas=0):
        self.cluster = Cluster(replicas)
        self.addCleanup(self.cluster.stop)

    def test_gateway_follows_the_slot_to_its_node_and_when_it_moves(self):
        self.start_cluster()
        owner = self.cluster.owner()
        self.assertIsNotNone(owner)
        others = [p for p in self.cluster.ports if p != owner]
        gw = Gateway(redis_url=f"redis://127.0.0.1:{others[0]}",
                     extra="[triggers]\ndefaults = true\n")
        self.addCleanup(gw.stop)

        # Named a node that does not serve {pd}, the gateway stores through the one that does.
        first, _ = self.send_until_stored(gw, "Stored through the cluster")
        self.assertEqual(gw.ticket(first)["subject"], "Stored through the cluster")
        self.assertIn(f"is served by redis://127.0.0.1:{owner} (Redis Cluster)", gw.read_log())
        self.assertEqual(self.cluster.cli(owner, "EXISTS", f"{{pd}}:ticket:{first}"), "1")
        # The nodes' shared token key (gateway/config.h) is there too.
        self.assertRegex(self.cluster.cli(owner, "GET", "{pd}:token_secret"), r"^[0-9a-f]{64}$")

        # The slot moves to another node (a reshard). Each loop's connection learns it from its
        # next message, which hears 451 and is sent again, as a sender's MTA does: at most one
        # per loop, and then every message is stored.
        self.cluster.move_slot(others[1])
        deferred = 0
        ids = []
        for i in range(12):
            ticket, refused = self.send_until_stored(gw, f"After the reshard {i}")
            ids.append(ticket)
            deferred += refused
        self.assertLessEqual(deferred, 2, gw.read_log())  # the gateway runs 2 loops
        self.assertEqual(ids, list(range(first + 1, first + 13)))  # the id counter moved along
        self.assertEqual(self.cluster.cli(others[1], "EXISTS", f"{{pd}}:ticket:{ids[-1]}"), "1")
        self.assertEqual(gw.ticket(first)["subject"], "Stored through the cluster")
        self.assertEqual(gw.ticket(ids[-1])["subject"], "After the reshard 11")
        # The trigger workers followed too: the default triggers ran on the new tickets.
        self.assertTrue(wait_for(lambda: gw.ticket(ids[-1])["events"], 10), gw.read_log())
        self.assertEqual(gw.terminate(), 0)

    def test_a_database_other_than_0_is_refused_with_redis_reason(self):
        self.start_cluster()
        with self.assertRaises(RuntimeError) as refused:
            Gateway(redis_url=f"redis://127.0.0.1:{self.cluster.ports[0]}/1")
        self.assertIn("SELECT: ERR SELECT is not allowed in cluster mode", str(refused.exception))

    def test_failover_of_the_slots_primary_costs_451s_then_mail_flows_again(self):
        self.start_cluster(replicas=1)
        owner = self.cluster.owner()
        self.assertIsNotNone(owner)
        seed = next(p for p in self.cluster.ports if p != owner)
        gw = Gateway(redis_url=f"redis://127.0.0.1:{seed}")
        self.addCleanup(gw.stop)
        before, _ = self.send_until_stored(gw, "Before the failover")
        self.assertTrue(wait_for(lambda: self.cluster.replica_caught_up(owner), 10))
        # The primary dies; its replica takes the slot once the cluster has noticed (a second
        # of silence here). Meanwhile senders hear 451 and keep their mail.
        self.cluster.kill(owner)
        self.assertTrue(wait_for(lambda: self.cluster.owner(asking=seed) not in (None, owner), 30))
        after, _ = self.send_until_stored(gw, "After the failover", deadline_s=30)
        self.assertEqual(gw.ticket(before)["subject"], "Before the failover")
        self.assertEqual(gw.ticket(after)["subject"], "After the failover")
        self.assertGreater(after, before)
        for i in range(10):
            ticket, _ = self.send_until_stored(gw, f"steady {i}")
            self.assertEqual(gw.ticket(ticket)["subject"], f"steady {i}")


if __name__ == "__main__":
    unittest.main()

"""tools/systemd/postdesk.service and the configuration it ships with (issue 9).

UnitFileTest reads the unit: the hardening it promises, paths that agree with the documented
layout (docs/deployment.md), a stop timeout that outlasts the drain, and `systemd-analyze
verify`. UnitPrivilegesTest runs the real gateway the way the unit would, without systemd as
PID 1: the unit's ExecStart on the shipped configuration, as an unprivileged user with only
CAP_NET_BIND_SERVICE (ambient, bounding set) and no_new_privs, on a port below 1024 with the
embedded redis-server; the unit's ExecReload and a SIGTERM stop. Under strace it also checks
that every system call made is one the unit's SystemCallFilter allows and every socket one
RestrictAddressFamilies allows. It needs root (to drop to another user) and skips otherwise.
"""
import os
import re
import resource
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import POSTDESK, free_port, wait_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(ROOT, "tools", "systemd", "postdesk.service")
SHIPPED_CONFIG = os.path.join(ROOT, "tools", "systemd", "postdesk.toml")
DEPLOYMENT_DOC = os.path.join(ROOT, "docs", "deployment.md")
# The documented layout (docs/deployment.md, "Running it as a service").
BINARY = "/usr/local/bin/postdesk"
CONFIG = "/etc/postdesk/postdesk.toml"
DATA_DIR = "/var/lib/postdesk"
# Defaults from docs/configuration.md, and EmbeddedRedis::Stop's wait for redis-server.
SHUTDOWN_GRACE_S = 30
MAX_CONNECTIONS = 10000
REDIS_STOP_S = 10
NOBODY = 65534
CAP_NET_BIND_SERVICE = 1 << 10


def read_unit(path=UNIT):
    """{section: {key: [values]}}; a key may repeat (ExecReload=, SystemCallFilter=)."""
    unit, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = unit.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key.strip(), []).append(value.strip())
    return unit


def seconds(value):
    m = re.fullmatch(r"(\d+)(s|min)?", value)
    if not m:
        raise ValueError(f"a time span like 60s: {value}")
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


def syscall_set(name, seen=None):
    """The system calls of a systemd syscall group such as @system-service, nested ones included."""
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.startswith("@"):
            if word not in seen:
                seen.add(word)
                calls |= syscall_set(word, seen)
        else:
            calls.add(word)
    return calls


class UnitFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.unit = read_unit()
        cls.service = cls.unit["Service"]

    def one(self, key):
        values = self.service.get(key, [])
        self.assertEqual(len(values), 1, f"{key}= set once in {UNIT}: {values}")
        return values[0]

    def test_runs_as_a_dedicated_user_with_one_capability_and_no_way_to_gain_more(self):
        self.assertEqual(self.one("User"), "postdesk")
        self.assertEqual(self.one("Group"), "postdesk")
        self.assertEqual(self.one("AmbientCapabilities"), "CAP_NET_BIND_SERVICE")
        self.assertEqual(self.one("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE")
        self.assertEqual(self.one("NoNewPrivileges"), "yes")

    def test_has_the_file_system_and_kernel_hardening(self):
        for key, value in [("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                           ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                           ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                           ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
                           ("RestrictNamespaces", "yes"), ("RestrictRealtime", "yes"),
                           ("RestrictSUIDSGID", "yes"), ("LockPersonality", "yes"),
                           ("SystemCallArchitectures", "native"), ("UMask", "0077")]:
            self.assertEqual(self.one(key), value, key)
        self.assertEqual(set(self.one("RestrictAddressFamilies").split()),
                         {"AF_UNIX", "AF_INET", "AF_INET6"})
        self.assertIn("@system-service", self.service["SystemCallFilter"])

    def test_paths_agree_with_the_documented_layout(self):
        self.assertEqual(shlex.split(self.one("ExecStart")),
                         [BINARY, "serve", "--config", CONFIG])
        self.assertEqual("/etc/" + self.one("ConfigurationDirectory"), os.path.dirname(CONFIG))
        self.assertEqual("/var/lib/" + self.one("StateDirectory"), DATA_DIR)
        self.assertEqual(self.one("StateDirectoryMode"), "0700")
        self.assertEqual(self.one("WorkingDirectory"), DATA_DIR)
        self.assertEqual(self.one("ReadWritePaths"), DATA_DIR)
        with open(SHIPPED_CONFIG, "rb") as f:
            config = tomllib.load(f)
        self.assertEqual(config["data_dir"], DATA_DIR)
        self.assertIn("0.0.0.0:25", config["smtp"]["listen"])
        with open(DEPLOYMENT_DOC) as f:
            layout = re.findall(r"^\| `(/[^`]+)` \|", f.read(), re.M)
        self.assertEqual(layout, [BINARY, CONFIG, DATA_DIR], f"the layout in {DEPLOYMENT_DOC}")

    def test_reload_checks_the_file_before_it_signals(self):
        self.assertEqual([shlex.split(c) for c in self.service["ExecReload"]],
                         [[BINARY, "check-config", "--config", CONFIG],
                          ["/bin/kill", "-HUP", "$MAINPID"]])

    def test_stop_lets_the_drain_finish_with_its_redis(self):
        self.assertEqual(self.one("KillSignal"), "SIGTERM")
        # control-group would SIGTERM the embedded redis-server with postdesk, and the
        # transactions being drained would find no Redis to store them.
        self.assertEqual(self.one("KillMode"), "mixed")
        self.assertGreater(seconds(self.one("TimeoutStopSec")), SHUTDOWN_GRACE_S + REDIS_STOP_S)
        self.assertEqual(self.one("Restart"), "on-failure")

    def test_logs_go_to_the_journal_and_enough_files_may_be_open(self):
        self.assertEqual(self.one("StandardError"), "journal")
        self.assertGreaterEqual(int(self.one("LimitNOFILE")), MAX_CONNECTIONS + 1024)
        self.assertEqual(self.unit["Install"]["WantedBy"], ["multi-user.target"])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_analyze_verify_accepts_it(self):
        # verify insists that ExecStart's binary exists: point it at the one under test.
        with tempfile.TemporaryDirectory(prefix="pd-unit-") as d:
            copy = os.path.join(d, "postdesk.service")
            with open(UNIT) as f, open(copy, "w") as out:
                out.write(f.read().replace(BINARY, os.path.abspath(shutil.which(POSTDESK))))
            out = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True,
                                 text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr.strip(), "")


def free_privileged_port():
    for port in range(600, 1024):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below 1024")


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def children(pid):
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


# What systemd does for User=postdesk, AmbientCapabilities= and CapabilityBoundingSet=
# CAP_NET_BIND_SERVICE and NoNewPrivileges=yes, with nobody standing in for postdesk.
AS_THE_UNIT = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               "--no-new-privs", "--inh-caps=-all,+net_bind_service",
               "--ambient-caps=-all,+net_bind_service", "--bounding-set=-all,+net_bind_service"]
AS_THE_USER = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                     "needs root and setpriv (util-linux) to run as another user")
class UnitPrivilegesTest(unittest.TestCase):
    def setUp(self):
        self.unit = read_unit()["Service"]
        self.dir = tempfile.mkdtemp(prefix="pd-unit-")
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "state")
        os.mkdir(self.data_dir, 0o700)
        os.chown(self.data_dir, NOBODY, NOBODY)  # StateDirectory=, StateDirectoryMode=0700
        self.port, self.http_port = free_privileged_port(), free_port()
        self.config = os.path.join(self.dir, "postdesk.toml")
        with open(SHIPPED_CONFIG) as f:
            text = f.read()
        for old, new in [(f'data_dir = "{DATA_DIR}"', f'data_dir = "{self.data_dir}"'),
                         ('listen = ["0.0.0.0:25"]', f'listen = ["127.0.0.1:{self.port}"]'),
                         ('listen = "127.0.0.1:9025"', f'listen = "127.0.0.1:{self.http_port}"')]:
            self.assertIn(old, text)
            text = text.replace(old, new)
        self.write_config(text)
        self.text = text
        self.log_path = os.path.join(self.dir, "serve.log")
        self.trace = os.path.join(self.dir, "trace")
        self.proc = None
        self.began = time.time() - 1

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_config(self, text):
        """root:postdesk 0640, as docs/deployment.md installs it."""
        with open(self.config, "w") as f:
            f.write(text)
        os.chown(self.config, 0, NOBODY)
        os.chmod(self.config, 0o640)

    def command(self, line, **replace):
        """A command line of the unit with the layout's paths replaced by this test's."""
        args = shlex.split(line)
        mapping = {BINARY: os.path.abspath(shutil.which(POSTDESK)), CONFIG: self.config,
                   **replace}
        return [mapping.get(a, a) for a in args]

    def start(self, prefix):
        # LimitNOFILE=, as far as this machine's hard limit lets root go without CAP_SYS_RESOURCE.
        limit = min(int(self.unit["LimitNOFILE"][0]), resource.getrlimit(resource.RLIMIT_NOFILE)[1])

        def as_systemd_does():
            os.umask(0o077)  # UMask=
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))  # LimitNOFILE=

        env = dict(os.environ)
        if prefix[:1] == ["strace"]:
            # LeakSanitizer (in CI's sanitized build) stops the process's threads with ptrace,
            # which strace holds already; its check at exit would fail the exit status.
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(prefix + self.command(self.unit["ExecStart"][0]),
                                     cwd=self.data_dir, stdout=self.log, env=env,
                                     stderr=subprocess.STDOUT, preexec_fn=as_systemd_does)
        try:
            wait_port(self.port)
        except RuntimeError:
            self.fail("the gateway did not start:\n" + self.read_log())

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while text not in self.read_log():
            if time.time() > deadline:
                self.fail(f"no {text!r} in the log:\n{self.read_log()}")
            time.sleep(0.05)

    def send(self, subject):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("ann@customer.test")
            smtp.rcpt("support@acme.test")
            code, text = smtp.data(f"Subject: {subject}\r\n\r\nhello\r\n".encode())
        self.assertEqual(code, 250, text)
        return int(re.match(rb"2\.0\.0 Ok: ticket (\d+)", text).group(1))

    def run_as_user(self, args):
        return subprocess.run(AS_THE_USER + args, capture_output=True, text=True, timeout=30)

    def test_gateway_serves_port_below_1024_reloads_and_stops_with_only_the_units_privileges(self):
        tracing = shutil.which("strace") is not None
        prefix = (["strace", "-f", "-qq", "-o", self.trace] if tracing else []) + AS_THE_UNIT
        self.start(prefix)
        postdesk = children(self.proc.pid)[0] if tracing else self.proc.pid
        self.wait_log("embedded redis-server pid")
        redis = int(re.search(r"embedded redis-server pid (\d+)", self.read_log()).group(1))
        for pid in (postdesk, redis):
            status = proc_status(pid)
            self.assertEqual(status["Uid"].split()[0], str(NOBODY))
            self.assertEqual(int(status["CapEff"], 16), CAP_NET_BIND_SERVICE)
            self.assertEqual(int(status["CapBnd"], 16), CAP_NET_BIND_SERVICE)
            self.assertEqual(status["NoNewPrivs"], "1")

        ticket = self.send("under the unit's privileges")
        # What an operator runs on the host: `sudo -u postdesk postdesk tickets get ...`.
        got = self.run_as_user(self.command(f"{BINARY} tickets get {ticket} --config {CONFIG}"))
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertIn('"subject": "under the unit\'s privileges"', got.stdout)
        self.assertTrue(os.path.isdir(os.path.join(self.data_dir, "appendonlydir")))

        # systemctl reload: the unit's ExecReload lines, as its user.
        reload = [self.command(line, **{"$MAINPID": str(postdesk)})
                  for line in self.unit["ExecReload"]]
        self.write_config(self.text.replace('"support@acme.test"',
                                            '"support@acme.test", "billing@acme.test"'))
        for args in reload:
            done = self.run_as_user(args)
            self.assertEqual(done.returncode, 0, done.stderr)
        self.wait_log("SIGHUP: configuration reloaded")
        # A broken file fails the reload at check-config, before any signal is sent.
        self.write_config(self.text.replace("[smtp]", "[smtp]\nhostnme = \"typo\""))
        refused = self.run_as_user(reload[0])
        self.assertEqual(refused.returncode, 1)
        self.assertIn("[smtp].hostnme: unknown key", refused.stderr)

        # systemctl stop: SIGTERM to the main process only (KillMode=mixed).
        began = time.monotonic()
        os.kill(postdesk, signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=seconds(self.unit["TimeoutStopSec"][0])), 0)
        self.assertLess(time.monotonic() - began, seconds(self.unit["TimeoutStopSec"][0]))
        self.assertIn("embedded redis-server pid", self.read_log().split("SIGTERM")[-1])
        self.check_writes()
        if tracing:
            self.check_trace()

    def check_writes(self):
        """ProtectSystem=strict with ReadWritePaths=data_dir and UMask=0077: the gateway and its
        Redis write only in data_dir, and nothing there is open to other users. As nobody, the
        only other places they could write are the world-writable directories."""
        stray = []
        for directory in ("/tmp", "/var/tmp", "/dev/shm"):
            for entry in os.scandir(directory):
                st = entry.stat(follow_symlinks=False)
                if st.st_uid == NOBODY and st.st_mtime >= self.began and entry.path != self.dir:
                    stray.append(entry.path)
        self.assertEqual(stray, [])
        written = []
        for parent, dirs, files in os.walk(self.data_dir):
            for name in dirs + files:
                path = os.path.join(parent, name)
                written.append(os.path.relpath(path, self.data_dir))
                self.assertEqual(os.stat(path).st_mode & 0o077, 0, path)
        self.assertIn("token.key", written)
        self.assertIn("appendonlydir", written)

    def check_trace(self):
        # The first process is setpriv until it execs postdesk: what it does there (setresuid,
        # capset...) is systemd's part. Every other process descends from postdesk.
        binary = os.path.abspath(shutil.which(POSTDESK))
        lines, first, started = [], None, False
        with open(self.trace) as f:
            for line in f:
                pid, call = line.split(maxsplit=1)
                first = first or pid
                if pid == first and not started:
                    started = (call.startswith(f'execve("{binary}"')
                               and call.rstrip().endswith("= 0"))
                    continue
                lines.append(call)
        self.assertTrue(started, "no execve of postdesk in the trace")
        trace = "".join(lines)
        called = set(re.findall(r"^([a-z0-9_]+)\(", trace, re.M))
        self.assertLessEqual({"bind", "listen", "accept4", "execve"}, called)  # postdesk's
        families = set(re.findall(r"socket\((AF_[A-Z0-9]+)", trace))
        allowed_families = set(self.unit["RestrictAddressFamilies"][0].split())
        self.assertLessEqual(families, allowed_families)
        if not shutil.which("systemd-analyze"):
            return
        allowed, denied = set(), set()
        for entry in self.unit["SystemCallFilter"]:
            groups = entry.lstrip("~").split()
            calls = set().union(*(syscall_set(g) for g in groups))
            (denied if entry.startswith("~") else allowed).update(calls)
        self.assertEqual(called - (allowed - denied), set(),
                         "system calls the unit's SystemCallFilter would refuse")

    @unittest.skipUnless(shutil.which("setcap"), "setcap (libcap2-bin) is not installed")
    def test_setcap_binary_binds_port_below_1024_without_systemd(self):
        binary = os.path.join(self.dir, "postdesk")
        shutil.copy(os.path.abspath(shutil.which(POSTDESK)), binary)
        os.chmod(binary, 0o755)
        subprocess.run(["setcap", "cap_net_bind_service=+ep", binary], check=True)
        self.unit["ExecStart"] = [f"{binary} serve --config {CONFIG}"]
        self.start(AS_THE_USER)
        self.send("file capability")
        status = proc_status(self.proc.pid)
        self.assertEqual(status["Uid"].split()[0], str(NOBODY))
        self.assertEqual(int(status["CapEff"], 16), CAP_NET_BIND_SERVICE)
        # The capability is the binary's: the redis-server it starts has none.
        redis = int(re.search(r"embedded redis-server pid (\d+)", self.read_log()).group(1))
        self.assertEqual(int(proc_status(redis)["CapEff"], 16), 0)
        os.kill(self.proc.pid, signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0)

if __name__ == "__main__":
    unittest.main()

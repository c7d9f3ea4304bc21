"""test_docker_compose: docker/ and the conf/ examples, checked without a Docker engine.

- docker/docker-compose.yml passes `docker-compose config -q` (Debian's docker-compose
  validates offline) and, parsed from `docker-compose config`, has the five services, the
  init service's --create-storage after a healthy LocalStack, and both nodes waiting for
  init to complete successfully.
- docker/Dockerfile: static checks (two debian:12-slim stages, non-root user, ports,
  entrypoint, every COPY source exists), since nothing here can build it.
- Every conf/*.ini and docker/*.ini loads: `diamondd --config F --check-config`. That
  command also reaches every configured tier, and no flag skips it, so: the remote
  addresses are pointed (by DIAMOND_* variables, which override the file) at a closed
  loopback port, no file makes a request leave this machine, and the run passes when it
  exits 0, or exits 1 (tiers, not 2: config) with every failing tier line saying the tier
  is unreachable. conf/test-engines.ini is also checked against live engines (engines.py),
  where every tier must answer ok (exit 0).
"""

import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, find_diamondd, free_port, main  # noqa: E402

COMPOSE = os.path.join(ROOT, "docker", "docker-compose.yml")
SERVICES = {"redis", "localstack", "init", "diamond1", "diamond2"}
TIER_LINE = re.compile(r"^(cache|table|blob)\s+(\S+)\s+(ok|FAILED: (.*))$")
UNREACHABLE = re.compile(r"refused|unreachable|connect|resolve|timed? ?out|timeout|reach",
                         re.I)


def compose(*args):
    exe = shutil.which("docker-compose")
    if exe is None:
        raise AssertionError("docker-compose not found: run `make test-deps`")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DIAMOND_", "DOCKER_", "COMPOSE_"))}
    return subprocess.run([exe, "-f", COMPOSE] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=120)


class Compose(unittest.TestCase):
    def test_config_is_valid(self):
        r = compose("config", "-q")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotIn(b"WARNING", r.stderr, r.stderr.decode())

    def test_services_and_dependencies(self):
        r = compose("config", "--services")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(set(r.stdout.decode().split()), SERVICES)
        r = compose("config")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        import yaml  # python3-yaml: a dependency of Debian's docker-compose
        cfg = yaml.safe_load(r.stdout)
        svc = cfg["services"]
        self.assertEqual(set(svc), SERVICES)

        self.assertTrue(svc["redis"]["image"].startswith("redis:7"), svc["redis"])
        cmd = " ".join(svc["redis"]["command"])
        self.assertIn("--appendonly yes", cmd)

        ls = svc["localstack"]
        self.assertTrue(ls["image"].startswith("localstack/localstack"), ls)
        self.assertEqual(ls["environment"]["SERVICES"], "dynamodb,s3")
        self.assertEqual(ls["environment"]["DEFAULT_REGION"], "us-east-1")
        self.assertEqual(ls["environment"]["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertIn("healthcheck", ls)
        self.assertTrue(any(str(p.get("target") if isinstance(p, dict) else p).find("4566")
                            >= 0 for p in ls["ports"]), ls["ports"])

        init = svc["init"]
        self.assertIn("--create-storage", init["command"])
        self.assertIn("/etc/diamond/compose.ini", init["command"])
        self.assertEqual(init["depends_on"]["localstack"]["condition"], "service_healthy")

        host_ports = {}
        for name in ("diamond1", "diamond2"):
            s = svc[name]
            self.assertEqual(s["image"], init["image"])
            self.assertEqual(s["depends_on"]["init"]["condition"],
                             "service_completed_successfully", name)
            self.assertIn("redis", s["depends_on"])
            env = s["environment"]
            self.assertEqual(env["DIAMOND_SERVER_NODE_ID"], name)
            self.assertEqual((env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]),
                             ("test", "test"))
            self.assertIn("/etc/diamond/compose.ini", s["command"])
            mounts = [v if isinstance(v, str) else "%s:%s" % (v.get("source"),
                                                              v.get("target"))
                      for v in s["volumes"]]
            self.assertTrue(any(m.endswith("compose.ini:/etc/diamond/compose.ini:ro") or
                                m.endswith("compose.ini:/etc/diamond/compose.ini")
                                for m in mounts), mounts)
            ports = [p if isinstance(p, str) else "%s:%s:%s" % (p.get("host_ip"),
                                                                p.get("published"),
                                                                p.get("target"))
                     for p in s["ports"]]
            http = [p for p in ports if re.search(r":8080(/tcp)?$", p)]
            self.assertEqual(len(http), 1, ports)
            self.assertTrue(http[0].startswith("127.0.0.1:"), "published beyond loopback: %s"
                            % http[0])
            host_ports[name] = http[0].split(":")[1]
        self.assertEqual(host_ports, {"diamond1": "8080", "diamond2": "8081"})
        build = init["build"]
        self.assertTrue(os.path.samefile(build["context"], ROOT), build)
        self.assertEqual(build["dockerfile"], "docker/Dockerfile")

    def test_compose_ini_names_the_engines(self):
        c = configparser.ConfigParser()
        c.read(os.path.join(ROOT, "docker", "compose.ini"))
        want = {("cache", "engine"): "redis", ("cache", "redis"): "redis:6379",
                ("table", "engine"): "dynamodb",
                ("table", "endpoint"): "http://localstack:4566",
                ("table", "region"): "us-east-1", ("table", "name"): "diamond",
                ("blob", "engine"): "s3", ("blob", "endpoint"): "http://localstack:4566",
                ("blob", "region"): "us-east-1", ("blob", "bucket"): "diamond",
                ("blob", "prefix"): "dm/", ("server", "http"): "0.0.0.0:8080",
                ("auth", "open"): "yes"}
        got = {k: c.get(*k, fallback=None) for k in want}
        self.assertEqual(got, want)

    def test_dockerfile(self):
        path = os.path.join(ROOT, "docker", "Dockerfile")
        with open(path) as f:
            text = f.read()
        lines = [l.strip() for l in re.sub(r"\\\n", " ", text).splitlines()
                 if l.strip() and not l.lstrip().startswith("#")]
        froms = [l for l in lines if l.upper().startswith("FROM ")]
        self.assertEqual(len(froms), 2, froms)
        for f in froms:
            self.assertEqual(f.split()[1], "debian:12-slim", f)
        self.assertIn("scripts/deps.sh", text)
        self.assertRegex(text, r"CMAKE_BUILD_TYPE=Release")
        users = [l.split()[1] for l in lines if l.upper().startswith("USER ")]
        self.assertTrue(users and users[-1].split(":")[0] not in ("root", "0"), users)
        expose = [l for l in lines if l.upper().startswith("EXPOSE ")]
        self.assertEqual([set(e.split()[1:]) for e in expose], [{"8080", "2003", "2003/udp"}])
        entry = [l for l in lines if l.upper().startswith("ENTRYPOINT ")]
        self.assertEqual(entry, ['ENTRYPOINT ["diamondd"]'])
        for l in lines:
            if l.upper().startswith("COPY ") and "--from=" not in l:
                for src in l.split()[1:-1]:
                    self.assertTrue(os.path.exists(os.path.join(ROOT, src)),
                                    "COPY source %s missing" % src)


class ConfigFiles(unittest.TestCase):
    """Each example config loads and validates; tiers are reached only on loopback."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="diamond-conf-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def check(self, path, env_over, allow_unreachable=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAMOND_", "AWS_"))}
        # no secrets in the files: keys (for a public listener) come from the environment
        env.update({"DIAMOND_AUTH_KEYS": "conftest=read+write",
                    "DIAMOND_REMOTE_MAX_ATTEMPTS": "1",
                    "DIAMOND_REMOTE_CONNECT_TIMEOUT_MS": "500",
                    "DIAMOND_REMOTE_TIMEOUT_MS": "2000",
                    "DIAMOND_CACHE_REDIS_TIMEOUT_MS": "500"})
        env.update(env_over)
        data = tempfile.mkdtemp(dir=self.tmp)
        r = subprocess.run([find_diamondd(), "--config", path, "--data-dir", data,
                            "--check-config"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=180)
        out, err = r.stdout.decode(), r.stderr.decode()
        what = "%s: exit %d\n%s%s" % (os.path.relpath(path, ROOT), r.returncode, out, err)
        self.assertIn(r.returncode, (0, 1), "not a config error (2): " + what)
        self.assertIn("# diamond effective configuration", out, what)
        tiers = [TIER_LINE.match(l) for l in err.splitlines() + out.splitlines()]
        tiers = [m for m in tiers if m]
        self.assertEqual(sorted(m.group(1) for m in tiers), ["blob", "cache", "table"], what)
        failed = [m for m in tiers if m.group(3) != "ok"]
        if r.returncode == 0:
            self.assertEqual(failed, [], what)
        else:
            self.assertTrue(failed, "exit 1 without a failed tier: " + what)
        for m in failed:
            reason = m.group(4)
            ok = allow_unreachable and UNREACHABLE.search(reason)
            self.assertTrue(ok, "tier %s failed for another reason: %s\n%s" %
                            (m.group(1), reason, what))
        return {m.group(1): m.group(2) for m in tiers}

    def closed(self):
        """Every remote address at one closed loopback port."""
        port = free_port()
        return {"DIAMOND_CACHE_REDIS": "127.0.0.1:%d" % port,
                "DIAMOND_TABLE_ENDPOINT": "http://127.0.0.1:%d" % port,
                "DIAMOND_BLOB_ENDPOINT": "http://127.0.0.1:%d" % port,
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}

    def test_every_example_file_loads(self):
        files = sorted(os.path.join(ROOT, "conf", f) for f in os.listdir(
            os.path.join(ROOT, "conf")) if f.endswith(".ini"))
        files += [os.path.join(ROOT, "docker", f) for f in ("compose.ini", "diamond.ini")]
        names = [os.path.relpath(f, ROOT) for f in files]
        for want in ("conf/diamond.ini", "conf/aws.ini", "conf/localstack.ini",
                     "conf/test-engines.ini"):
            self.assertIn(want, names)
        engines_of = {}
        for f in files:
            with self.subTest(config=os.path.relpath(f, ROOT)):
                engines_of[os.path.relpath(f, ROOT)] = self.check(f, self.closed())
        remote = {"cache": "redis", "table": "dynamodb", "blob": "s3"}
        for f in ("conf/aws.ini", "conf/localstack.ini", "conf/test-engines.ini",
                  "docker/compose.ini"):
            self.assertEqual(engines_of.get(f), remote, f)
        self.assertEqual(engines_of.get("conf/diamond.ini"),
                         {"cache": "memory", "table": "lmdb", "blob": "dir"})

    def test_only_keys_that_differ_from_the_defaults(self):
        doc = configparser.ConfigParser(interpolation=None)
        doc.read(os.path.join(ROOT, "conf", "diamond.ini"))
        for name in ("aws.ini", "localstack.ini", "test-engines.ini"):
            c = configparser.ConfigParser(interpolation=None)
            c.read(os.path.join(ROOT, "conf", name))
            for sec in c.sections():
                for key, value in c.items(sec):
                    self.assertTrue(doc.has_option(sec, key), "%s: [%s] %s" % (name, sec, key))
                    self.assertNotEqual(value, doc.get(sec, key),
                                        "%s: [%s] %s is the default" % (name, sec, key))

    def test_test_engines_ini_against_live_engines(self):
        import engines
        e = engines.Engines(redis=True, dynamodb=True, s3=True)
        self.addCleanup(e.cleanup)
        e.start()
        e.s3rver.create_bucket("diamond")
        over = engines.to_env({"cache.redis": e.redis.address,
                               "table.endpoint": e.dynalite.endpoint,
                               "blob.endpoint": e.s3rver.endpoint})
        over.update(engines.AWS_ENV)
        # the table and bucket first (what a probe may look for); its own exit code is
        # left to the engines' tests, check-config below judges the result
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAMOND_", "AWS_"))}
        env.update(over)
        subprocess.run([find_diamondd(), "--config", os.path.join(ROOT, "conf",
                                                                  "test-engines.ini"),
                        "--data-dir", tempfile.mkdtemp(dir=self.tmp), "--create-storage"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env, timeout=180)
        tiers = self.check(os.path.join(ROOT, "conf", "test-engines.ini"), over,
                           allow_unreachable=False)
        self.assertEqual(tiers, {"cache": "redis", "table": "dynamodb", "blob": "s3"})


if __name__ == "__main__":
    main()

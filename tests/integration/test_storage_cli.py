"""test_storage_cli: `diamondd --create-storage` creates the DynamoDB table (pk S hash, sk N
range, on-demand, TTL on `ttl` where the service has TTL) and the S3 bucket, idempotently,
and `--check-config` reaches every configured tier and says which one failed and why: a
table or bucket that does not exist, a port nobody listens on, Redis down; exit 0 only
when every tier answers."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import Dynalite, Redis, S3rver  # noqa: E402
from harness import Server, ServerTestCase, free_port, main  # noqa: E402


class StorageCli(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis, cls.dynalite, cls.s3 = Redis(), Dynalite(), S3rver()
        for e in (cls.redis, cls.dynalite, cls.s3):
            e.start()

    @classmethod
    def tearDownClass(cls):
        for e in (cls.redis, cls.dynalite, cls.s3):
            e.cleanup()

    def srv(self, sets=(), engines=None):
        s = Server(engines=[self.redis, self.dynalite, self.s3] if engines is None else engines,
                   sets=list(sets))
        self.addCleanup(s.cleanup)
        return s

    def test_create_storage_then_check(self):
        s = self.srv(sets=["table.name=created", "blob.bucket=created"])
        code, out, err = s.run_once("--check-config")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(err, r"table\s+dynamodb\s+FAILED: .*created.*does not exist")
        self.assertRegex(err, r"blob\s+s3\s+FAILED: .*created.*does not exist")
        self.assertRegex(err, r"cache\s+redis\s+ok")

        code, out, err = s.run_once("--create-storage")
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"table\s+dynamodb\s+ok")
        self.assertRegex(out, r"blob\s+s3\s+ok")
        self.assertIn("ttl_unsupported", out + err)  # dynalite has no TTL: a warning only
        desc = self.dynalite.describe_table("created")
        self.assertEqual(desc["TableStatus"], "ACTIVE")
        keys = {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]}
        self.assertEqual(keys, {"pk": "HASH", "sk": "RANGE"})
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        self.assertEqual(types, {"pk": "S", "sk": "N"})
        self.assertEqual(desc.get("BillingModeSummary", {}).get("BillingMode"),
                         "PAY_PER_REQUEST")
        self.assertTrue(self.s3.bucket_exists("created"))

        code, out, err = s.run_once("--create-storage")  # again: nothing to do, still 0
        self.assertEqual(code, 0, out + err)
        code, out, err = s.run_once("--check-config")
        self.assertEqual(code, 0, out + err)
        self.assertIn("[table]", out)  # the effective config is still printed

    def test_unreachable_tiers_are_named(self):
        dead = free_port()
        s = self.srv(engines=[], sets=[
            "cache.engine=redis", "cache.redis=127.0.0.1:%d" % dead,
            "cache.redis_timeout_ms=500",
            "table.engine=dynamodb", "table.endpoint=http://127.0.0.1:%d" % dead,
            "blob.engine=s3", "blob.endpoint=http://127.0.0.1:%d" % dead,
            "remote.max_attempts=2", "remote.retry_base_ms=10", "remote.timeout_ms=1000"])
        s.env.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
        code, out, err = s.run_once("--check-config", timeout=60)
        self.assertEqual(code, 1, out + err)
        for tier, engine in (("cache", "redis"), ("table", "dynamodb"), ("blob", "s3")):
            self.assertRegex(err, r"%s\s+%s\s+FAILED: .*(refused|connect)" % (tier, engine),
                             err)
        self.assertIn("127.0.0.1:%d" % dead, err)

    def test_mixed_embedded_and_remote(self):
        s = self.srv(engines=[self.s3])  # memory + LMDB + S3
        s.create_storage()
        code, out, err = s.run_once("--check-config")
        self.assertEqual(code, 0, out + err)
        self.assertRegex(err, r"cache\s+memory\s+ok")
        self.assertRegex(err, r"table\s+lmdb\s+ok")
        self.assertRegex(err, r"blob\s+s3\s+ok")


if __name__ == "__main__":
    main()

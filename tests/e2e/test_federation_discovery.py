"""Server discovery end to end (Server-Server API "Resolving server names", step 3.2): B is
called "localhost" (no port); A finds it through https://localhost/.well-known/matrix/server
(a Python HTTPS server on 127.0.0.1:443, skipped when that port is taken; the file has moved,
a 302 says where), which delegates to
localhost:<B's TLS front>; A then connects there with SNI and certificate check for
"localhost" and Host "localhost:<port>". The well-known answer is cached for its max-age."""
import shutil
import tempfile
import unittest
import urllib.parse

from fedharness import (FedServer, TestCA, WellKnownServer, start_servers, stop_servers,
                        user_with_name)


class TestDiscovery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-disc-")
        cls.ca = TestCA(cls.tmp)
        cls.wk = WellKnownServer(cls.ca, None, redirect=True)
        if not cls.wk.ok:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise unittest.SkipTest("127.0.0.1:443 is not available")
        ca_cfg = {"federation_custom_ca_list": [cls.ca.ca]}
        cls.A = FedServer(cls.ca, dict(ca_cfg))
        cls.B = FedServer(cls.ca, dict(ca_cfg), server_name="localhost")
        cls.wk.body = {"m.server": f"localhost:{cls.B.front.port}"}
        try:
            cls.servers = start_servers(cls.A, cls.B)
        except Exception:
            cls.wk.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        user_with_name(cls.B, "bob", "Bob Local")
        cls.tok = cls.A.register("alice")["access_token"]

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        cls.wk.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_well_known_delegation(self):
        path = f"/_matrix/client/v3/profile/{urllib.parse.quote('@bob:localhost')}"
        before = self.B.front.connections
        r = self.A.get(path, token=self.tok)
        self.assertEqual(r.status, 200, f"{r}\n{self.A.read_log()[-3000:]}")
        self.assertEqual(r.body, {"displayname": "Bob Local"})
        self.assertEqual(self.wk.hits, 2)  # the redirect was followed
        self.assertGreater(self.B.front.connections, before)
        # cached for its max-age: the well-known is not asked again
        r = self.A.get(path, token=self.tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.wk.hits, 2)

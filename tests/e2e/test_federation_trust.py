"""Federation trust between real instances on loopback (issue 12, "Trust"): published and
notarised server keys, X-Matrix authentication of inbound requests (accepted when right;
refused when unsigned, mis-signed, for another destination, with an unknown key, or from a
server off the allow-list), keys fetched through a trusted notary, outbound allow-list, TLS
trust (federation_custom_ca_list, certificate failures) and the loopback address policy."""
import os
import re
import shutil
import tempfile
import time
import unittest
import urllib.parse

from fedharness import (FakeOrigin, FedServer, FedTestCase, Key, TestCA, start_servers,
                        stop_servers, user_with_name, verify_json, xmatrix)

PROFILE = "/_matrix/federation/v1/query/profile"


def profile_path(user):
    return f"{PROFILE}?user_id={urllib.parse.quote(user)}"


class TestFederationTrust(FedTestCase):
    """A and B federate; N is a notary B trusts (trusted_key_servers with N's key); B allows
    only A and N (federation_domain_whitelist); N may only talk to A."""

    INSTANCES = {"A": FedServer, "N": FedServer, "B": FedServer}

    @classmethod
    def before_start(cls):
        cls.old_key = Key("a_old")
        cls.A.overrides["old_signing_keys"] = {
            cls.old_key.key_id: {"key": cls.old_key.public, "expired_ts": 1_600_000_000_000}}
        cls.B.overrides.update({
            "trusted_key_servers": [{"server_name": cls.N.server_name,
                                     "verify_keys": {cls.N.key.key_id: cls.N.key.public}}],
            "federation_domain_whitelist": [cls.A.server_name, cls.N.server_name],
        })
        cls.N.overrides["federation_domain_whitelist"] = [cls.A.server_name]

    @classmethod
    def after_start(cls):
        user_with_name(cls.B, "bob", "Bob B")

    def assertError(self, r, status, errcode):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.errcode, errcode, r)

    # --- published and notarised keys ---------------------------------------------------
    def test_key_server_signed(self):
        r = self.B.get("/_matrix/key/v2/server")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["server_name"], self.B.server_name)
        self.assertEqual(r["verify_keys"], {self.B.key.key_id: {"key": self.B.key.public}})
        self.assertEqual(r["old_verify_keys"], {})
        self.assertGreater(r["valid_until_ts"], time.time() * 1000 + 3600_000)
        self.assertTrue(verify_json(r.body, self.B.server_name, self.B.key.key_id,
                                    self.B.key.public))

    def notarised(self, answers, server, notary):
        """The answer for `server` among a notary's answers, checked for both signatures."""
        mine = [a for a in answers if a["server_name"] == server.server_name]
        self.assertEqual(len(mine), 1, answers)
        a = mine[0]
        self.assertEqual(a["verify_keys"][server.key.key_id]["key"], server.key.public)
        self.assertTrue(verify_json(a, server.server_name, server.key.key_id, server.key.public))
        self.assertTrue(verify_json(a, notary.server_name, notary.key.key_id, notary.key.public))
        return a

    def test_notary_post_fetches_directly(self):
        # A, as a notary, fetches B's keys from B (over TLS through B's front) and countersigns
        before = self.B.front.connections
        r = self.A.post("/_matrix/key/v2/query",
                        {"server_keys": {self.B.server_name: {self.B.key.key_id: {
                            "minimum_valid_until_ts": int(time.time() * 1000)}}}})
        self.assertEqual(r.status, 200, r)
        self.notarised(r["server_keys"], self.B, self.A)
        self.assertGreater(self.B.front.connections, before)
        # a second query is answered from A's cache: no new connection to B
        before = self.B.front.connections
        r = self.A.get(f"/_matrix/key/v2/query/{self.B.server_name}")
        self.assertEqual(r.status, 200, r)
        self.notarised(r["server_keys"], self.B, self.A)
        self.assertEqual(self.B.front.connections, before)

    def test_notary_own_keys_and_limits(self):
        r = self.A.post("/_matrix/key/v2/query", {"server_keys": {self.A.server_name: {}}})
        self.assertEqual(r.status, 200, r)
        self.notarised(r["server_keys"], self.A, self.A)
        self.assertError(self.A.post("/_matrix/key/v2/query", {"server_keys": []}), 400,
                         "M_BAD_JSON")
        many = {f"s{i}.invalid": {} for i in range(101)}
        self.assertEqual(self.A.post("/_matrix/key/v2/query", {"server_keys": many}).status, 400)

    def test_notary_respects_outbound_allow_list(self):
        # N may only talk to A: asked for B's keys it sends nothing and answers none
        before = self.B.front.connections
        r = self.N.post("/_matrix/key/v2/query", {"server_keys": {self.B.server_name: {}}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["server_keys"], [])
        self.assertEqual(self.B.front.connections, before)

    # --- X-Matrix authentication ---------------------------------------------------------
    def from_A(self, **kw):
        path = kw.pop("path", profile_path(f"@bob:{self.B.server_name}"))
        return self.B.fed_request("GET", path, self.A.key, self.A.server_name, **kw)

    def test_signed_request_accepted_keys_through_notary(self):
        r = self.from_A()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r["displayname"], "Bob B")
        # B fetched A's keys through the notary it trusts, which fetched them from A
        self.assertIn(f"through notary {self.N.server_name}", self.B.read_log())
        # the access log names the authenticated origin
        self.assertRegex(self.B.read_log(),
                         rf' {re.escape(self.A.server_name)} "GET {re.escape(PROFILE)}\?')
        # the field filter and query string are part of what is signed
        r = self.from_A(path=profile_path(f"@bob:{self.B.server_name}") + "&field=displayname")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"displayname": "Bob B"})
        # the target is checked as sent: '+', escapes, empty and valueless parameters, order
        for extra in ("&x=a+b", "&y=%2B%20&x=1", "&flag&z=", "&b=1&a=2"):
            r = self.from_A(path=profile_path(f"@bob:{self.B.server_name}") + extra)
            self.assertEqual(r.status, 200, (extra, r))

    def test_generic_query_and_v1_invite(self):
        # a query type this server has no handler for: 404 M_NOT_FOUND (not M_UNRECOGNIZED)
        r = self.from_A(path="/_matrix/federation/v1/query/no_such_type?x=1")
        self.assertError(r, 404, "M_NOT_FOUND")
        # the known types still reach their own handlers
        r = self.from_A(path="/_matrix/federation/v1/query/directory")
        self.assertError(r, 400, "M_MISSING_PARAM")
        # the deprecated v1 invite is served (the event is checked as a v2 invite's is)
        path = "/_matrix/federation/v1/invite/%21r%3Aexample.org/%24e"
        r = self.B.fed_request("PUT", path, self.A.key, self.A.server_name,
                               content={"type": "m.room.message"})
        self.assertEqual(r.status // 100, 4, r)
        self.assertNotEqual(r.errcode, "M_UNRECOGNIZED", r)
        r = self.B.fed_request("PUT", path, self.A.key, self.A.server_name, content=[1])
        self.assertError(r, 400, "M_BAD_JSON")

    def test_unsigned_and_malformed_refused(self):
        r = self.B.get(profile_path(f"@bob:{self.B.server_name}"))
        self.assertError(r, 401, "M_UNAUTHORIZED")
        for bad in ("Bearer abc", "X-Matrix", 'X-Matrix origin="a",key="ed25519:x"',
                    'X-Matrix origin="not a name",key="ed25519:x",sig="AAAA"'):
            self.assertError(self.from_A(auth=bad), 401, "M_UNAUTHORIZED")

    def test_mis_signed_refused(self):
        good = xmatrix(self.A.key, self.A.server_name, self.B.server_name, "GET",
                       profile_path(f"@bob:{self.B.server_name}"))
        sig = good.split('sig="')[1].rstrip('"')
        flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
        self.assertError(self.from_A(auth=good.replace(sig, flipped)), 401, "M_UNAUTHORIZED")
        # signed for another URI than the one requested
        self.assertError(self.from_A(auth=good, path=profile_path(f"@eve:{self.B.server_name}")),
                         401, "M_UNAUTHORIZED")
        # signed by another key claiming A's key ID
        r = self.B.fed_request("GET", profile_path(f"@bob:{self.B.server_name}"),
                               Key(self.A.key.version), self.A.server_name)
        self.assertError(r, 401, "M_UNAUTHORIZED")

    def test_old_key_published_but_never_signs_requests(self):
        r = self.A.get("/_matrix/key/v2/server")
        self.assertEqual(r["old_verify_keys"], {self.old_key.key_id: {
            "key": self.old_key.public, "expired_ts": 1_600_000_000_000}})
        self.assertTrue(verify_json(r.body, self.A.server_name, self.A.key.key_id,
                                    self.A.key.public))
        # B knows A's keys (old ones included) once A's current key has been used
        self.assertEqual(self.from_A().status, 200)
        r = self.B.fed_request("GET", profile_path(f"@bob:{self.B.server_name}"), self.old_key,
                               self.A.server_name)
        self.assertError(r, 401, "M_UNAUTHORIZED")

    def test_expired_key_refused(self):
        # a key past its valid_until_ts no longer signs requests: what bounds a replay
        now = int(time.time() * 1000)
        fresh, stale = FakeOrigin(self.ca, now + 3600_000), FakeOrigin(self.ca, now - 1000)
        try:
            path = profile_path(f"@nobody:{self.A.server_name}")
            r = self.A.fed_request("GET", path, fresh.key, fresh.server_name)
            self.assertError(r, 404, "M_NOT_FOUND")  # authenticated, then: no such user
            self.assertEqual(fresh.hits, 1)
            r = self.A.fed_request("GET", path, stale.key, stale.server_name)
            self.assertError(r, 401, "M_UNAUTHORIZED")
            self.assertEqual(stale.hits, 1)
            # the key is refetched (once per 2 s at most) and accepted once renewed
            time.sleep(2.2)
            stale.valid_until_ts = now + 3600_000
            r = self.A.fed_request("GET", path, stale.key, stale.server_name)
            self.assertError(r, 404, "M_NOT_FOUND")
            self.assertEqual(stale.hits, 2)
        finally:
            fresh.close()
            stale.close()

    def raw_get(self, server, path, headers):
        """GET with repeated headers (urllib folds them); returns (status, errcode)."""
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        c.putrequest("GET", path)
        for k, v in headers:
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = json.loads(r.read() or b"{}")
        c.close()
        return r.status, body.get("errcode")

    def test_several_authorization_headers(self):
        path = profile_path(f"@bob:{self.B.server_name}")
        good = xmatrix(self.A.key, self.A.server_name, self.B.server_name, "GET", path)
        self.assertEqual(self.raw_get(self.B, path, [("Authorization", good)]), (200, None))
        # one header per signing key: each must be valid
        self.assertEqual(self.raw_get(self.B, path, [("Authorization", good)] * 2),
                         (200, None))
        forged = xmatrix(Key(self.A.key.version), self.A.server_name, self.B.server_name, "GET",
                         path)
        self.assertEqual(self.raw_get(self.B, path, [("Authorization", good),
                                                     ("Authorization", forged)]),
                         (401, "M_UNAUTHORIZED"))
        other = xmatrix(self.N.key, self.N.server_name, self.B.server_name, "GET", path)
        self.assertEqual(self.raw_get(self.B, path, [("Authorization", good),
                                                     ("Authorization", other)]),
                         (401, "M_UNAUTHORIZED"))
        # another scheme next to X-Matrix is not ours to judge
        self.assertEqual(self.raw_get(self.B, path, [("Authorization", "Bearer x"),
                                                     ("Authorization", good)]), (200, None))

    def test_wrong_destination_refused(self):
        r = self.from_A(destination=self.N.server_name)
        self.assertError(r, 401, "M_UNAUTHORIZED")

    def test_unknown_key_refused(self):
        r = self.B.fed_request("GET", profile_path(f"@bob:{self.B.server_name}"),
                               Key("a_unknown"), self.A.server_name)
        self.assertError(r, 401, "M_UNAUTHORIZED")

    def test_origin_off_allow_list_refused(self):
        # a real, reachable server B does not list: 403 before any key is fetched
        before = self.B.front.connections
        r = self.B.fed_request("GET", profile_path(f"@bob:{self.B.server_name}"), self.B.key,
                               "127.0.0.1:9")
        self.assertError(r, 403, "M_FORBIDDEN")
        # A does not list anyone: a request from N to A is checked on its merits
        r = self.A.fed_request("GET", profile_path(f"@nobody:{self.A.server_name}"), self.N.key,
                               self.N.server_name)
        self.assertError(r, 404, "M_NOT_FOUND")
        self.assertEqual(self.B.front.connections, before)

    def test_remote_profile_through_client_api(self):
        # A's own outbound request (signed in C, discovery of an IP literal, custom CA) is
        # accepted by B, which verifies A's signature
        tok = self.A.register("alice")["access_token"]
        bob = f"@bob:{self.B.server_name}"
        r = self.A.get(f"/_matrix/client/v3/profile/{urllib.parse.quote(bob)}", token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"displayname": "Bob B"})
        r = self.A.get(f"/_matrix/client/v3/profile/{urllib.parse.quote(bob)}/displayname",
                       token=tok)
        self.assertEqual(r.body, {"displayname": "Bob B"})
        nobody = urllib.parse.quote(f"@nobody:{self.B.server_name}")
        self.assertError(self.A.get(f"/_matrix/client/v3/profile/{nobody}", token=tok), 404,
                         "M_NOT_FOUND")
        # without an access token this server asks nobody
        self.assertError(self.A.get(f"/_matrix/client/v3/profile/{urllib.parse.quote(bob)}"),
                         401, "M_MISSING_TOKEN")
        # N may only talk to A: never sent
        before = self.B.front.connections
        ntok = self.N.register("nora")["access_token"]
        self.assertError(self.N.get(f"/_matrix/client/v3/profile/{urllib.parse.quote(bob)}",
                                    token=ntok), 403, "M_FORBIDDEN")
        self.assertEqual(self.B.front.connections, before)
        # while a server on N's list is asked
        r = self.N.get(f"/_matrix/client/v3/profile/{urllib.parse.quote('@alice:' + self.A.server_name)}",
                       token=ntok)
        self.assertEqual(r.status, 200, r)

    def test_profile_query_errors(self):
        self.assertError(self.from_A(path=PROFILE), 400, "M_MISSING_PARAM")
        self.assertError(self.from_A(path=profile_path("@bob:elsewhere.example")), 400,
                         "M_INVALID_PARAM")
        self.assertError(self.from_A(path=profile_path(f"@nobody:{self.B.server_name}")), 404,
                         "M_NOT_FOUND")


class TestFederationTLS(unittest.TestCase):
    """Certificate and address checks on outbound requests: P is a target behind a front with
    the test CA's certificate; W trusts another CA, L lacks the loopback exception, I does
    not verify certificates at all."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="amtsbote-fedtls-")
        cls.ca = TestCA(cls.tmp)
        other = os.path.join(cls.tmp, "other")
        os.mkdir(other)
        cls.other = TestCA(other, "Another CA")
        cls.P = FedServer(cls.ca, {"federation_custom_ca_list": [cls.ca.ca]})
        cls.W = FedServer(cls.ca, {"federation_custom_ca_list": [cls.other.ca]})
        cls.L = FedServer(cls.ca, {"federation_custom_ca_list": [cls.ca.ca],
                                   "ip_range_whitelist": []})
        cls.I = FedServer(cls.ca, {"federation_verify_certificates": False})
        try:
            cls.servers = start_servers(cls.P, cls.W, cls.L, cls.I)
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls.servers)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def query(self, server):
        r = server.post("/_matrix/key/v2/query", {"server_keys": {self.P.server_name: {}}})
        self.assertEqual(r.status, 200, r)
        return r["server_keys"]

    def test_untrusted_certificate_refused(self):
        self.assertEqual(self.query(self.W), [])
        self.assertRegex(self.W.read_log(), r"keys of 127\.0\.0\.1:\d+: .*(SSL|certificate)")

    def test_loopback_refused_without_exception(self):
        before = self.P.front.connections
        self.assertEqual(self.query(self.L), [])
        self.assertIn("address not allowed", self.L.read_log())
        self.assertEqual(self.P.front.connections, before)

    def test_verification_off(self):
        keys = self.query(self.I)
        self.assertEqual([k["server_name"] for k in keys], [self.P.server_name])

    def test_custom_ca_trusted(self):
        r = self.P.post("/_matrix/key/v2/query", {"server_keys": {self.I.server_name: {}}})
        self.assertEqual([k["server_name"] for k in r["server_keys"]], [self.I.server_name])

    def test_bad_ca_file_refused_at_start(self):
        bad = os.path.join(self.tmp, "not-a-ca.pem")
        with open(bad, "w") as f:
            f.write("hello\n")
        s = FedServer(self.ca, {"federation_custom_ca_list": [bad]})
        with self.assertRaises(RuntimeError) as cm:
            s.start()
        self.assertIn("federation_custom_ca_list", str(cm.exception))
        s.stop(check=False)

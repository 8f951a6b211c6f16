"""Inbound federation limits per origin server (issue 13, Synapse's rc_federation keys): with
concurrent 1 and reject_limit 1, requests of one origin beyond the one in progress answer 429
M_LIMIT_EXCEEDED with retry_after_ms, while another origin's requests at the same time are
served; once the flood is over the origin is served again (its slot was given back)."""
import threading
import unittest
import urllib.parse

from fedharness import FedServer, FedTestCase

CS = "/_matrix/client/v3"
FED = "/_matrix/federation"
FLOOD = 48  # requests of B at once (bounded)


def q(s):
    return urllib.parse.quote(s, safe="")


class TestFederationRateLimit(FedTestCase):
    PREFIX = "amtsbote-fedlimit-"
    INSTANCES = {"A": FedServer, "B": FedServer, "C": FedServer}

    @classmethod
    def before_start(cls):
        cls.A.overrides["rc_federation"] = {
            "concurrent": 1, "reject_limit": 1, "sleep_delay": 0, "window_size": 1000,
            "sleep_limit": 10}

    @classmethod
    def after_start(cls):
        cls.A.register("alice")
        cls.profile = f"{FED}/v1/query/profile?user_id={q('@alice:' + cls.A.server_name)}"

    def ask(self, srv):
        return self.A.fed_request("GET", self.profile, srv.key, srv.server_name)

    def test_flood_of_one_origin_is_limited_and_others_are_not(self):
        # the keys of B and C are fetched once, before the flood
        self.assertEqual(self.ask(self.B).status, 200)
        self.assertEqual(self.ask(self.C).status, 200)
        results, c_results = [], []
        start = threading.Barrier(FLOOD + 1)

        def flood():
            start.wait(timeout=30)
            for _ in range(3):
                results.append(self.ask(self.B))

        def other():
            start.wait(timeout=30)
            for _ in range(6):
                c_results.append(self.ask(self.C))

        threads = [threading.Thread(target=flood) for _ in range(FLOOD)]
        threads.append(threading.Thread(target=other))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        limited = [r for r in results if r.status == 429]
        self.assertTrue(limited, [r.status for r in results])
        for r in limited:
            self.assertEqual(r.errcode, "M_LIMIT_EXCEEDED")
            self.assertEqual(r["retry_after_ms"], 100)  # window_size / sleep_limit
        self.assertEqual({r.status for r in results} - {200, 429}, set())
        # C was never limited by B's flood
        self.assertEqual([r.status for r in c_results], [200] * 6)
        # after the flood B has its slot back
        self.assertEqual(self.ask(self.B).status, 200)


if __name__ == "__main__":
    unittest.main()

"""Issue 13: "The server-server routes of the spec (v1.19) answer, except those the README names
as deliberately absent with the reason." Walks every route of the Server-Server API's OpenAPI
definitions (/work/shared/matrix-spec/data/api/server-server/*.yaml, or $MATRIX_SPEC_DATA) and
asks the server each one, unsigned, with placeholder path parameters: a route it serves answers
something other than 404/405 M_UNRECOGNIZED (401 for the signed ones, 200 or a Matrix error
for the public ones). Every route that does not answer must be listed, with a reason, in the
README's "Server-server routes deliberately absent" list, and every route listed there must
indeed not answer (so the list stays true)."""
import glob
import os
import re
import unittest
import urllib.parse

import yaml

from harness import ROOT, ServerTestCase

SPEC = os.environ.get("MATRIX_SPEC_DATA", "/work/shared/matrix-spec/data")
PLACEHOLDER = {"roomId": "!nowhere:example.org", "eventId": "$nothing", "userId":
               "@nobody:example.org", "serverName": "example.org", "txnId": "t1",
               "mediaId": "m1", "queryType": "no_such_type", "keyId": "ed25519:x"}
LISTED = re.compile(r"^- `(GET|PUT|POST|DELETE) (/[^`\s]+)`: \S")


def spec_routes():
    """(METHOD, full path pattern) of every operation of the server-server definitions."""
    out = set()
    for f in sorted(glob.glob(os.path.join(SPEC, "api", "server-server", "*.yaml"))):
        with open(f) as fh:
            d = yaml.safe_load(fh)
        base = ""
        for s in d.get("servers", []):
            base = s.get("variables", {}).get("basePath", {}).get("default", base)
        for path, ops in (d.get("paths") or {}).items():
            for m in ops:
                if m in ("get", "put", "post", "delete"):
                    out.add((m.upper(), base + path))
    return out


def readme_absent():
    """The README's list: {(METHOD, path pattern)}, each line with a reason after the colon."""
    with open(os.path.join(ROOT, "README.md")) as f:
        lines = f.read().split("\n")
    start = next(i for i, ln in enumerate(lines)
                 if "Server-server routes deliberately absent" in ln)
    out = set()
    for ln in lines[start + 1:]:
        m = LISTED.match(ln)
        if m:
            out.add((m.group(1), m.group(2)))
        elif ln.startswith("- ") or not ln.strip():
            if out and not ln.strip():
                break
    return out


def concrete(pattern):
    return re.sub(r"\{(\w+)\}", lambda m: urllib.parse.quote(
        PLACEHOLDER.get(m.group(1), "x"), safe=""), pattern)


class TestFederationRoutes(ServerTestCase):

    def answers(self, method, pattern):
        body = {} if method in ("PUT", "POST") else None
        r = self.s.request(method, concrete(pattern), body=body)
        return not (r.status in (404, 405) and r.errcode == "M_UNRECOGNIZED"), r

    def test_every_spec_route_answers_or_is_listed(self):
        routes = spec_routes()
        self.assertGreater(len(routes), 30, f"spec definitions not found under {SPEC}")
        absent = readme_absent()
        self.assertTrue(absent <= routes, f"README names routes not in the spec: "
                                          f"{absent - routes}")
        silent = []
        for method, pattern in sorted(routes):
            ok, r = self.answers(method, pattern)
            if (method, pattern) in absent:
                self.assertFalse(ok, f"{method} {pattern} answers ({r}) but the README "
                                     "lists it as absent")
            elif not ok:
                silent.append(f"{method} {pattern}")
        self.assertEqual(silent, [], "routes that neither answer nor are listed in README")

    def test_generic_query_type_not_found(self):
        # unsigned: the route exists and asks for X-Matrix first
        r = self.s.get("/_matrix/federation/v1/query/no_such_type")
        self.assertError(r, 401, "M_UNAUTHORIZED")


if __name__ == "__main__":
    unittest.main()

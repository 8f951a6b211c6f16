"""What the federation benchmarks share: two release-build instances A and B on loopback
behind TLS fronts that trust one fresh test CA (tests/e2e/fedharness.py), started, and stopped
and cleaned up again however the benchmark ends (a failed start included)."""
import contextlib
import os
import shutil
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import ROOT  # noqa: E402
from fedharness import FedServer, TestCA  # noqa: E402

CS = "/_matrix/client/v3"


def q(s):
    return urllib.parse.quote(s, safe="")


@contextlib.contextmanager
def two_servers(prefix, log_level):
    """Yield [A, B], started with `log_level`; the binary is $AMTSBOTE_BIN or the release
    build. `prefix` names the temporary directory (the CA's)."""
    binary = os.environ.get("AMTSBOTE_BIN", os.path.join(ROOT, "build", "release", "amtsbote"))
    tmp = tempfile.mkdtemp(prefix=prefix)
    servers = []
    try:
        ca = TestCA(tmp)
        for _ in range(2):
            s = FedServer(ca, {"federation_custom_ca_list": [ca.ca], "log_level": log_level})
            s.binary = binary
            servers.append(s)
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            if s.proc:
                s.stop(check=False)
            else:
                s.front.close()
        shutil.rmtree(tmp, ignore_errors=True)

"""Real Olm and Megolm through the server, with libolm from C (tests/e2e/olm_e2e.c, built by
`make asan`): identity and one-time keys uploaded, queried and claimed with their signatures
verified, an Olm to-device message and a Megolm room message decrypted on the other device.
This test starts the server, registers the two users and runs the program."""
import os
import subprocess

from harness import ROOT, ServerTestCase

PROGRAM = os.path.join(ROOT, "build", "asan", "tests", "e2e", "olm_e2e")


class OlmFromC(ServerTestCase):
    def test_olm_and_megolm_round_trip(self):
        self.assertTrue(os.access(PROGRAM, os.X_OK), f"{PROGRAM} missing: run make asan")
        a = self.s.register("olma")
        b = self.s.register("olmb")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:halt_on_error=1",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        out = subprocess.run([PROGRAM, self.s.base, a["access_token"], a["user_id"],
                              a["device_id"], b["access_token"], b["user_id"], b["device_id"]],
                             capture_output=True, text=True, timeout=120, env=env)
        text = out.stdout + out.stderr
        self.assertEqual(out.returncode, 0, text)
        self.assertIn("0 failed", text)
        self.assertNotIn("not ok", text)

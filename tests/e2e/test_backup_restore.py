"""Backup and restore as the README describes it, done for real: a server with users, rooms,
messages and media is dumped with pg_dump (custom format) while it runs, the dump is restored
with pg_restore into a fresh database of the private cluster, the media store and the signing
key are copied, and the binary started on the restored database serves the same accounts,
rooms, messages, media and server key."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import unittest

from harness import Server

CS = "/_matrix/client/v3"
V1 = "/_matrix/client/v1/media"


def q(s):
    return urllib.parse.quote(s, safe="")


class TestBackupRestore(unittest.TestCase):
    def pg(self, srv, tool, *args):
        return subprocess.run([os.path.join(srv.pg["PGBIN"], tool), "-h", srv.pg["PGHOST"],
                               "-U", srv.pg["PGUSER"], *args],
                              check=True, capture_output=True, text=True, timeout=120)

    def test_round_trip(self):
        backup = tempfile.mkdtemp(prefix="amtsbote-backup-")
        src = Server().start()
        try:
            a = src.register("archivar")["access_token"]
            b = src.register("kollegin")["access_token"]
            src.put(CS + "/profile/@archivar:test.local/displayname",
                    {"displayname": "Archivar"}, token=a)
            room = src.post(CS + "/createRoom", {"name": "Registratur", "invite":
                                                 ["@kollegin:test.local"]}, token=a)["room_id"]
            self.assertEqual(src.post(CS + f"/rooms/{q(room)}/join", {}, token=b).status, 200)
            sent = []
            for i in range(5):
                r = src.put(CS + f"/rooms/{q(room)}/send/m.room.message/t{i}",
                            {"msgtype": "m.text", "body": f"Vorgang {i}"}, token=a if i % 2 else b)
                sent.append(r["event_id"])
            data = os.urandom(200 * 1024)
            mxc = src.request("POST", "/_matrix/media/v3/upload", raw=data, token=a,
                              headers={"Content-Type": "application/pdf"})["content_uri"]
            key_before = src.get("/_matrix/key/v2/server").body["verify_keys"]

            # the backup, taken while the server runs: database, media store, signing key
            dump = os.path.join(backup, "amtsbote.dump")
            self.pg(src, "pg_dump", "-Fc", "-f", dump, src.dbname)
            shutil.copytree(os.path.join(src.dir, "media"), os.path.join(backup, "media"))
            shutil.copy(os.path.join(src.dir, "signing.key"), os.path.join(backup, "signing.key"))
        finally:
            src.stop()  # drops the original database and its directory

        # restore: a fresh server directory and database, then the backup put in place
        dst = Server()
        dst.start()
        dst.proc.send_signal(signal.SIGTERM)
        self.assertEqual(dst.proc.wait(timeout=60), 0)
        try:
            self.pg(dst, "dropdb", dst.dbname)
            self.pg(dst, "createdb", dst.dbname)
            self.pg(dst, "pg_restore", "--no-owner", "-d", dst.dbname, dump)
            shutil.rmtree(os.path.join(dst.dir, "media"), ignore_errors=True)
            shutil.copytree(os.path.join(backup, "media"), os.path.join(dst.dir, "media"))
            shutil.copy(os.path.join(backup, "signing.key"), os.path.join(dst.dir, "signing.key"))
            dst.log.close()
            dst.log = open(dst.log_path, "a")
            dst.proc = subprocess.Popen([dst.binary, "-c", dst.config_path], stdout=dst.log,
                                        stderr=subprocess.STDOUT)
            deadline = time.time() + 60
            while dst.read_log().count(" serving ") < 2:
                self.assertIsNone(dst.proc.poll(), dst.read_log())
                self.assertLess(time.time(), deadline, dst.read_log())
                time.sleep(0.05)

            # accounts (passwords too), profile, rooms, messages, media, server key
            a2 = dst.login("archivar")["access_token"]
            dst.login("kollegin")
            r = dst.get(CS + "/profile/@archivar:test.local/displayname", token=a2)
            self.assertEqual(r.get("displayname"), "Archivar", r)
            self.assertIn(room, dst.get(CS + "/joined_rooms", token=a2)["joined_rooms"])
            r = dst.get(CS + f"/rooms/{q(room)}/messages", token=a2,
                        query={"dir": "b", "limit": "50"})
            self.assertEqual(r.status, 200, r)
            got = [e["event_id"] for e in r["chunk"] if e["type"] == "m.room.message"]
            self.assertEqual(got, list(reversed(sent)))
            r = dst.get(CS + f"/rooms/{q(room)}/state/m.room.name/", token=a2)
            self.assertEqual(r.get("name"), "Registratur", r)
            r = dst.request("GET", f"{V1}/download/{mxc[6:]}", token=a2)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.raw, data)
            self.assertEqual(dst.get("/_matrix/key/v2/server").body["verify_keys"], key_before)
            # and it goes on: new messages after the restore
            r = dst.put(CS + f"/rooms/{q(room)}/send/m.room.message/after",
                        {"msgtype": "m.text", "body": "nach der Wiederherstellung"}, token=a2)
            self.assertEqual(r.status, 200, r)
        finally:
            dst.stop()
            shutil.rmtree(backup, ignore_errors=True)

"""A real client library against the real server: matrix-nio (Debian python3-matrix-nio)
registers, logs in on a second device, lists, renames and deletes devices (with UIA), reads
and sets its profile, and logs out."""
import asyncio
import os
import tempfile

from harness import ServerTestCase

import nio
from nio.responses import WhoamiError, WhoamiResponse


class NioClient(ServerTestCase):
    def test_register_login_devices_logout(self):
        asyncio.run(self.flow())

    async def flow(self):
        store = tempfile.mkdtemp()
        hs = self.s.base
        a = nio.AsyncClient(hs, "niouser", store_path=store)
        try:
            info = await a.login_info()
            self.assertIsInstance(info, nio.LoginInfoResponse, info)
            self.assertIn("m.login.password", info.flows)

            reg = await a.register("niouser", "nio-secret", "nio laptop")
            self.assertIsInstance(reg, nio.RegisterResponse, reg)
            self.assertEqual(reg.user_id, "@niouser:test.local")

            who = await a.whoami()
            self.assertIsInstance(who, WhoamiResponse, who)
            self.assertEqual(who.user_id, "@niouser:test.local")

            b = nio.AsyncClient(hs, "@niouser:test.local", store_path=store)
            try:
                login = await b.login("nio-secret", device_name="nio phone")
                self.assertIsInstance(login, nio.LoginResponse, login)
                self.assertNotEqual(login.device_id, reg.device_id)

                devs = await a.devices()
                self.assertIsInstance(devs, nio.DevicesResponse, devs)
                names = {d.id: d.display_name for d in devs.devices}
                self.assertEqual(names, {reg.device_id: "nio laptop",
                                         login.device_id: "nio phone"})

                upd = await a.update_device(login.device_id, {"display_name": "work phone"})
                self.assertIsInstance(upd, nio.UpdateDeviceResponse, upd)

                bad = await a.login("wrong-password")
                self.assertIsInstance(bad, nio.LoginError)

                setname = await a.set_displayname("Nio Nutzer")
                self.assertIsInstance(setname, nio.ProfileSetDisplayNameResponse, setname)
                prof = await b.get_profile("@niouser:test.local")
                self.assertIsInstance(prof, nio.ProfileGetResponse, prof)
                self.assertEqual(prof.displayname, "Nio Nutzer")

                # UIA: first without auth (flows come back), then with the password
                first = await a.delete_devices([login.device_id])
                self.assertIsInstance(first, nio.DeleteDevicesAuthResponse, first)
                done = await a.delete_devices([login.device_id], {
                    "type": "m.login.password", "user": "niouser", "password": "nio-secret",
                    "session": first.session})
                self.assertIsInstance(done, nio.DeleteDevicesResponse, done)

                gone = await b.whoami()
                self.assertIsInstance(gone, WhoamiError)
                self.assertEqual(gone.status_code, "M_UNKNOWN_TOKEN")
            finally:
                await b.close()

            out = await a.logout()
            self.assertIsInstance(out, nio.LogoutResponse, out)
            after = await a.whoami()
            self.assertIsInstance(after, WhoamiError)
        finally:
            await a.close()

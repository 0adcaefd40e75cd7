"""Tests of the rshare Python bindings (standard library unittest only).

Run by tests/integration/test_python.sh in `make check`, which puts the
extension built in the tree on PYTHONPATH.  Every test uses nodes on
loopback UDP driven from this one process: the module's blocking calls
drive every open node, and rshare.wait() does the same until a condition
holds.
"""

import gc
import os
import shutil
import sys
import tempfile
import unittest

import rshare

APP = rshare.MSG_TYPE_APP_FIRST
MIB = 1 << 20
KEY = bytes(range(32))


def make_pair(key=None, request_timeout_ms=0, state=None, log=None):
    """Two nodes on 127.0.0.1 (ids 1 and 2) that know each other."""
    nodes = []
    for i in (1, 2):
        kwargs = {}
        if state:
            kwargs["state_dir"] = os.path.join(state, "node%d" % i)
        if log is not None:
            kwargs["log"] = log
        node = rshare.Node(i, cluster_key=key, slot=i,
                           request_timeout_ms=request_timeout_ms, **kwargs)
        node.add_udp("127.0.0.1:0", mtu=65000)
        nodes.append(node)
    a, b = nodes
    a.add_peer(2, 0, b.local_address(0))
    b.add_peer(1, 0, a.local_address(0))
    return a, b


def quiet_log(level, message):
    """A log sink that keeps the test output readable."""
    if level <= rshare.LOG_ERROR:
        sys.stderr.write("rshare: %s\n" % message)


class CaughtUnraisable:
    """Collects what sys.unraisablehook receives (callback errors)."""

    def __init__(self):
        self.seen = []
        self.saved = None

    def __enter__(self):
        self.saved = sys.unraisablehook
        sys.unraisablehook = self.seen.append
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self.saved
        return False


class ErrorTests(unittest.TestCase):
    def test_codes_and_classes(self):
        names = {
            rshare.EINVAL: rshare.InvalidArgument,
            rshare.ETIMEDOUT: rshare.TimedOut,
            rshare.ENOENT: rshare.NotFound,
            rshare.EIO: rshare.InputOutputError,
            rshare.EBUSY: rshare.Busy,
            rshare.EREMOTE: rshare.RemoteError,
            rshare.ESHUTDOWN: rshare.ShutDown,
        }
        for code, cls in names.items():
            self.assertTrue(issubclass(cls, rshare.Error))
            self.assertEqual(cls.code, code)
            self.assertEqual(cls.name, rshare.err_name(code))
            exc = rshare.error(code, "text")
            self.assertIs(type(exc), cls)
            self.assertEqual(exc.code, code)
        for code in range(-1, -22, -1):
            exc = rshare.error(code)
            self.assertEqual(exc.code, code)
            self.assertTrue(exc.name.startswith("RSHARE_E"))
            self.assertIn(rshare.strerror(code), str(exc))
        self.assertEqual(rshare.err_name(rshare.ETIMEDOUT), "RSHARE_ETIMEDOUT")
        self.assertTrue(issubclass(rshare.InvalidArgument, ValueError))
        self.assertTrue(issubclass(rshare.TimedOut, TimeoutError))
        self.assertTrue(issubclass(rshare.NotFound, LookupError))
        self.assertTrue(issubclass(rshare.Closed, rshare.ShutDown))

    def test_library_errors_raise_with_codes(self):
        with rshare.Node(7, log=quiet_log) as node:
            node.add_udp("127.0.0.1:0")
            with self.assertRaises(rshare.InvalidArgument) as cm:
                node.add_peer(8, 5, "127.0.0.1:1")
            self.assertEqual(cm.exception.code, rshare.EINVAL)
            self.assertEqual(cm.exception.name, "RSHARE_EINVAL")
            self.assertTrue(cm.exception.detail)
            with self.assertRaises(rshare.NotFound) as cm:
                rshare.Volume(node, "no-such-volume")
            self.assertEqual(cm.exception.code, rshare.ENOENT)
            with self.assertRaises(rshare.InvalidArgument):
                rshare.Block.open_memory(node, 1000)  # not a multiple of 512
        self.assertRaises(ValueError, rshare.Node, 0)
        self.assertRaises(ValueError, rshare.Node, 1, cluster_key=b"short")

    def test_timeout(self):
        node = rshare.Node(9, request_timeout_ms=300, log=quiet_log)
        node.add_udp("127.0.0.1:0")
        node.add_peer(10, 0, "127.0.0.1:9")  # nobody there
        with self.assertRaises((rshare.TimedOut, rshare.Unreachable)) as cm:
            node.call(10, APP, b"hello")
        self.assertIn(cm.exception.code, (rshare.ETIMEDOUT, rshare.EUNREACH))
        # The module's own limit on the wait.
        with self.assertRaises(rshare.TimedOut):
            node.call(10, APP, b"hello", timeout_ms=50)
        node.close()

    def test_closed_objects_raise(self):
        node = rshare.Node(11, log=quiet_log)
        block = rshare.Block.open_memory(node, MIB)
        node.close()
        node.close()  # idempotent
        self.assertTrue(node.closed)
        self.assertTrue(block.closed)
        with self.assertRaises(rshare.Closed) as cm:
            block.read(0, 512)
        self.assertEqual(cm.exception.code, rshare.ESHUTDOWN)
        self.assertRaises(rshare.Closed, node.fd)
        self.assertRaises(rshare.Closed, node.add_udp)
        self.assertRaises(rshare.Closed, rshare.Block.open_memory, node, MIB)
        block.close()


class MessageTests(unittest.TestCase):
    def setUp(self):
        self.a, self.b = make_pair(key=KEY, log=quiet_log)

    def tearDown(self):
        self.a.close()
        self.b.close()

    def test_request_and_reply(self):
        seen = []

        def upper(request):
            seen.append((request.peer, request.type, request.expects_reply))
            return request.data.upper()

        self.b.set_handler(APP, upper)
        self.assertEqual(self.a.call(2, APP, b"ping"), b"PING")
        self.assertEqual(seen, [(1, APP, True)])
        # Large messages are cut into packets and put back together.
        big = os.urandom(300000)
        self.b.set_handler(APP + 1, lambda r: r.data[::-1])
        self.assertEqual(self.a.call(2, APP + 1, big), big[::-1])
        # Both ways, with an explicit reply and an empty one.
        self.a.set_handler(APP, lambda r: r.reply(b"from a"))
        self.assertEqual(self.b.call(1, APP, b""), b"from a")
        self.a.set_handler(APP, lambda r: None)
        self.assertEqual(self.b.call(1, APP), b"")
        self.assertGreater(self.a.stats()["msgs_sent"], 0)

    def test_notification(self):
        got = []
        self.b.set_handler(APP + 2, lambda r: got.append((r.data, r.expects_reply)))
        self.a.notify(2, APP + 2, b"note")
        self.assertTrue(rshare.wait(lambda: got, 5000))
        self.assertEqual(got, [(b"note", False)])

    def test_error_answers(self):
        def missing(request):
            raise rshare.NotFound("no such key")

        self.b.set_handler(APP, missing)
        with self.assertRaises(rshare.RemoteError) as cm:
            self.a.call(2, APP, b"k")
        self.assertEqual(cm.exception.code, rshare.EREMOTE)
        self.assertEqual(cm.exception.remote_code, rshare.ENOENT)
        self.assertIn("no such key", str(cm.exception))

        self.b.set_handler(APP, lambda r: r.fail(rshare.EBUSY, "later"))
        with self.assertRaises(rshare.RemoteError) as cm:
            self.a.call(2, APP)
        self.assertEqual(cm.exception.remote_code, rshare.EBUSY)

        self.b.set_handler(APP, None)
        with self.assertRaises(rshare.RemoteError) as cm:
            self.a.call(2, APP)
        self.assertEqual(cm.exception.remote_code, rshare.ENOHANDLER)

    def test_callback_exceptions_do_not_crash(self):
        def broken(request):
            return 1 / 0

        self.b.set_handler(APP, broken)
        with CaughtUnraisable() as caught:
            with self.assertRaises(rshare.RemoteError) as cm:
                self.a.call(2, APP, b"x")
            self.assertEqual(cm.exception.remote_code, rshare.EIO)
            self.assertIn("ZeroDivisionError", str(cm.exception))
            self.assertEqual(len(caught.seen), 1)
            self.assertIs(caught.seen[0].exc_type, ZeroDivisionError)

            # A wrong return type is a bug too.
            self.b.set_handler(APP, lambda r: 42)
            with self.assertRaises(rshare.RemoteError):
                self.a.call(2, APP)
            self.assertIs(caught.seen[-1].exc_type, TypeError)

            # Answering twice, then raising.
            def twice(request):
                request.reply(b"one")
                request.reply(b"two")

            self.b.set_handler(APP, twice)
            self.assertEqual(self.a.call(2, APP), b"one")
            self.assertIs(caught.seen[-1].exc_type, RuntimeError)

            # A blocking call on the node from its own callback is refused.
            def reentrant(request):
                return self.b.call(1, APP)

            self.b.set_handler(APP, reentrant)
            with self.assertRaises(rshare.RemoteError):
                self.a.call(2, APP)
            self.assertIs(caught.seen[-1].exc_type, RuntimeError)

            # A notification handler that raises.
            self.b.set_handler(APP + 3, broken)
            self.a.notify(2, APP + 3, b"n")
            count = len(caught.seen)
            self.assertTrue(rshare.wait(lambda: len(caught.seen) > count, 5000))
        # Everything still works.
        self.b.set_handler(APP, lambda r: b"ok")
        self.assertEqual(self.a.call(2, APP), b"ok")

    def test_handler_can_call_another_node(self):
        # b's handler asks a (a different node) while a waits for b.
        self.a.set_handler(APP + 5, lambda r: b"inner")
        self.b.set_handler(APP + 4, lambda r: b"outer+" + self.b.call(1, APP + 5))
        with CaughtUnraisable() as caught:
            with self.assertRaises(rshare.RemoteError):
                # b is inside its own callback: its blocking call is refused.
                self.a.call(2, APP + 4)
            self.assertIs(caught.seen[-1].exc_type, RuntimeError)

    def test_close_from_callback_is_deferred(self):
        def closer(request):
            self.b.close()
            return b"bye"

        self.b.set_handler(APP, closer)
        self.assertEqual(self.a.call(2, APP), b"bye")
        self.assertTrue(self.b.closed)
        self.assertRaises(rshare.Closed, self.b.fd)

    def test_run_and_process(self):
        got = []
        self.b.set_handler(APP, lambda r: got.append(r.data))
        self.a.notify(2, APP, b"1")
        for _ in range(100):
            self.a.process()
            self.b.run(20)
            if got:
                break
        self.assertEqual(got, [b"1"])
        self.assertGreaterEqual(self.a.fd(), 0)
        self.assertIsInstance(self.a.timeout_ms(), int)


class BlockTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rshare-py-")
        self.node = rshare.Node(21, log=quiet_log)

    def tearDown(self):
        self.node.close()
        shutil.rmtree(self.tmp)

    def test_memory(self):
        with rshare.Block.open_memory(self.node, MIB) as block:
            self.assertEqual(block.size, MIB)
            self.assertEqual(block.block_size, 512)
            self.assertEqual(block.read(0, 1024), bytes(1024))
            data = os.urandom(4096)
            block.write(8192, data)
            self.assertEqual(block.read(8192, 4096), data)
            block.write(0, bytearray(b"x" * 512))
            self.assertEqual(block.read(0, 512), b"x" * 512)
            block.flush()
            with self.assertRaises(rshare.InvalidArgument):
                block.read(100, 512)  # unaligned
            with self.assertRaises(rshare.InvalidArgument):
                block.read(MIB, 512)  # past the end
        self.assertRaises(rshare.Closed, block.read, 0, 512)

    def test_file(self):
        path = os.path.join(self.tmp, "disk.img")
        with open(path, "wb") as f:
            f.truncate(MIB)
        block = rshare.Block.open_file(self.node, path)
        block.write(512, b"A" * 512)
        block.flush()
        block.close()
        with open(path, "rb") as f:
            f.seek(512)
            self.assertEqual(f.read(512), b"A" * 512)
        ro = rshare.Block.open_file(self.node, path, readonly=True)
        self.assertTrue(ro.info["readonly"])
        with self.assertRaises(rshare.NotSupported):
            ro.write(0, bytes(512))
        ro.close()
        with self.assertRaises(rshare.Error):
            rshare.Block.open_file(self.node, os.path.join(self.tmp, "missing"))

    def test_objects_keep_their_node(self):
        node = rshare.Node(22, log=quiet_log)
        block = rshare.Block.open_memory(node, MIB)
        del node
        gc.collect()
        block.write(0, bytes(512))  # the node is alive through the block
        self.assertEqual(block.node.id, 22)
        self.assertFalse(block.node.closed)
        block.node.close()
        self.assertTrue(block.closed)

    def test_registration_and_cycles(self):
        block = rshare.Block.open_memory(self.node, MIB)
        rid = self.node.register_block(block, "disk0")
        self.assertEqual(block.resource_id, rid)
        self.assertEqual(rid >> 32, 21)
        local = self.node.resources(local=True)
        self.assertEqual([r["path"] for r in local], ["disk0"])
        self.assertEqual(local[0]["kind_name"], "block")
        self.assertEqual(local[0]["block_count"], MIB // 512)
        with self.assertRaises(rshare.AlreadyExists):
            self.node.register_block(block)
        self.node.withdraw(rid)
        self.assertEqual(self.node.resources(local=True), [])
        self.assertEqual(block.resource_id, 0)
        # A registered block the program dropped lives on with the node,
        # and a node in a reference cycle is collected.
        other = rshare.Node(23, log=quiet_log)
        other.register_block(rshare.Block.open_memory(other, MIB))
        other.set_handler(APP, lambda r, n=other: n.id)
        self.assertEqual(len(other.resources(local=True)), 1)
        del other
        gc.collect()


class ClusterTests(unittest.TestCase):
    """Two nodes on loopback build a RAID-1 volume from Python."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rshare-py-")
        self.a, self.b = make_pair(key=KEY, state=self.tmp, log=quiet_log)
        self.events = []
        self.a.set_cluster_callback(lambda ev, who: self.events.append((ev, who)))
        for node in (self.a, self.b):
            node.join_cluster(eligible=True, voters=[1, 2], hello_ms=100,
                              member_timeout_ms=1500, election_timeout_ms=300,
                              heartbeat_ms=50)

    def tearDown(self):
        self.a.close()
        self.b.close()
        shutil.rmtree(self.tmp)

    def share_disks(self):
        ids = []
        for node in (self.a, self.b):
            disk = rshare.Block.open_memory(node, 4 * MIB)
            ids.append(node.register_block(disk, "disk"))

        def in_map():
            return (self.a.manager != 0 and len(self.a.resources()) == 2 and
                    len(self.b.resources()) == 2)

        self.assertTrue(rshare.wait(in_map, 20000), "the disks never reached the map")
        return ids

    def test_raid1_volume(self):
        ids = self.share_disks()
        self.assertIn(self.a.manager, (1, 2))
        self.assertEqual(self.a.manager, self.b.manager)
        epoch, version = self.a.map_version
        self.assertGreater(version, 0)
        members = self.a.members()
        self.assertEqual(sorted(m["id"] for m in members), [1, 2])
        self.assertTrue(any(ev == rshare.EVENT_MANAGER for ev, _ in self.events))

        vid = self.a.define_volume("pyvol", "raid1", ids)
        self.assertGreater(vid, 0)
        [desc] = self.a.volumes()
        self.assertEqual((desc["name"], desc["layout"], desc["members"]),
                         ("pyvol", "raid1", ids))
        with self.assertRaises(rshare.AlreadyExists) as cm:
            self.a.define_volume("pyvol", rshare.LAYOUT_RAID1, ids)  # name taken
        self.assertEqual(cm.exception.code, rshare.EEXIST)
        with self.assertRaises(rshare.Busy):
            self.a.define_volume("bad", "raid1", ids)  # members of "pyvol" already
        with self.assertRaises(ValueError):
            self.a.define_volume("bad", "raid7", ids)

        progress = []
        vol = rshare.Volume(self.a, "pyvol",
                            progress=lambda st, done, total: progress.append((st, done, total)))
        self.assertEqual(vol.size, 4 * MIB)
        self.assertEqual(vol.block_size, 512)
        data = os.urandom(256 * 1024)
        vol.write(0, data)
        vol.write(3 * MIB, data[:4096])
        vol.flush()
        self.assertEqual(vol.read(0, len(data)), data)
        status = vol.status()
        self.assertEqual(status["state_name"], "optimal")
        self.assertEqual(status["members"], ids)
        self.assertGreaterEqual(status["writes"], 2)

        # Both copies hold the data: read each member directly.
        for rid in ids:
            with rshare.Block.open_resource(self.a, rid) as member:
                self.assertEqual(member.read(0, 4096), data[:4096])

        self.assertEqual(vol.scrub(), 0)
        # Mirrors take no discards (their copies could disagree after one).
        with self.assertRaises(rshare.NotSupported):
            vol.discard(0, 4096)
        self.assertEqual(vol.read(0, 4096), data[:4096])

        # Fail the remote member: the volume goes on from the other.
        vol.fail_member(1)
        self.assertEqual(vol.read(0, len(data)), data)
        self.assertEqual(vol.read(3 * MIB, 4096), data[:4096])
        self.assertEqual(vol.status()["state_name"], "degraded")
        self.assertEqual(vol.status()["member_state"][1], rshare.VOLUME_MEMBER_FAILED)
        vol.write(MIB, data[:8192])
        self.assertEqual(vol.read(MIB, 8192), data[:8192])
        with self.assertRaises(rshare.Busy):
            vol.scrub()  # needs every member in sync

        # Bring it back: rebuilt in the background, then consistent.
        vol.readd_member(1)

        def optimal():
            return vol.status()["state_name"] == "optimal"

        self.assertTrue(rshare.wait(optimal, 30000), vol.status())
        self.assertTrue(progress and progress[-1][1] == progress[-1][2], progress)
        self.assertEqual(vol.scrub(), 0)
        self.assertEqual(vol.scrub(repair=True), 0)
        with rshare.Block.open_resource(self.a, ids[1]) as member:
            self.assertEqual(member.read(MIB, 8192), data[:8192])
        vol.close()
        self.assertRaises(rshare.Closed, vol.read, 0, 512)

        # The other node opens it by name (its copy of the map has it).
        other = rshare.Volume(self.b, "pyvol", timeout_ms=10000)
        self.assertEqual(other.read(MIB, 8192), data[:8192])
        other.close()

    def test_node_close_closes_volume(self):
        ids = self.share_disks()
        self.a.define_volume("v2", "raid1", ids)
        vol = rshare.Volume(self.a, "v2")
        vol.write(0, b"z" * 4096)
        self.a.close()
        self.assertTrue(vol.closed)
        self.assertRaises(rshare.Closed, vol.read, 0, 512)


class MctpTransportTests(unittest.TestCase):
    """The serial transport over a real pty pair, and the SMBus transport's
    argument and error handling (no i2c-dev adapter here)."""

    def setUp(self):
        import pty
        import tty
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.a = rshare.Node(1, log=quiet_log)
        self.b = rshare.Node(2, log=quiet_log)

    def tearDown(self):
        self.a.close()
        self.b.close()
        os.close(self.master)
        os.close(self.slave)

    def test_two_nodes_over_a_pty(self):
        # One end by descriptor (the master), the other by device path.
        ta = self.a.add_serial(fd=self.master, eid=10)
        tb = self.b.add_serial(os.ttyname(self.slave), eid=11, baud=115200)
        self.assertEqual(self.a.mctp_eid(ta), 10)
        self.assertEqual(self.b.mctp_eid(tb), 11)
        self.a.add_peer(2, ta, "11")  # a peer on MCTP: its endpoint id
        self.b.add_peer(1, tb, "10")
        self.b.set_handler(APP, lambda r: r.data.upper())
        self.assertEqual(self.a.call(2, APP, b"over serial"), b"OVER SERIAL")
        # Many MCTP packets (251-byte payloads) one way, and back.
        big = os.urandom(20000)
        self.a.set_handler(APP + 1, lambda r: r.data[::-1])
        self.assertEqual(self.b.call(1, APP + 1, big), big[::-1])
        # A static neighbour entry is accepted on a point-to-point line.
        self.a.mctp_set_neighbour(ta, 11, "")

    def test_serial_bad_arguments(self):
        with self.assertRaises(ValueError):
            self.a.add_serial(fd=self.master)  # no eid
        with self.assertRaises(ValueError):
            self.a.add_serial(fd=self.master, eid=255)
        with self.assertRaises(ValueError):
            self.a.add_serial(eid=10)  # neither device nor fd
        with self.assertRaises(rshare.InvalidArgument) as cm:
            self.a.add_serial("/dev/null", eid=10)  # not a terminal
        self.assertEqual(cm.exception.code, rshare.EINVAL)
        self.assertIn("not a terminal", str(cm.exception))
        with self.assertRaises(rshare.OperatingSystemError) as cm:
            self.a.add_serial("/nonexistent/ttyS9", eid=10)
        self.assertEqual(cm.exception.code, rshare.ESYS)
        with self.assertRaises(rshare.InvalidArgument):
            self.a.mctp_eid(5)  # no such transport

    def test_smbus_errors(self):
        with self.assertRaises(rshare.InvalidArgument) as cm:
            self.a.add_smbus("/dev/null", "/dev/null", address=0x05, eid=10)
        self.assertIn("0x05", str(cm.exception))
        with self.assertRaises(rshare.InvalidArgument):
            self.a.add_smbus("/dev/null", "/dev/null", address=0x10, eid=10, block_mode=7)
        with self.assertRaises(ValueError):
            self.a.add_smbus("/dev/null", "/dev/null", address=0x100, eid=10)
        with self.assertRaises(rshare.OperatingSystemError) as cm:
            self.a.add_smbus("/nonexistent/i2c-9", "/nonexistent/slave-mqueue",
                             address=0x10, eid=10)
        self.assertIn("/nonexistent/i2c-9", str(cm.exception))


class KvmTests(unittest.TestCase):
    def test_host_to_target(self):
        a, b = make_pair(log=quiet_log)
        frames = []
        focus = []
        host = rshare.Kvm(a, targets=[2], on_focus=lambda t, l: focus.append((t, l)))
        target = rshare.Kvm(b, host=1, sink=lambda h, ev: frames.append((h, ev)))
        self.assertEqual(host.focus, 2)
        self.assertTrue(rshare.wait(lambda: host.target_up(2), 5000))
        key_a = 30
        host.input(rshare.EV_KEY, key_a, 1)
        host.input(rshare.EV_SYN, rshare.SYN_REPORT, 0)
        self.assertTrue(rshare.wait(lambda: target.pressed(key_a), 5000))
        self.assertEqual(frames[-1][0], 1)
        self.assertIn((rshare.EV_KEY, key_a, 1), frames[-1][1])
        host.input_events([(rshare.EV_KEY, key_a, 0), (rshare.EV_SYN, rshare.SYN_REPORT, 0)])
        self.assertTrue(rshare.wait(lambda: not target.pressed(key_a), 5000))
        self.assertEqual(target.pressed_count, 0)
        with self.assertRaises(rshare.NotFound):
            host.focus_set(3)
        with self.assertRaises(rshare.InvalidArgument):
            host.input(0x55, 0, 0)
        self.assertGreater(host.stats()["frames_sent"], 0)
        self.assertEqual(rshare.evdev_to_hid(key_a), 0x70004)  # keyboard page, 'a'
        with self.assertRaises(rshare.Busy):
            rshare.Kvm(a, targets=[2])  # one host handle per node
        a.close()
        b.close()
        self.assertTrue(host.closed and target.closed)

    def test_urgent_lanes(self):
        a, b = make_pair(log=quiet_log)
        a.add_udp("127.0.0.1:0", urgent_lane=True)
        b.add_udp("127.0.0.1:0", urgent_lane=True)
        frames = []
        host = rshare.Kvm(a, targets=[2])
        target = rshare.Kvm(b, host=1, sink=lambda h, ev: frames.append((h, ev)))
        self.assertTrue(rshare.wait(lambda: host.target_up(2), 5000))
        for _ in range(3):
            host.input(rshare.EV_KEY, 30, 1)
            host.input(rshare.EV_SYN, rshare.SYN_REPORT, 0)
            host.input(rshare.EV_KEY, 30, 0)
            host.input(rshare.EV_SYN, rshare.SYN_REPORT, 0)
            rshare.wait(lambda: False, 50)
        # The target's reports taught the host its lane, and the host's
        # input taught the target the host's: both read input on lanes.
        self.assertTrue(rshare.wait(lambda: b.stats()["rx_urgent_lane"] > 0, 5000))
        self.assertTrue(rshare.wait(lambda: a.stats()["rx_urgent_lane"] > 0, 5000))
        self.assertEqual(target.pressed_count, 0)
        a.close()
        b.close()

    def test_screen_edge(self):
        a, b = make_pair(log=quiet_log)
        frames = []
        host = rshare.Kvm(a, targets=[2])
        target = rshare.Kvm(b, host=1, sink=lambda h, ev: frames.append(ev))
        self.assertTrue(rshare.wait(lambda: host.target_up(2), 5000))
        self.assertIsNone(host.pointer)
        host.set_layout([dict(node=2, x=0, y=0, width=3840, height=2160)],
                        host_screen=(1920, 1080), corner_px=10)
        self.assertEqual(host.pointer, (1920, 1080))
        rel_x = 0
        host.input_events([(rshare.EV_REL, rel_x, 3), (rshare.EV_SYN, rshare.SYN_REPORT, 0)])
        self.assertEqual(host.pointer, (1926, 1080))  # twice as far on the larger display
        self.assertTrue(rshare.wait(lambda: frames, 5000))
        self.assertEqual(frames[-1][0], (rshare.EV_REL, rel_x, 6))
        with self.assertRaises(rshare.InvalidArgument):
            host.set_layout([dict(node=3, width=10, height=10)])  # not a target
        with self.assertRaises(TypeError):
            host.set_layout([5])
        host.set_layout([dict(node=2, width=3840, height=2160, flags=rshare.KVM_DISPLAY_ABSOLUTE)],
                        host_screen=(1920, 1080))
        host.input_events([(rshare.EV_REL, rel_x, 3), (rshare.EV_SYN, rshare.SYN_REPORT, 0)])
        self.assertEqual(host.pointer, (1926, 1080))
        self.assertTrue(rshare.wait(lambda: frames[-1][0][0] == rshare.EV_ABS, 5000))
        self.assertEqual(frames[-1][0], (rshare.EV_ABS, 0, 16439))  # ABS_X of pixel 1926
        host.set_layout(None)
        self.assertIsNone(host.pointer)
        self.assertEqual(host.stats()["edge_switches"], 0)
        a.close()
        b.close()

    def test_sink_exception_is_reported(self):
        a, b = make_pair(log=quiet_log)
        host = rshare.Kvm(a, targets=[2])

        def bad_sink(h, events):
            raise ValueError("sink failed")

        target = rshare.Kvm(b, host=1, sink=bad_sink)
        self.assertTrue(rshare.wait(lambda: host.target_up(2), 5000))
        with CaughtUnraisable() as caught:
            host.input(rshare.EV_KEY, 30, 1)
            host.input(rshare.EV_SYN, rshare.SYN_REPORT, 0)
            self.assertTrue(rshare.wait(lambda: caught.seen, 5000))
            self.assertIs(caught.seen[0].exc_type, ValueError)
            target.close()  # releases through the sink: reported again, no crash
        host.close()
        a.close()
        b.close()


class IdentityTests(unittest.TestCase):
    """Node keys, enrolment certificates and identity mode from Python."""

    def setUp(self):
        self.auth_pk, self.auth_sk = rshare.identity_keygen()
        self.nodes = []

    def tearDown(self):
        for node in self.nodes:
            node.close()

    def enrol(self, node_id, authority_sk=None):
        pk, sk = rshare.identity_keygen()
        cert = rshare.identity_certify(authority_sk or self.auth_sk, node_id, pk)
        return sk, cert

    def node(self, node_id, sk, cert, **kwargs):
        node = rshare.Node(node_id, identity_key=sk, identity_cert=cert,
                           authority_public_key=self.auth_pk, log=quiet_log, **kwargs)
        node.add_udp("127.0.0.1:0", mtu=65000)
        self.nodes.append(node)
        return node

    def test_keys_and_certificates(self):
        pk, sk = rshare.identity_keygen()
        self.assertEqual((len(pk), len(sk)), (rshare.IDENTITY_PUBLIC_KEY_BYTES,
                                              rshare.IDENTITY_SECRET_KEY_BYTES))
        self.assertEqual(rshare.identity_public_key(sk), pk)
        self.assertNotEqual(rshare.identity_keygen()[0], pk)
        cert = rshare.identity_certify(self.auth_sk, 42, pk)
        self.assertEqual(len(cert), rshare.IDENTITY_CERT_BYTES)
        self.assertEqual(rshare.identity_cert_verify(cert, self.auth_pk), (42, pk))
        # Another node id written into the certificate: the signature fails.
        tampered = cert[:7] + bytes([cert[7] ^ 1]) + cert[8:]
        with self.assertRaises(rshare.AuthenticationFailed) as cm:
            rshare.identity_cert_verify(tampered, self.auth_pk)
        self.assertEqual(cm.exception.code, rshare.EAUTH)
        other_pk, _ = rshare.identity_keygen()
        self.assertRaises(rshare.AuthenticationFailed, rshare.identity_cert_verify, cert,
                          other_pk)
        # Not a certificate at all: its magic ("RSC1") is wrong.
        self.assertRaises(rshare.ProtocolError, rshare.identity_cert_verify,
                          b"RSC0" + cert[4:], self.auth_pk)
        self.assertRaises(ValueError, rshare.identity_cert_verify, cert[:-1], self.auth_pk)
        self.assertRaises(ValueError, rshare.identity_certify, self.auth_sk, 0, pk)
        self.assertRaises(ValueError, rshare.identity_certify, pk, 1, pk)

    def test_node_arguments(self):
        sk, cert = self.enrol(5)
        self.assertRaises(ValueError, rshare.Node, 5, identity_key=sk, identity_cert=cert)
        self.assertRaises(ValueError, rshare.Node, 5, identity_key=sk[:32], identity_cert=cert,
                          authority_public_key=self.auth_pk)
        # A certificate for another node, or of another authority.
        with self.assertRaises(rshare.InvalidArgument):
            rshare.Node(6, identity_key=sk, identity_cert=cert,
                        authority_public_key=self.auth_pk, log=quiet_log)
        stranger_pk, _ = rshare.identity_keygen()
        with self.assertRaises(rshare.InvalidArgument):
            rshare.Node(5, identity_key=sk, identity_cert=cert,
                        authority_public_key=stranger_pk, log=quiet_log)

    def test_identity_mode(self):
        a = self.node(1, *self.enrol(1))
        b = self.node(2, *self.enrol(2))
        _, other_sk = rshare.identity_keygen()
        # Node 3 holds a certificate of another authority (its own check
        # of the certificate uses that authority too).
        sk3, cert3 = self.enrol(3, other_sk)
        c = rshare.Node(3, identity_key=sk3, identity_cert=cert3,
                        authority_public_key=rshare.identity_public_key(other_sk),
                        request_timeout_ms=500, log=quiet_log)
        c.add_udp("127.0.0.1:0", mtu=65000)
        self.nodes.append(c)
        for x, y in ((a, b), (b, a), (c, b), (b, c)):
            x.add_peer(y.id, 0, y.local_address(0))
        seen = []

        def echo(request):
            seen.append(request.peer)
            return request.data.upper()

        b.set_handler(APP, echo)
        self.assertEqual(a.call(2, APP, b"enrolled"), b"ENROLLED")
        self.assertGreater(b.stats()["handshakes"], 0)
        refused = b.stats()["rx_identity_refused"]
        with self.assertRaises((rshare.TimedOut, rshare.Unreachable)):
            c.call(2, APP, b"stranger")
        self.assertEqual(seen, [1])
        self.assertGreater(b.stats()["rx_identity_refused"], refused)
        self.assertEqual(c.stats()["handshakes"], 0)


def main():
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    if len(sys.argv) > 1:
        suite = loader.loadTestsFromNames(sys.argv[1:], sys.modules[__name__])
    runner = unittest.TextTestRunner(verbosity=2)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

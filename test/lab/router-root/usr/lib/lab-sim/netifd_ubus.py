# The ubus side of netifd-sim: objects, methods and the JSON-over-unix-socket protocol /bin/ubus speaks.
import json
import os
import socket
import time

from netifd_base import LOCK, dev_exists, log


class UbusError(Exception):
    def __init__(self, code):
        self.code = code


IFACE_METHODS = ["up", "down", "renew", "status", "prepare", "dump", "add_device", "remove_device",
                 "notify_proto", "remove", "set_data"]


def board():
    rel = {}
    try:
        with open("/etc/openwrt_release") as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    rel[k] = v.strip("'\"")
    except OSError:
        pass
    return {"kernel": os.uname().release, "hostname": socket.gethostname(), "system": "lab",
            "model": "owrt-ecmp lab router", "board_name": "lab,vm", "rootfs_type": "ext4",
            "release": {"distribution": rel.get("DISTRIB_ID", "OpenWrt"),
                        "version": rel.get("DISTRIB_RELEASE", ""), "revision": rel.get("DISTRIB_REVISION", ""),
                        "target": rel.get("DISTRIB_TARGET", ""), "description": rel.get("DISTRIB_DESCRIPTION", "")}}


class Ubus:
    def __init__(self, state):
        self.state = state

    def objects(self):
        objs = {"network": ["restart", "reload", "add_host_route", "get_proto_handlers", "add_dynamic",
                            "netns_updown"],
                "network.device": ["status", "set_alias", "set_state", "stp_init"],
                "network.interface": IFACE_METHODS, "system": ["board", "info"]}
        for n in self.state.ifaces:
            objs["network.interface." + n] = IFACE_METHODS
        return objs

    def status(self, i):
        st = self.state
        parent = st.ifaces.get(i.parent_name() or "")
        if i.parent_name():
            available = parent is not None and parent.state == "up"
        else:
            available = i.has_device() or i.device in st.devices
        return i.status(parent, available)

    def dump(self):
        return {"interface": [dict([("interface", n)] + list(self.status(i).items()))
                              for n, i in self.state.ifaces.items()]}

    def call(self, path, method, args):
        with LOCK:
            objs = self.objects()
            if path not in objs:
                raise UbusError(4)
            if method not in objs[path]:
                raise UbusError(3)
            if path == "system":
                if method == "board":
                    return board()
                return {"localtime": int(time.time()),
                        "uptime": int(float(open("/proc/uptime").read().split()[0]))}
            if path == "network":
                return self.call_network(method, args)
            if path == "network.device":
                if method == "status":
                    name = args.get("name")
                    if name and not dev_exists(name):
                        raise UbusError(4)
                    return {"present": True, "up": True} if name else {}
                raise UbusError(8)
            if method == "dump":
                return self.dump()
            if path == "network.interface":
                name = args.get("interface")
                if not isinstance(name, str):
                    raise UbusError(2)
            else:
                name = path[len("network.interface."):]
            iface = self.state.ifaces.get(name)
            if iface is None:
                raise UbusError(4)
            return self.call_iface(iface, method, args)

    def call_network(self, method, args):
        st = self.state
        if method in ("reload", "restart"):
            if method == "restart":
                for i in list(st.ifaces.values()):
                    if i.state != "down" and not i.dynamic:
                        i.reload_pending = i.autostart
                    st.set_down(i, admin=False)
            st.reload()
            return None
        if method == "add_dynamic":
            rc = st.add_dynamic(args)
            if rc:
                raise UbusError(rc)
            return None
        if method == "get_proto_handlers":
            return {"static": {}, "pppoe": {}, "dhcpv6": {}}
        raise UbusError(8)

    def call_iface(self, iface, method, args):
        st = self.state
        if method == "status":
            return self.status(iface)
        if method == "up":
            st.set_up(iface)
        elif method == "down":
            st.set_down(iface)
        elif method == "notify_proto":
            rc = st.notify(iface, args)
            if rc:
                raise UbusError(rc)
        elif method == "remove":
            if not iface.dynamic:
                raise UbusError(2)
            st.set_down(iface, admin=False)
        elif method == "set_data":
            iface.data.update(args)
        elif method != "renew":
            raise UbusError(8)
        return None

    def serve_client(self, conn):
        with conn:
            f = conn.makefile("rwb")
            line = f.readline()
            try:
                req = json.loads(line)
                if req.get("op") == "list":
                    with LOCK:
                        resp = {"status": 0, "objects": self.objects()}
                else:
                    args = req.get("args") or {}
                    if not isinstance(args, dict):
                        raise UbusError(2)
                    resp = {"status": 0, "data": self.call(req.get("path"), req.get("method"), args)}
            except UbusError as e:
                resp = {"status": e.code}
            except Exception as e:  # keep the daemon alive
                log("ubus request failed: %r" % e, "err")
                resp = {"status": 9}
            f.write((json.dumps(resp) + "\n").encode())
            f.flush()

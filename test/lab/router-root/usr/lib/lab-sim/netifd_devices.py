# `config device` sections netifd-sim creates: macvlan and bridge (netifd macvlan.c, bridge.c).
import os

from netifd_base import MGMT_DEV, cfg_list, dev_exists, ip, log


class DevicesMixin:
    def sync_devices(self, devices, initial):
        """Apply the `config device` sections of a (re)load; returns the names
        whose config changed (interfaces on them restart)."""
        changed = set()
        for name, old in list(self.devices.items()):
            new = devices.get(name)
            if new == old:
                continue
            if new is None or new.get("type") != old.get("type") or old.get("type") == "macvlan":
                changed.add(name)
                self.delete_device(name, old)
                del self.devices[name]
            else:
                # a bridge keeps existing and its interface stays up: only the ports change
                self.devices[name] = new
                self.ensure_device(name)
        for name, d in devices.items():
            if name not in self.devices:
                self.devices[name] = d
                self.ensure_device(name)
                if not initial:
                    changed.add(name)
        return changed

    def ensure_device(self, name):
        d = self.devices.get(name)
        if d is None:
            return dev_exists(name)
        if d.get("type") == "bridge":
            return self.ensure_bridge(name, d)
        return self.ensure_macvlan(name, d)

    def delete_device(self, name, d):
        if dev_exists(name) and name != MGMT_DEV:
            ip("link", "del", name)

    def ensure_macvlan(self, name, d):
        if dev_exists(name):
            return True
        parent = d.get("ifname")
        if len(name) > 15:
            log("Device name '%s' is too long (max 15 characters), not creating it" % name, "err")
            return False
        if not parent or not dev_exists(parent):
            return False
        ip("link", "set", parent, "up")
        args = ["link", "add", "link", parent, "name", name]
        if d.get("macaddr"):
            args += ["address", d["macaddr"]]
        args += ["type", "macvlan"]
        if d.get("mode"):
            args += ["mode", d["mode"]]
        r = ip(*args)
        if r.returncode != 0:
            log("Error adding macvlan '%s' over '%s': %s" % (name, parent, r.stderr.strip()), "err")
            return False
        ip("link", "set", name, "up")
        return True

    def ensure_bridge(self, name, d):
        """Create the bridge, enslave the ports that exist (a missing one is
        picked up by the next tick, as netifd does when the port appears),
        release ports no longer listed, bring it up."""
        if not dev_exists(name):
            args = ["link", "add", "name", name]
            if d.get("macaddr"):
                args += ["address", d["macaddr"]]
            r = ip(*(args + ["type", "bridge"]))
            if r.returncode != 0:
                log("Error adding bridge '%s': %s" % (name, r.stderr.strip()), "err")
                return False
        ports = [p for p in cfg_list(d.get("ports") or d.get("ifname")) if p != MGMT_DEV]
        for p in ports:
            if dev_exists(p) and self.master_of(p) != name:
                ip("link", "set", p, "master", name, check=True)
                ip("link", "set", p, "up")
        for p in self.bridge_ports(name):
            if p not in ports:
                ip("link", "set", p, "nomaster")
        ip("link", "set", name, "up")
        return True

    @staticmethod
    def master_of(dev):
        try:
            return os.path.basename(os.readlink("/sys/class/net/%s/master" % dev))
        except OSError:
            return None

    @staticmethod
    def bridge_ports(name):
        try:
            return sorted(os.listdir("/sys/class/net/%s/brif" % name))
        except OSError:
            return []

    def tick_devices(self):
        for name, d in self.devices.items():
            if d.get("type") == "bridge":
                ports = cfg_list(d.get("ports") or d.get("ifname"))
                if not dev_exists(name) or any(dev_exists(p) and self.master_of(p) != name for p in ports):
                    self.ensure_bridge(name, d)

# netifd-sim's interface state machine (netifd interface.c) and config (re)loading (config.c).
import ucisim
from netifd_base import APPLY_DELTAS, CONFDIR, LOCK, MGMT_DEV, RESTART_HOLDOFF, cfg_bool, dev_exists, ip, log, now
from netifd_devices import DevicesMixin
from netifd_iface import RELOAD_IP_KEYS, Iface, needs_restart
from netifd_ip import IpMixin
from netifd_pd import PdMixin
from netifd_ppp import PppMixin


def read_config():
    pkg = ucisim.load_for_daemon("network", CONFDIR, APPLY_DELTAS)
    ifaces, devices = [], {}
    if pkg is None:
        return ifaces, devices
    for s in pkg.sections:
        d = ucisim.section_dict(s)
        if s.type == "interface":
            ifaces.append((s.name, d))
        elif s.type == "device" and d.get("type") in ("macvlan", "bridge") and d.get("name"):
            devices[d["name"]] = d
    return ifaces, devices


class State(IpMixin, DevicesMixin, PppMixin, PdMixin):
    def __init__(self):
        self.ifaces = {}     # ordered: config order, dynamic ones appended
        self.devices = {}    # `config device` name -> section
        self.hotplug = None

    # ---------------------------------------------------------- config
    def reload(self, initial=False):
        with LOCK:
            ifaces, devices = read_config()
            changed_devs = self.sync_devices(devices, initial)
            names = [n for n, _ in ifaces]
            for i in list(self.ifaces.values()):
                if not i.dynamic and not i.removed and i.name not in names:
                    i.removed = True
                    self.set_down(i, admin=False)
            for name, cfg in ifaces:
                i = self.ifaces.get(name)
                if i is not None and i.removed and not i.dynamic:
                    # back in the config while still tearing down: the same interface,
                    # set up again with the new config once its protocol is down
                    i.removed, i.reload_pending, i.cfg = False, True, dict(cfg)
                    i.autostart = cfg_bool(cfg.get("auto"), True)
                    continue
                if i is None or i.removed:
                    i = Iface(name, cfg)
                    self.ifaces[name] = i
                    if i.autostart:
                        self.set_up(i)
                    continue
                self.change_config(i, cfg, i.device in changed_devs)
            order = [n for n in names if n in self.ifaces] + [n for n in self.ifaces if n not in names]
            self.ifaces = {n: self.ifaces[n] for n in order}
            self.write_resolv()

    def change_config(self, i, cfg, device_changed):
        """interface_change_config(): restart, reload_ip, or in place."""
        changed = {k for k in set(i.cfg) | set(cfg) if i.cfg.get(k) != cfg.get(k)}
        if not changed and not device_changed:
            return
        # autostart follows the config only when `auto` turns on; an interface set
        # down by hand stays down across other config changes
        if not cfg_bool(i.cfg.get("auto"), True) and cfg_bool(cfg.get("auto"), True):
            i.autostart = True
        if device_changed or needs_restart(i.cfg, cfg):
            i.cfg = dict(cfg)
            i.errors = []
            if i.state == "down":
                if i.autostart:
                    self.start(i)
            else:
                i.reload_pending = True  # IFC_RELOAD: set up again once the protocol is down
                self.set_down(i, admin=False)
            return
        if changed & RELOAD_IP_KEYS and i.state == "up":
            self.ip_set_enabled(i, False)  # removed with the old metric/table ...
            i.cfg = dict(cfg)
            self.ip_set_enabled(i, True)   # ... added with the new ones
        i.cfg = dict(cfg)
        if i.autostart and i.state == "down" and i.restart_at is None:
            self.start(i)  # interface_check_state

    # ---------------------------------------------------------- state machine
    def set_up(self, i):
        i.autostart = True
        if i.state != "down":
            return
        i.errors = []
        self.start(i)

    def start(self, i):
        i.restart_at = None
        if i.proto == "static":
            self.start_static(i)
        elif i.proto == "pppoe":
            self.start_pppoe(i)
        elif i.proto == "dhcpv6":
            i.state = "setup"
            self.check_dhcpv6(i)
        else:
            i.state = "down"

    def set_down(self, i, admin=True):
        """__interface_set_down: ifdown is queued before the protocol teardown;
        IFPEV_DOWN (proto_down) follows when the protocol has finished."""
        if admin:
            i.autostart = False
        if i.dynamic:
            i.removed = True  # netifd deletes a dynamic interface that is set down
        i.restart_at = None
        if i.state in ("up", "setup"):
            was_up = i.state == "up"
            i.state = "teardown"
            if was_up:
                self.hotplug.queue(i, "ifdown")
                self.drop_children(i)
            if i.proto == "pppoe":
                self.teardown_pppoe(i)
            else:
                self.proto_down(i)
        elif i.state == "down":
            self.after_down(i)
        self.write_resolv()

    def proto_down(self, i):
        """IFPEV_DOWN: mark_interface_down, then the pending config change."""
        prev = i.state
        if prev == "down":
            return
        i.state = "down"
        if prev == "up":
            self.hotplug.queue(i, "ifdown")
            self.drop_children(i)
        elif prev == "setup":
            self.hotplug.queue(i, "ifup-failed")
        log("Interface '%s' is now down" % i.name)
        self.flush_ip(i)
        self.after_down(i, restart=prev in ("up", "setup"))
        self.write_resolv()

    def after_down(self, i, restart=False):
        """interface_handle_config_change()."""
        if i.removed:
            self.free(i)
        elif i.reload_pending:
            i.reload_pending = False
            if i.autostart:
                self.start(i)
        elif restart and i.autostart:
            i.restart_at = now() + RESTART_HOLDOFF

    def free(self, i):
        """IFEV_FREE: the queued hotplug event of the interface is dropped."""
        self.hotplug.dequeue(i)
        if self.ifaces.get(i.name) is i:
            del self.ifaces[i.name]

    def flush_ip(self, i):
        self.pd_release(i)
        self.ip_set_enabled(i, False)
        i.l3_device = None
        i.addrs, i.routes, i.proto_dns, i.proto_search, i.updated = [], [], [], [], []

    def mark_up(self, i):
        i.state = "up"
        i.start_time = now()
        self.ip_set_enabled(i, True)
        self.hotplug.queue(i, "ifup")
        self.write_resolv()

    def link_lost(self, i):
        """IFPEV_LINK_LOST (ppp-down): down now, pending again until pppd exits."""
        if i.state != "up":
            return
        log("Interface '%s' has lost the connection" % i.name, "warning")
        i.state = "setup"
        self.hotplug.queue(i, "ifdown")
        self.drop_children(i)
        self.flush_ip(i)
        self.write_resolv()

    def drop_children(self, parent):
        """interface_alias_cb IFEV_DOWN: `@parent` interfaces lose their device;
        dynamic ones (<if>_6) are deleted and freed."""
        for c in list(self.ifaces.values()):
            if c.parent_name() != parent.name or c.state not in ("up", "setup"):
                continue
            if c.state == "up":
                self.hotplug.queue(c, "ifdown")
            c.state = "down"
            self.flush_ip(c)
            if c.dynamic:
                self.free(c)

    # ---------------------------------------------------------- static
    def start_static(self, i):
        dev = i.device
        if dev in self.devices:
            self.ensure_device(dev)
        if not dev_exists(dev):
            i.state = "setup"
            i.restart_at = now() + 5
            return
        i.addrs = static_addrs(i.cfg)
        i.routes = []
        if dev != MGMT_DEV:
            for key, v6, target in (("gateway", False, "0.0.0.0"), ("ip6gw", True, "::")):
                if i.cfg.get(key):
                    i.routes.append({"target": target, "mask": 0, "nexthop": i.cfg[key],
                                     "source": "%s/0" % target, "_v6": v6})
        ip("link", "set", dev, "up")
        i.l3_device = dev
        i.updated = ["addresses"]
        self.mark_up(i)

    # ---------------------------------------------------------- dynamic interfaces
    def add_dynamic(self, msg):
        name = msg.get("name")
        if not name or not ucisim.validate_name(name):
            return 2
        cfg = {k: v for k, v in msg.items() if k != "name" and isinstance(v, str) and v != ""}
        if "ifname" in cfg and "device" not in cfg:
            cfg["device"] = cfg.pop("ifname")
        old = self.ifaces.get(name)
        if old is not None:
            old.removed = True
            self.set_down(old, admin=False)
            self.free(old)
        i = Iface(name, cfg, dynamic=True)
        if msg.get("zone"):
            i.data["zone"] = msg["zone"]
        self.ifaces[name] = i
        self.set_up(i)
        return 0

    # ---------------------------------------------------------- periodic work
    def tick(self):
        with LOCK:
            self.tick_devices()
            t = now()
            for i in list(self.ifaces.values()):
                self.tick_teardown(i)
                if i.restart_at is not None and t >= i.restart_at and i.autostart:
                    i.restart_at = None
                    if i.state == "down" or (i.proto == "static" and i.state == "setup"):
                        i.state = "down"
                        self.start(i)
                if i.proto == "dhcpv6":
                    p = self.ifaces.get(i.parent_name() or "")
                    if i.state == "down" and i.autostart and p is not None and p.state == "up":
                        i.state = "setup"  # the parent's device is back: available again
                    self.check_dhcpv6(i)


def static_addrs(cfg):
    """proto-static: ipaddr (+ netmask, or a /prefix), ip6addr (list)."""
    out = []
    mask = cfg.get("netmask", "255.255.255.0")
    v4 = cfg.get("ipaddr")
    for a in (v4 if isinstance(v4, list) else (v4 or "").split()):
        if "/" in a:
            a, plen = a.split("/", 1)
            plen = int(plen)
        else:
            plen = sum(bin(int(x)).count("1") for x in mask.split("."))
        out.append({"address": a, "mask": plen, "_v6": False})
    v6 = cfg.get("ip6addr")
    for a in (v6 if isinstance(v6, list) else (v6 or "").split()):
        addr, _, plen = a.partition("/")
        out.append({"address": addr, "mask": int(plen or 64), "_v6": True})
    return out

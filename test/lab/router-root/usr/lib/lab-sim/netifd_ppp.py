# PPPoE the way OpenWrt's ppp.sh + proto-shell.c run it, and the dhcpv6 `<if>_6`
# sub-interface (odhcp6c dhcpv6.script) on top of it, for netifd-sim.
import ipaddress
import json
import os
import signal
import subprocess
import threading

from netifd_base import (FW_STATE, LOCK, LOGDIR, PPPD, PPPD_PLUGIN, TEARDOWN_TIMEOUT, cfg_bool,
                         dev_exists, ip, log, now)

PPP_EXIT = {0: "OK", 1: "FATAL_ERROR", 2: "OPTION_ERROR", 3: "NOT_ROOT", 4: "NO_KERNEL_SUPPORT",
            5: "USER_REQUEST", 6: "LOCK_FAILED", 7: "OPEN_FAILED", 8: "CONNECT_FAILED",
            9: "PTYCMD_FAILED", 10: "NEGOTIATION_FAILED", 11: "PEER_AUTH_FAILED",
            12: "IDLE_TIMEOUT", 13: "CONNECT_TIME", 14: "CALLBACK", 15: "PEER_DEAD", 16: "HANGUP",
            17: "LOOPBACK", 18: "INIT_FAILED", 19: "AUTH_TOPEER_FAILED", 20: "TRAFFIC_LIMIT",
            21: "CNID_AUTH_FAILED"}
# odhcp6c ra.c: a default router of medium preference becomes a route of metric 512
RA_ROUTE_METRIC = 512


def pppd_argv(i, dev):
    """ppp.sh ppp_generic_setup + proto_pppoe_setup (23.05)."""
    c = i.cfg
    keepalive = (c.get("keepalive") or "5 1").split()
    ipv6 = c.get("ipv6", "auto")
    mtu = c.get("mtu") or "1492"
    argv = [PPPD, "nodetach", "ipparam", i.name, "ifname", c.get("pppname") or "pppoe-%s" % i.name]
    if keepalive and keepalive[0] != "0":
        argv += ["lcp-echo-interval", keepalive[1] if len(keepalive) > 1 else "5",
                 "lcp-echo-failure", keepalive[0]]
        if c.get("keepalive_adaptive", "1") != "0":
            argv += ["lcp-echo-adaptive"]
    if ipv6 != "0":
        argv += ["+ipv6"]
    if ipv6 in ("auto", ""):
        argv += ["set", "AUTOIPV6=1"]
    if c.get("ip6table"):
        argv += ["set", "IP6TABLE=%s" % c["ip6table"]]
    if c.get("peerdns") is not None:
        argv += ["set", "PEERDNS=%s" % c["peerdns"]]
    # usepeerdns always: netifd itself leaves the servers out when peerdns is 0
    argv += ["nodefaultroute", "usepeerdns", "maxfail", "1"]
    if c.get("username"):
        argv += ["user", c["username"]]
    if c.get("password") is not None:
        argv += ["password", c.get("password", "")]
    argv += ["ip-up-script", "/lib/netifd/ppp-up", "ip-down-script", "/lib/netifd/ppp-down",
             "mtu", mtu, "mru", mtu, "plugin", PPPD_PLUGIN]
    for opt, key in (("rp_pppoe_ac", "ac"), ("rp_pppoe_service", "service"), ("host-uniq", "host_uniq"),
                     ("pppoe-padi-attempts", "padi_attempts"), ("pppoe-padi-timeout", "padi_timeout")):
        if c.get(key):
            argv += [opt, c[key]]
    argv += ["nic-%s" % dev]
    if c.get("pppd_options"):
        argv += c["pppd_options"].split()
    return argv


class PppMixin:
    def start_pppoe(self, i):
        dev = i.device
        if dev in self.devices:
            self.ensure_device(dev)
        if not dev_exists(dev):
            i.state = "down"
            i.restart_at = now() + 5  # wait for the device (netifd: interface not available)
            return
        ip("link", "set", dev, "up")
        os.makedirs(LOGDIR, exist_ok=True)
        logf = open(os.path.join(LOGDIR, "pppd-%s.log" % i.name), "ab")
        i.state = "setup"
        try:
            i.proc = subprocess.Popen(pppd_argv(i, dev), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      start_new_session=True)
        except OSError as e:
            log("cannot start pppd: %s" % e, "err")
            i.errors = [{"subsystem": "pppoe", "code": "FATAL_ERROR"}]
            self.proto_down(i)
            return
        finally:
            logf.close()
        threading.Thread(target=self.watch_pppd, args=(i, i.proc), daemon=True).start()

    def watch_pppd(self, i, proc):
        rc = proc.wait()
        with LOCK:
            if i.proc is not proc:
                return
            i.proc = None
            i.kill_at = None
            if rc != 0 and i.state != "teardown":
                err = {"subsystem": "pppoe", "code": PPP_EXIT.get(rc, "UNKNOWN_ERROR")}
                if err not in i.errors:
                    i.errors.append(err)
                if rc == 2 or (rc in (11, 19) and cfg_bool(i.cfg.get("authfail"), False)):
                    i.autostart = False  # proto_block_restart
            # the kernel has unregistered pppoe-<if> with its routes and nexthops
            self.proto_down(i)

    def teardown_pppoe(self, i):
        """proto-shell teardown: SIGTERM to pppd (so it can send LCP TermReq and
        PADT), IFPEV_DOWN only once it has exited; SIGKILL after 5 s."""
        if i.proc is None or i.proc.poll() is not None:
            i.proc = None
            self.proto_down(i)
            return
        try:
            i.proc.send_signal(signal.SIGTERM)
        except OSError:
            pass
        i.kill_at = now() + TEARDOWN_TIMEOUT

    def tick_teardown(self, i):
        if i.kill_at is not None and now() >= i.kill_at and i.proc is not None:
            log("Interface '%s': pppd did not exit in %.0f s, killing it" % (i.name, TEARDOWN_TIMEOUT), "warning")
            i.kill_at = None
            try:
                i.proc.kill()
            except OSError:
                pass

    # ---------------------------------------------------------- notify_proto from the ppp scripts
    def notify(self, i, msg):
        if i.state == "teardown":
            return 6  # proto-shell: UBUS_STATUS_PERMISSION_DENIED while tearing down
        action = msg.get("action")
        if action == "ppp-up":
            return self.ppp_up(i, msg)
        if action == "ppp6-up":
            return self.ppp6_up(i, msg)
        if action == "ppp-down":
            self.link_lost(i)
            return 0
        return 2

    def ppp_up(self, i, msg):
        if i.proto != "pppoe" or i.proc is None:
            return 8
        i.l3_device = msg.get("ifname") or "pppoe-%s" % i.name
        local, remote = msg.get("local", ""), msg.get("remote", "")
        i.addrs = [a for a in i.addrs if a["_v6"]] + [
            {"address": local, "mask": 32, "ptpaddress": remote or "2.2.2.2", "_v6": False}]
        i.routes = [r for r in i.routes if r["_v6"]]
        if remote:
            i.routes.append({"target": "0.0.0.0", "mask": 0, "nexthop": remote, "source": "0.0.0.0/0",
                             "_v6": False})
        # ppp-up always reports pppd's DNS1/DNS2; peerdns 0 only hides them (no_dns)
        i.proto_dns = [d for d in (msg.get("dns1"), msg.get("dns2")) if d]
        i.updated = ["addresses", "routes"]
        if i.state == "up":
            self.ip_set_enabled(i, True)
            self.hotplug.queue(i, "ifupdate")
        else:
            self.mark_up(i)
            log("Interface '%s' is now up" % i.name)
        self.write_resolv()
        return 0

    def ppp6_up(self, i, msg):
        if i.proc is None:
            return 8
        i.peer_ll = msg.get("remote") or None
        if not i.l3_device:
            i.l3_device = msg.get("ifname")
        if msg.get("local"):
            i.addrs = [a for a in i.addrs if not a["_v6"]] + [
                {"address": msg["local"], "mask": 128, "_v6": True}]
        i.updated = ["addresses"]
        for k, v in (("accept_ra", "2"), ("autoconf", "1"), ("accept_ra_defrtr", "0"), ("accept_ra_pinfo", "1")):
            try:
                with open("/proc/sys/net/ipv6/conf/%s/%s" % (i.l3_device, k), "w") as f:
                    f.write(v)
            except OSError:
                pass
        if i.state == "up":
            self.ip_set_enabled(i, True)
            self.hotplug.queue(i, "ifupdate")
        for c in self.ifaces.values():
            if c.device == "@" + i.name:
                self.check_dhcpv6(c)
        return 0

    # ---------------------------------------------------------- dhcpv6 on @parent
    def check_dhcpv6(self, c):
        """odhcp6c's dhcpv6.script: one `::/0 from <prefix>` default route per
        address/prefix, via the router, metric 512; the interface reports up once
        there is one. The lab's ISP gives SLAAC /64s only, so they stand in for
        the DHCPv6 prefixes."""
        p = self.ifaces.get(c.parent_name() or "")
        if c.state not in ("setup", "up") or p is None:
            return
        if p.state != "up" or not p.peer_ll or not p.l3_device or not dev_exists(p.l3_device):
            return
        if not in_firewall_zone(p.name) and not in_firewall_zone(c.name):
            return  # fw4's input policy drops the DHCPv6/RA replies (fact 13)
        prefixes, addrs = slaac(p.l3_device)
        if not prefixes:
            return
        routes = [{"target": "::", "mask": 0, "nexthop": p.peer_ll, "metric": RA_ROUTE_METRIC,
                   "source": pfx, "_v6": True} for pfx in prefixes] + self.pd_routes(c, p)
        addrs = [dict(a, _v6=True, _ext=True) for a in addrs]  # the kernel's SLAAC addresses: left alone
        if c.state == "up":
            if [strip(r) for r in c.routes] == [strip(r) for r in routes] and \
                    [a["address"] for a in c.addrs] == [a["address"] for a in addrs]:
                self.pd_assign(c)
                return
            self.ip_set_enabled(c, False)
            c.routes, c.addrs = routes, addrs
            c.updated = ["addresses", "routes"]
            self.ip_set_enabled(c, True)
            self.hotplug.queue(c, "ifupdate")
            return
        c.l3_device = p.l3_device
        c.routes, c.addrs = routes, addrs
        c.updated = ["addresses", "routes"]
        self.mark_up(c)
        self.pd_assign(c)


def strip(r):
    return {k: v for k, v in r.items() if not k.startswith("_")}


def in_firewall_zone(name):
    try:
        with open(FW_STATE) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return False
    return any(name in z.get("network", []) for z in st.get("zones", []))


def slaac(dev):
    out = ip("-6", "-o", "addr", "show", "dev", dev, "scope", "global").stdout
    addrs, prefixes = [], []
    for line in out.splitlines():
        parts = line.split()
        if "inet6" not in parts:
            continue
        addr, plen = parts[parts.index("inet6") + 1].split("/")
        entry = {"address": addr, "mask": int(plen)}
        for key, name in (("preferred_lft", "preferred"), ("valid_lft", "valid")):
            if key in parts:
                v = parts[parts.index(key) + 1].rstrip("sec")
                if v.isdigit():
                    entry[name] = int(v)
        addrs.append(entry)
        pfx = str(ipaddress.ip_network("%s/%s" % (addr, plen), strict=False))
        if pfx not in prefixes:
            prefixes.append(pfx)
    return sorted(prefixes), addrs  # stable order: the kernel lists the newest first

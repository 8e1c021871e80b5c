# One logical interface of netifd-sim and its ubus status (netifd ubus.c netifd_dump_status).
from netifd_base import cfg_bool, cfg_list, dev_exists, now

# netifd interface.c interface_change_config: a change of these only re-applies the IP
# settings (reload_ip: addresses and routes deleted and added again, no redial).
RELOAD_IP_KEYS = {"metric", "defaultroute", "ip4table", "ip6table"}
# The interface restarts (IFC_RELOAD: down, then up) when device/ifname or proto changes,
# or any option its protocol handler declares (uci_blob_check_equal over config_params):
_PPP = ("username password keepalive keepalive_adaptive demand pppd_options connect disconnect ipv6 "
        "authfail mtu pppname unnumbered reqprefix persist maxfail holdoff sourcefilter delegate norelease")
PROTO_PARAMS = {
    "pppoe": set((_PPP + " ac service host_uniq padi_attempts padi_timeout").split()),
    "static": set("ipaddr ip6addr netmask broadcast ptpaddr gateway ip6gw ip6prefix".split()),
    "dhcpv6": set(("reqaddress reqprefix clientid reqopts defaultreqopts noslaaconly forceprefix "
                   "extendprefix norelease noserverunicast noclientfqdn sourcefilter ra_holdoff").split()),
}
# Anything else (dns, dns_search, peerdns, auto, options netifd does not know) changes in place;
# `disabled` is treated as a restart here.
RESTART_KEYS = {"device", "ifname", "proto", "disabled"}


def needs_restart(old, new):
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    params = PROTO_PARAMS.get(old.get("proto", "none"), set())
    return bool(changed & (RESTART_KEYS | params))


def private(d):
    return {k: v for k, v in d.items() if not k.startswith("_")}


class Iface:
    def __init__(self, name, cfg, dynamic=False):
        self.name = name
        self.cfg = dict(cfg)
        self.dynamic = dynamic
        self.state = "down"          # down | setup | up | teardown
        self.autostart = cfg_bool(cfg.get("auto"), True) and not cfg_bool(cfg.get("disabled"), False)
        self.removed = False         # removed from the config: freed once its protocol is down
        self.errors = []
        self.data = {}
        self.proc = None             # pppd
        self.restart_at = None
        self.start_time = 0
        self.l3_device = None
        self.addrs = []              # proto addresses: address, mask, [ptpaddress...], _v6, _on
        self.routes = []             # proto routes: target, mask, nexthop, ..., _v6, _on, _args
        self.proto_dns = []
        self.proto_search = []
        self.updated = []
        self.peer_ll = None
        self.hotplug_ev = None
        self.reload_pending = False  # IFC_RELOAD: start again once the protocol is down
        self.kill_at = None          # teardown: SIGKILL pppd at this time
        self.prefixes = []           # dhcpv6: the delegated prefix (netifd_pd)
        self.assignments = []        # ip6assign: the piece of it this interface took

    # -- config accessors
    @property
    def proto(self):
        return self.cfg.get("proto", "none")

    @property
    def device(self):
        d = self.cfg.get("device") or self.cfg.get("ifname")
        if isinstance(d, list):
            d = d[0] if d else None
        return d

    @property
    def metric(self):
        try:
            return int(self.cfg.get("metric", "0"))
        except ValueError:
            return 0

    @property
    def defaultroute(self):
        return cfg_bool(self.cfg.get("defaultroute"), True)

    @property
    def no_dns(self):
        return not cfg_bool(self.cfg.get("peerdns"), True)

    @property
    def config_dns(self):
        return cfg_list(self.cfg.get("dns"))

    @property
    def config_search(self):
        return cfg_list(self.cfg.get("dns_search"))

    def table(self, v6):
        return self.cfg.get("ip6table" if v6 else "ip4table")

    def parent_name(self):
        d = self.device
        return d[1:] if d and d.startswith("@") else None

    def route_active(self, r):
        """netifd enable_route(): no default route with defaultroute 0."""
        return not (r["mask"] == 0 and not self.defaultroute)

    # -- status
    def status(self, parent=None, available=False):
        st = {"up": self.state == "up", "pending": self.state == "setup",
              "available": available, "autostart": self.autostart, "dynamic": self.dynamic}
        if self.state == "up":
            st["uptime"] = int(now() - self.start_time)
            if self.l3_device:
                st["l3_device"] = self.l3_device
        if self.proto in ("static", "pppoe", "dhcpv6", "dhcp", "none"):
            st["proto"] = self.proto
        dev = self.status_device(parent)
        if dev and self.proto != "none":
            st["device"] = dev
        if self.state == "up":
            self.status_ip(st)
        st["data"] = dict(self.data)
        if self.errors:
            st["errors"] = [dict(e) for e in self.errors]
        return st

    def status_ip(self, st):
        if self.updated:
            st["updated"] = list(self.updated)
        st["metric"] = self.metric
        st["dns_metric"] = 0
        st["delegation"] = True
        for key in ("ip4table", "ip6table"):
            if self.cfg.get(key):
                st[key] = self.cfg[key]
        st["ipv4-address"] = [private(a) for a in self.addrs if not a["_v6"]]
        st["ipv6-address"] = [private(a) for a in self.addrs if a["_v6"]]
        st["ipv6-prefix"] = [dict(p) for p in self.prefixes]
        st["ipv6-prefix-assignment"] = [dict(a) for a in self.assignments]
        st["route"] = [private(r) for r in self.routes if self.route_active(r)]
        # ubus.c dumps proto DNS under "inactive" when peerdns is 0
        proto_dns = [] if self.no_dns else self.proto_dns
        proto_search = [] if self.no_dns else self.proto_search
        st["dns-server"] = self.config_dns + proto_dns
        st["dns-search"] = self.config_search + proto_search
        st["neighbors"] = []
        st["inactive"] = {"ipv4-address": [], "ipv6-address": [],
                          "route": [private(r) for r in self.routes if not self.route_active(r)],
                          "dns-server": self.proto_dns if self.no_dns else [],
                          "dns-search": self.proto_search if self.no_dns else [],
                          "neighbors": []}

    def status_device(self, parent):
        if self.parent_name():
            return parent.l3_device if parent is not None and parent.state == "up" else None
        return self.device

    def has_device(self):
        return dev_exists(self.device)

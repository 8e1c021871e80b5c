# DHCPv6 prefix delegation for netifd-sim, reduced to what a LAN host needs for a global
# address: odhcp6c would receive an IA_PD and netifd would hand a piece of it to every
# interface with `ip6assign`. The lab has no DHCPv6: its ISP delegates by a fixed rule
# (isp/etc-ppp/ipv6-up), the session with IPv4 a.b.c.N gets 2001:db8:200:<N in hex>00::/56,
# routed to the session's link-local. Only one dhcpv6 interface on `wan` holds it (the
# first that comes up: wan_6 or wan6), and only the first `ip6assign` interface (lan)
# takes an assignment: its first subnet, address ::1 with the assignment's length, as
# netifd's interface_set_prefix_address does, plus netifd's unreachable route for the
# whole delegated prefix.
import ipaddress

from netifd_base import dev_exists, ip, log

PD_PARENT = "wan"
PD_LEN = 56
PD_METRIC = 512  # the source-specific default of the prefix: as dhcpv6.script's


def delegated_prefix(parent):
    """The lab ISP's rule (shared by contract, not by code, with isp/etc-ppp/ipv6-up)."""
    v4 = next((a["address"] for a in parent.addrs if not a["_v6"]), None)
    if not v4:
        return None
    return "2001:db8:200:%x00::/%d" % (int(v4.rsplit(".", 1)[1]), PD_LEN)


class PdMixin:
    pd_holder = None   # name of the dhcpv6 interface holding the delegation
    pd_assigned = None  # (lan interface name, address entry, unreachable route args)

    def pd_routes(self, c, p):
        """The delegated prefix's default route, if `c` holds (or may take) the delegation."""
        if p.name != PD_PARENT or not p.peer_ll:
            return []
        holder = self.ifaces.get(self.pd_holder or "")
        if holder is not None and holder is not c and holder.state == "up":
            return []
        pfx = delegated_prefix(p)
        if not pfx:
            return []
        self.pd_holder = c.name
        c.prefixes = [{"address": pfx.split("/")[0], "mask": PD_LEN}]
        return [{"target": "::", "mask": 0, "nexthop": p.peer_ll, "metric": PD_METRIC,
                 "source": pfx, "_v6": True}]

    def pd_assign(self, c):
        """Once the holder is up: the LAN's address from the prefix (idempotent)."""
        if self.pd_holder != c.name or c.state != "up" or not c.prefixes or self.pd_assigned:
            return
        lan = next((i for i in self.ifaces.values()
                    if i.cfg.get("ip6assign") and i.state == "up" and i.l3_device), None)
        if lan is None or not dev_exists(lan.l3_device):
            return
        size = int(lan.cfg["ip6assign"])
        pfx = c.prefixes[0]
        net = ipaddress.ip_network("%s/%d" % (pfx["address"], size))
        addr = {"address": str(net.network_address + 1), "mask": size, "_v6": True, "_pd": True}
        ip("-6", "addr", "replace", "%s/%d" % (addr["address"], size), "dev", lan.l3_device, check=True)
        unreach = ["-6", "route", "replace", "unreachable", "%s/%d" % (pfx["address"], pfx["mask"]),
                   "metric", "2147483647", "proto", "static"]
        ip(*unreach, check=True)
        lan.assignments = [{"address": str(net.network_address), "mask": size,
                            "local-address": {"address": addr["address"], "mask": size}}]
        self.pd_assigned = (lan.name, addr, unreach)
        log("Interface '%s': %s/%d assigned from %s's prefix" % (lan.name, net.network_address, size, c.name))

    def pd_release(self, i):
        """The holder goes down, or the LAN that took the assignment does."""
        if self.pd_assigned and i.name in (self.pd_holder, self.pd_assigned[0]):
            name, addr, unreach = self.pd_assigned
            lan = self.ifaces.get(name)
            if lan is not None:
                lan.assignments = []
                if lan.l3_device:
                    ip("-6", "addr", "del", "%s/%d" % (addr["address"], addr["mask"]), "dev", lan.l3_device)
            ip("-6", "route", "del", *unreach[3:])
            self.pd_assigned = None
        if i.name == self.pd_holder:
            i.prefixes = []
            self.pd_holder = None

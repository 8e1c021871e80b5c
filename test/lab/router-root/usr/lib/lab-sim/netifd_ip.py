# Addresses, routes and resolv.conf.auto of netifd-sim (netifd interface-ip.c).
import ipaddress
import os

from netifd_base import MGMT_DEV, RESOLV, dev_exists, ip, log


def addr_args(a, dev):
    fam = "-6" if a["_v6"] else "-4"
    args = [fam, "addr", "replace", "%s/%d" % (a["address"], a["mask"])]
    if a.get("ptpaddress"):
        args += ["peer", a["ptpaddress"]]
    return args + ["dev", dev]


def route_args(i, r):
    fam = "-6" if r["_v6"] else "-4"
    dst = "default" if r["mask"] == 0 else "%s/%d" % (r["target"], r["mask"])
    args = [fam, "route", "replace", dst]
    src = r.get("source", "")
    if r["_v6"] and src and src != "::/0":
        args += ["from", src]
    if r["nexthop"] not in ("0.0.0.0", "::"):
        args += ["via", r["nexthop"]]
    args += ["dev", i.l3_device, "metric", str(r.get("metric", i.metric)), "proto", "static"]
    table = i.table(r["_v6"])
    if table:
        args += ["table", table]
    return args


class IpMixin:
    """interface_ip_set_enabled(): addresses first, then routes, both when
    enabling and when disabling. The l3 device must still exist: routes are
    never re-created on a device the kernel removed (pppd exited)."""

    def ip_set_enabled(self, i, enabled):
        dev = i.l3_device
        if not dev or not dev_exists(dev):
            for x in i.addrs + i.routes:
                x["_on"] = False
            return
        for a in i.addrs:
            if a.get("_ext") or a.get("_on", False) == enabled:
                continue
            if enabled:
                ip(*addr_args(a, dev), check=True)
                if i.metric and dev != MGMT_DEV:
                    self.subnet_route(i, a, dev)
            elif dev != MGMT_DEV:  # lab contract: the management address stays
                if a.get("_subnet"):
                    ip(*a.pop("_subnet"))
                args = addr_args(a, dev)
                args[2] = "del"
                ip(*args)
            a["_on"] = enabled
        for r in i.routes:
            want = enabled and i.route_active(r) and dev != MGMT_DEV
            if r.get("_on", False) == want:
                continue
            if want:
                r["_args"] = route_args(i, r)
                if ip(*r["_args"], check=True).returncode != 0:
                    continue
            elif r.get("_args"):
                args = list(r["_args"])
                args[2] = "del"
                ip(*args)
            r["_on"] = want

    @staticmethod
    def subnet_route(i, a, dev):
        """interface_handle_subnet_route(): with a metric, the kernel's prefix
        route of an address is replaced by one carrying the interface metric."""
        fam = "-6" if a["_v6"] else "-4"
        net = str(ipaddress.ip_network("%s/%d" % (a["address"], a["mask"]), strict=False))
        ip(fam, "route", "del", net, "dev", dev, "proto", "kernel")
        args = [fam, "route", "replace", net, "dev", dev, "metric", str(i.metric), "proto", "static"]
        table = i.table(a["_v6"])
        if table:
            args += ["table", table]
        if ip(*args, check=True).returncode == 0:
            args[2] = "del"
            a["_subnet"] = args

    # ---------------------------------------------------------- resolv.conf.auto
    def resolv_text(self):
        out = []
        for name in sorted(self.ifaces):  # netifd walks its interface AVL tree: by name
            i = self.ifaces[name]
            if i.state != "up":
                continue
            if not (i.config_dns or i.config_search or i.proto_dns or i.proto_search):
                continue
            out.append("# Interface %s\n" % name)
            sets = [(i.config_dns, i.config_search)]
            if not i.no_dns:
                sets.append((i.proto_dns, i.proto_search))
            for servers, search in sets:
                out += ["nameserver %s\n" % resolv_server(s, i.device) for s in servers if valid_ip(s)]
                out += ["search %s\n" % d for d in search]
        return "".join(out)

    def write_resolv(self):
        """Written to a .tmp file and renamed over the old one, only when the content changed."""
        text = self.resolv_text()
        try:
            with open(RESOLV) as f:
                if f.read() == text:
                    return
        except OSError:
            pass
        tmp = RESOLV + ".tmp"
        try:
            os.makedirs(os.path.dirname(RESOLV) or ".", exist_ok=True)
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, RESOLV)
        except OSError as e:
            log("Failed to replace %s: %s" % (RESOLV, e), "err")


def valid_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def resolv_server(s, dev):
    a = ipaddress.ip_address(s)
    if a.version == 6 and a.is_link_local and dev:
        return "%s%%%s" % (a.compressed, dev)
    return a.compressed

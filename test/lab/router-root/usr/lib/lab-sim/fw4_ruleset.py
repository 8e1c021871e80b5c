# Lab fw4: the whole `table inet fw4` as an `nft -f` script (pure: config,
# zone devices and the offload decision in, text out). Shape follows firewall4:
# base chains hand each packet to the chain of the zone its device belongs to;
# zone chains end in accept/reject/drop chains that match the zone's devices again.
import fw4_match as m
import fw4_rules as r

VERB = {"ACCEPT": "accept", "REJECT": "reject", "DROP": "drop"}
ACT = {"accept": "accept", "reject": "jump handle_reject", "drop": "drop"}


class Builder:
    def __init__(self, cfg, devices, warn):
        self.cfg, self.devices, self.warn = cfg, devices, warn
        self.zones = {z["name"]: z for z in cfg["zones"]}
        self.chains = {}  # name -> list of rule lines (zone and helper chains, in creation order)
        self.verdicts = []  # (action, direction, zone) verdict chains referenced

    def chain(self, name):
        return self.chains.setdefault(name, [])

    def need(self, action, direction, zone):
        key = (action, direction, zone)
        if key not in self.verdicts:
            self.verdicts.append(key)
        return "jump %s_%s_%s" % key

    def zone_rules(self):
        for z in self.cfg["zones"]:
            for c in ("input_", "output_", "forward_"):
                self.chain(c + z["name"])
        red = {"fwd": set(), "in": set()}
        for d in self.cfg["redirects"]:
            placed = r.place_redirect(d, self.zones, self.warn)
            if placed:
                src, lines, fwd, inp = placed
                self.chain("dstnat_" + src).extend(lines)
                if fwd:
                    red["fwd"].add(src)
                if inp:
                    red["in"].add(src)
        for name in red["in"]:
            self.chains["input_" + name].insert(0, 'ct status dnat accept' + r.comment("Accept port redirections"))
        for name in red["fwd"]:
            self.chains["forward_" + name].insert(0, 'ct status dnat accept' + r.comment("Accept port forwards"))
        for d in self.cfg["rules"]:
            placed = r.place_rule(d, self.zones, self.need, self.warn)
            if placed:
                self.chain(placed[0]).extend(placed[1])
        for d in self.cfg["forwardings"]:
            f = r.forwarding_line(d, self.zones, self.need, self.warn)
            if f:
                self.chain("forward_" + f[0]).append(f[1])
        for z in self.cfg["zones"]:
            n = z["name"]
            self.chain("input_" + n).append(self.need(VERB[z["input"]], "from", n))
            self.chain("output_" + n).append(self.need(VERB[z["output"]], "to", n))
            self.chain("forward_" + n).append(self.need(VERB[z["forward"]], "to", n))

    def verdict_chains(self):
        for action, direction, zone in self.verdicts:
            z = self.zones[zone]
            key = "iifname" if direction == "from" else "oifname"
            lines = self.chain("%s_%s_%s" % (action, direction, zone))
            devs = self.devices.get(zone, [])
            if action == "accept" and direction == "to" and z["masq"] and not z["masq_allow_invalid"]:
                for dm in m.dev_matches("oifname", devs):
                    lines.append("meta nfproto ipv4 %s ct state invalid counter drop%s"
                                 % (dm, r.comment("Prevent NAT leakage")))
            for dm in m.dev_matches(key, devs):
                lines.append("%s counter %s%s" % (dm, ACT[action],
                                                  r.comment("%s %s IPv4/IPv6 traffic" % (action, zone))))

    def masq(self):
        for z in self.cfg["zones"]:
            lines = self.chain("srcnat_" + z["name"])
            self.chain("dstnat_" + z["name"])
            for fam, on in (("ipv4", z["masq"]), ("ipv6", z["masq6"])):
                if not on:
                    continue
                src = m.addr_match("saddr", z["masq_src"], fam) if z["masq_src"] else None
                dst = m.addr_match("daddr", z["masq_dest"], fam) if z["masq_dest"] else None
                if (z["masq_src"] and not src) or (z["masq_dest"] and not dst):
                    continue
                parts = [p for p in (src, dst) if p] or ["meta nfproto %s" % fam]
                lines.append("%s masquerade%s" % (" ".join(parts), r.comment(
                    "Masquerade %s %s traffic" % ("IPv4" if fam == "ipv4" else "IPv6", z["name"]))))


def _base(name, hook, prio, policy=None):
    pol = "; policy %s" % policy if policy else ""
    return "\tchain %s {\n\t\ttype %s hook %s priority %s%s;\n" % (name, "nat" if prio in ("dstnat", "srcnat") else "filter",
                                                                 hook, prio, pol)


def _jumps(b, key, prefix, what):
    out = []
    for z in b.cfg["zones"]:
        for dm in m.dev_matches(key, b.devices.get(z["name"], [])):
            out.append("%s jump %s_%s%s" % (dm, prefix, z["name"], r.comment(
                "Handle %s IPv4/IPv6 %s traffic" % (z["name"], what))))
    return out


def _chain_text(head, lines):
    return head + "".join("\t\t%s\n" % l for l in lines) + "\t}\n"


def render(cfg, devices, offload, ft_devices, mgmt_dev, warn, had_flowtable=False):
    """devices: zone name -> device list; offload: 'hw'|'sw'|'off'; had_flowtable: the
    loaded table has flowtable ft (fw4's check_flowtable)."""
    b = Builder(cfg, devices, warn)
    b.zone_rules()
    b.masq()
    b.verdict_chains()
    dflt = cfg["defaults"]
    pol = {c: "accept" if dflt[c] == "ACCEPT" else "drop" for c in ("input", "output", "forward")}
    tail = {c: ["jump handle_reject"] if dflt[c] == "REJECT" else [] for c in pol}
    guard = lambda key: (['%s "%s" accept comment "!lab: management interface, never filtered"' % (key, mgmt_dev)]
                         if mgmt_dev else [])
    # ruleset.uc: the table is flushed, never deleted. Deleting it and adding it again in one
    # transaction leaves the old base chains hooked, running their old rules, for a moment
    # after the commit while their sets are already gone: `ct state vmap` misses and
    # established flows meet handle_reject (seen on the lab as RSTs during reloads).
    out = ["table inet fw4\nflush table inet fw4\n%s\ntable inet fw4 {\n"
           % ("delete flowtable inet fw4 ft\n" if had_flowtable else "")]
    if offload != "off" and ft_devices:
        out.append("\tflowtable ft {\n\t\thook ingress priority 0;\n\t\tdevices = { %s };\n%s\t}\n\n"
                   % (", ".join('"%s"' % d for d in ft_devices), "\t\tflags offload;\n" if offload == "hw" else ""))
    syn = ["tcp flags & (fin | syn | rst | ack) == syn jump syn_flood" + r.comment("Rate limit TCP syn packets")] \
        if dflt["syn_flood"] else []
    flows = ["ct state vmap { established : accept, related : accept }"]
    out.append(_chain_text(_base("input", "input", "filter", pol["input"]),
                           ['iif "lo" accept' + r.comment("Accept traffic from loopback")] + guard("iifname")
                           + flows + syn + b.chains.pop("input", []) + _jumps(b, "iifname", "input", "input")
                           + tail["input"]))
    offl = (["meta l4proto { tcp, udp } flow add @ft" + r.comment("Offload established flows")]
            if offload != "off" and ft_devices else [])
    out.append(_chain_text(_base("forward", "forward", "filter", pol["forward"]),
                           offl + flows + b.chains.pop("forward", []) + _jumps(b, "iifname", "forward", "forward")
                           + tail["forward"]))
    out.append(_chain_text(_base("output", "output", "filter", pol["output"]),
                           ['oif "lo" accept' + r.comment("Accept traffic towards loopback")] + guard("oifname")
                           + flows + b.chains.pop("output", []) + _jumps(b, "oifname", "output", "output")
                           + tail["output"]))
    out.append(_chain_text("\tchain handle_reject {\n", [
        "meta l4proto tcp reject with tcp reset" + r.comment("Reject TCP traffic"),
        "reject with icmpx type port-unreachable" + r.comment("Reject any other traffic")]))
    if dflt["syn_flood"]:
        out.append(_chain_text("\tchain syn_flood {\n", [
            "limit rate 25/second burst 50 packets return" + r.comment("Accept SYN packets below rate-limit"),
            "drop" + r.comment("Drop excess packets")]))
    for name, lines in b.chains.items():
        out.append(_chain_text("\tchain %s {\n" % name, lines))
    out.append(_chain_text(_base("dstnat", "prerouting", "dstnat", "accept"), _jumps(b, "iifname", "dstnat", "dstnat")))
    out.append(_chain_text(_base("srcnat", "postrouting", "srcnat", "accept"), _jumps(b, "oifname", "srcnat", "srcnat")))
    out.append(_chain_text(_base("mangle_forward", "forward", "mangle", "accept"), mss_lines(b)))
    out.append("}\n")
    return "".join(out)


def mss_lines(b):
    out = []
    for z in b.cfg["zones"]:
        if not z["mtu_fix"]:
            continue
        for key, way in (("iifname", "ingress"), ("oifname", "egress")):
            for dm in m.dev_matches(key, b.devices.get(z["name"], [])):
                out.append("%s tcp flags syn / syn,fin,rst tcp option maxseg size set rt mtu%s"
                           % (dm, r.comment("Zone %s IPv4/IPv6 %s MTU fixing" % (z["name"], way))))
    return out

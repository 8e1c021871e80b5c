# Lab fw4: `config rule` / `config redirect` / `config forwarding` -> lines in
# zone chains (pure). Placement follows fw4: src+dest -> forward_<src>, src only ->
# input_<src>, dest only -> output_<dest>, neither -> output; `*` = any zone.
import fw4_match as m

PLAIN = {"ACCEPT": "accept", "REJECT": "jump handle_reject", "DROP": "drop"}


def comment(name):
    return ' comment "!fw4: %s"' % str(name).replace('"', "'")


def families(d, ps, addrs):
    """Which families one rule is rendered for; None = both in one rule."""
    fam = (d.get("family") or "any").lower()
    if fam in ("ipv4", "ipv6"):
        return [fam]
    seen = sorted({f for f in map(m.family_of, addrs) if f})
    if seen:
        return seen
    return ["ipv4", "ipv6"] if "icmp" in ps else [None]


def matches(d, fam, ps, sport, dport, daddr_key="dest_ip"):
    """Match expressions of one rule for one family, or None if the rule has
    addresses but none of this family."""
    out = []
    for key, direction in (("src_ip", "saddr"), (daddr_key, "daddr")):
        addrs = m.words(d.get(key))
        if addrs:
            am = m.addr_match(direction, addrs, fam)
            if am is None:
                return None
            out.append(am)
    if fam and not out:
        out.append("meta nfproto %s" % fam)
    types = m.words(d.get("icmp_type"))
    if ps == ["icmp"] and types and fam:
        icmps = m.icmp_matches(types, fam)
        if not icmps:
            return None
        return [out + [x] for x in icmps]
    return [out + m.l4_match(ps, fam, sport, dport)]


def rule_lines(d, verdict):
    ps = m.protos(d.get("proto"))
    addrs = m.words(d.get("src_ip")) + m.words(d.get("dest_ip"))
    sport, dport = m.ports(d.get("src_port")), m.ports(d.get("dest_port"))
    lim = m.limit(d.get("limit"), d.get("limit_burst"))
    lines = []
    for fam in families(d, ps, addrs):
        for parts in matches(d, fam, ps, sport, dport) or []:
            lines.append(" ".join(parts + ([lim] if lim else []) + ["counter", verdict])
                         + comment(d.get("name") or d["_where"]))
    return lines


def place_rule(d, zones, need, warn):
    """(chain, lines) for a `config rule`, or None if it cannot be placed."""
    target = (d.get("target") or "DROP").upper()
    if target not in PLAIN:
        warn("%s has unsupported target '%s' in the lab, ignoring" % (d["_where"], target))
        return None
    src, dest = d.get("src"), d.get("dest")
    for z in (src, dest):
        if z and z != "*" and z not in zones:
            warn("%s refers to unknown zone '%s', ignoring" % (d["_where"], z))
            return None
    if src and dest:
        chain = "forward" if src == "*" else "forward_" + src
        verdict = PLAIN[target] if dest == "*" else need(target.lower(), "to", dest)
    elif src:
        chain, verdict = ("input" if src == "*" else "input_" + src), PLAIN[target]
    elif dest:
        chain, verdict = ("output" if dest == "*" else "output_" + dest), PLAIN[target]
    else:
        chain, verdict = "output", PLAIN[target]
    return chain, rule_lines(d, verdict)


def dnat_target(dest_ip, dest_port, fam):
    if not dest_ip:
        return "redirect to :%s" % dest_port if dest_port else "redirect"
    if fam == "ipv6":
        return "dnat ip6 to [%s]:%s" % (dest_ip, dest_port) if dest_port else "dnat ip6 to %s" % dest_ip
    return "dnat ip to %s:%s" % (dest_ip, dest_port) if dest_port else "dnat ip to %s" % dest_ip


def place_redirect(d, zones, warn):
    """(src zone, DNAT lines, needs forward accept, needs input accept) or None."""
    if (d.get("target") or "DNAT").upper() != "DNAT":
        warn("%s: only DNAT redirects are simulated, ignoring" % d["_where"])
        return None
    src = d.get("src")
    if src not in zones:
        warn("%s has no valid source zone, ignoring" % d["_where"])
        return None
    dest_ip = d.get("dest_ip")
    ps = m.protos(d.get("proto"))
    sdport = m.ports(d.get("src_dport"))
    # Without dest_port the rewritten packet keeps its port (also for a src_dport range).
    dport = (d.get("dest_port") or "").replace(":", "-")
    fam = (d.get("family") or "").lower()
    if dest_ip:
        fams = [m.family_of(dest_ip)]
    else:
        fams = ["ipv4", "ipv6"] if fam == "any" else [fam if fam in ("ipv4", "ipv6") else "ipv4"]
    lines = []
    for f in fams:
        for parts in matches(d, f, ps, m.ports(d.get("src_port")), sdport, daddr_key="src_dip") or []:
            lines.append(" ".join(parts + ["counter", dnat_target(dest_ip, dport, f)])
                         + comment(d.get("name") or d["_where"]))
    return src, lines, bool(dest_ip), not dest_ip


def forwarding_line(d, zones, need, warn):
    src, dest = d.get("src"), d.get("dest")
    if src not in zones or dest not in zones:
        warn("%s refers to an unknown zone, ignoring" % d["_where"])
        return None
    fam = (d.get("family") or "any").lower()
    pre = "meta nfproto %s " % fam if fam in ("ipv4", "ipv6") else ""
    return src, "%s%s%s" % (pre, need("accept", "to", dest), comment("Accept %s to %s forwarding" % (src, dest)))

# Lab fw4: UCI option values -> nftables match expressions (pure functions).
# ICMP names as fw4 accepts them in icmp_type -> (type, code or None).
ICMP4 = {
    "echo-reply": (0, None), "destination-unreachable": (3, None), "network-unreachable": (3, 0),
    "host-unreachable": (3, 1), "protocol-unreachable": (3, 2), "port-unreachable": (3, 3),
    "fragmentation-needed": (3, 4), "source-quench": (4, None), "redirect": (5, None),
    "echo-request": (8, None), "router-advertisement": (9, None), "router-solicitation": (10, None),
    "time-exceeded": (11, None), "ttl-exceeded": (11, 0), "parameter-problem": (12, None),
    "timestamp-request": (13, None), "timestamp-reply": (14, None),
    "address-mask-request": (17, None), "address-mask-reply": (18, None),
}
ICMP6 = {
    "destination-unreachable": (1, None), "no-route": (1, 0), "communication-prohibited": (1, 1),
    "address-unreachable": (1, 3), "port-unreachable": (1, 4), "packet-too-big": (2, 0),
    "time-exceeded": (3, None), "ttl-zero-during-transit": (3, 0), "ttl-zero-during-reassembly": (3, 1),
    "parameter-problem": (4, None), "bad-header": (4, 0), "unknown-header-type": (4, 1),
    "unknown-option": (4, 2), "echo-request": (128, None), "echo-reply": (129, None),
    "router-solicitation": (133, None), "router-advertisement": (134, None),
    "neighbour-solicitation": (135, 0), "neighbor-solicitation": (135, 0),
    "neighbour-advertisement": (136, 0), "neighbor-advertisement": (136, 0), "redirect": (137, 0),
}
LIMIT_UNITS = {"s": "second", "sec": "second", "second": "second", "m": "minute", "min": "minute",
               "minute": "minute", "h": "hour", "hour": "hour", "d": "day", "day": "day"}


def words(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [w for x in v for w in x.split()]
    return v.split()


def nset(items):
    """One value bare, several as an anonymous set."""
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def dev_matches(key, devs):
    """`iifname`/`oifname` matches for a device list: plain names in one set,
    each wildcard (fw4's `+` suffix, nft `*`) in a match of its own."""
    plain = ['"%s"' % d for d in devs if not d.endswith("*")]
    out = ['%s %s' % (key, nset(plain))] if plain else []
    return out + ['%s "%s"' % (key, d) for d in devs if d.endswith("*")]


def family_of(addr):
    """ipv4/ipv6 by notation (no ipaddress import: every fw4 call pays for imports under TCG)."""
    a = addr.lstrip("!")
    if ":" in a:
        return "ipv6"
    return "ipv4" if a[:1].isdigit() else None


def addr_match(direction, addrs, family):
    """`ip saddr X` / `ip6 daddr { X, Y }` for the addresses of one family;
    a leading `!` negates (all entries must agree, as one match is built)."""
    picked = [a for a in addrs if family_of(a) == family]
    if not picked:
        return None
    neg = picked[0].startswith("!")
    vals = [a.lstrip("!") for a in picked]
    return "%s %s %s%s" % ("ip" if family == "ipv4" else "ip6", direction, "!= " if neg else "", nset(vals))


def ports(v):
    """`80`, `1000-2000`, `1000:2000`, `80 443` -> an nft port expression."""
    vals = [p.replace(":", "-") for p in words(v)]
    neg = bool(vals) and vals[0].startswith("!")
    vals = [p.lstrip("!") for p in vals]
    return ("!= " if neg else "") + nset(vals) if vals else None


def protos(v, default="tcp udp"):
    ps = [p.lower() for p in words(v if v is not None else default)]
    if "all" in ps or "any" in ps or "*" in ps:
        return []
    return ["icmp" if p in ("icmp", "icmpv6", "ipv6-icmp") else p for p in ps]


def l4_match(ps, family, sport, dport):
    """Protocol + port matches for one family ('ipv4'/'ipv6')."""
    names = ["ipv6-icmp" if (p == "icmp" and family == "ipv6") else p for p in ps]
    if not names:
        return []
    portful = sport or dport
    if len(names) == 1 and names[0] in ("tcp", "udp") and portful:
        out = []
        if sport:
            out.append("%s sport %s" % (names[0], sport))
        if dport:
            out.append("%s dport %s" % (names[0], dport))
        return out
    out = ["meta l4proto %s" % nset(names)]
    if portful and set(names) <= {"tcp", "udp"}:
        if sport:
            out.append("th sport %s" % sport)
        if dport:
            out.append("th dport %s" % dport)
    return out


def icmp_matches(types, family):
    """fw4 splits ICMP types into a type-only set and a type.code set."""
    table = ICMP4 if family == "ipv4" else ICMP6
    key = "icmp" if family == "ipv4" else "icmpv6"
    bare, coded = [], []
    for t in types:
        if t in table:
            typ, code = table[t]
        else:
            parts = t.split("/")
            if not all(p.isdigit() for p in parts):
                continue
            typ, code = int(parts[0]), int(parts[1]) if len(parts) > 1 else None
        (bare if code is None else coded).append((typ, code))
    out = []
    if bare:
        out.append("%s type %s" % (key, nset([str(t) for t, _ in bare])))
    if coded:
        out.append("%s type . %s code %s" % (key, key, "{ %s }" % ", ".join("%d . %d" % tc for tc in coded)))
    return out


def limit(v, burst):
    if not v:
        return None
    n, _, unit = v.partition("/")
    unit = LIMIT_UNITS.get(unit.lower(), "second")
    return "limit rate %s/%s%s" % (n, unit, " burst %s packets" % burst if burst else "")

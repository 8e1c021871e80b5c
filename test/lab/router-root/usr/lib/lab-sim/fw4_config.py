# Lab fw4: /etc/config/firewall (committed file + /tmp/.uci deltas, as fw4
# loads it through libuci) -> plain dicts. Warnings go to the `warn` callback.
import ucisim
from fw4_match import words

POLICIES = ("ACCEPT", "REJECT", "DROP")


def _policy(v, default, warn, where):
    p = (v or default).upper()
    if p not in POLICIES:
        warn("%s specifies invalid policy '%s', using '%s'" % (where, v, default))
        return default
    return p


def _enabled(d):
    return d.get("enabled", "1") not in ("0", "no", "off", "false")


def _where(stype, idx, d):
    return "Section @%s[%d]%s" % (stype, idx, " (%s)" % d["name"] if d.get("name") else "")


def load(confdir, warn):
    pkg = ucisim.load_for_daemon("firewall", confdir)
    if pkg is None:
        return None
    cfg = {"defaults": {}, "zones": [], "forwardings": [], "rules": [], "redirects": []}
    counts = {}
    raw = []
    for s in pkg.sections:
        idx = counts.get(s.type, 0)
        counts[s.type] = idx + 1
        raw.append((s.type, idx, ucisim.section_dict(s)))
    for stype, idx, d in raw:
        if stype == "defaults":
            cfg["defaults"] = d
    dflt = defaults(cfg["defaults"], warn)
    cfg["defaults"] = dflt
    for stype, idx, d in raw:
        where = _where(stype, idx, d)
        if stype == "zone":
            z = zone(d, dflt, warn, where)
            if z:
                cfg["zones"].append(z)
        elif stype in ("forwarding", "rule", "redirect") and _enabled(d):
            d = dict(d, _where=where)
            cfg[stype + "s"].append(d)
    return cfg


def defaults(d, warn):
    out = {"syn_flood": d.get("syn_flood", d.get("synflood_protect")) == "1",
           "flow_offloading": d.get("flow_offloading") == "1",
           "flow_offloading_hw": d.get("flow_offloading_hw") == "1"}
    for chain in ("input", "output", "forward"):
        out[chain] = _policy(d.get(chain), "DROP" if chain != "output" else "ACCEPT", warn,
                             "Section @defaults[0]")
    return out


def zone(d, dflt, warn, where):
    """The state-file shape (name/network/device/masq/masq6/mtu_fix) plus what
    the ruleset needs (policies, masq_src/masq_dest)."""
    name = d.get("name")
    if not name:
        warn("Section @zone is missing a name, ignoring")
        return None
    if not _enabled(d):
        return None
    return {"name": name, "network": words(d.get("network")), "device": words(d.get("device")),
            "masq": d.get("masq") == "1", "masq6": d.get("masq6") == "1",
            "mtu_fix": d.get("mtu_fix") == "1",
            "input": _policy(d.get("input"), dflt["input"], warn, where),
            "output": _policy(d.get("output"), dflt["output"], warn, where),
            "forward": _policy(d.get("forward"), dflt["forward"], warn, where),
            "masq_src": words(d.get("masq_src")), "masq_dest": words(d.get("masq_dest")),
            "masq_allow_invalid": d.get("masq_allow_invalid") == "1"}


STATE_KEYS = ("name", "network", "device", "masq", "masq6", "mtu_fix")


def state_zone(z):
    return {k: z[k] for k in STATE_KEYS}

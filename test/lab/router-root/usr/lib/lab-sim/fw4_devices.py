# Lab fw4: where zones meet the kernel. Zone devices come from netifd's view
# (`ubus call network.interface dump`: the l3_device of each listed network that
# is up) plus `list device`; offload decisions read sysfs the way fw4 does.
import json
import os
import subprocess

SYSFS = os.environ.get("FW4_SIM_SYSFS", "/sys/class/net")


def ubus_dump():
    """The interface list of `ubus call network.interface dump` ([] when netifd
    does not answer: then no network-listed zone has devices). Asked over the ubus
    socket in-process, as fw4 does through libubus (a second Python start costs
    seconds under TCG)."""
    path = os.environ.get("FW4_SIM_UBUS_DUMP")
    try:
        if path:
            with open(path) as f:
                data = json.load(f)
        else:
            import ubus_cli
            resp = ubus_cli.request({"op": "call", "path": "network.interface", "method": "dump", "args": {}}, 10)
            if resp.get("status"):
                return []
            data = resp.get("data") or {}
    except (OSError, ValueError):
        return []
    return data.get("interface", []) if isinstance(data, dict) else []


def zone_devices(zone, dump):
    """Devices of a zone in config order, without duplicates. A `<net>_6`
    dynamic interface shares its parent's l3_device, so listing the parent covers it."""
    out = []
    for net in zone["network"]:
        for iface in dump:
            if iface.get("interface") == net and iface.get("up") and iface.get("l3_device"):
                out.append(iface["l3_device"])
    for dev in zone["device"]:
        out.append(dev[:-1] + "*" if dev.endswith("+") else dev)
    seen = set()
    return [d for d in out if not (d in seen or seen.add(d))]


def exists(dev):
    return os.path.isdir(os.path.join(SYSFS, dev))


def _kind(dev):
    """rtnetlink link kind ("macvlan", "veth", ...) from iproute2's JSON; sysfs does
    not tell a macvlan apart (no DEVTYPE). None if iproute2 cannot say."""
    ip = os.environ.get("FW4_SIM_IP") or ("/usr/libexec/ip-full" if os.path.exists("/usr/libexec/ip-full") else "ip")
    try:
        r = subprocess.run([ip, "-d", "-j", "link", "show", "dev", dev], capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout)[0].get("linkinfo", {}).get("info_kind", "") if r.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _lowers(dev):
    try:
        return [n[len("lower_"):] for n in os.listdir(os.path.join(SYSFS, dev)) if n.startswith("lower_")]
    except OSError:
        return []


def on_macvlan(dev, dump, depth=0):
    """True if dev is a macvlan (by its rtnetlink kind; if iproute2 cannot tell, any
    sysfs lower_* link counts) or is stacked (lower_* links) on one. A PPP
    device shows no lower link, so for pppoe-X the interface's L2 `device` from the
    ubus dump is followed instead."""
    if depth > 8 or not exists(dev):
        return False
    lowers = _lowers(dev)
    kind = _kind(dev)
    if kind == "macvlan" or (kind is None and lowers):
        return True
    if not lowers:
        for iface in dump:
            if iface.get("l3_device") == dev and iface.get("device") and iface["device"] != dev:
                lowers.append(iface["device"])
    return any(on_macvlan(low, dump, depth + 1) for low in lowers)


def nft_check(nft, text):
    """nft -c: the kernel validates the batch and discards it."""
    try:
        r = subprocess.run([nft, "-c", "-f", "-"], input=text, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def flowtable_probe(nft, devices, hw):
    quoted = ", ".join('"%s"' % d for d in devices)
    return nft_check(nft, "add table inet fw4-offload-test\n"
                     "add flowtable inet fw4-offload-test ft { hook ingress priority 0; devices = { %s };%s }\n"
                     % (quoted, " flags offload;" if hw else ""))

# Lab fw4: validates /etc/config/firewall the way the lab needs and records
# the zones in /var/run/fw4-sim.state (read by netifd-sim and `fw4 network`).
# No nftables ruleset is generated: filtering/NAT are not simulated.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import ucisim  # noqa: E402

STATE = os.environ.get("NETIFD_SIM_FW_STATE", "/var/run/fw4-sim.state")
CONFDIR = os.environ.get("UCI_SIM_CONFDIR", "/etc/config")


def words(v):
    if v is None:
        return []
    if isinstance(v, list):
        out = []
        for x in v:
            out += x.split()
        return out
    return v.split()


def zones(quiet):
    pkg = ucisim.load_for_daemon("firewall", CONFDIR)
    if pkg is None:
        if not quiet:
            sys.stderr.write("Unable to load firewall config\n")
        return None
    out = []
    for s in pkg.sections:
        if s.type != "zone":
            continue
        d = ucisim.section_dict(s)
        name = d.get("name")
        if not name:
            if not quiet:
                sys.stderr.write("Section @zone is missing a name, ignoring\n")
            continue
        out.append({"name": name, "network": words(d.get("network")), "device": words(d.get("device")),
                    "masq": d.get("masq") == "1", "masq6": d.get("masq6") == "1",
                    "mtu_fix": d.get("mtu_fix") == "1"})
    return out


def loaded():
    try:
        with open(STATE) as f:
            return json.load(f).get("zones", [])
    except (OSError, ValueError):
        return None


def main(argv):
    args = [a for a in argv[1:] if a != "-q"]
    quiet = "-q" in argv[1:]
    cmd = args[0] if args else "help"
    if cmd in ("start", "reload", "restart"):
        z = zones(quiet)
        if z is None:
            return 1
        os.makedirs(os.path.dirname(STATE), exist_ok=True)
        tmp = STATE + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"zones": z}, f)
        os.rename(tmp, STATE)
        return 0
    if cmd == "stop" or cmd == "flush":
        try:
            os.unlink(STATE)
        except OSError:
            pass
        return 0
    if cmd == "check":
        return 0 if zones(quiet) is not None else 1
    if cmd in ("network", "device", "zone") and len(args) > 1:
        z = loaded()
        if z is None:
            z = zones(True) or []
        for zone in z:
            if cmd == "network" and args[1] in zone["network"]:
                print(zone["name"])
                return 0
            if cmd == "device" and args[1] in zone["device"]:
                print(zone["name"])
                return 0
            if cmd == "zone" and args[1] == zone["name"]:
                for d in zone["device"]:
                    print(d)
                return 0
        return 1
    sys.stderr.write("Usage: fw4 [-q] {start|stop|flush|restart|reload|check|network <net>|device <dev>|zone <zone>}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

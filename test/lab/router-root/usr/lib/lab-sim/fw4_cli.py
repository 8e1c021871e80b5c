# Lab fw4: turns /etc/config/firewall into a real nftables ruleset (`table inet
# fw4`) and applies it in one `nft -f` transaction, as OpenWrt 23.05's firewall4
# does; records the loaded zones in /var/run/fw4-sim.state (read by netifd-sim and
# `fw4 network|device|zone`). See test/lab/README.md for what is simplified.
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import fw4_config  # noqa: E402
import fw4_devices as dv  # noqa: E402
import fw4_ruleset  # noqa: E402

STATE = os.environ.get("NETIFD_SIM_FW_STATE", "/var/run/fw4-sim.state")
CONFDIR = os.environ.get("UCI_SIM_CONFDIR", "/etc/config")
# The lab's management NIC carries SSH; the shared lab contract says it is never filtered.
MGMT_DEV = os.environ.get("FW4_SIM_MGMT_DEV", "eth0")


def nft_bin():
    return os.environ.get("FW4_SIM_NFT") or shutil.which("nft") or "/usr/sbin/nft"


def log(msg, quiet):
    """fw4's notices: syslog (tag firewall) and, unless -q, stderr."""
    try:
        subprocess.run(["logger", "-t", "firewall", msg], timeout=5,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        pass
    if not quiet:
        sys.stderr.write(msg + "\n")


def warn(quiet):
    return lambda msg: None if quiet else sys.stderr.write("[!] %s\n" % msg)


def offload_mode(dflt, ft_devs, dump, quiet):
    """'hw' | 'sw' | 'off'. A macvlan cannot offload in hardware (no ndo_setup_tc),
    so fw4 falls back to software offloading for the whole ruleset (fact 14)."""
    if not dflt["flow_offloading"] or not ft_devs:
        return "off"
    nft = nft_bin()
    mode = "sw"
    if dflt["flow_offloading_hw"]:
        mv = [d for d in ft_devs if dv.on_macvlan(d, dump)]
        if mv:
            log("Hardware flow offloading unavailable: %s on a macvlan, falling back to software offloading"
                % ", ".join(mv), quiet)
        elif not dv.flowtable_probe(nft, ft_devs, hw=True):
            log("Hardware flow offloading unavailable, falling back to software offloading", quiet)
        else:
            mode = "hw"
    if mode == "sw" and not dv.flowtable_probe(nft, ft_devs, hw=False):
        # Not OpenWrt (kmod-nft-offload is in its default images): a host kernel without nf_flow_table.
        log("Flow offloading unavailable: the kernel has no flowtable support, disabling offloading", quiet)
        return "off"
    return mode


def build(quiet):
    """(config, ruleset text, offload mode) or None if the config cannot be loaded."""
    cfg = fw4_config.load(CONFDIR, warn(quiet))
    if cfg is None:
        if not quiet:
            sys.stderr.write("Unable to load firewall config\n")
        return None
    dump = dv.ubus_dump()
    devices = {z["name"]: dv.zone_devices(z, dump) for z in cfg["zones"]}
    ft = []
    for z in cfg["zones"]:
        ft += [d for d in devices[z["name"]] if "*" not in d and dv.exists(d) and d not in ft]
    mode = offload_mode(cfg["defaults"], ft, dump, quiet)
    had_ft = subprocess.run([nft_bin(), "list", "flowtable", "inet", "fw4", "ft"], capture_output=True).returncode == 0
    text = fw4_ruleset.render(cfg, devices, mode, ft, MGMT_DEV, warn(quiet), had_ft)
    return cfg, text, mode


def apply(text):
    r = subprocess.run([nft_bin(), "-f", "-"], input=text, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    return r.returncode == 0


def write_state(cfg, mode):
    d = cfg["defaults"]
    os.makedirs(os.path.dirname(STATE) or ".", exist_ok=True)
    # one temporary file per process: a reload from the 20-firewall hotplug and one by hand
    # can run at once, and the last rename wins as with any atomic replace
    tmp = "%s.%d.tmp" % (STATE, os.getpid())
    with open(tmp, "w") as f:
        json.dump({"zones": [fw4_config.state_zone(z) for z in cfg["zones"]],
                   "flow_offloading": d["flow_offloading"], "flow_offloading_hw": d["flow_offloading_hw"],
                   "offload": mode}, f)
    os.rename(tmp, STATE)


def loaded():
    try:
        with open(STATE) as f:
            return json.load(f).get("zones", [])
    except (OSError, ValueError):
        return None


def lookup(cmd, arg):
    z = loaded()
    if z is None:
        cfg = fw4_config.load(CONFDIR, lambda msg: None)
        z = cfg["zones"] if cfg else []
    for zone in z:
        if cmd == "network" and arg in zone["network"] or cmd == "device" and arg in zone["device"]:
            print(zone["name"])
            return 0
        if cmd == "zone" and arg == zone["name"]:
            for d in zone["device"]:
                print(d)
            return 0
    return 1


def stop():
    subprocess.run([nft_bin(), "delete", "table", "inet", "fw4"], capture_output=True)
    try:
        os.unlink(STATE)
    except OSError:
        pass
    return 0


def main(argv):
    args = [a for a in argv[1:] if a != "-q"]
    quiet = "-q" in argv[1:]
    cmd = args[0] if args else "help"
    if cmd in ("start", "reload", "restart", "print"):
        built = build(quiet)
        if built is None:
            return 1
        cfg, text, mode = built
        if cmd == "print":
            sys.stdout.write(text)
            return 0
        if not apply(text):
            return 1
        write_state(cfg, mode)
        return 0
    if cmd in ("stop", "flush"):
        return stop()
    if cmd == "check":
        return 0 if fw4_config.load(CONFDIR, warn(quiet)) is not None else 1
    if cmd in ("network", "device", "zone") and len(args) > 1:
        return lookup(cmd, args[1])
    sys.stderr.write("Usage: fw4 [-q] {start|stop|flush|restart|reload|print|check|"
                     "network <net>|device <dev>|zone <zone>}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

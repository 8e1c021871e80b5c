# Shared settings and small helpers of netifd-sim (the lab's netifd stand-in).
import os
import subprocess
import sys
import threading
import time

SOCK = os.environ.get("NETIFD_SIM_SOCK", "/var/run/netifd-sim.sock")
CONFDIR = os.environ.get("NETIFD_SIM_CONFDIR", "/etc/config")
IP = os.environ.get("NETIFD_SIM_IP", "/usr/libexec/ip-full")  # full iproute2 (always present in the lab image)
HOTPLUG = os.environ.get("NETIFD_SIM_HOTPLUG", "/sbin/hotplug-call")
FW_STATE = os.environ.get("NETIFD_SIM_FW_STATE", "/var/run/fw4-sim.state")
PIDFILE = os.environ.get("NETIFD_SIM_PIDFILE", "/var/run/netifd-sim.pid")
PPPD = os.environ.get("NETIFD_SIM_PPPD", "/usr/sbin/pppd")
# netifd's resolv_conf (netifd.h DEFAULT_RESOLV_CONF on OpenWrt builds: the file in /tmp/resolv.conf.d)
RESOLV = os.environ.get("NETIFD_SIM_RESOLV", "/tmp/resolv.conf.d/resolv.conf.auto")
LOGDIR = os.environ.get("NETIFD_SIM_LOGDIR", "/var/log/netifd-sim")
PPPD_PLUGIN = "pppoe.so"  # ppp 2.4.9 name, as in OpenWrt 23.05 (Debian also ships rp-pppoe.so)
RESTART_HOLDOFF = 3.0
# proto-shell.c: a teardown that has not finished after 5 s gets its processes SIGKILLed
TEARDOWN_TIMEOUT = 5.0
# the management NIC of the lab VM: its address is never removed and nothing is routed over it
MGMT_DEV = "eth0"
# netifd loads its config through a default libuci context, which applies
# the deltas staged in /tmp/.uci; NETIFD_SIM_APPLY_DELTAS=0 reads only the committed file
APPLY_DELTAS = os.environ.get("NETIFD_SIM_APPLY_DELTAS", "1") != "0"

LOCK = threading.RLock()


def log(msg, prio="notice"):
    try:
        subprocess.run(["logger", "-t", "netifd", "-p", "daemon." + prio, "--", msg],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
    except Exception:
        pass
    sys.stderr.write("netifd: %s\n" % msg)
    sys.stderr.flush()


def ip(*args, check=False):
    r = subprocess.run([IP] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 and check:
        log("ip %s: %s" % (" ".join(args), r.stderr.strip()), "err")
    return r


def dev_exists(name):
    return bool(name) and os.path.isdir("/sys/class/net/%s" % name)


def now():
    return time.monotonic()


def cfg_bool(v, default):
    if v is None:
        return default
    return v in ("1", "on", "true", "yes", "enabled")


def cfg_list(v):
    """A uci value read as netifd reads an array attribute (uci_blob): list items
    as they are, an option string split on white space."""
    if v is None:
        return []
    if isinstance(v, list):
        return list(v)
    return v.split()

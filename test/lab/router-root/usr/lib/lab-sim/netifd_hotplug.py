# netifd's hotplug event queue (interface-event.c), as netifd-sim runs it.
#
# One hotplug-call at a time, FIFO over interfaces, and per interface at most one
# event queued plus the one running:
# - while an event of interface X runs and none of X is queued: a new event is
#   queued unless it equals the running one (an ifupdate is always queued);
# - while an event of X runs and one of X is queued: a new event replaces the
#   queued one, an ifupdate is dropped;
# - while X is not running and an event of X is queued: a new event replaces it,
#   except an ifupdate does not replace a queued ifup; the queue position stays;
# - otherwise the event is appended.
# When an interface is freed (removed from the config, or a dynamic one dropped)
# its queued event is discarded and it stops counting as "running".
# DEVICE and the IFUPDATE_* flags are read when the handler starts, not when the
# event was queued; the next handler starts only after the previous one exited.
import os
import subprocess
import threading

from netifd_base import HOTPLUG, LOCK, log

FLAG_ENV = {"addresses": "IFUPDATE_ADDRESSES", "routes": "IFUPDATE_ROUTES",
            "prefixes": "IFUPDATE_PREFIXES", "data": "IFUPDATE_DATA"}


class Hotplug:
    def __init__(self):
        self.pending = []       # Iface objects, FIFO
        self.current = None     # Iface whose handler runs (None once freed)
        self.current_ev = None
        self.busy = False       # a hotplug-call process is running

    def queue(self, iface, ev):
        with LOCK:
            if self.current is iface:
                if iface in self.pending:
                    if ev != "ifupdate":
                        iface.hotplug_ev = ev
                elif ev != self.current_ev or ev == "ifupdate":
                    iface.hotplug_ev = ev
                    self.pending.append(iface)
            elif iface in self.pending:
                if not (iface.hotplug_ev == "ifup" and ev == "ifupdate"):
                    iface.hotplug_ev = ev
            else:
                iface.hotplug_ev = ev
                self.pending.append(iface)
            if not self.busy:
                self.run_next()

    def dequeue(self, iface):
        """IFEV_FREE: the interface is gone."""
        with LOCK:
            if self.current is iface:
                self.current = None
            if iface in self.pending:
                self.pending.remove(iface)

    def run_next(self):
        if not self.pending:
            return
        iface = self.pending.pop(0)
        ev = iface.hotplug_ev
        self.current, self.current_ev = iface, ev
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ACTION": ev, "INTERFACE": iface.name}
        if os.environ.get("LAB_SIM_ROOT"):  # host-side tests only
            env["LAB_SIM_ROOT"] = os.environ["LAB_SIM_ROOT"]
        if ev in ("ifup", "ifupdate") and iface.l3_device:
            env["DEVICE"] = iface.l3_device
        if ev == "ifupdate":
            for flag in iface.updated:
                env[FLAG_ENV[flag]] = "1"
        try:
            proc = subprocess.Popen([HOTPLUG, "iface"], env=env, stdin=subprocess.DEVNULL)
        except OSError as e:
            log("hotplug-call failed: %s" % e, "err")
            self.current = None
            self.run_next()
            return
        self.busy = True
        threading.Thread(target=self.wait, args=(proc,), daemon=True).start()

    def wait(self, proc):
        proc.wait()
        with LOCK:
            self.busy = False
            self.current = self.current_ev = None
            self.run_next()

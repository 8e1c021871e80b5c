/** Where the tool's router-side files live. All of them are listed in /etc/sysupgrade.conf. */
export const ROUTER_PATHS = {
  library: '/usr/lib/owrt-ecmp/owrt-ecmp.sh',
  /** sourced by the library from its own directory (OWRT_ECMP_LIBDIR) */
  pinLibrary: '/usr/lib/owrt-ecmp/owrt-ecmp-pin.sh',
  hotplug: '/etc/hotplug.d/iface/95-owrt-ecmp',
  sysctl: '/etc/sysctl.d/60-owrt-ecmp.conf',
  monitor: '/usr/lib/owrt-ecmp/health.sh',
  service: '/etc/init.d/owrt-ecmp',
} as const;
export const ROUTER_FILES: readonly string[] = Object.values(ROUTER_PATHS);
/** `/etc/init.d/owrt-ecmp enable` makes it (START=96); kept across sysupgrade like the files. */
export const SERVICE_LINK = '/etc/rc.d/S96owrt-ecmp';
/** The monitor's run-time file (tmpfs): dial health, read by the library and by status. */
export const HEALTH_FILE = '/var/run/owrt-ecmp.health';
export const SYSUPGRADE_FILES: readonly string[] = [...ROUTER_FILES, SERVICE_LINK];

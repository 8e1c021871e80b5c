/** Where the tool's router-side files live. All of them are listed in /etc/sysupgrade.conf. */
export const ROUTER_PATHS = {
  library: '/usr/lib/owrt-ecmp/owrt-ecmp.sh',
  /** sourced by the library from its own directory (OWRT_ECMP_LIBDIR) */
  pinLibrary: '/usr/lib/owrt-ecmp/owrt-ecmp-pin.sh',
  hotplug: '/etc/hotplug.d/iface/95-owrt-ecmp',
  sysctl: '/etc/sysctl.d/60-owrt-ecmp.conf',
} as const;
export const ROUTER_FILES: readonly string[] = Object.values(ROUTER_PATHS);

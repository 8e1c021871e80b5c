/**
 * What the support dump may show in clear: option names known to carry no secret, per UCI
 * package and section type. Everything else is masked on the router before it is sent
 * (templates/redact.sh.hbs): options not listed here, every option of a package or section
 * type not listed here, and any option whose name looks like a credential even if listed.
 *
 * A dump is meant to be pasted into a public issue; a missing harmless option costs a
 * question in that issue, a wrongly listed secret costs the user's credentials.
 */

/** Names that look like credentials: masked whatever the lists below say. */
export const SECRET_NAME = /key|secret|psk|pass|pin|private|token|auth/i;

/** A section type ending in `_*` stands for every type with that prefix (`wireguard_wg0`). */
export const HARMLESS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  network: {
    globals: ['ula_prefix', 'packet_steering'],
    interface: [
      'proto', 'device', 'ifname', 'type', 'auto', 'disabled', 'force_link', 'metric', 'mtu', 'macaddr',
      'ipaddr', 'netmask', 'gateway', 'broadcast', 'dns', 'dns_metric', 'peerdns', 'defaultroute',
      'ipv6', 'ip6assign', 'ip6addr', 'ip6gw', 'ip6prefix', 'ip6hint', 'ip6class', 'ip6ifaceid', 'delegate',
      'reqaddress', 'reqprefix', 'sourcefilter', 'norelease', 'keepalive', 'demand', 'ac', 'service',
      'apn', 'pdptype', 'mode', 'addresses', 'listen_port', 'fwmark', 'multipath', 'ip4table', 'ip6table',
      'owrt_ecmp',
    ],
    device: ['name', 'type', 'ports', 'ifname', 'macaddr', 'mtu', 'mtu6', 'ipv6', 'mode', 'bridge_empty', 'stp', 'vid', 'txqueuelen', 'owrt_ecmp'],
    'wireguard_*': ['description', 'endpoint_host', 'endpoint_port', 'allowed_ips', 'route_allowed_ips', 'persistent_keepalive'],
    route: ['interface', 'target', 'netmask', 'gateway', 'metric', 'table', 'type', 'mtu', 'source', 'onlink'],
    route6: ['interface', 'target', 'gateway', 'metric', 'table', 'type', 'mtu', 'source', 'onlink'],
    rule: ['in', 'out', 'src', 'dest', 'lookup', 'priority', 'mark', 'invert', 'action', 'goto', 'tos', 'ipproto', 'sport', 'dport', 'suppress_prefixlength', 'uidrange'],
    rule6: ['in', 'out', 'src', 'dest', 'lookup', 'priority', 'mark', 'invert', 'action', 'goto', 'tos', 'ipproto', 'sport', 'dport', 'suppress_prefixlength', 'uidrange'],
    switch: ['name', 'reset', 'enable_vlan'],
    switch_vlan: ['device', 'vlan', 'vid', 'ports'],
    'bridge-vlan': ['device', 'vlan', 'ports', 'local'],
  },
  firewall: {
    defaults: ['input', 'output', 'forward', 'syn_flood', 'synflood_protect', 'drop_invalid', 'flow_offloading', 'flow_offloading_hw', 'tcp_syncookies', 'disable_ipv6'],
    zone: ['name', 'network', 'device', 'subnet', 'input', 'output', 'forward', 'masq', 'masq6', 'masq_src', 'masq_dest', 'mtu_fix', 'family', 'log', 'enabled'],
    forwarding: ['src', 'dest', 'family', 'enabled'],
    rule: ['name', 'src', 'dest', 'proto', 'src_ip', 'dest_ip', 'src_port', 'dest_port', 'src_mac', 'icmp_type', 'family', 'target', 'limit', 'mark', 'set_mark', 'enabled', 'ipset'],
    redirect: ['name', 'src', 'dest', 'proto', 'src_ip', 'src_dip', 'src_port', 'src_dport', 'dest_ip', 'dest_port', 'family', 'target', 'reflection', 'enabled'],
    include: ['path', 'type', 'family', 'reload', 'fw4_compatible', 'enabled'],
    ipset: ['name', 'match', 'family', 'enabled'],
  },
  wireless: {
    'wifi-device': ['type', 'path', 'band', 'hwmode', 'channel', 'channels', 'htmode', 'country', 'cell_density', 'txpower', 'disabled', 'noscan', 'legacy_rates'],
    'wifi-iface': ['device', 'network', 'mode', 'ssid', 'encryption', 'disabled', 'hidden', 'isolate', 'ifname', 'wds', 'ieee80211r', 'ieee80211w', 'multi_ap'],
  },
  dhcp: {
    dnsmasq: ['domainneeded', 'boguspriv', 'localise_queries', 'rebind_protection', 'rebind_localhost', 'local', 'domain', 'expandhosts', 'readethers', 'leasefile', 'resolvfile', 'noresolv', 'localservice', 'ednspacket_max', 'server', 'cachesize', 'port', 'filterwin2k', 'nonegcache', 'logqueries', 'interface', 'notinterface', 'confdir', 'strictorder', 'allservers'],
    dhcp: ['interface', 'start', 'limit', 'leasetime', 'dhcpv4', 'dhcpv6', 'ra', 'ra_flags', 'ra_management', 'ra_default', 'ndp', 'master', 'ignore', 'force', 'dns', 'dhcp_option'],
    odhcpd: ['maindhcp', 'leasefile', 'leasetrigger', 'loglevel', 'piofolder'],
  },
  system: {
    system: ['hostname', 'timezone', 'zonename', 'log_size', 'log_proto', 'conloglevel', 'cronloglevel', 'ttylogin', 'urandom_seed', 'compat_version'],
    timeserver: ['enabled', 'enable_server', 'server'],
  },
  dropbear: {
    dropbear: ['Port', 'Interface', 'GatewayPorts', 'enable'],
  },
  ddns: {
    ddns: ['ddns_dateformat', 'ddns_rundir', 'ddns_logdir', 'ddns_loglines', 'use_curl'],
    service: ['enabled', 'service_name', 'lookup_host', 'domain', 'use_ipv6', 'use_https', 'interface', 'ip_source', 'ip_network', 'ip_interface', 'check_interval', 'check_unit', 'force_interval', 'force_unit', 'retry_interval', 'retry_unit'],
  },
  // our own package holds settings and the values to restore, never a credential
  owrt_ecmp: {
    owrt_ecmp: ['*'],
    restore: ['*'],
  },
};

/** `package.type.option` entries for the router-side filter; `*` as option allows every name. */
export function allowEntries(): string[] {
  const out: string[] = [];
  for (const [pkg, types] of Object.entries(HARMLESS)) {
    for (const [type, options] of Object.entries(types)) for (const o of options) out.push(`${pkg}.${type}.${o}`);
  }
  for (const e of out) {
    // the list is pasted into a single-quoted shell word and an awk string
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_*-]+\.[A-Za-z0-9_*]+$/.test(e)) throw new Error(`bad allow-list entry ${e}`);
  }
  return out;
}

import { healthLabel } from '../report/health.js';
import type { StatusReport } from '../report/status.js';

function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v}${units[i]}`;
}

function duration(s: number | null): string {
  if (s === null) return '-';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  if (r.settings) {
    out.push(
      `owrt-ecmp: ${r.settings.dials} dial(s) on ${r.settings.wan}, route mode ${r.routeMode}, balance ${r.settings.balance}, ipv6 ${r.settings.ipv6}, ECMP metric ${r.settings.ecmpMetric}`,
      '',
    );
    const rows = [['DIAL', 'INTERFACE', 'DEVICE', 'STATE', 'UPTIME', 'IPV4', 'V4', 'V6', 'W', 'RX', 'TX', 'HEALTH', 'LAST ERROR']];
    for (const d of r.dials) {
      rows.push([
        String(d.dial),
        d.interface,
        d.device,
        d.state,
        duration(d.uptimeSeconds),
        d.ipv4 ?? '-',
        d.inIpv4Ecmp ? 'yes' : 'no',
        r.settings.ipv6 === 'ecmp' ? (d.inIpv6Ecmp ? 'yes' : 'no') : '-',
        String(d.weight),
        bytes(d.rxBytes),
        bytes(d.txBytes),
        healthLabel(d.health, r.monitor.mode !== 'redial'),
        d.lastError ?? '',
      ]);
    }
    out.push(table(rows), '');
  }
  const nh = (list: StatusReport['ecmp']['ipv4']) =>
    list.length ? list.map((n) => `${n.dev}${n.gateway ? ` via ${n.gateway}` : ''} w${n.weight}${n.flags.length ? ` [${n.flags.join(',')}]` : ''}`).join(', ') : 'none';
  out.push(`IPv4 ECMP nexthops: ${nh(r.ecmp.ipv4)}${r.ecmp.nhid4 ? ` (group ${r.ecmp.nhid4})` : ''}`);
  out.push(`IPv6 ECMP nexthops: ${nh(r.ecmp.ipv6)}${r.ecmp.nhid6 ? ` (group ${r.ecmp.nhid6})` : ''}`);
  out.push(
    `hash policy: ipv4 ${r.sysctl['ipv4/fib_multipath_hash_policy'] ?? '?'}, ipv6 ${r.sysctl['ipv6/fib_multipath_hash_policy'] ?? '?'}, use_neigh ${r.sysctl['ipv4/fib_multipath_use_neigh'] ?? '?'}`,
  );
  const m = r.monitor;
  out.push(
    `dial monitor: ${m.running ? (m.mode === 'redial' ? 'running, redial only (refused and dead dials; --health on adds silence probes)' : `running, probe target ${m.target ?? '?'}`) : m.enabled ? 'NOT RUNNING' : 'off (--health off)'}${m.enabled && !m.bootEnabled ? ', not enabled at boot' : ''}`,
  );
  out.push(`hotplug script: ${r.hotplug.installed ? (r.hotplug.matches ? 'installed, up to date' : 'installed, OUT OF DATE') : 'MISSING'}`);
  out.push('', r.healthy ? 'healthy' : `unhealthy:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return out.join('\n');
}

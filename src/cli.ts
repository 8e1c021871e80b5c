#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { installInterruptHandler } from './commands/interrupt.js';
import { ExitCode, HostKeyError, OwrtEcmpError } from './errors.js';
import { errorJson, usageErrorJson, wantsJson, writeJson } from './output/json.js';
import { HEALTH_MODES } from './settings.js';
import { TOOL_VERSION } from './version.js';

const EXIT_CODES = `
Exit codes:
  0  success (status: healthy)          6  a command on the router failed
  1  failure                            7  the router lacks a capability
  2  usage error                        8  status/setup: not healthy (dial down, route missing)
  3  cannot connect                     9  another run or a config edit got in the way
  4  authentication failed             10  the change was rolled back
  5  host key unknown or changed      130  interrupted (Ctrl-C); says whether and when the router reverts

Environment:
  OWRT_ECMP_HOST             default for --host
  OWRT_ECMP_PPPOE_USERNAME   username for the new dials (default: copied from wan)
  OWRT_ECMP_PPPOE_PASSWORD   password for the new dials (default: copied from wan)
  OWRT_ECMP_SSH_PASSWORD     SSH password, if the router does not take your key
  OWRT_ECMP_SSH_PASSPHRASE   passphrase of an encrypted identity file
`;

function sshOptions(cmd: Command): Command {
  return cmd
    .option('-H, --host <[user@]host[:port]>', 'the router, or a Host alias from ~/.ssh/config')
    .option('-p, --port <port>', 'SSH port (default 22 or from ssh config)')
    .option('-l, --user <user>', 'SSH user (default root)')
    .option('-i, --identity <file>', 'private key file')
    .option('--known-hosts <file>', 'known_hosts file to verify the host key against (default ~/.ssh/known_hosts)')
    .option('--accept-new', 'trust and record an unknown host key (a changed key is always refused)')
    .option('--ssh-config <file>', 'ssh config file (default ~/.ssh/config)')
    .option('--connect-timeout <seconds>', 'limit for TCP connect + SSH handshake (default: ssh config ConnectTimeout, else 10)')
    .option('--json', 'machine-readable output on stdout')
    .option('-v, --verbose', 'more detail, including the SSH round-trip count')
    .option('--debug', 'SSH transcript on stderr (secrets masked)')
    .option('-q, --quiet', 'no progress messages')
    .option('--no-color', 'no colours');
}

/** A numeric option: --help shows its default as a number; the value stays a string for parseIntOption. */
function numOption(flags: string, description: string, def: number): Option {
  return new Option(flags, description).default(String(def), String(def));
}

/**
 * The command's options over the program's, so the SSH options work before the command
 * too (`owrt-ecmp --host r status`, as typed after `ssh r`). A value given to the command
 * wins; a program value only fills what the command left unset or at its default.
 */
export function withGlobals(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cmd.opts() };
  const parent = cmd.parent;
  if (!parent) return out;
  for (const [k, v] of Object.entries(parent.opts())) {
    const own = cmd.getOptionValueSource(k);
    if (v !== undefined && (own === undefined || own === 'default') && parent.getOptionValueSource(k) !== 'default') out[k] = v;
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command('owrt-ecmp')
    .description('Multi-dial PPPoE with kernel ECMP load balancing on an OpenWrt router, configured over SSH.')
    .version(TOOL_VERSION)
    .addHelpText('after', EXIT_CODES)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // program options only before the command, command options after it; withGlobals merges them
    .enablePositionalOptions();
  sshOptions(program);

  sshOptions(program.command('setup'))
    .description('create the dials, firewall membership, sysctls, ECMP routes and hotplug script (idempotent)')
    .option('--dials <n>', 'total PPPoE sessions, including the existing wan (1-64), or auto[:MAX] to probe the ISP (MAX default 8)')
    .option('--bogus-ranges <cidr,...>', 'with --dials auto: walled-garden IPv4 ranges (default RFC 1918, link-local, 0/8; "none")')
    .option('--trial-timeout <s>', 'with --dials auto: seconds a trial session may take to come up (default 30)')
    .option('--wan <iface>', 'the existing PPPoE interface; it is dial 1', 'wan')
    .option('--prefix <name>', 'dial k ≥ 2 is interface <prefix><k>', 'vwan')
    .option('--weights <w1,w2,...>', 'ECMP weight per dial (1-256), default all 1')
    .addOption(new Option('--ipv6 <mode>', 'IPv6 on the dials').choices(['off', 'single', 'ecmp']))
    .addOption(new Option('--hash-policy <policy>', 'flow hashing: l4 = 5-tuple, l3 = addresses').choices(['l3', 'l4', '0', '1']))
    .addOption(new Option('--route-mode <mode>', 'how the ECMP route is built').choices(['auto', 'resilient', 'group', 'multipath']))
    .addOption(new Option('--balance <mode>', 'hash: the kernel hashes flows; conn: new connections take the dials in turn').choices(['hash', 'conn']))
    .option('--ecmp-metric <n>', 'metric of the ECMP default routes (default 10)')
    .option('--metric-base <n>', 'dial k gets metric base+k (default 40)')
    .addOption(
      new Option(
        '--health <redial|on|off>',
        'dial monitor. redial (default): a dial the ISP refuses is taken down and retried with backoff, a dead one redialled alone. on: also probes quiet dials and takes silent ones out of the ECMP set (the probe target must answer ping through every dial; README "Dial health"). off: none',
      ).choices([...HEALTH_MODES]),
    )
    .option('--health-target <peer|ipv4>', "address probed through each quiet dial (default peer: the dial's PPP peer)")
    .option('--username <name>', 'PPPoE username for the new dials (default: copied from wan)')
    .option('--password-file <file>', 'file holding the PPPoE password for the new dials (default: copied from wan)')
    .option('--install-packages', 'install missing packages (ip-full, kmod-macvlan) with opkg/apk')
    .option('-n, --dry-run', 'print the changes, secrets masked, and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(numOption('--rollback-timeout <s>', 'seconds until an unconfirmed change reverts itself', 90))
    .addOption(numOption('--wait <s>', 'seconds to wait for the dials to come up', 60))
    .addHelpText('after', '\nExample:\n  owrt-ecmp setup --dials 4 --host root@192.168.1.1\n  owrt-ecmp setup --dials 4 --host router --dry-run')
    .action(async (_opts, cmd: Command) => {
      // loaded on use: --help and --version never pay for ssh2 and handlebars
      const { setupCommand } = await import('./commands/setup.js');
      process.exitCode = await setupCommand(withGlobals(cmd));
    });

  sshOptions(program.command('probe-dials'))
    .description("find how many PPPoE sessions the ISP allows: trial sessions one at a time, all hung up afterwards")
    .option('--max <n>', 'most sessions to try, including those already up (default 8)')
    .option('--bogus-ranges <cidr,...>', 'walled-garden IPv4 ranges (default RFC 1918, link-local, 0/8; "none")')
    .option('--trial-timeout <s>', 'seconds a trial session may take to come up (default 30)')
    .option('--wan <iface>', 'the existing PPPoE interface (default: stored, or wan)')
    .option('--username <name>', 'PPPoE username (default: wan\'s, read on the router)')
    .option('--password-file <file>', 'file holding the PPPoE password (default: wan\'s, read on the router)')
    .option('--install-packages', 'install missing packages (ip-full, kmod-macvlan) before the trials')
    .action(async (_opts, cmd: Command) => {
      const { probeDialsCommand } = await import('./commands/probe-dials.js');
      process.exitCode = await probeDialsCommand(withGlobals(cmd));
    });

  sshOptions(program.command('status'))
    .description('each dial and the live IPv4/IPv6 nexthops (one SSH round trip); exit 8 when unhealthy')
    .option('--watch', 'redraw every --interval seconds with per-dial rates and recent events (JSON lines when not a terminal); Ctrl-C ends it')
    .addOption(numOption('--interval <s>', 'seconds between --watch samples', 2))
    .action(async (_opts, cmd: Command) => {
      const { statusCommand } = await import('./commands/status.js');
      process.exitCode = await statusCommand(withGlobals(cmd));
    });

  sshOptions(program.command('hotplug'))
    .description('regenerate and redeploy the router-side files from the stored settings (after a sysupgrade)')
    .option('--print', 'print the hotplug script that would be installed, change nothing')
    .option('--install-packages', 'reinstall ip-full / kmod-macvlan (a sysupgrade removes them)')
    .option('-n, --dry-run', 'print the changes and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(numOption('--wait <s>', 'seconds to wait for the dials to come up', 60))
    .action(async (_opts, cmd: Command) => {
      const { hotplugCommand } = await import('./commands/hotplug.js');
      process.exitCode = await hotplugCommand(withGlobals(cmd));
    });

  sshOptions(program.command('doctor'))
    .description('check what the router can do, with fixes, and print a redacted support dump')
    .action(async (_opts, cmd: Command) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand(withGlobals(cmd));
    });

  sshOptions(program.command('teardown'))
    .description("remove everything owrt-ecmp added; the router's config returns to what it was before setup")
    .option('-n, --dry-run', 'print the changes and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(numOption('--rollback-timeout <s>', 'seconds until an unconfirmed change reverts itself', 90))
    .action(async (_opts, cmd: Command) => {
      const { teardownCommand } = await import('./commands/teardown.js');
      process.exitCode = await teardownCommand(withGlobals(cmd));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    // with --json the failure is the one document on stdout; the human text still goes to stderr
    const json = wantsJson(argv);
    if (e instanceof CommanderError) {
      // help and version are "errors" to commander; parse errors are usage errors
      // (help shown because no command was given has exitCode 1: that is a usage error)
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      }
      if (json) writeJson(usageErrorJson(e.message));
      return ExitCode.usage;
    }
    if (json) writeJson(errorJson(e));
    if (e instanceof OwrtEcmpError) {
      process.stderr.write(`owrt-ecmp: ${e.message}\n`);
      if (e instanceof HostKeyError) process.stderr.write(`  host key: ${e.fingerprint}\n`);
      if (e.hint) process.stderr.write(`  ${e.hint}\n`);
      return e.exitCode;
    }
    process.stderr.write(`owrt-ecmp: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.OWRT_ECMP_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
    return ExitCode.failure;
  }
}

installInterruptHandler();
main(process.argv).then((code) => {
  process.exitCode = code;
});

#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { doctorCommand } from './commands/doctor.js';
import { hotplugCommand } from './commands/hotplug.js';
import { setupCommand } from './commands/setup.js';
import { statusCommand } from './commands/status.js';
import { teardownCommand } from './commands/teardown.js';
import { ExitCode, HostKeyError, OwrtEcmpError } from './errors.js';
import { TOOL_VERSION } from './plan/files.js';

const EXIT_CODES = `
Exit codes:
  0  success (status: healthy)          6  a command on the router failed
  1  failure                            7  the router lacks a capability
  2  usage error                        8  status/setup: not healthy (dial down, route missing)
  3  cannot connect                     9  another run or a config edit got in the way
  4  authentication failed             10  the change was rolled back
  5  host key unknown or changed

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
    .option('--json', 'machine-readable output on stdout')
    .option('-v, --verbose', 'more detail, including the SSH round-trip count')
    .option('--debug', 'SSH transcript on stderr (secrets masked)')
    .option('-q, --quiet', 'no progress messages')
    .option('--no-color', 'no colours');
}

export function buildProgram(): Command {
  const program = new Command('owrt-ecmp')
    .description('Multi-dial PPPoE with kernel ECMP load balancing on an OpenWrt router, configured over SSH.')
    .version(TOOL_VERSION)
    .addHelpText('after', EXIT_CODES)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  sshOptions(program.command('setup'))
    .description('create the dials, firewall membership, sysctls, ECMP routes and hotplug script (idempotent)')
    .option('-n, --dials <n>', 'total PPPoE sessions, including the existing wan (1-64)')
    .option('--wan <iface>', 'the existing PPPoE interface; it is dial 1', 'wan')
    .option('--prefix <name>', 'dial k ≥ 2 is interface <prefix><k>', 'vwan')
    .option('--weights <w1,w2,...>', 'ECMP weight per dial (1-256), default all 1')
    .addOption(new Option('--ipv6 <mode>', 'IPv6 on the dials').choices(['off', 'single', 'ecmp']))
    .addOption(new Option('--hash-policy <policy>', 'flow hashing: l4 = 5-tuple, l3 = addresses').choices(['l3', 'l4', '0', '1']))
    .addOption(new Option('--route-mode <mode>', 'how the ECMP route is built').choices(['auto', 'resilient', 'group', 'multipath']))
    .option('--ecmp-metric <n>', 'metric of the ECMP default routes (default 10)')
    .option('--metric-base <n>', 'dial k gets metric base+k (default 40)')
    .addOption(new Option('--health <on|off>', 'dial monitor: silent dials leave the ECMP set, dead ones are redialled (default on)').choices(['on', 'off']))
    .option('--health-target <peer|ipv4>', "address probed through each quiet dial (default peer: the dial's PPP peer)")
    .option('--username <name>', 'PPPoE username for the new dials (default: copied from wan)')
    .option('--password-file <file>', 'file holding the PPPoE password for the new dials (default: copied from wan)')
    .option('--install-packages', 'install missing packages (ip-full, kmod-macvlan) with opkg/apk')
    .option('--dry-run', 'print the changes, secrets masked, and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--rollback-timeout <s>', 'seconds until an unconfirmed change reverts itself', '90')
    .option('--wait <s>', 'seconds to wait for the dials to come up', '60')
    .addHelpText('after', '\nExample:\n  owrt-ecmp setup --dials 4 --host root@192.168.1.1\n  owrt-ecmp setup --dials 4 --host router --dry-run')
    .action(async (opts) => {
      process.exitCode = await setupCommand(opts);
    });

  sshOptions(program.command('status'))
    .description('each dial and the live IPv4/IPv6 nexthops (one SSH round trip); exit 8 when unhealthy')
    .action(async (opts) => {
      process.exitCode = await statusCommand(opts);
    });

  sshOptions(program.command('hotplug'))
    .description('regenerate and redeploy the router-side files from the stored settings (after a sysupgrade)')
    .option('--print', 'print the hotplug script that would be installed, change nothing')
    .option('--install-packages', 'reinstall ip-full / kmod-macvlan (a sysupgrade removes them)')
    .option('--dry-run', 'print the changes and change nothing')
    .option('--wait <s>', 'seconds to wait for the dials to come up', '60')
    .action(async (opts) => {
      process.exitCode = await hotplugCommand(opts);
    });

  sshOptions(program.command('doctor'))
    .description('check what the router can do, with fixes, and print a redacted support dump')
    .action(async (opts) => {
      process.exitCode = await doctorCommand(opts);
    });

  sshOptions(program.command('teardown'))
    .description("remove everything owrt-ecmp added; the router's config returns to what it was before setup")
    .option('--dry-run', 'print the changes and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--rollback-timeout <s>', 'seconds until an unconfirmed change reverts itself', '90')
    .action(async (opts) => {
      process.exitCode = await teardownCommand(opts);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" to commander; parse errors are usage errors
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.ok;
      return ExitCode.usage;
    }
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

main(process.argv).then((code) => {
  process.exitCode = code;
});

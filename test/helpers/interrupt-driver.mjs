// Drives the built CLI's apply machinery (dist/) the way `setup` does, against a real SSH
// server, with a router-side script that arms like apply.sh and then keeps working: the
// test sends SIGINT while it runs. argv: host identity knownHosts script-file
import { readFileSync } from 'node:fs';
import { runApply } from '../../dist/apply/index.js';
import { installInterruptHandler, setPhase } from '../../dist/commands/interrupt.js';
import { Session } from '../../dist/commands/session.js';
import { tracker } from '../../dist/commands/setup.js';

const [host, identity, knownHosts, scriptFile] = process.argv.slice(2);
installInterruptHandler();
const s = new Session({ host, identity, knownHosts, sshConfig: '/dev/null' });
const t = await s.transport();
setPhase({ kind: 'sent', rollbackTimeout: 60 });
s.progress.start('applying');
process.stderr.write('driver: sent\n');
await runApply(t, readFileSync(scriptFile, 'utf8'), [], tracker(s).onStep);
process.stderr.write('driver: the apply ended before the interrupt\n');
await s.close();
process.exitCode = 1;

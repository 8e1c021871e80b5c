/**
 * Server misbehaviour we must cope with, emulated with ssh2's own Server on loopback:
 * lost exit-status (dropbear), a connection dropped mid-command, refused channels, 'none' auth.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AuthContext, ServerChannel, Session } from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, ConnectError, RemoteError } from '../../src/errors.js';
import { connect, resolveTarget, type SshTarget, type Transport } from '../../src/ssh/index.js';
import { makeClientKey, makeTempDir, type ClientKey } from '../helpers/ssh-servers.js';

type ExecBehaviour = (stream: ServerChannel, command: string, conn: ssh2.Connection) => void;

interface FakeServer {
  port: number;
  /** Auth methods in the order the client offered them. */
  methods: string[];
  close(): Promise<void>;
}

const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
const exitZero: ExecBehaviour = (s) => {
  s.exit(0);
  s.end();
};

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function startFake(opts: {
  accept?: (ctx: AuthContext) => boolean;
  onSession?: (accept: () => Session, reject: () => void) => void;
  onExec?: ExecBehaviour;
}): Promise<FakeServer> {
  const methods: string[] = [];
  const conns = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (conn) => {
    conns.add(conn);
    conn.on('error', () => undefined);
    conn.on('close', () => conns.delete(conn));
    conn.on('authentication', (ctx) => {
      methods.push(ctx.method);
      if ((opts.accept ?? ((c) => c.method === 'none'))(ctx)) ctx.accept();
      else ctx.reject(['publickey', 'password']);
    });
    conn.on('ready', () => {
      conn.on('session', (accept, reject) => {
        if (opts.onSession) return opts.onSession(accept, reject);
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          const stream = acc();
          (opts.onExec ?? exitZero)(stream, info.command, conn);
        });
      });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        methods,
        close: () =>
          new Promise<void>((r) => {
            for (const c of conns) c.end();
            server.close(() => r());
          }),
      });
    });
  });
}

describe('ssh transport against an emulated server', () => {
  let dir: string;
  let key: ClientKey;
  let fake: FakeServer | undefined;
  let transport: Transport | undefined;
  let tcp: TcpServer | undefined;

  beforeAll(async () => {
    dir = await makeTempDir();
    key = await makeClientKey(dir, 'id_client');
  });
  afterEach(async () => {
    await transport?.close();
    await fake?.close();
    await new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r()));
    transport = undefined;
    fake = undefined;
    tcp = undefined;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function targetFor(port: number, extra: { identity?: string; connectTimeoutMs?: number } = {}): SshTarget {
    const knownHosts = join(dir, `known_hosts_${port}`);
    const blob = ssh2.utils.parseKey(hostKey.public);
    if (blob instanceof Error) throw blob;
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${blob.type} ${blob.getPublicSSH().toString('base64')}\n`);
    return resolveTarget({ host: `127.0.0.1:${port}`, knownHosts, sshConfigFile: join(dir, 'none'), ...extra }, { HOME: dir });
  }

  it('logs in with auth "none" (fresh OpenWrt) after trying keys and password in OpenSSH order', async () => {
    fake = await startFake({});
    transport = await connect(targetFor(fake.port, { identity: key.file }), { password: 'pw' });
    expect(fake.methods[0]).toBe('publickey');
    expect(fake.methods.slice(-2)).toEqual(['password', 'none']);
  });

  it('reports AuthError when every method is refused', async () => {
    fake = await startFake({ accept: () => false });
    const err = await rejection(connect(targetFor(fake.port, { identity: key.file })));
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toMatch(/tried: publickey .*id_client, none/);
  });

  it('returns code null, not an invented status, when the server sends no exit-status', async () => {
    fake = await startFake({
      onExec: (s) => {
        s.write('hello\n');
        s.stderr.write('warn\n');
        s.end(); // EOF + CLOSE, no exit-status
      },
    });
    transport = await connect(targetFor(fake.port));
    const r = await transport.exec('anything');
    expect(r.stdout.toString()).toBe('hello\n');
    expect(r.stderr.toString()).toBe('warn\n');
    expect(r.code).toBeNull();
    expect(r.signal).toBeNull();
  });

  it('reports the signal when the command was killed', async () => {
    fake = await startFake({
      onExec: (s) => {
        s.exit('KILL');
        s.end();
      },
    });
    transport = await connect(targetFor(fake.port));
    const r = await transport.exec('x');
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGKILL');
  });

  it('rejects with ConnectError("connection lost") when the connection drops mid-command', async () => {
    fake = await startFake({
      onExec: (s, _cmd, conn) => {
        s.write('partial');
        setTimeout(() => (conn as unknown as { _sock: { destroy(): void } })._sock.destroy(), 50);
      },
    });
    transport = await connect(targetFor(fake.port));
    const err = await rejection(transport.exec('long running', { stdin: 'data' }));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.message).toMatch(/connection lost/);
    const again = await rejection(transport.exec('next'));
    expect(again).toBeInstanceOf(ConnectError);
  });

  it('rejects with RemoteError when the server refuses the session channel', async () => {
    fake = await startFake({ onSession: (_a, reject) => reject() });
    transport = await connect(targetFor(fake.port));
    const err = await rejection(transport.exec('x'));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.message).toMatch(/refused/);
  });

  it('rejects with RemoteError when the server refuses the exec request', async () => {
    fake = await startFake({
      onSession: (accept) => accept().on('exec', (_acc, rej) => rej()),
    });
    transport = await connect(targetFor(fake.port));
    const err = await rejection(transport.exec('x'));
    expect(err).toBeInstanceOf(RemoteError);
    expect(transport.roundTrips).toBe(1);
    // the connection survives: the next command gets its own answer
    expect(await rejection(transport.exec('y'))).toBeInstanceOf(RemoteError);
    expect(transport.roundTrips).toBe(2);
  });

  it('maps a server that hangs up during the handshake to ConnectError', async () => {
    tcp = createTcpServer((s) => s.resume().end('SSH-2.0-fake\r\n'));
    await new Promise<void>((r) => tcp!.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as { port: number }).port;
    const err = await rejection(connect(targetFor(port)));
    expect(err).toBeInstanceOf(ConnectError);
  });

  it('maps a silent server to ConnectError after the ready timeout', async () => {
    tcp = createTcpServer((s) => s.resume()); // reads, never answers
    await new Promise<void>((r) => tcp!.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as { port: number }).port;
    const started = Date.now();
    const err = await rejection(connect(targetFor(port, { connectTimeoutMs: 400 })));
    expect(err).toBeInstanceOf(ConnectError);
    // says which step ran out of time, and the hint names the real flag
    expect(err.message).toMatch(/did not complete the SSH handshake within 0\.4 s/);
    expect((err as ConnectError).hint).toMatch(/--connect-timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

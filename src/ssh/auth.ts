/**
 * Authentication order like OpenSSH: agent → identity files → password (only if given) → none,
 * then, on a terminal only, what needs the user: passphrases of encrypted keys and a password.
 * `none` comes before the questions because a fresh OpenWrt root has an empty password and
 * dropbear lets it in; ssh would not ask anything there either.
 */
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, ParsedKey } from 'ssh2';
import { PromptInterrupted, type Prompter } from './prompt.js';
import type { SshTarget } from './target.js';

type Wire = 'publickey' | 'password' | 'none' | 'keyboard-interactive';

export interface AuthStep {
  label: string;
  /** Server method names that make this step worth trying. */
  wires: Wire[];
  /** The method to offer, or undefined to skip (a question left unanswered). */
  get(authsLeft: AuthenticationType[] | null): Promise<AnyAuthMethod | undefined>;
}

export interface AuthPlan {
  methods: AuthStep[];
  /** Labels of the methods actually offered, for the AuthError. */
  tried: string[];
  /** Keys we could not use, with the reason; named in the AuthError if everything fails. */
  skippedKeys: Array<{ file: string; reason: 'encrypted' | 'bad-passphrase' | 'unreadable' }>;
  /** Set when the user pressed Ctrl-C at one of our questions. */
  interrupted?: boolean;
}

export interface AuthInput {
  password?: string;
  passphrase?: string;
  /** Only on a terminal; without it nothing is asked. */
  prompter?: Prompter;
  /** Hears every secret the user types, so the caller can mask it in logs. */
  onSecret?: (s: string) => void;
}

const PASSWORD_PROMPTS = 3; // ssh's NumberOfPasswordPrompts default

const ready = (m: AnyAuthMethod) => async () => m;

export function planAuth(target: SshTarget, input: AuthInput): AuthPlan {
  const username = target.user;
  const plan: AuthPlan = { methods: [], tried: [], skippedKeys: [] };
  const later: AuthStep[] = [];
  if (target.agent !== undefined && existsSync(target.agent)) {
    plan.methods.push({ label: 'agent', wires: ['publickey'], get: ready({ type: 'agent', username, agent: target.agent }) });
  }
  for (const file of target.identityFiles) {
    const r = loadKey(file, input.passphrase);
    if ('key' in r) {
      plan.methods.push({ label: `publickey ${file}`, wires: ['publickey'], get: ready({ type: 'publickey', username, key: r.key }) });
    } else if (r.reason === 'encrypted' && input.prompter) {
      later.push(passphraseStep(file, username, plan, input.prompter, input.onSecret));
    } else {
      plan.skippedKeys.push({ file, reason: r.reason });
    }
  }
  if (input.password !== undefined) {
    plan.methods.push({ label: 'password', wires: ['password'], get: ready({ type: 'password', username, password: input.password }) });
  }
  plan.methods.push({ label: 'none', wires: ['none'], get: ready({ type: 'none', username }) });
  plan.methods.push(...later);
  if (input.prompter && input.password === undefined) {
    for (let i = 0; i < PASSWORD_PROMPTS; i++) plan.methods.push(passwordStep(target, plan, input.prompter, input.onSecret, i));
  }
  return plan;
}

type Loaded = { key: ParsedKey } | { reason: 'encrypted' | 'bad-passphrase' | 'unreadable' };

function loadKey(file: string, passphrase: string | undefined): Loaded {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return { reason: 'unreadable' };
  }
  const parsed = ssh2.utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    return { reason: encrypted ? (passphrase === undefined ? 'encrypted' : 'bad-passphrase') : 'unreadable' };
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key && key.isPrivateKey() ? { key } : { reason: 'unreadable' };
}

/** Ask for a key's passphrase like ssh: up to three tries; an empty answer skips the key. */
function passphraseStep(file: string, username: string, plan: AuthPlan, p: Prompter, onSecret?: (s: string) => void): AuthStep {
  return {
    label: `publickey ${file}`,
    wires: ['publickey'],
    async get() {
      let question = `Enter passphrase for key '${file}': `;
      for (let i = 0; i < PASSWORD_PROMPTS; i++) {
        const answer = await p.secret(question);
        if (answer === undefined || answer === '') break;
        onSecret?.(answer);
        const r = loadKey(file, answer);
        if ('key' in r) return { type: 'publickey', username, key: r.key };
        question = `Bad passphrase, try again for '${file}': `;
      }
      plan.skippedKeys.push({ file, reason: 'encrypted' });
      return undefined;
    },
  };
}

/** Ask for the password; answered through keyboard-interactive when the server offers only that. */
function passwordStep(target: SshTarget, plan: AuthPlan, p: Prompter, onSecret: ((s: string) => void) | undefined, n: number): AuthStep {
  const username = target.user;
  const question = `${username}@${target.host}'s password: `;
  return {
    label: n === 0 ? 'password (asked)' : `password (asked, try ${n + 1})`,
    wires: ['password', 'keyboard-interactive'],
    async get(authsLeft) {
      if (authsLeft && !authsLeft.includes('password')) {
        return {
          type: 'keyboard-interactive',
          username,
          prompt: (_name, _instr, _lang, prompts, finish) => {
            const answers: string[] = [];
            const next = (i: number): void => {
              const q = prompts[i];
              if (!q) return finish(answers);
              (q.echo ? p.ask(q.prompt) : p.secret(q.prompt)).then((a) => {
                if (!q.echo && a) onSecret?.(a);
                answers.push(a ?? '');
                next(i + 1);
              }, () => finish([]));
            };
            next(0);
          },
        };
      }
      const answer = await p.secret(question);
      if (answer === undefined) return undefined;
      if (answer !== '') onSecret?.(answer);
      return { type: 'password', username, password: answer };
    },
  };
}

/** Offer the planned methods in order, skipping those the server said it will not take. */
export function authHandler(plan: AuthPlan, onTry: (label: string) => void): AuthHandlerMiddleware {
  let i = 0;
  const pick = async (authsLeft: AuthenticationType[] | null): Promise<AnyAuthMethod | undefined> => {
    while (i < plan.methods.length) {
      const m = plan.methods[i++];
      if (!m) break;
      // authsLeft is null before the first failure; 'none' is always worth a try
      if (authsLeft && !m.wires.includes('none') && !m.wires.some((w) => authsLeft.includes(w))) continue;
      const method = await m.get(authsLeft);
      if (!method) continue;
      plan.tried.push(m.label);
      onTry(m.label);
      return method;
    }
    return undefined;
  };
  return (authsLeft, _partial, next) => {
    pick(authsLeft as AuthenticationType[] | null).then(
      (m) => next(m ?? (false as never)), // ssh2 takes `false` as "no more methods"; its types omit it
      (e: unknown) => {
        if (e instanceof PromptInterrupted) plan.interrupted = true;
        i = plan.methods.length;
        next(false as never);
      },
    );
  };
}

export function describeSkipped(plan: AuthPlan): string {
  return plan.skippedKeys
    .map((s) =>
      s.reason === 'encrypted'
        ? `key ${s.file} is encrypted and no passphrase was given`
        : s.reason === 'bad-passphrase'
          ? `the passphrase does not decrypt key ${s.file}`
          : `key ${s.file} could not be read or parsed`,
    )
    .join('; ');
}

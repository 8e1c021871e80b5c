export { resolveTarget, parseHostSpec, DEFAULT_USER } from './target.js';
export type { SshTarget, TargetOptions, HostSpec } from './target.js';
export { connect, describeTarget } from './transport.js';
export type { ExecResult, ExecOptions, Transport, TransportEvent, ConnectOptions } from './transport.js';
export { fingerprintSha256 } from './known-hosts.js';
export { canPrompt, ttyPrompter } from './prompt.js';
export type { Prompter } from './prompt.js';

/** Kept apart from plan/files.ts so that `--version` and `--help` load nothing heavy. */
export const TOOL_VERSION = '0.1.0';

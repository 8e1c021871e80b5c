import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFacts, type RouterFacts } from '../../src/probe/facts.js';
import { parseSections } from '../../src/remote/run.js';

export const fixturesDir = join(import.meta.dirname, '..', 'fixtures');

/** Probe output fixture → sections, with optional per-section overrides. */
export function probeSections(name: string, override: Record<string, string> = {}): Map<string, string> {
  const sections = parseSections(readFileSync(join(fixturesDir, 'probe', name), 'utf8'));
  for (const [k, v] of Object.entries(override)) sections.set(k, v);
  return sections;
}

export function factsFrom(name: string, override: Record<string, string> = {}): RouterFacts {
  return parseFacts(probeSections(name, override));
}

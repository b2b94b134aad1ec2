/**
 * YAML aliases cannot make loading a config slow: their count and how much they expand are
 * bounded, and each is resolved once (it used to be a walk of the whole document per alias).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { MAX_YAML_ALIASES, MAX_YAML_DOCUMENT_BYTES } from '../../src/config/walker.js';
import { parseWebConfig } from '../../src/server/webconfig.js';

function problemOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

function timed<T>(run: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = run();
  return { value, ms: performance.now() - started };
}

/** 4,000 targets, each an alias of the first: ~47 KB, 5.9 s on the main thread before. */
const MANY_ALIASES = `targets:\n  - &t {target: a.example.com:443}\n${'  - *t\n'.repeat(4000)}`;

/** Nine levels of ten aliases of the level below: 10^9 nodes once expanded, from 90 aliases. */
function billionLaughs(): string {
  const lines = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let level = 1; level <= 9; level++) lines.push(`l${level}: &l${level} [${Array(10).fill(`*l${level - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\ntargets: *l9\n`;
}

describe('YAML alias limits', () => {
  it('refuses a document with more aliases than allowed, fast, naming aliases', () => {
    const { value: error, ms } = timed(() => problemOf(() => parseConfig(MANY_ALIASES, 'c.yaml')));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`c.yaml:${MAX_YAML_ALIASES + 3}: invalid YAML: more than 1000 aliases (*t is one too many); write the values out or use fewer aliases`);
    expect(ms).toBeLessThan(1000);
  });

  it('refuses a billion-laughs document before expanding it', () => {
    const { value: error, ms } = timed(() => problemOf(() => parseConfig(billionLaughs(), 'c.yaml')));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('c.yaml:1: invalid YAML: aliases expand the document by more than 100000 nodes (a "billion laughs" document?)');
    expect(ms).toBeLessThan(1000);
  });

  it('the web config has the same limits', () => {
    const web = `basic_auth_users:\n  a: &h x\n${Array.from({ length: 1001 }, (_, i) => `  u${i}: *h\n`).join('')}`;
    const { value: error, ms } = timed(() => problemOf(() => parseWebConfig(web, '/tmp/web.yml')));
    expect((error as { code?: string }).code).toBe('ERR_WEB_CONFIG_SYNTAX');
    expect(error.message).toContain('not valid YAML: more than 1000 aliases (*h is one too many)');
    const laughs = problemOf(() => parseWebConfig(billionLaughs(), '/tmp/web.yml'));
    expect(laughs.message).toContain('aliases expand the document by more than 100000 nodes');
    expect(ms).toBeLessThan(1000);
  });

  it('refuses a document over the YAML size cap without parsing it', () => {
    const text = `# ${'x'.repeat(MAX_YAML_DOCUMENT_BYTES)}\ntargets: []\n`;
    const { value: error, ms } = timed(() => problemOf(() => parseConfig(text, 'c.yaml')));
    expect(error.message).toBe('c.yaml: invalid YAML: the document is larger than 4 MiB');
    expect(ms).toBeLessThan(1000);
  });

  it('aliases within the limits still work, each resolved to the anchor before it', () => {
    const text = `targets:\n  - &t {target: a.example.com:443, labels: &l {team: web}}\n${Array.from({ length: MAX_YAML_ALIASES }, (_, i) => `  - {target: b${i}.example.com:443, labels: *l}\n`).join('')}`;
    const { value: config, ms } = timed(() => parseConfig(text, 'c.yaml'));
    expect(config.targets).toHaveLength(MAX_YAML_ALIASES + 1);
    expect(config.targets.at(-1)!.labels).toEqual({ team: 'web' });
    expect(ms).toBeLessThan(2000);
    // A redefined anchor: each alias takes the latest definition before it (YAML 1.2 §7.1).
    const redefined = parseConfig(
      'targets:\n  - {target: a.example.com:443, labels: &l {team: a}}\n  - {target: b.example.com:443, labels: *l}\n  - {target: c.example.com:443, labels: &l {team: c}}\n  - {target: d.example.com:443, labels: *l}\n',
      'c.yaml',
    );
    expect(redefined.targets.map((t) => t.labels['team'])).toEqual(['a', 'a', 'c', 'c']);
  });
});

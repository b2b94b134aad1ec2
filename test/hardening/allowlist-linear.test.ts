import { describe, expect, it } from 'vitest';
import { compileAllowlist, labelsMatch } from '../../src/net/allowlist.js';

/** The matcher as it was (a backtracking regex): the reference for what a pattern means, on small inputs. */
function regexMatch(pattern: string, host: string): boolean {
  const source = pattern
    .split('.')
    .map((label) => (label === '*' ? '[^.]+(?:\\.[^.]+)*' : label.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')))
    .join('\\.');
  return new RegExp(`^${source}$`).test(host);
}

// `*` is one or more whole labels (the documented behaviour in src/net/allowlist.ts).
const TABLE: [pattern: string, host: string, matches: boolean][] = [
  ['*.example.com', 'a.example.com', true],
  ['*.example.com', 'a.b.example.com', true],
  ['*.example.com', 'example.com', false],
  ['*.example.com', 'evil-example.com', false],
  ['*.example.com', 'a.example.com.evil.net', false],
  ['www.*.example.com', 'www.eu.example.com', true],
  ['www.*.example.com', 'www.eu.west.example.com', true],
  ['www.*.example.com', 'www.example.com', false],
  ['example.*', 'example.com', true],
  ['example.*', 'example.co.uk', true],
  ['example.*', 'example', false],
  ['*.*', 'a.b', true],
  ['*.*', 'a', false],
  ['*.*', 'a.b.c', true],
  ['*.a.*', 'a.a.a', true],
  ['*.a.*', 'a.a', false],
  ['*.a.*', 'x.y.a.z.w', true],
  ['*.a.*.b', 'x.a.y.b', true],
  ['*.a.*.b', 'x.a.b', false],
  ['*.a.*.b', 'x.a.y.b.b', true],
  ['*.a.*.b', 'x.a.y.b.c', false],
  ['a.*.a', 'a.a.a.a', true],
  ['a.*.a', 'a.a', false],
  ['*.*.*', 'a.b', false],
  ['*.*.*', 'a.b.c', true],
];

describe('allowlist wildcard matching', () => {
  it.each(TABLE)('%s against %s: %s', (pattern, host, matches) => {
    expect(labelsMatch(pattern.split('.'), host.split('.'))).toBe(matches);
    expect(regexMatch(pattern, host)).toBe(matches);
    expect(compileAllowlist([`${pattern}:443`])(host, 443)).toBe(matches);
  });

  it('agrees with the old regex matcher on every small pattern and host', () => {
    // All patterns of up to 4 labels over {*, a, b} against all hosts of up to 5 labels over {a, b}.
    const words = (alphabet: string[], max: number): string[][] => {
      const out: string[][] = [];
      const grow = (prefix: string[]) => {
        if (prefix.length > 0) out.push(prefix);
        if (prefix.length < max) for (const letter of alphabet) grow([...prefix, letter]);
      };
      grow([]);
      return out;
    };
    let compared = 0;
    for (const pattern of words(['*', 'a', 'b'], 4)) {
      for (const host of words(['a', 'b'], 5)) {
        expect(labelsMatch(pattern, host), `${pattern.join('.')} vs ${host.join('.')}`).toBe(regexMatch(pattern.join('.'), host.join('.')));
        compared += 1;
      }
    }
    expect(compared).toBe(120 * 62);
  });

  it('matches many wildcards against a long non-matching name in well under a second', () => {
    // 120 one-letter labels: 239 characters, the most a valid host name allows in this shape.
    const host = Array.from({ length: 120 }, () => 'a').join('.') + '.x';
    expect(host.length).toBeGreaterThanOrEqual(241);
    // Six (and twelve) wildcards that can never match (the name does not end in .b): the old regex
    // took 74 s for six.
    const check = compileAllowlist(['*.*.*.*.*.*.b:443', '*.a.*.a.*.a.*.a.*.a.*.a.*.a.*.a.*.a.*.a.*.a.*.b:443']);
    const started = performance.now();
    expect(check(host, 443)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

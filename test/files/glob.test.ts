/**
 * src/files/glob.ts on real directories: each wildcard, classes, dot files, several magic levels,
 * names that do not exist, the match bound, and the patterns it refuses.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGlob, expandGlob, globPatternProblem, GlobPatternError, hasGlobMagic } from '../../src/files/glob.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glob-'));
  for (const sub of ['a', 'b', 'c.d']) mkdirSync(join(dir, sub));
  for (const name of ['a/x.pem', 'a/y.pem', 'a/.hidden.pem', 'a/z.key', 'b/x.pem', 'b/x1.pem', 'c.d/x.pem', 'top.pem']) writeFileSync(join(dir, name), name);
  writeFileSync(join(dir, 'b', 'not-a-dir'), '');
  symlinkSync('loop.pem', join(dir, 'a', 'loop.pem'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rel = (paths: string[]) => paths.map((p) => p.slice(dir.length + 1));

describe('expandGlob', () => {
  it('* ? and classes match within one segment, sorted, dot files only when asked', () => {
    expect(rel(expandGlob(join(dir, 'a', '*.pem'), 100).paths)).toEqual(['a/loop.pem', 'a/x.pem', 'a/y.pem']);
    expect(rel(expandGlob(join(dir, 'a', '.*.pem'), 100).paths)).toEqual(['a/.hidden.pem']);
    expect(rel(expandGlob(join(dir, 'b', 'x?.pem'), 100).paths)).toEqual(['b/x1.pem']);
    expect(rel(expandGlob(join(dir, 'a', '[xz].*'), 100).paths)).toEqual(['a/x.pem', 'a/z.key']);
    expect(rel(expandGlob(join(dir, 'a', '[!x]*'), 100).paths)).toEqual(['a/loop.pem', 'a/y.pem', 'a/z.key']);
  });

  it('magic in several segments walks directories only; "." in a name is literal', () => {
    expect(rel(expandGlob(join(dir, '*', 'x.pem'), 100).paths)).toEqual(['a/x.pem', 'b/x.pem', 'c.d/x.pem']);
    expect(rel(expandGlob(join(dir, 'c.d', '*'), 100).paths)).toEqual(['c.d/x.pem']);
    expect(rel(expandGlob(join(dir, 'c?d', '*'), 100).paths)).toEqual(['c.d/x.pem']);
    expect(expandGlob(join(dir, 'b', 'not-a-dir', '*'), 100).paths).toEqual([]);
  });

  it('a literal pattern matches itself when it exists; missing directories match nothing', () => {
    expect(rel(expandGlob(join(dir, 'top.pem'), 100).paths)).toEqual(['top.pem']);
    expect(expandGlob(join(dir, 'none.pem'), 100).paths).toEqual([]);
    expect(expandGlob(join(dir, 'nowhere', '*.pem'), 100)).toEqual({ paths: [], truncated: false });
  });

  it('returns at most maxMatches, the first by name, and says it truncated', () => {
    expect(expandGlob(join(dir, '*', '*.pem'), 2)).toEqual({ paths: [join(dir, 'a/loop.pem'), join(dir, 'a/x.pem')], truncated: true });
    expect(expandGlob(join(dir, 'a', '*.pem'), 3).truncated).toBe(false);
  });

  it('refuses ** and unclosed classes before reading anything', () => {
    expect(globPatternProblem('/etc/**/x.pem')).toMatch(/"\*\*" is not supported/);
    expect(globPatternProblem('/etc/[ab.pem')).toBe('unclosed "[" in "[ab.pem"');
    expect(globPatternProblem('/etc/*.pem')).toBeNull();
    expect(() => expandGlob('/etc/**/x.pem', 10)).toThrow(GlobPatternError);
    expect(() => compileGlob('/etc/[ab.pem')).toThrow(GlobPatternError);
    expect(compileGlob(join(dir, 'a', 'y*')).expand(10).paths).toEqual([join(dir, 'a', 'y.pem')]);
    expect([hasGlobMagic('/a/b.pem'), hasGlobMagic('/a/*.pem'), hasGlobMagic('/a/[ab].pem'), hasGlobMagic('/a/?.pem')]).toEqual([false, true, true, true]);
  });
});

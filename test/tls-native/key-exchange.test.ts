import { describe, expect, it } from 'vitest';
import { generateKeyShare, KEY_SHARE_REUSE, reusableKeyShare } from '../../src/tls-native/key-exchange.js';

describe('reusable key shares', () => {
  it('offers the same share until it is too old, then a new one that still agrees with a peer', () => {
    const t0 = 5_000_000_000_000;
    const first = reusableKeyShare('x25519', t0);
    expect(reusableKeyShare('x25519', t0 + 1)).toBe(first);
    const later = reusableKeyShare('x25519', t0 + KEY_SHARE_REUSE.maxAgeMs);
    expect(later).not.toBe(first);
    expect(later.publicKey.equals(first.publicKey)).toBe(false);
    const peer = generateKeyShare('x25519');
    expect(later.computeSecret(peer.publicKey).equals(peer.computeSecret(later.publicKey))).toBe(true);
  });

  it('makes a new share after maxUses handshakes, and when the clock goes back', () => {
    const t0 = 6_000_000_000_000;
    const first = reusableKeyShare('secp256r1', t0);
    for (let i = 1; i < KEY_SHARE_REUSE.maxUses; i++) expect(reusableKeyShare('secp256r1', t0)).toBe(first);
    const next = reusableKeyShare('secp256r1', t0);
    expect(next).not.toBe(first);
    expect(reusableKeyShare('secp256r1', t0 - 1)).not.toBe(next);
  });

  it('keeps one share per group', () => {
    const t0 = 7_000_000_000_000;
    const x = reusableKeyShare('x25519', t0);
    const p384 = reusableKeyShare('secp384r1', t0);
    expect(p384.group).toBe('secp384r1');
    expect(p384.publicKey.length).toBe(97);
    expect(reusableKeyShare('x25519', t0)).toBe(x);
  });
});

/**
 * The whole client state machine replaying RFC 8448 §3: with the RFC's ClientHello and X25519 key,
 * the server's two records in, the client must verify the server's RSA-PSS CertificateVerify and
 * Finished and send the RFC's client Finished record byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { HandshakeClient } from '../../src/tls-native/client.js';
import { RFC8448 as T } from './rfc8448.js';

const CHANGE_CIPHER_SPEC = '140303000101';

function rfcClient(): HandshakeClient {
  return new HandshakeClient({
    serverName: 'server',
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    fixed: { random: T.clientHello.subarray(6, 38), sessionId: Buffer.alloc(0), x25519Private: T.clientPrivateKey, clientHello: T.clientHello },
  });
}

describe('HandshakeClient against the RFC 8448 trace', () => {
  it('completes, sending the RFC client Finished record (after a compatibility CCS)', () => {
    const client = rfcClient();
    const hello = client.start();
    expect(hello.subarray(5).toString('hex')).toBe(T.clientHello.toString('hex'));
    const first = client.receive(T.serverHelloRecord);
    expect(first).toEqual({ send: [], outcome: null });
    const second = client.receive(T.serverFlightRecord);
    expect(second.send.map((b) => b.toString('hex'))).toEqual([CHANGE_CIPHER_SPEC, T.clientFinishedRecord.toString('hex')]);
    expect(second.outcome).toMatchObject({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', staple: null });
    expect(second.outcome!.chainDer).toHaveLength(1);
    expect(second.outcome!.chainDer[0]!.toString('hex')).toBe(T.certificate.subarray(11, 11 + 0x1b0).toString('hex'));
  });

  it('the same bytes one at a time: fragmentation changes nothing', () => {
    const client = rfcClient();
    client.start();
    const all = Buffer.concat([T.serverHelloRecord, T.serverFlightRecord]);
    const sent: string[] = [];
    let outcome = null;
    for (let i = 0; i < all.length; i++) {
      const step = client.receive(all.subarray(i, i + 1));
      sent.push(...step.send.map((b) => b.toString('hex')));
      outcome ??= step.outcome;
    }
    expect(sent).toEqual([CHANGE_CIPHER_SPEC, T.clientFinishedRecord.toString('hex')]);
    expect(outcome?.protocol).toBe('TLSv1.3');
  });

  it('a corrupted server flight fails authentication (bad_record_mac), not a completed handshake', () => {
    const client = rfcClient();
    client.start();
    client.receive(T.serverHelloRecord);
    const tampered = Buffer.from(T.serverFlightRecord);
    tampered[tampered.length - 20]! ^= 0x01;
    expect(() => client.receive(tampered)).toThrow(expect.objectContaining({ alert: 'bad_record_mac' }));
  });
});

/** The TLS 1.3 key schedule and record protection against RFC 8448 §3, byte for byte. */
import { describe, expect, it } from 'vitest';
import { applicationSecrets, digest, finishedVerifyData, handshakeSecrets, hkdfExtract, trafficKeys } from '../../src/tls-native/key-schedule.js';
import { tls13Protection } from '../../src/tls-native/record-protection.js';
import { ContentType } from '../../src/tls-native/constants.js';
import { RFC8448 as T } from './rfc8448.js';

describe('TLS 1.3 key schedule (RFC 8448 §3)', () => {
  const helloHash = digest('sha256', T.clientHello, T.serverHello);
  const secrets = handshakeSecrets('sha256', T.sharedSecret, helloHash);

  it('early secret, handshake secret and the handshake traffic secrets', () => {
    expect(hkdfExtract('sha256', null, Buffer.alloc(32)).toString('hex')).toBe(T.earlySecret.toString('hex'));
    expect(secrets.handshakeSecret.toString('hex')).toBe(T.handshakeSecret.toString('hex'));
    expect(secrets.clientHandshakeTraffic.toString('hex')).toBe(T.clientHandshakeTraffic.toString('hex'));
    expect(secrets.serverHandshakeTraffic.toString('hex')).toBe(T.serverHandshakeTraffic.toString('hex'));
  });

  it('traffic keys and IVs', () => {
    const server = trafficKeys('sha256', secrets.serverHandshakeTraffic, 16);
    const client = trafficKeys('sha256', secrets.clientHandshakeTraffic, 16);
    expect(server.key.toString('hex')).toBe(T.serverHandshakeKey.toString('hex'));
    expect(server.iv.toString('hex')).toBe(T.serverHandshakeIv.toString('hex'));
    expect(client.key.toString('hex')).toBe(T.clientHandshakeKey.toString('hex'));
    expect(client.iv.toString('hex')).toBe(T.clientHandshakeIv.toString('hex'));
  });

  it('both Finished messages and the application secrets', () => {
    const beforeServerFinished = digest('sha256', T.clientHello, T.serverHello, T.encryptedExtensions, T.certificate, T.certificateVerify);
    expect(finishedVerifyData('sha256', secrets.serverHandshakeTraffic, beforeServerFinished).toString('hex')).toBe(T.serverFinished.subarray(4).toString('hex'));
    const throughServerFinished = digest('sha256', T.clientHello, T.serverHello, T.encryptedExtensions, T.certificate, T.certificateVerify, T.serverFinished);
    expect(finishedVerifyData('sha256', secrets.clientHandshakeTraffic, throughServerFinished).toString('hex')).toBe(T.clientFinished.subarray(4).toString('hex'));
    const application = applicationSecrets('sha256', secrets.handshakeSecret, throughServerFinished);
    expect(application.master.toString('hex')).toBe(T.masterSecret.toString('hex'));
    expect(application.clientApplicationTraffic.toString('hex')).toBe(T.clientApplicationTraffic.toString('hex'));
    expect(application.serverApplicationTraffic.toString('hex')).toBe(T.serverApplicationTraffic.toString('hex'));
    const clientApp = trafficKeys('sha256', application.clientApplicationTraffic, 16);
    expect(clientApp.key.toString('hex')).toBe(T.clientApplicationKey.toString('hex'));
    expect(clientApp.iv.toString('hex')).toBe(T.clientApplicationIv.toString('hex'));
  });

  it('opens the server flight record into EncryptedExtensions … Finished and seals the client Finished record', () => {
    const server = tls13Protection('aes-128-gcm', T.serverHandshakeKey, T.serverHandshakeIv);
    const fragment = T.serverFlightRecord.subarray(5);
    const opened = server.open(ContentType.applicationData, fragment);
    expect(opened.type).toBe(ContentType.handshake);
    expect(opened.plaintext.toString('hex')).toBe(Buffer.concat([T.encryptedExtensions, T.certificate, T.certificateVerify, T.serverFinished]).toString('hex'));
    const client = tls13Protection('aes-128-gcm', T.clientHandshakeKey, T.clientHandshakeIv);
    expect(client.seal(ContentType.handshake, T.clientFinished).toString('hex')).toBe(T.clientFinishedRecord.toString('hex'));
  });

  it('a flipped bit in the record fails authentication (bad_record_mac)', () => {
    const server = tls13Protection('aes-128-gcm', T.serverHandshakeKey, T.serverHandshakeIv);
    const fragment = Buffer.from(T.serverFlightRecord.subarray(5));
    fragment[100]! ^= 1;
    expect(() => server.open(ContentType.applicationData, fragment)).toThrow(expect.objectContaining({ alert: 'bad_record_mac' }));
  });
});

/**
 * A test PKI and OCSP responses made by the real `openssl` CLI (3.0), so tests of our parser and
 * verifier are judged against bytes we did not produce. `createOpensslPki(dir)` makes a root, an
 * intermediate (issuer of the leaves and delegated responders), leaves with an AIA OCSP URL
 * (ECDSA P-256, RSA-2048, one with TLS Feature Must-Staple), delegated responders with and
 * without id-kp-OCSPSigning, an expired one (issued under libfaketime), P-384 and RSA ones, a
 * stranger CA with its own responder, and an impostor CA bearing the intermediate's name.
 * `opensslOcspResponse()` builds a request (`openssl ocsp -reqout`) and answers it offline
 * (`openssl ocsp -index -reqin -respout`, no port) from an index.txt written for the occasion;
 * `opensslRespText()` and `opensslVerifyResponse()` ask OpenSSL what it reads in a response.
 * Everything runs through execFile (no shell); a failing command throws with its argv and stderr.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fakeTimeEnv } from '../e2e/lab/binaries.js';

export type OpensslKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048';

export interface OpensslCert {
  name: string;
  keyType: OpensslKeyType;
  certPath: string;
  keyPath: string;
  pem: string;
  der: Uint8Array;
  /** Upper-case hex as `openssl x509 -serial` prints it. */
  serial: string;
  /** Subject as `openssl x509 -subject -nameopt RFC2253` prints it. */
  subject: string;
}

export interface OpensslPki {
  dir: string;
  ocspUrl: string;
  /** 'Test Root CA', ec-p256, self-signed. */
  root: OpensslCert;
  /** 'Test Intermediate CA', ec-p256, issued by root: issuer of everything below unless stated. */
  intermediate: OpensslCert;
  /** ec-p256 server leaf with AIA OCSP URL. */
  leafEc: OpensslCert;
  /** rsa-2048 server leaf with AIA OCSP URL. */
  leafRsa: OpensslCert;
  /** ec-p256 leaf with TLS Feature status_request (RFC 7633 Must-Staple) and AIA OCSP URL. */
  leafMustStaple: OpensslCert;
  /** ec-p256 leaf without AIA. */
  leafNoOcspUrl: OpensslCert;
  /** Delegated responder, ec-p256, EKU OCSPSigning. */
  responder: OpensslCert;
  /** Delegated responder, ec-p384, EKU OCSPSigning. */
  responderP384: OpensslCert;
  /** Delegated responder, rsa-2048, EKU OCSPSigning (for PKCS#1 and PSS signatures). */
  responderRsa: OpensslCert;
  /** Issued by the intermediate, EKU serverAuth only: not an authorised responder. */
  responderNoEku: OpensslCert;
  /** EKU OCSPSigning, but valid only in January 2020. */
  responderExpired: OpensslCert;
  /** Unrelated self-signed CA 'Stranger Root CA'. */
  strangerCa: OpensslCert;
  /** Issued by strangerCa with EKU OCSPSigning. */
  strangerResponder: OpensslCert;
  /** Self-signed, same subject as the intermediate but a different key. */
  impostorCa: OpensslCert;
}

export interface OpensslCommandError extends Error {
  argv: string[];
  stderr: string;
}

/** Runs a command (no shell); rejects with argv and stderr unless `allowFailure`. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Uint8Array | string; allowFailure?: boolean } = {},
): Promise<{ stdout: Buffer; stderr: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, encoding: 'buffer', timeout: 30_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const stderrText = stderr.toString('utf8');
        if (error && options.allowFailure && typeof error.code === 'number') {
          resolve({ stdout, stderr: stderrText, exitCode: error.code });
        } else if (error) {
          const failure = new Error(`${[file, ...args].join(' ')} failed (${String(error.code ?? error.signal)}):\n${stderrText}`) as OpensslCommandError;
          failure.argv = [file, ...args];
          failure.stderr = stderrText;
          reject(failure);
        } else {
          resolve({ stdout, stderr: stderrText, exitCode: 0 });
        }
      },
    );
    // A tool that exits without reading its stdin must not crash the test with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

export function openssl(args: readonly string[], options: Parameters<typeof runCommand>[2] = {}): ReturnType<typeof runCommand> {
  return runCommand('openssl', args, options);
}

/** Runs openssl with libfaketime's clock starting at `at` (UTC). */
export function opensslAt(at: Date, args: readonly string[], options: Parameters<typeof runCommand>[2] = {}): ReturnType<typeof runCommand> {
  const stamp = at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  return runCommand('openssl', args, { ...options, env: { ...fakeTimeEnv(`@${stamp}`), ...options.env } });
}

async function generateKey(keyPath: string, keyType: OpensslKeyType): Promise<void> {
  const args =
    keyType === 'rsa-2048'
      ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyPath]
      : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${keyType === 'ec-p384' ? 'P-384' : 'P-256'}`, '-out', keyPath];
  await openssl(args);
}

export interface IssueOptions {
  name: string;
  /** openssl `-subj` form, e.g. `/O=Test/CN=Test Root CA`. */
  subject: string;
  keyType?: OpensslKeyType;
  /** Null: self-signed. */
  issuer: OpensslCert | null;
  /** Lines of an openssl extension section (`basicConstraints = critical,CA:true`, ...). */
  extensions: string[];
  days?: number;
  /** Issue as if the clock said this (libfaketime): notBefore = at. */
  at?: Date;
  /** Reuse an existing key file instead of generating one. */
  keyPath?: string;
}

/** One certificate made with `openssl req` / `openssl x509 -req`, with a random serial. */
export async function issueOpensslCertificate(dir: string, options: IssueOptions): Promise<OpensslCert> {
  const keyType = options.keyType ?? 'ec-p256';
  const keyPath = options.keyPath ?? path.join(dir, `${options.name}.key`);
  const certPath = path.join(dir, `${options.name}.crt`);
  const extPath = path.join(dir, `${options.name}.ext`);
  const csrPath = path.join(dir, `${options.name}.csr`);
  if (!options.keyPath) await generateKey(keyPath, keyType);
  // One file serves as `req -config` (needs a distinguished_name section) and as the extension file.
  await writeFile(extPath, `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${options.extensions.join('\n')}\n`);
  const days = String(options.days ?? 365);
  // A random positive serial with the top bit set in its first byte half the time, so serials
  // with a DER leading 00 octet get exercised.
  const serial = `0x${randomBytes(12).toString('hex')}`;
  const run = (args: string[]) => (options.at ? opensslAt(options.at, args) : openssl(args));
  if (options.issuer === null) {
    await run(['req', '-x509', '-new', '-key', keyPath, '-subj', options.subject, '-days', days, '-set_serial', serial,
      '-config', extPath, '-extensions', 'ext', '-out', certPath]);
  } else {
    await openssl(['req', '-new', '-key', keyPath, '-subj', options.subject, '-config', extPath, '-out', csrPath]);
    await run(['x509', '-req', '-in', csrPath, '-CA', options.issuer.certPath, '-CAkey', options.issuer.keyPath, '-set_serial', serial,
      '-days', days, '-extfile', extPath, '-extensions', 'ext', '-out', certPath]);
  }
  return loadOpensslCertificate(options.name, keyType, certPath, keyPath);
}

export async function loadOpensslCertificate(name: string, keyType: OpensslKeyType, certPath: string, keyPath: string): Promise<OpensslCert> {
  const pem = await readFile(certPath, 'utf8');
  const der = new Uint8Array((await openssl(['x509', '-in', certPath, '-outform', 'DER'])).stdout);
  const text = (await openssl(['x509', '-in', certPath, '-noout', '-serial', '-subject', '-nameopt', 'RFC2253'])).stdout.toString('utf8');
  const serial = /^serial=([0-9A-F]+)$/m.exec(text)?.[1];
  const subject = /^subject=(.*)$/m.exec(text)?.[1];
  if (!serial || subject === undefined) throw new Error(`unexpected openssl x509 output for ${certPath}:\n${text}`);
  return { name, keyType, certPath, keyPath, pem, der, serial, subject };
}

const CA_EXT = ['basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'];
export const RESPONDER_EXT = ['basicConstraints = critical,CA:false', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = OCSPSigning', 'noCheck = ignored'];

/**
 * Makes the whole test PKI under `dir` (created if missing). ~1–2 s, mostly the two RSA keys.
 * Certificates are valid from `validFrom` (default 30 days ago): CAs for 10 years, others 120 days.
 */
export async function createOpensslPki(dir: string, options: { ocspUrl?: string; validFrom?: Date } = {}): Promise<OpensslPki> {
  await mkdir(dir, { recursive: true });
  const ocspUrl = options.ocspUrl ?? 'http://ocsp.example.test/';
  // Backdated (libfaketime) so responses produced "yesterday" still fall inside the signers' validity.
  const at = options.validFrom ?? new Date(Date.now() - 30 * 86_400_000);
  const leafExt = (extra: string[] = [], aia = true) => [
    'basicConstraints = critical,CA:false',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost,IP:127.0.0.1',
    ...(aia ? [`authorityInfoAccess = OCSP;URI:${ocspUrl}`] : []),
    ...extra,
  ];
  const [root, strangerCa, impostorCa] = await Promise.all([
    issueOpensslCertificate(dir, { name: 'root', subject: '/O=OCSP Test/CN=Test Root CA', issuer: null, extensions: CA_EXT, days: 3650, at }),
    issueOpensslCertificate(dir, { name: 'stranger-ca', subject: '/O=Elsewhere/CN=Stranger Root CA', issuer: null, extensions: CA_EXT, days: 3650, at }),
    issueOpensslCertificate(dir, { name: 'impostor-ca', subject: '/O=OCSP Test/CN=Test Intermediate CA', issuer: null, extensions: CA_EXT, days: 3650, at }),
  ]);
  const intermediate = await issueOpensslCertificate(dir, {
    name: 'intermediate', subject: '/O=OCSP Test/CN=Test Intermediate CA', issuer: root, extensions: [...CA_EXT, 'authorityKeyIdentifier = keyid'], days: 3650, at,
  });
  const byInter = (name: string, subject: string, extensions: string[], keyType: OpensslKeyType = 'ec-p256', extra: Partial<IssueOptions> = {}) =>
    issueOpensslCertificate(dir, { name, subject: `/O=OCSP Test/${subject}`, issuer: intermediate, extensions, keyType, days: 120, at, ...extra });
  const [leafEc, leafRsa, leafMustStaple, leafNoOcspUrl, responder, responderP384, responderRsa, responderNoEku, responderExpired, strangerResponder] =
    await Promise.all([
      byInter('leaf-ec', 'OU=ECDSA/CN=localhost', leafExt()),
      byInter('leaf-rsa', 'OU=RSA/CN=localhost', leafExt(), 'rsa-2048'),
      byInter('leaf-must-staple', 'OU=Must-Staple/CN=localhost', leafExt(['tlsfeature = status_request'])),
      byInter('leaf-no-ocsp-url', 'OU=No AIA/CN=localhost', leafExt([], false)),
      byInter('responder', 'CN=Test OCSP Responder', RESPONDER_EXT),
      byInter('responder-p384', 'CN=Test P-384 OCSP Responder', RESPONDER_EXT, 'ec-p384'),
      byInter('responder-rsa', 'CN=Test RSA OCSP Responder', RESPONDER_EXT, 'rsa-2048'),
      byInter('responder-no-eku', 'CN=Test Responder Without OCSPSigning', [
        'basicConstraints = critical,CA:false', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth',
      ]),
      byInter('responder-expired', 'CN=Test Expired OCSP Responder', RESPONDER_EXT, 'ec-p256', { at: new Date('2020-01-01T00:00:00Z'), days: 30 }),
      issueOpensslCertificate(dir, { name: 'stranger-responder', subject: '/O=Elsewhere/CN=Stranger OCSP Responder', issuer: strangerCa, extensions: RESPONDER_EXT, days: 120, at }),
    ]);
  return {
    dir, ocspUrl, root, intermediate, leafEc, leafRsa, leafMustStaple, leafNoOcspUrl, responder, responderP384, responderRsa,
    responderNoEku, responderExpired, strangerCa, strangerResponder, impostorCa,
  };
}

/** CRLReason names `openssl ocsp -index` reads from index.txt (RFC 5280 §5.3.1). */
export type OpensslCrlReason =
  | 'unspecified' | 'keyCompromise' | 'CACompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'certificateHold' | 'removeFromCRL';

export interface IndexEntry {
  serial: string;
  status: 'good' | 'revoked';
  revokedAt?: Date;
  reason?: OpensslCrlReason;
}

export interface OcspResponseOptions {
  /** Working directory for request, index and response files. */
  dir: string;
  /** The CA the CertIDs name (`-issuer` for the request, `-CA` for the responder). */
  issuer: OpensslCert;
  /** One SingleResponse each, in this order. */
  certs: OpensslCert[];
  /** The responder's database; serials absent from it are answered `unknown`. Default: every cert good. */
  index?: IndexEntry[];
  /** Who signs (`-rsigner`/`-rkey`). */
  signer: OpensslCert;
  /** nextUpdate = thisUpdate + ndays days / nmin minutes; neither → no nextUpdate. */
  ndays?: number;
  nmin?: number;
  /** responderID byKey (`-resp_key_id`) instead of byName. */
  respKeyId?: boolean;
  /** Embed no certificates (`-resp_no_certs`). */
  noCerts?: boolean;
  /** Extra certificates to embed (`-rother`). */
  other?: OpensslCert[];
  /** Signature digest (`-rmd`), e.g. sha384. */
  rmd?: string;
  /** `-rsigopt` values, e.g. `rsa_padding_mode:pss`. */
  rsigopt?: string[];
  /** CertID hash (`-sha256` etc. on the request); default sha1. */
  certIdHash?: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  /** Run the responder with libfaketime's clock at this instant (producedAt = thisUpdate ≈ at). */
  at?: Date;
  /** OpenSSL's `-badsig`: corrupt the signature. */
  badSig?: boolean;
  /** Put a nonce in the request; the responder echoes it as a response extension (RFC 8954). */
  nonce?: boolean;
}

let sequence = 0;

function indexTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** A DER OCSPResponse made by `openssl ocsp` in offline responder mode. */
export async function opensslOcspResponse(options: OcspResponseOptions): Promise<Uint8Array> {
  sequence += 1;
  const stem = path.join(options.dir, `ocsp-${process.pid}-${sequence}`);
  const index = options.index ?? options.certs.map((c) => ({ serial: c.serial, status: 'good' as const }));
  const lines = index.map((entry) => {
    const revoked = entry.status === 'revoked' ? `${indexTime(entry.revokedAt ?? new Date(Date.now() - 86_400_000))}${entry.reason ? `,${entry.reason}` : ''}` : '';
    return [entry.status === 'revoked' ? 'R' : 'V', '491231235959Z', revoked, entry.serial, 'unknown', '/CN=whatever'].join('\t');
  });
  await writeFile(`${stem}.index.txt`, lines.map((l) => l + '\n').join(''));
  await writeFile(`${stem}.index.txt.attr`, 'unique_subject = no\n');

  const reqArgs = ['ocsp', ...(options.nonce ? [] : ['-no_nonce']), '-issuer', options.issuer.certPath];
  if (options.certIdHash) reqArgs.push(`-${options.certIdHash}`);
  for (const cert of options.certs) reqArgs.push('-cert', cert.certPath);
  reqArgs.push('-reqout', `${stem}.req.der`);
  await openssl(reqArgs);

  const args = ['ocsp', '-index', `${stem}.index.txt`, '-CA', options.issuer.certPath, '-rsigner', options.signer.certPath,
    '-rkey', options.signer.keyPath, '-reqin', `${stem}.req.der`, '-respout', `${stem}.resp.der`];
  if (options.ndays !== undefined) args.push('-ndays', String(options.ndays));
  if (options.nmin !== undefined) args.push('-nmin', String(options.nmin));
  if (options.respKeyId) args.push('-resp_key_id');
  if (options.noCerts) args.push('-resp_no_certs');
  if (options.rmd) args.push('-rmd', options.rmd);
  for (const opt of options.rsigopt ?? []) args.push('-rsigopt', opt);
  if (options.badSig) args.push('-badsig');
  if (options.other?.length) {
    await writeFile(`${stem}.other.pem`, options.other.map((c) => c.pem).join(''));
    args.push('-rother', `${stem}.other.pem`);
  }
  if (options.at) await opensslAt(options.at, args);
  else await openssl(args);
  return new Uint8Array(await readFile(`${stem}.resp.der`));
}

export interface RespTextSingle {
  hashAlgorithm: string;
  issuerNameHash: string;
  issuerKeyHash: string;
  serial: string;
  certStatus: string;
  thisUpdate: Date | null;
  nextUpdate: Date | null;
  revocationTime: Date | null;
  revocationReason: string | null;
}

export interface RespText {
  /** OpenSSL's word: successful, trylater, internalerror, ... */
  status: string;
  statusCode: number;
  responderId: string | null;
  producedAt: Date | null;
  singles: RespTextSingle[];
  signatureAlgorithm: string | null;
  text: string;
}

/** OpenSSL's `Nov 25 08:49:32 2026 GMT`. */
function opensslDate(text: string | undefined): Date | null {
  if (!text) return null;
  const d = new Date(text.replace(' GMT', ' UTC'));
  if (Number.isNaN(d.getTime())) throw new Error(`unparseable openssl date ${text}`);
  return d;
}

/** What `openssl ocsp -respin - -resp_text -noverify` reads in `der` (OpenSSL 3.0 wording). */
export async function opensslRespText(der: Uint8Array): Promise<RespText> {
  const { stdout } = await openssl(['ocsp', '-respin', '-', '-resp_text', '-noverify'], { input: der, allowFailure: true });
  const text = stdout.toString('utf8');
  // Non-successful responses print only `Responder Error: trylater (3)`.
  const status = /OCSP Response Status: (\S+) \((0x[0-9a-f]+)\)/.exec(text) ?? /Responder Error: (\S+) \((\d+)\)/.exec(text);
  if (!status?.[1] || !status[2]) throw new Error(`no response status in openssl output:\n${text}`);
  const field = (block: string, label: string) => new RegExp(`^\\s*${label}: (.*)$`, 'm').exec(block)?.[1]?.trim();
  const singles: RespTextSingle[] = [];
  const dataPart = text.split(/^\s*Signature Algorithm:/m)[0] ?? '';
  for (const block of dataPart.split(/^\s*Certificate ID:\s*$/m).slice(1)) {
    singles.push({
      hashAlgorithm: field(block, 'Hash Algorithm') ?? '',
      issuerNameHash: (field(block, 'Issuer Name Hash') ?? '').toLowerCase(),
      issuerKeyHash: (field(block, 'Issuer Key Hash') ?? '').toLowerCase(),
      serial: field(block, 'Serial Number') ?? '',
      certStatus: field(block, 'Cert Status') ?? '',
      thisUpdate: opensslDate(field(block, 'This Update')),
      nextUpdate: opensslDate(field(block, 'Next Update')),
      revocationTime: opensslDate(field(block, 'Revocation Time')),
      revocationReason: field(block, 'Revocation Reason')?.replace(/ \(0x[0-9a-f]+\)$/, '') ?? null,
    });
  }
  return {
    status: status[1],
    statusCode: status[2].startsWith('0x') ? parseInt(status[2], 16) : Number(status[2]),
    responderId: field(text, 'Responder Id') ?? null,
    producedAt: opensslDate(field(text, 'Produced At')),
    singles,
    signatureAlgorithm: field(dataPart.length < text.length ? text.slice(dataPart.length) : '', 'Signature Algorithm') ?? null,
    text,
  };
}

export interface OpensslVerdict {
  /** `Response verify OK` (signature, signer chain to `trusted`, OCSPSigning delegation). */
  verifyOk: boolean;
  /** The status openssl printed for `cert` (good / revoked / unknown), null if none. */
  certStatus: string | null;
  /** `ERROR: No Status found.`: no SingleResponse for the cert. */
  noStatus: boolean;
  /** `WARNING: Status times invalid.` (thisUpdate/nextUpdate vs. now ± 300 s). */
  timesInvalid: boolean;
  output: string;
}

/**
 * OpenSSL's verdict on `der` for `cert` issued by `issuer`: `openssl ocsp -respin -issuer -cert
 * -CAfile <trusted> -verify_other <untrusted>`.
 */
export async function opensslVerifyResponse(
  dir: string,
  der: Uint8Array,
  options: {
    issuer: OpensslCert;
    cert: OpensslCert;
    trusted: OpensslCert[];
    untrusted?: OpensslCert[];
    /** OpenSSL looks the cert up by a CertID of this hash: it must be the response's (default sha1). */
    certIdHash?: OcspResponseOptions['certIdHash'];
    /** Verify the signer's certificate chain as at this time (`-attime`); status times are still judged against now. */
    attime?: Date;
  },
): Promise<OpensslVerdict> {
  sequence += 1;
  const stem = path.join(dir, `verify-${process.pid}-${sequence}`);
  await writeFile(`${stem}.resp.der`, der);
  await writeFile(`${stem}.trusted.pem`, options.trusted.map((c) => c.pem).join(''));
  const args = ['ocsp', '-respin', `${stem}.resp.der`, '-issuer', options.issuer.certPath,
    ...(options.certIdHash ? [`-${options.certIdHash}`] : []), '-cert', options.cert.certPath, '-CAfile', `${stem}.trusted.pem`];
  if (options.attime) args.push('-attime', String(Math.floor(options.attime.getTime() / 1000)));
  if (options.untrusted?.length) {
    await writeFile(`${stem}.untrusted.pem`, options.untrusted.map((c) => c.pem).join(''));
    args.push('-verify_other', `${stem}.untrusted.pem`);
  }
  const { stdout, stderr } = await openssl(args, { allowFailure: true });
  const output = stdout.toString('utf8') + stderr;
  // `<path>: good`, or `<path>: WARNING: Status times invalid.` + error line + `good`.
  const certStatus = /^(?:.*: )?(good|revoked|unknown)$/m.exec(output)?.[1] ?? null;
  return {
    verifyOk: /Response verify OK/.test(output),
    certStatus,
    noStatus: /No Status found/.test(output),
    timesInvalid: /Status times invalid/.test(output),
    output,
  };
}

/** Offsets of one DER element (hand-decoded, independent of src/). */
export interface DerSpan {
  start: number;
  contentStart: number;
  end: number;
}

export function derSpan(der: Uint8Array, offset: number): DerSpan {
  const first = der[offset + 1];
  if (first === undefined) throw new Error(`no DER element at ${offset}`);
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
    contentStart += first & 0x7f;
  }
  return { start: offset, contentStart, end: contentStart + length };
}

/** Child elements of the constructed element at `span`. */
export function derChildren(der: Uint8Array, span: DerSpan): DerSpan[] {
  const out: DerSpan[] = [];
  for (let at = span.contentStart; at < span.end; ) {
    const child = derSpan(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** Where the parts of a successful basic OCSP response sit in its DER (RFC 6960 §4.2.1). */
export interface ResponseLayout {
  tbs: DerSpan;
  responderId: DerSpan;
  /** BIT STRING holding the signature (contents start with the unused-bits octet). */
  signature: DerSpan;
}

export function responseLayout(der: Uint8Array): ResponseLayout {
  const outer = derSpan(der, 0);
  const responseBytesTagged = derChildren(der, outer)[1]!;
  const responseBytes = derChildren(der, responseBytesTagged)[0]!;
  const octets = derChildren(der, responseBytes)[1]!;
  const basic = derSpan(der, octets.contentStart);
  const [tbs, , signature] = derChildren(der, basic);
  const tbsChildren = derChildren(der, tbs!);
  const responderId = der[tbsChildren[0]!.start] === 0xa0 ? tbsChildren[1]! : tbsChildren[0]!;
  return { tbs: tbs!, responderId, signature: signature! };
}

/**
 * Re-signs `der`'s tbsResponseData in place with `keyPath` (after a test edited it without
 * changing its length). ECDSA signatures vary in length, so it signs until one fits.
 */
export async function resignInPlace(der: Uint8Array, keyPath: string, hash = 'sha256'): Promise<Uint8Array> {
  const key = createPrivateKey(await readFile(keyPath));
  const { tbs, signature } = responseLayout(der);
  const room = signature.end - signature.contentStart - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const sig = sign(hash, der.subarray(tbs.start, tbs.end), key);
    if (sig.length === room) {
      const out = der.slice();
      out.set(sig, signature.contentStart + 1);
      return out;
    }
  }
  throw new Error('could not produce a signature of the same length');
}

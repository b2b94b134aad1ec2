/**
 * A throw-away PKI made with the `openssl` CLI, laid out the way real deployments are: a root, an
 * intermediate that issues everything else through an `openssl ca` database (index.txt), leaves
 * for localhost/127.0.0.1 whose AIA names the lab's OCSP responder, and a delegated OCSP signer
 * carrying id-kp-OCSPSigning (RFC 6960 §4.2.2.2). Revocation goes through `openssl ca -revoke`, so
 * the live responder and offline `openssl ocsp -respout` answers come from the same index. Offline
 * responses can be back- or forward-dated with libfaketime, which OpenSSL 3.0 honours.
 *
 * Overlaps with test/helpers/openssl.ts (the unit tests' OpenSSL PKI, written in parallel), which
 * writes an index.txt per response; the lab keeps its own because a live responder, `openssl ca
 * -revoke` and offline answers must share one `openssl ca` database. Exotic signers (stranger CA,
 * impostor, responder without the EKU) live in that helper.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { binaryPath, fakeTimeEnv } from './binaries.js';
import { LabError } from './errors.js';
import { openssl, run } from './exec.js';

export type KeyType = 'ec' | 'rsa';

/** CRLReason names `openssl ca -crl_reason` accepts (RFC 5280 §5.3.1). */
export type LabRevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'CACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold';

export interface LabCert {
  /** Lab-local name, also the file stem (`<dir>/certs/<name>.crt`). */
  name: string;
  keyType: KeyType;
  /** PEM of this certificate only. */
  certPath: string;
  /** PEM private key (PKCS#8). */
  keyPath: string;
  /** PEM of this certificate followed by its issuing intermediate (what a server sends). */
  chainPath: string;
  certPem: string;
  certDer: Buffer;
  /** Serial in upper-case hex, as `openssl x509 -serial` prints it. */
  serial: string;
}

export interface LeafOptions {
  /** Unique within the PKI; used for file names and the OU of the subject. */
  name: string;
  keyType?: KeyType;
  /** AIA OCSP URL; null for a certificate without one. */
  ocspUrl: string | null;
  /** DNS names and IP addresses for the SAN (default localhost and 127.0.0.1). */
  hosts?: readonly string[];
  /** Adds the TLS Feature status_request extension (RFC 7633, "OCSP Must-Staple"). */
  mustStaple?: boolean;
  days?: number;
}

export interface OfflineResponseOptions {
  /** Who signs: the delegated OCSP signer (default) or the issuing intermediate itself. */
  signer?: 'delegated' | 'issuer';
  /** nextUpdate = thisUpdate + this many minutes; null omits nextUpdate (default 24 h). */
  validMinutes?: number | null;
  /** Pretend the responder ran at this instant (producedAt = thisUpdate = at), via faketime. */
  at?: Date;
  /** Leave the signer certificate out of the response (`-resp_no_certs`). */
  noCerts?: boolean;
  /** Corrupt the signature (`-badsig`). */
  badSignature?: boolean;
}

export interface CreatePkiOptions {
  /** Key type of root, intermediate and responder (default ec, P-256). */
  caKeyType?: KeyType;
}

const CA_CONFIG = `[ca]
default_ca = lab_ca
[lab_ca]
dir = .
database = ./index.txt
new_certs_dir = ./issued
serial = ./serial
default_md = sha256
policy = lab_policy
unique_subject = no
copy_extensions = none
default_days = 30
[lab_policy]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
`;

export class LabPki {
  readonly dir: string;
  readonly root: LabCert;
  readonly intermediate: LabCert;
  private responderCert: LabCert | null = null;
  /** PEM bundle root + intermediate: the trust store for servers verifying staples and for clients. */
  readonly trustPath: string;
  /** The intermediate's `openssl ca` database. */
  readonly indexPath: string;
  private readonly certs = new Map<string, LabCert>();
  private queue: Promise<unknown> = Promise.resolve();
  private sequence = 0;

  private constructor(dir: string, root: LabCert, intermediate: LabCert, trustPath: string) {
    this.dir = dir;
    this.root = root;
    this.intermediate = intermediate;
    this.trustPath = trustPath;
    this.indexPath = path.join(dir, 'ca', 'index.txt');
    for (const cert of [root, intermediate]) this.certs.set(cert.name, cert);
  }

  /** Delegated OCSP signer issued by the intermediate (id-kp-OCSPSigning, ocsp-nocheck). */
  get responder(): LabCert {
    if (!this.responderCert) throw new Error('LabPki used before create() finished');
    return this.responderCert;
  }

  /** Creates root, intermediate, CA database and delegated responder under `dir`. */
  static async create(dir: string, options: CreatePkiOptions = {}): Promise<LabPki> {
    const caKeyType = options.caKeyType ?? 'ec';
    binaryPath('openssl');
    const caDir = path.join(dir, 'ca');
    await mkdir(path.join(caDir, 'issued'), { recursive: true });
    await mkdir(path.join(dir, 'certs'), { recursive: true, mode: 0o755 });
    await mkdir(path.join(dir, 'work'), { recursive: true });
    await writeFile(path.join(caDir, 'ca.cnf'), CA_CONFIG);
    await writeFile(path.join(caDir, 'index.txt'), '');
    // Random positive serial start, so serials differ between labs and runs.
    const serialStart = (randomBytes(8).readBigUInt64BE() >> 1n) | (1n << 60n);
    await writeFile(path.join(caDir, 'serial'), `${serialStart.toString(16).toUpperCase()}\n`);

    const certsDir = path.join(dir, 'certs');
    const rootKey = path.join(certsDir, 'root.key');
    const rootCrt = path.join(certsDir, 'root.crt');
    await generateKey(rootKey, caKeyType);
    await openssl(['req', '-x509', '-new', '-key', rootKey, '-subj', '/O=OCSP Lab/CN=OCSP Lab Root', '-days', '60',
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash', '-out', rootCrt]);
    const root = await loadCert('root', caKeyType, rootCrt, rootKey, rootCrt);

    // The intermediate is signed with `openssl x509 -req` (not through the database): the lab's
    // responder answers for the intermediate's children only.
    const interKey = path.join(certsDir, 'intermediate.key');
    const interCsr = path.join(dir, 'work', 'intermediate.csr');
    const interCrt = path.join(certsDir, 'intermediate.crt');
    const interExt = path.join(dir, 'work', 'intermediate.ext');
    await generateKey(interKey, caKeyType);
    await openssl(['req', '-new', '-key', interKey, '-subj', '/O=OCSP Lab/CN=OCSP Lab Intermediate', '-out', interCsr]);
    await writeFile(interExt, 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await openssl(['x509', '-req', '-in', interCsr, '-CA', rootCrt, '-CAkey', rootKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '60', '-extfile', interExt, '-out', interCrt]);
    const intermediate = await loadCert('intermediate', caKeyType, interCrt, interKey, interCrt);

    const trustPath = path.join(certsDir, 'trust.pem');
    await writeFile(trustPath, root.certPem + intermediate.certPem);

    const pki = new LabPki(dir, root, intermediate, trustPath);
    const responder = await pki.issue('ocsp-responder', caKeyType, '/O=OCSP Lab/CN=OCSP Lab Responder', [
      'basicConstraints = critical,CA:false',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = OCSPSigning',
      'noCheck = ignored',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ], 60);
    pki.responderCert = responder;
    pki.certs.set(responder.name, responder);
    return pki;
  }

  /** A certificate made earlier, by name. */
  cert(name: string): LabCert {
    const cert = this.certs.get(name);
    if (!cert) throw new TypeError(`no lab certificate named ${name}`);
    return cert;
  }

  /** Issues a TLS server certificate through the intermediate's database. */
  async issueLeaf(options: LeafOptions): Promise<LabCert> {
    if (this.certs.has(options.name)) throw new TypeError(`lab certificate ${options.name} exists already`);
    const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
    const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    const lines = [
      'basicConstraints = critical,CA:false',
      `keyUsage = critical,digitalSignature${options.keyType === 'rsa' ? ',keyEncipherment' : ''}`,
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${san}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ];
    if (options.ocspUrl !== null) lines.push(`authorityInfoAccess = OCSP;URI:${options.ocspUrl}`);
    if (options.mustStaple) lines.push('tlsfeature = status_request');
    const cn = hosts[0] ?? 'localhost';
    const cert = await this.issue(options.name, options.keyType ?? 'ec', `/O=OCSP Lab/OU=${options.name}/CN=${cn}`, lines, options.days ?? 30);
    this.certs.set(cert.name, cert);
    return cert;
  }

  /** Marks `cert` revoked in the database (`openssl ca -revoke -crl_reason`). */
  async revoke(cert: LabCert, reason: LabRevocationReason = 'keyCompromise'): Promise<void> {
    await this.serialised(() =>
      openssl(['ca', '-config', 'ca.cnf', '-cert', this.intermediate.certPath, '-keyfile', this.intermediate.keyPath,
        '-revoke', cert.certPath, '-crl_reason', reason], { cwd: path.join(this.dir, 'ca') }),
    );
  }

  /** DER OCSPRequest for `cert` (SHA-1 CertID, no nonce), as servers send them. */
  async ocspRequest(cert: LabCert): Promise<Buffer> {
    const out = this.workFile(`${cert.name}.req.der`);
    await openssl(['ocsp', '-issuer', this.intermediate.certPath, '-cert', cert.certPath, '-no_nonce', '-reqout', out]);
    return readFile(out);
  }

  /**
   * A DER OCSPResponse for `cert` made offline from the current database (`openssl ocsp -index
   * -reqin -respout`): good, revoked, or unknown (for a certificate the database does not know).
   */
  async makeResponse(cert: LabCert, options: OfflineResponseOptions = {}): Promise<Buffer> {
    const request = this.workFile(`${cert.name}.req.der`);
    await writeFile(request, await this.ocspRequest(cert));
    const out = this.workFile(`${cert.name}.resp.der`);
    const signer = options.signer === 'issuer' ? this.intermediate : this.responder;
    const args = ['ocsp', '-index', this.indexPath, '-CA', this.intermediate.certPath, '-rsigner', signer.certPath,
      '-rkey', signer.keyPath, '-reqin', request, '-respout', out];
    const validMinutes = options.validMinutes === undefined ? 24 * 60 : options.validMinutes;
    if (validMinutes !== null) {
      if (!Number.isInteger(validMinutes) || validMinutes < 1) throw new TypeError('validMinutes must be a positive integer or null');
      args.push('-nmin', String(validMinutes));
    }
    if (options.noCerts) args.push('-resp_no_certs');
    if (options.badSignature) args.push('-badsig');
    if (options.at) await fakeTimeOpenssl(options.at, args);
    else await openssl(args);
    return readFile(out);
  }

  private workFile(stem: string): string {
    this.sequence += 1;
    return path.join(this.dir, 'work', `${this.sequence}-${stem}`);
  }

  private async issue(name: string, keyType: KeyType, subject: string, extLines: string[], days: number): Promise<LabCert> {
    const certsDir = path.join(this.dir, 'certs');
    const keyPath = path.join(certsDir, `${name}.key`);
    const certPath = path.join(certsDir, `${name}.crt`);
    const csr = this.workFile(`${name}.csr`);
    const ext = this.workFile(`${name}.ext`);
    await generateKey(keyPath, keyType);
    await openssl(['req', '-new', '-key', keyPath, '-subj', subject, '-out', csr]);
    await writeFile(ext, `[ext]\n${extLines.join('\n')}\n`);
    await this.serialised(() =>
      openssl(['ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', this.intermediate.certPath, '-keyfile', this.intermediate.keyPath,
        '-extfile', ext, '-extensions', 'ext', '-days', String(days), '-in', csr, '-out', certPath], { cwd: path.join(this.dir, 'ca') }),
    );
    const chainPath = path.join(certsDir, `${name}.chain.pem`);
    const cert = await loadCert(name, keyType, certPath, keyPath, chainPath);
    await writeFile(chainPath, cert.certPem + this.intermediate.certPem);
    return cert;
  }

  /** `openssl ca` rewrites index.txt and serial: never run two at once. */
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

async function generateKey(keyPath: string, keyType: KeyType): Promise<void> {
  const args = keyType === 'ec'
    ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]
    : ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyPath];
  await openssl(args);
}

async function loadCert(name: string, keyType: KeyType, certPath: string, keyPath: string, chainPath: string): Promise<LabCert> {
  const certPem = await readFile(certPath, 'utf8');
  const certDer = (await openssl(['x509', '-in', certPath, '-outform', 'DER'])).stdout;
  const serialLine = (await openssl(['x509', '-in', certPath, '-noout', '-serial'])).stdout.toString('utf8').trim();
  const match = /^serial=([0-9A-F]+)$/.exec(serialLine);
  if (!match?.[1]) throw new LabError('LAB_BAD_OUTPUT', `unexpected serial output: ${serialLine}`);
  return { name, keyType, certPath, keyPath, chainPath, certPem, certDer, serial: match[1] };
}

/** Runs `openssl args` under libfaketime with the clock starting at `at` (UTC). */
async function fakeTimeOpenssl(at: Date, args: string[]): Promise<void> {
  const stamp = at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  // '@' = start the fake clock at this instant and let it run.
  await run(binaryPath('openssl'), args, { env: fakeTimeEnv(`@${stamp}`) });
}

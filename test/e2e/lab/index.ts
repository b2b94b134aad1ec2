/**
 * The end-to-end lab's public surface: start a `Lab` (PKI + live responder + standard leaves),
 * start real nginx / HAProxy / Apache sites on loopback from it, capture what they staple with
 * Node's TLS client or `openssl s_client`, and judge the bytes with OpenSSL. Test files import
 * from here only.
 */
export { Lab, type LabOptions, type LabTimings, type StandardLeaves } from './lab.js';
export { LabPki, type KeyType, type LabCert, type LabRevocationReason, type LeafOptions, type OfflineResponseOptions } from './pki.js';
export { OcspResponder, type ResponderOptions } from './responder.js';
export { NginxServer, type NginxOptions, type NginxSiteOptions, type NginxStapling } from './nginx.js';
export { HaproxyServer, type HaproxyOptions, type HaproxySiteOptions } from './haproxy.js';
export { ApacheServer, APACHE_MODULE_DIR, type ApacheOptions, type ApacheSiteOptions } from './apache.js';
export { LabServer, type LabServerKind, type RunningSite } from './server.js';
export { startGnutlsServer, type GnutlsServerOptions } from './gnutls.js';
export { NamespacedServer, type NamespacedServerOptions } from './netns.js';
export { startNssServer, type NssServerOptions, type NssStapling } from './nss.js';
export { JsseServer, type JsseServerOptions } from './jsse.js';
export { CaddyServer, type CaddyServerOptions } from './caddy.js';
export { captureStaple, sClientStatus, tlsHandshakeSucceeds, type CaptureOptions, type CapturedStaple, type SClientStatus, type TlsVersionName } from './tls.js';
export {
  TRY_LATER_DER,
  RESPONSE_STATUS_NAMES,
  describeOcspResponse,
  opensslVerifyResponse,
  type OpensslVerdict,
  parseOpensslDate,
  parseRespText,
  postOcspRequest,
  responseStatusByte,
  type OcspResponseText,
} from './ocsp.js';
export { waitFor, type WaitOptions } from './wait.js';
export { freePort, freePorts, withFreePorts, saysAddressInUse, LOOPBACK, type PortChoice } from './ports.js';
export { spawnManaged, ManagedProcess, atLabExit, childPids, isRunning, liveProcessCount, stopAllProcesses, type SpawnOptions, type ExitInfo } from './processes.js';
export { requireLabTools, findBinary, binaryPath, fakeTimeEnv, DEBIAN_PACKAGE, type LabTool, type LabGate } from './binaries.js';
export { LabError, type LabErrorCode } from './errors.js';
export { run, openssl, type ExecOptions, type ExecResult } from './exec.js';

/**
 * Every metric family the exporter exposes: name, help text and the labels it carries beyond the
 * per-address ones (`target`, `address`, `module` and the target's configured extra labels).
 * Dashboards, alert rules and the metrics reference (docs/metrics.md) are written against these
 * names, so they live in one place and change only deliberately. Units follow Prometheus conventions: seconds, bytes and
 * `_timestamp_seconds` for points in time; `_info` gauges of value 1 carry descriptive labels.
 * Every label a per-address family carries must be in the config layer's RESERVED_LABEL_NAMES
 * (checked when this module loads), so a target's extra labels can never clash with ours.
 */
import { RESERVED_LABEL_NAMES } from '../config/schema.js';

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  /** Labels of this family besides the per-address labels (or all of them for exporter metrics). */
  readonly labels: readonly string[];
}

function family(name: string, help: string, labels: readonly string[] = []): MetricFamily {
  return { name, help, labels };
}

/** Labels every per-address series carries, before the target's configured extra labels. */
export const ADDRESS_LABELS = ['target', 'address', 'module'] as const;

/** Per-address families: one series (set) per probed address. */
export const PROBE_METRICS = {
  probeSuccess: family('ocsp_probe_success', 'Whether the TLS handshake with this address completed (1) or not (0).'),
  probeDuration: family('ocsp_probe_duration_seconds', 'How long the probe of this address took (resolution, connect, handshake, verification).'),
  probeTimestamp: family(
    'ocsp_probe_timestamp_seconds',
    'When the probe behind these series started (Unix time); older than the scrape when a fresh result was reused.',
  ),
  probeFailure: family(
    'ocsp_probe_failure',
    'Why the probe failed: 1 for the reason of a failed probe, 0 for every other reason (all 0 when it succeeded).',
    ['reason'],
  ),
  tlsInfo: family('ocsp_tls_info', 'Negotiated TLS version and cipher suite; always 1.', ['version', 'cipher']),
  chainVerified: family('ocsp_chain_verified', "Whether the presented chain verified against the module's trust store and the server name (1) or not (0)."),

  staplePresent: family('ocsp_staple_present', 'Whether the server stapled an OCSP response (1) or not (0).'),
  stapleSize: family('ocsp_staple_size_bytes', 'Size of the stapled OCSP response.'),
  stapleValid: family(
    'ocsp_staple_valid',
    'Whether the staple is parsed, successful, signed by an authorised responder, about the served certificate and inside its validity window (1) or not (0).',
  ),
  stapleProblem: family('ocsp_staple_problem', 'A problem found in the staple; one series of value 1 per problem present.', ['problem']),
  stapleCertStatus: family(
    'ocsp_staple_cert_status',
    'Certificate status the staple states: 1 for the stated status, 0 for the others.',
    ['status'],
  ),
  stapleThisUpdate: family('ocsp_staple_this_update_timestamp_seconds', 'thisUpdate of the stapled response (Unix time).'),
  stapleNextUpdate: family('ocsp_staple_next_update_timestamp_seconds', 'nextUpdate of the stapled response (Unix time); absent when the response has none.'),
  stapleProducedAt: family('ocsp_staple_produced_at_timestamp_seconds', 'producedAt of the stapled response (Unix time).'),
  stapleSecondsUntilNextUpdate: family(
    'ocsp_staple_seconds_until_next_update',
    "Seconds from the scrape until the staple's nextUpdate; negative once passed, absent without nextUpdate.",
  ),
  stapleAge: family('ocsp_staple_age_seconds', "Seconds from the staple's thisUpdate to the scrape."),
  stapleValidity: family('ocsp_staple_validity_seconds', "Length of the staple's validity window (nextUpdate minus thisUpdate); absent without nextUpdate."),
  stapleSignerNotAfter: family(
    'ocsp_staple_signer_not_after_timestamp_seconds',
    "notAfter of the delegated responder certificate that signed the staple (Unix time); absent when the issuer signed it itself.",
  ),
  stapleEnd: family(
    'ocsp_staple_end_timestamp_seconds',
    "When the staple stops being usable (Unix time): the earlier of nextUpdate and the delegated signer's notAfter; absent when it has neither.",
  ),
  stapleSecondsUntilEnd: family(
    'ocsp_staple_seconds_until_end',
    "Seconds from the scrape until the staple stops being usable (the earlier of nextUpdate and the delegated signer's notAfter); negative once passed.",
  ),
  stapleStale: family(
    'ocsp_staple_stale',
    "Whether the staple is older than half its usable window (thisUpdate to the earlier of nextUpdate and the delegated signer's notAfter) (1), the point by which a healthy server has refreshed it; absent without an end.",
  ),

  certRevoked: family(
    'ocsp_cert_revoked',
    'Whether a trustworthy source (a valid staple, or a verified answer of the responder asked directly) says the certificate is revoked (1) or not (0); absent when there is none.',
  ),
  certRevocationTime: family(
    'ocsp_cert_revocation_timestamp_seconds',
    'When the certificate was revoked, according to a valid staple or a verified responder answer (Unix time).',
  ),
  certMustStaple: family('ocsp_cert_must_staple', 'Whether the certificate has the TLS Feature (Must-Staple) extension, RFC 7633 (1) or not (0).'),
  certHasOcspUrl: family('ocsp_cert_has_ocsp_url', 'Whether the certificate names an OCSP responder in its AIA extension (1) or not (0).'),
  certNotAfter: family('ocsp_cert_not_after_timestamp_seconds', 'notAfter of the served certificate (Unix time).'),
  issuerFetchSuccess: family(
    'ocsp_issuer_fetch_success',
    "Whether the leaf's issuer, missing from the presented chain and the CA file, was fetched from its AIA caIssuers URL and verified (1) or not (0); absent unless the module sets fetch_issuer and the issuer was missing.",
  ),
  certInfo: family('ocsp_cert_info', 'Identity of the served certificate; always 1.', [
    'subject',
    'issuer',
    'serial',
    'fingerprint_sha256',
    'ocsp_url',
  ]),

  // The leaf's responder asked directly (module query_responder); absent unless the module asks.
  responderUp: family(
    'ocsp_responder_up',
    "Whether the certificate's OCSP responder, asked directly, gave a verified answer about it inside its validity window (1) or not (0); absent when the certificate names no responder.",
  ),
  responderDuration: family(
    'ocsp_responder_duration_seconds',
    'How long the HTTP exchange with the responder took; for a reused answer, the exchange that fetched it.',
  ),
  responderCacheHit: family(
    'ocsp_responder_cache_hit',
    "Whether the responder's answer was reused (1: the exporter's cache, or another probe's request in flight) or asked for by this probe (0).",
  ),
  responderFetchTimestamp: family('ocsp_responder_fetch_timestamp_seconds', "When the responder's answer was fetched (Unix time); older than the probe when reused."),
  responderProblem: family(
    'ocsp_responder_problem',
    'A problem asking the responder or with its answer; one series of value 1 per problem present (transport problems such as timeout or redirect, or the same problems as ocsp_staple_problem).',
    ['problem'],
  ),
  responderCertStatus: family(
    'ocsp_responder_cert_status',
    "Certificate status the responder's verified answer states: 1 for the stated status, 0 for the others; absent without a verified answer.",
    ['status'],
  ),
  responderThisUpdate: family('ocsp_responder_this_update_timestamp_seconds', "thisUpdate of the responder's verified answer (Unix time)."),
  responderNextUpdate: family(
    'ocsp_responder_next_update_timestamp_seconds',
    "nextUpdate of the responder's verified answer (Unix time); absent when the answer has none.",
  ),

  // Intermediates of the presented chain, each asked about at its issuer's responder (query_chain_responders).
  chainResponderUp: family(
    'ocsp_chain_responder_up',
    "Whether the OCSP responder of the issuer of the intermediate at this chain depth (1 = first intermediate) gave a verified answer about it (1) or not (0); absent when the intermediate names no responder.",
    ['depth'],
  ),
  chainResponderProblem: family(
    'ocsp_chain_responder_problem',
    'A problem asking about the intermediate at this chain depth, or with the answer; one series of value 1 per problem present.',
    ['depth', 'problem'],
  ),
  chainCertRevoked: family(
    'ocsp_chain_cert_revoked',
    "Whether a verified answer of its issuer's responder says the intermediate at this chain depth is revoked (1) or not (0); absent without one.",
    ['depth'],
  ),
} as const satisfies Record<string, MetricFamily>;

/**
 * Families of the staple files on disk (config `staple_files`), besides the `ocsp_staple_*` and
 * `ocsp_cert_*` families above, which file series share with probed ones. Identity labels `file`
 * and `certificate` instead of target, address, module. On /metrics only.
 */
export const STAPLE_FILE_METRICS = {
  fileReadable: family(
    'ocsp_staple_file_readable',
    'Whether the staple file and its certificate file were read and the certificate parsed (1) or not (0); an empty staple file is readable and means no staple.',
  ),
  fileError: family(
    'ocsp_staple_file_error',
    'Why the staple file or its certificate could not be used: 1 for the reason, 0 for every other reason (all 0 when readable).',
    ['reason'],
  ),
  fileModified: family('ocsp_staple_file_modified_timestamp_seconds', 'When the staple file was last written (its mtime, Unix time); absent when it cannot be looked at.'),
  fileRewriteDeadline: family(
    'ocsp_staple_file_rewrite_deadline_timestamp_seconds',
    "When the refresh job should have rewritten the staple file by (Unix time): its mtime plus rewrite_within times the staple's usable window (thisUpdate to the earlier of nextUpdate and the delegated signer's notAfter); absent without an end.",
  ),
} as const satisfies Record<string, MetricFamily>;

/** Identity labels of every staple file series, before the entry's configured extra labels. */
export const STAPLE_FILE_LABELS = ['file', 'certificate'] as const;

/**
 * Families of the responders checked on their own (config `responder_checks`), besides the
 * `ocsp_responder_*` and `ocsp_cert_*` families above, which they share with probes that query
 * the responder. Identity label `certificate`. On /metrics only.
 */
export const RESPONDER_CHECK_METRICS = {
  certificateReadable: family(
    'ocsp_responder_check_certificate_readable',
    'Whether the certificate file (and the issuer file, when one is configured) was read and holds a certificate (1) or not (0); without it the responder is not asked.',
  ),
  certificateError: family(
    'ocsp_responder_check_certificate_error',
    'Why the certificate file (or issuer file) could not be used: 1 for the reason, 0 for every other reason (all 0 when readable).',
    ['reason'],
  ),
  responseStatus: family(
    'ocsp_responder_response_status',
    "responseStatus of the responder's answer (RFC 6960 §4.2.1): 1 for the stated status (tryLater: the CA cannot sign now), 0 for the others; absent without a parseable answer.",
    ['status'],
  ),
  producedAt: family('ocsp_responder_produced_at_timestamp_seconds', "producedAt of the responder's verified answer (Unix time): when the CA last signed it."),
  secondsUntilNextUpdate: family(
    'ocsp_responder_seconds_until_next_update',
    "Seconds from the scrape until the nextUpdate of the responder's verified answer; negative once passed, absent without nextUpdate.",
  ),
  signerNotAfter: family(
    'ocsp_responder_signer_not_after_timestamp_seconds',
    "notAfter of the delegated responder certificate that signed the responder's answer (Unix time), also when it has expired; absent when the issuer signs itself.",
  ),
} as const satisfies Record<string, MetricFamily>;

/** Identity label of every responder check series, before the entry's configured extra labels. */
export const RESPONDER_CHECK_LABELS = ['certificate'] as const;

/** RFC 6960 §4.2.1 responseStatus values of `ocsp_responder_response_status`, always all six. */
export const RESPONSE_STATUSES = ['successful', 'malformedRequest', 'internalError', 'tryLater', 'sigRequired', 'unauthorized'] as const;

/**
 * Fails at module load when a per-address label is missing from RESERVED_LABEL_NAMES: the loader
 * would accept an extra label of that name and the series would carry it twice. Exporter families
 * are left out on purpose: they never carry a target's extra labels.
 */
function assertReservedLabelsListed(): void {
  const used = [
    ...ADDRESS_LABELS,
    ...STAPLE_FILE_LABELS,
    ...RESPONDER_CHECK_LABELS,
    ...[PROBE_METRICS, STAPLE_FILE_METRICS, RESPONDER_CHECK_METRICS].flatMap((group: Record<string, MetricFamily>) => Object.values(group).flatMap((f) => f.labels)),
  ];
  for (const label of used) {
    if (!RESERVED_LABEL_NAMES.includes(label)) {
      throw new Error(`label "${label}" of a per-address metric family is missing from RESERVED_LABEL_NAMES (src/config/schema.ts)`);
    }
  }
}
assertReservedLabelsListed();

/** Families about the exporter itself, on /metrics only. */
export const EXPORTER_METRICS = {
  buildInfo: family('ocsp_exporter_build_info', 'Version of the exporter and of Node.js it runs on; always 1.', ['version', 'nodejs_version']),
  configLastReloadSuccessful: family(
    'ocsp_exporter_config_last_reload_successful',
    'Whether the last configuration load or reload succeeded (1) or not (0); a failed reload keeps the last good configuration.',
  ),
  configLastReloadSuccessTimestamp: family(
    'ocsp_exporter_config_last_reload_success_timestamp_seconds',
    'When the configuration was last loaded successfully (Unix time).',
  ),
  targets: family('ocsp_exporter_targets', 'Number of static targets in the configuration.'),
  sweepDuration: family('ocsp_exporter_sweep_duration_seconds', 'How long the last sweep over the static targets took.'),
  handshakeFallbacks: family(
    'ocsp_exporter_handshake_fallbacks_total',
    "Probes the native TLS engine handed over to Node's, since the exporter started: reason refused (the server wanted a suite, group or version it does not offer) or failed (its handshake failed; Node's answer was used).",
    ['reason'],
  ),
  sweepProbes: family(
    'ocsp_exporter_sweep_probes',
    'Targets in the last sweep by how their result was obtained: probed afresh or reused (younger than min_probe_interval).',
    ['result'],
  ),
} as const satisfies Record<string, MetricFamily>;

/** Status values of `ocsp_staple_cert_status`, always all three. */
export const CERT_STATUSES = ['good', 'revoked', 'unknown'] as const;

/**
 * Responders checked on their own (config `responder_checks`): at each scrape, each configured
 * certificate's OCSP responder is asked about it, with the same code and module settings as a
 * probe with `query_responder` (src/responder/check.ts: the module's responder_url, guard,
 * responder_allowlist, proxy, source address, https rule, clock skew, and the answer cache shared
 * with the probes, so answers are reused until nextUpdate or responder_cache_max_age and
 * concurrent askers of one answer share one request). The CA-downtime monitor: availability,
 * latency and freshness of what the responder signs, before any server's staple ages.
 *
 * Bounded: globs are expanded again at each scrape, to at most MAX_RESPONDER_CHECK_FILES files
 * each; at most {@link RESPONDER_CHECK_CONCURRENCY} checks ask at once (a glob of 1000 certificates
 * of one CA must not become 1000 simultaneous requests to it); and every check, its wait for a slot
 * included, ends by the earlier of the scrape's deadline and the module's timeout counted from the
 * start of the scrape, so /metrics answers within that whatever the responders do. Certificate
 * files are read again only when they change on disk (responder-check-files.ts).
 */
import { MAX_RESPONDER_CHECK_FILES, type ResponderCheckEntry } from '../config/responder-checks.js';
import { moduleNamed, type Config, type ModuleConfig } from '../config/schema.js';
import { findFileIssuer, leafFacts } from './staple-file-judge.js';
import { expandGlob } from '../files/glob.js';
import type { ResultSource, SourcedResult } from './types.js';
import type { LookupFn } from '../net/resolve.js';
import { responderOptionsOf } from '../probe/probe.js';
import { checkResponder, type AnswerProvider } from '../responder/check.js';
import type { ResponderResult } from '../responder/types.js';
import { createProbeSlots, type ProbeSlots } from '../scheduler/slots.js';
import { messageOf } from '../util/errors.js';
import { CertificateFiles } from './responder-check-files.js';
import type { ResponderCheckResult } from './responder-check-result.js';

/** Responder checks asking at once, across all entries. */
export const RESPONDER_CHECK_CONCURRENCY = 8;

export interface ResponderCheckDeps {
  /** Clock, Unix ms. Default `Date.now`. */
  now?: () => number;
  lookup?: LookupFn;
  /** The module as the exporter's probes see it (the app adds its own listen sockets to the destinations rule). */
  moduleView?: (module: ModuleConfig) => ModuleConfig;
  /** Default {@link RESPONDER_CHECK_CONCURRENCY}. */
  concurrency?: number;
  /** Where answers come from; default the process-wide cache the probes share (src/responder/check.ts). */
  answers?: AnswerProvider;
}

export interface ResponderCheckSource extends ResultSource {
  /** The results of every configured check, in config order (glob matches by name). */
  check(config: Config, deadlineMs: number): Promise<ResponderCheckResult[]>;
}

/** One certificate file to check, or an entry-level problem (a glob matching nothing or too much). */
interface Planned {
  entry: ResponderCheckEntry;
  certificate: string;
  problem: ResponderCheckResult['problem'];
}

export function createResponderCheckSource(deps: ResponderCheckDeps = {}): ResponderCheckSource {
  const now = deps.now ?? Date.now;
  const files = new CertificateFiles();
  const slots: ProbeSlots = createProbeSlots(deps.concurrency ?? RESPONDER_CHECK_CONCURRENCY, now);

  async function check(config: Config, deadlineMs: number): Promise<ResponderCheckResult[]> {
    const entries = config.responderChecks ?? [];
    if (entries.length === 0) return [];
    const startedAtMs = now();
    const planned = plan(entries);
    const checks = planned.map((item) => checkOne(config, item, startedAtMs, deadlineMs));
    // Every file was read above (synchronously, before any wait): forget those no longer matched.
    files.endRound();
    return Promise.all(checks);
  }

  function checkOne(config: Config, item: Planned, startedAtMs: number, scrapeDeadlineMs: number): Promise<ResponderCheckResult> {
    const base = { certificate: item.certificate, labels: item.entry.labels, module: item.entry.module, checkedAtMs: startedAtMs };
    const unusable = (problem: NonNullable<ResponderCheckResult['problem']>): Promise<ResponderCheckResult> =>
      Promise.resolve({ ...base, problem, leaf: null, issuerSource: null, responder: null });
    if (item.problem) return unusable(item.problem);
    const configured = moduleNamed(config, item.entry.module);
    if (!configured) return unusable({ reason: 'unreadable', message: `unknown module "${item.entry.module}"` });
    const module = deps.moduleView ? deps.moduleView(configured) : configured;

    const read = files.read(item.certificate);
    if (!read.ok) return unusable(read.problem);
    const leafDer = read.certificates[0]!;
    const facts = leafFacts(leafDer, item.certificate);
    if (!facts.ok) return unusable(facts.problem);
    let issuerFile: readonly Uint8Array[] = [];
    if (item.entry.issuer !== null) {
      const issuer = files.read(item.entry.issuer);
      if (!issuer.ok) return unusable({ reason: 'issuer_unreadable', message: `issuer file: ${issuer.problem.message}` });
      issuerFile = issuer.certificates;
    }
    const { issuerDer, source } = findFileIssuer(leafDer, { bundle: read.certificates.slice(1), haproxyIssuer: [], issuerFile }, module);
    // An issuer file that did not issue the certificate is still asked with: its answer's verdict says why it fails.
    const issuer = issuerDer ?? issuerFile[0] ?? null;
    const issuerSource = issuerDer ? source : issuer ? 'issuer_file' : null;

    const deadlineMs = Math.min(scrapeDeadlineMs, startedAtMs + module.timeoutSeconds * 1000);
    const ask = (): Promise<ResponderResult> =>
      checkResponder(leafDer, issuer, {
        ...responderOptionsOf(module, deadlineMs, { now, ...(deps.lookup ? { lookup: deps.lookup } : {}), ...(deps.answers ? { responderAnswers: deps.answers } : {}) }),
        urlOverride: module.responderUrl ?? null,
      });
    // The URL a check that never ran would have asked: its `ocsp_responder_up 0` must still be there.
    const url = module.responderUrl ?? facts.facts.ocspUrls[0] ?? null;
    return slots.run(ask, deadlineMs).then(
      (responder) => ({ ...base, problem: null, leaf: facts.facts, issuerSource, responder: responder ?? noSlot(url, module) }),
      (error: unknown) => ({ ...base, problem: null, leaf: facts.facts, issuerSource, responder: internalError(url, error) }),
    );
  }

  function plan(entries: readonly ResponderCheckEntry[]): Planned[] {
    const planned: Planned[] = [];
    const taken = new Set<string>();
    const add = (entry: ResponderCheckEntry, certificate: string, problem: Planned['problem'] = null): void => {
      // A file matched by two entries is checked once, by the first: its series must be unique.
      if (taken.has(certificate)) return;
      taken.add(certificate);
      planned.push({ entry, certificate, problem });
    };
    for (const entry of entries) {
      if (!entry.glob) {
        add(entry, entry.certificate);
        continue;
      }
      let expansion;
      try {
        expansion = expandGlob(entry.certificate, MAX_RESPONDER_CHECK_FILES);
      } catch (error) {
        add(entry, entry.certificate, { reason: 'unreadable', message: messageOf(error) });
        continue;
      }
      if (expansion.paths.length === 0) add(entry, entry.certificate, { reason: 'missing', message: `"${entry.certificate}" matches no file` });
      for (const path of expansion.paths) add(entry, path);
      if (expansion.truncated) {
        const message = `"${entry.certificate}" matches more than ${MAX_RESPONDER_CHECK_FILES} files; the first ${MAX_RESPONDER_CHECK_FILES} by name are checked`;
        add(entry, entry.certificate, { reason: 'too_many_files', message });
      }
    }
    return planned;
  }

  return {
    check,
    async collect(config, deadlineMs) {
      try {
        const results = await check(config, deadlineMs);
        // A new object per result: the writer keeps each one's text for the object's lifetime.
        return results.map((result): SourcedResult => ({ kind: 'responder_check', result }));
      } catch {
        // check() reports failures as results; should a bug throw, the probes' series still go out.
        return [];
      }
    },
  };
}

function notAskedResult(url: string | null, problem: ResponderResult['problems'][number], error: string): ResponderResult {
  return { url, urlSource: null, method: null, up: false, source: null, durationSeconds: null, fetchedAtMs: null, httpStatus: null, problems: [problem], error, verdict: null };
}

function noSlot(url: string | null, module: ModuleConfig): ResponderResult {
  return notAskedResult(url, 'timeout', `no responder check slot free before the deadline (${RESPONDER_CHECK_CONCURRENCY} at once; module "${module.name}" timeout ${module.timeoutSeconds}s)`);
}

function internalError(url: string | null, error: unknown): ResponderResult {
  return notAskedResult(url, 'connect', `internal error while asking the responder: ${messageOf(error)}`);
}

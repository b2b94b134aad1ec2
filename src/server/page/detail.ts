/**
 * The detail page of one probed address (`/target?target=&module=&address=`, from the latest
 * sweep) or of one recent probe (`/target?entry=ID`, from the history): the verdict with every
 * check in the words `check` prints (src/probe/report.ts), the chain as the server presented it,
 * and the probe's own log (src/probe/log.ts). Like `/`, it shows what is known and probes nothing.
 */
import { checkLines, iso } from '../../probe/report.js';
import type { Config, TargetConfig } from '../../config/schema.js';
import { probeLogText } from '../../probe/log.js';
import type { ProbeResult } from '../../probe/types.js';
import { sweepKey } from '../../scheduler/sweep.js';
import type { HistoryEntry } from '../history.js';
import { escapeHtml, hrefOf, shown } from './html.js';
import { STATE_WORDS, verdictOf } from './state.js';
import { badge } from './status.js';
import { htmlDocument } from './styles.js';

export type DetailRequest = { entry: number } | { target: string; module: string; address: string | null };

/** The detail page's query: `entry`, or `target` with `module` (default `default`) and optionally `address`; null when neither is given. */
export function parseDetailQuery(query: Record<string, string | string[] | undefined>): DetailRequest | { error: string } {
  const first = (name: string): string | undefined => {
    const value = query[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const entry = first('entry');
  if (entry !== undefined) return /^[1-9]\d{0,15}$/.test(entry) ? { entry: Number(entry) } : { error: 'entry must be a probe number from the recent probes list' };
  const target = first('target');
  if (!target) return { error: 'missing parameter "target" (follow a link on the status page)' };
  return { target, module: first('module') || 'default', address: first('address') || null };
}

export interface DetailView {
  config: Config;
  results: readonly ProbeResult[];
  /** Newest first; null when the app keeps no history. */
  history: readonly HistoryEntry[] | null;
  nowMs: number;
}

export type DetailAnswer = { status: 200 | 404; html: string };

function chainTable(result: ProbeResult): string {
  const presented = result.presented;
  if (!presented || presented.length === 0) return '<p class="empty">No chain recorded for this probe.</p>';
  const rows = presented
    .map(
      (cert, index) => `<tr>
<td data-label="#"><div>${index === 0 ? 'leaf' : index}</div></td>
<td data-label="Subject" class="subject"><div>${shown(cert.subject)}</div></td>
<td data-label="Issuer" class="subject"><div>${shown(cert.issuer)}</div></td>
<td data-label="Serial" class="mono"><div>${shown(cert.serial)}</div></td>
<td data-label="Valid"><div>${shown(cert.notBefore)} to ${shown(cert.notAfter)}</div></td>
</tr>`,
    )
    .join('\n');
  return `<table class="status chain"><thead><tr><th>#</th><th>Subject</th><th>Issuer</th><th>Serial</th><th>Valid</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function section(result: ProbeResult, nowMs: number, heading: string): string {
  const verdict = verdictOf(result, nowMs);
  const labels = Object.entries(result.labels).map(([k, v]) => `${k}="${v}"`).join(', ');
  const facts: [string, string][] = [
    ['Address', shown(result.address)],
    ['Module', shown(result.module)],
    ['Server name', shown(result.serverName ?? 'none (the target’s host name, unless an IP)')],
    ...(labels ? ([['Labels', shown(labels)]] as [string, string][]) : []),
    ['Probed at', `${iso(new Date(result.startedAtMs))}, ${result.durationSeconds.toFixed(3)} s`],
    ['TLS', result.tls ? `${escapeHtml(result.tls.version)}, ${escapeHtml(result.tls.cipher)}` : '—'],
  ];
  const probeAgain = hrefOf('probe', { target: result.target, module: result.module, server_name: result.serverName, debug: 'true' });
  return `<section>
<h2>${heading}</h2>
<p>${badge(verdict.state)}${verdict.mustStaple ? '<span class="tag crit">Must-Staple</span>' : ''} ${shown(verdict.summary)}</p>
<p class="sub">${escapeHtml(STATE_WORDS[verdict.state].meaning)}.</p>
<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
<h3>Verdict</h3>
<pre class="verdict">${escapeHtml(checkLines(result, new Date(nowMs)).join('\n'))}</pre>
<h3>Presented chain</h3>
${chainTable(result)}
<h3>Probe log</h3>
<pre class="log">${escapeHtml(probeLogText(result))}</pre>
<p class="sub">To probe it again now: <a href="${probeAgain}">/probe with debug=true</a> (counts against /probe's share of the probe slots).</p>
</section>`;
}

function page(title: string, inner: string): string {
  return htmlDocument(`${title} · OCSP Stapling Exporter`, `<header><p class="sub"><a href="./">← all targets</a></p><h1>${shown(title)}</h1></header>
<main>
${inner}
</main>`);
}

function notFound(message: string): DetailAnswer {
  return { status: 404, html: page('Not found', `<p class="empty">${shown(message)}</p>`) };
}

export function detailPage(request: DetailRequest, view: DetailView): DetailAnswer {
  if ('entry' in request) {
    const entry = view.history?.find((e) => e.id === request.entry);
    if (!entry) return notFound(`probe ${request.entry} is no longer in the recent probes (the history keeps the last --history.limit)`);
    const source = entry.source === 'probe' ? 'a /probe request' : 'a sweep';
    return { status: 200, html: page(entry.result.target, section(entry.result, view.nowMs, `Probe ${entry.id}, by ${source}, ${iso(new Date(entry.atMs))}`)) };
  }
  const key = sweepKey(request.target, request.module);
  const target: TargetConfig | undefined = view.config.targets.find((t) => sweepKey(t.target, t.module) === key);
  if (!target) return notFound(`"${request.target}" with module "${request.module}" is not a configured static target`);
  const results = view.results.filter((r) => sweepKey(r.target, r.module) === key && (request.address === null || r.address === request.address));
  if (results.length === 0) {
    const why = request.address === null ? 'Not probed yet: the targets are probed when /metrics is scraped.' : `No result for address ${request.address} in the last sweep.`;
    return { status: 200, html: page(target.target, `${badge('not_probed')}<p class="empty">${shown(why)}</p>`) };
  }
  return { status: 200, html: page(target.target, results.map((r) => section(r, view.nowMs, `Address ${shown(r.address)}`)).join('\n')) };
}

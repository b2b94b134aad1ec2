/**
 * The status page at `/`: the last sweep's result for every static target and address, worst
 * first, with a count per state, a filter by state and a search by target (query parameters, so it
 * works without JavaScript), the recent probes, and what the landing page always listed (the
 * endpoints, the modules). It renders what the sweeper already holds and never probes: before the
 * first sweep each target is "not probed yet".
 */
import type { Config, TargetConfig } from '../../config/schema.js';
import { formatRelative, iso } from '../../probe/report.js';
import type { ProbeResult } from '../../probe/types.js';
import type { SweepStats } from '../../scheduler/sweep.js';
import { sweepKey } from '../../scheduler/sweep.js';
import type { HistoryEntry } from '../history.js';
import { escapeHtml, hrefOf, shown } from './html.js';
import { isPageState, PAGE_STATES, STATE_WORDS, verdictOf, worstFirst, type AddressVerdict, type PageState } from './state.js';
import { htmlDocument } from './styles.js';

/**
 * Rows rendered at most, worst first (about 1.5 KB each): at 10,000 targets the whole table would be
 * 15 MB of HTML for a phone; the counts still cover every row, and the filter narrows the rest.
 */
export const MAX_ROWS = 500;

/** The longest search text honoured; longer input is cut, not refused. */
export const MAX_SEARCH_CHARS = 200;

export interface StatusQuery {
  /** Null: every state. */
  state: PageState | null;
  /** Case-insensitive substring of the target, address, module, server name or a label value. */
  search: string;
}

/** The page's query parameters, forgiving: an unknown state shows every state, a repeated parameter its first value. */
export function parseStatusQuery(query: Record<string, string | string[] | undefined>): StatusQuery {
  const first = (name: string): string => {
    const value = query[name];
    return (Array.isArray(value) ? value[0] : value) ?? '';
  };
  const state = first('state');
  return { state: isPageState(state) ? state : null, search: first('q').trim().slice(0, MAX_SEARCH_CHARS) };
}

export interface StatusView {
  config: Config;
  /** The sweeper's latest results (Sweeper.latestResults). */
  results: readonly ProbeResult[];
  lastSweep: SweepStats | null;
  /** Newest first; null when the app keeps no history. */
  history: readonly HistoryEntry[] | null;
  nowMs: number;
  version: string;
  query: StatusQuery;
}

interface Row {
  name: string;
  target: TargetConfig;
  result: ProbeResult | null;
  verdict: AddressVerdict;
}

const NOT_PROBED: AddressVerdict = { state: 'not_probed', mustStaple: false, summary: 'waiting for the first sweep', endMs: null, ageShare: null };

/** One row per probed address of every configured (target, module), and one per target not probed yet. */
function rowsOf(config: Config, results: readonly ProbeResult[], nowMs: number): Row[] {
  const byKey = new Map<string, ProbeResult[]>();
  for (const result of results) {
    const key = sweepKey(result.target, result.module);
    const list = byKey.get(key);
    if (list) list.push(result);
    else byKey.set(key, [result]);
  }
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const target of config.targets) {
    const key = sweepKey(target.target, target.module);
    if (seen.has(key)) continue;
    seen.add(key);
    const found = byKey.get(key);
    if (!found || found.length === 0) rows.push({ name: target.target, target, result: null, verdict: NOT_PROBED });
    else for (const result of found) rows.push({ name: `${target.target} ${result.address}`, target, result, verdict: verdictOf(result, nowMs) });
  }
  return rows;
}

function matches(row: Row, needle: string): boolean {
  if (needle === '') return true;
  const haystack = [row.target.target, row.target.module, row.target.serverName ?? '', row.result?.address ?? '', ...Object.values(row.target.labels)];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

export function badge(state: PageState): string {
  return `<span class="badge b-${state}">${escapeHtml(STATE_WORDS[state].badge)}</span>`;
}

function timeTag(ms: number, nowMs: number): string {
  const date = new Date(ms);
  return `<time datetime="${iso(date)}" title="${iso(date)}">${escapeHtml(formatRelative(date, new Date(nowMs)))}</time>`;
}

/** The detail page's address for one probed address (or a target not probed yet). */
export function detailHref(target: string, module: string, address: string | null): string {
  return hrefOf('target', { target, module, address });
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
}

function stapleCell(row: Row, nowMs: number): string {
  const { endMs, ageShare } = row.verdict;
  if (!row.result) return '<span class="muted">—</span>';
  const staple = row.result.staple;
  if (!staple?.present) return '<span class="muted">none</span>';
  const parts: string[] = [];
  if (endMs !== null) {
    const ended = endMs <= nowMs;
    parts.push(`${ended ? 'ended' : 'ends'} ${timeTag(endMs, nowMs)}`);
  } else parts.push('<span class="muted">no end given</span>');
  if (ageShare !== null) {
    const percent = Math.round(ageShare * 100);
    parts.push(`<meter min="0" max="1" low="0.5" high="0.75" optimum="0" value="${Math.min(1, Math.max(0, ageShare)).toFixed(3)}">${percent}%</meter> <span class="share">${percent}% of its window</span>`);
  }
  parts.push(`<span class="muted">${staple.sizeBytes} bytes</span>`);
  return parts.join('<br>');
}

function certificateCell(result: ProbeResult | null, nowMs: number): string {
  const leaf = result?.leaf;
  if (!leaf) return '<span class="muted">—</span>';
  return [
    `<span class="subject">${shown(leaf.subject)}</span>`,
    `<span class="muted">serial <span class="mono">${shown(leaf.serialNumber)}</span></span>`,
    `<span class="muted">notAfter ${iso(leaf.notAfter)?.slice(0, 10)} (${timeTag(new Date(leaf.notAfter).getTime(), nowMs)})</span>`,
    `<span class="muted">Must-Staple: ${leaf.mustStaple ? 'yes' : 'no'}</span>`,
  ].join('<br>');
}

function responderCell(result: ProbeResult | null, nowMs: number): string {
  const responder = result?.responder;
  if (!responder) return '<span class="muted">not asked</span>';
  if (!responder.up) return `down: ${shown(responder.error ?? responder.problems.join(', '))}`;
  const single = responder.verdict?.single;
  const status = single ? single.certStatus : 'no status';
  const when = responder.fetchedAtMs !== null ? ` <span class="muted">${timeTag(responder.fetchedAtMs, nowMs)}</span>` : '';
  return `${escapeHtml(status)} <span class="muted">via ${escapeHtml(responder.source ?? 'no request')}</span>${when}`;
}

function stateCell(verdict: AddressVerdict): string {
  const tag = verdict.mustStaple && verdict.state !== 'valid' ? '<span class="tag crit">Must-Staple</span>' : '';
  return `${badge(verdict.state)}${tag}<br><span class="muted">${shown(verdict.summary)}</span>`;
}

/** A labelled cell; its content in one element, so on a phone the label and the value are the card's two columns. */
function cell(label: string, html: string): string {
  return `<td data-label="${label}"><div>${html}</div></td>`;
}

function rowHtml(row: Row, nowMs: number): string {
  const { result, target } = row;
  const where = [result?.address ?? `${target.host}:${target.port}`, `module ${target.module}`, target.serverName ? `SNI ${target.serverName}` : null].filter(Boolean).join(' · ');
  const labels = labelsText(target.labels);
  const probe = result
    ? `${timeTag(result.startedAtMs, nowMs)}<br><span class="muted">${result.durationSeconds.toFixed(3)} s</span>`
    : '<span class="muted">never</span>';
  return `<tr class="row-${row.verdict.state}">
<td class="state" data-label="State">${stateCell(row.verdict)}</td>
<td class="target" data-label="Target"><a href="${detailHref(target.target, target.module, result?.address ?? null)}">${shown(target.target)}</a><br><span class="muted">${shown(where)}</span>${labels ? `<br><span class="muted">${shown(labels)}</span>` : ''}</td>
${cell('Staple', stapleCell(row, nowMs))}
${cell('Certificate', certificateCell(result, nowMs))}
${cell('TLS', result?.tls ? escapeHtml(result.tls.version) : '<span class="muted">—</span>')}
${cell('Last probe', probe)}
${cell('Responder', responderCell(result, nowMs))}
</tr>`;
}

function countsHtml(counts: Map<PageState, number>, total: number, query: StatusQuery): string {
  const q = query.search;
  const chip = (state: PageState | null, label: string, n: number): string =>
    `<li><a href="${hrefOf('./', { state, q })}"${query.state === state ? ' class="on" aria-current="true"' : ''}>${label}<span class="n">${n}</span></a></li>`;
  const chips = [chip(null, '<span class="badge">all</span>', total)];
  for (const state of PAGE_STATES) {
    const n = counts.get(state) ?? 0;
    if (n > 0 || query.state === state) chips.push(chip(state, badge(state), n));
  }
  return `<ul class="counts" aria-label="Addresses per state">${chips.join('')}</ul>`;
}

function filterForm(query: StatusQuery): string {
  const options = [`<option value="">every state</option>`]
    .concat(PAGE_STATES.map((s) => `<option value="${s}"${query.state === s ? ' selected' : ''}>${escapeHtml(STATE_WORDS[s].badge)}</option>`))
    .join('');
  return `<form class="filter" method="get" action="./" role="search">
<label for="q" class="muted">Search</label>
<input id="q" name="q" type="search" value="${escapeHtml(query.search)}" placeholder="target, address, label…" maxlength="${MAX_SEARCH_CHARS}">
<select name="state" aria-label="State">${options}</select>
<button type="submit">Show</button>
</form>`;
}

function historyHtml(history: readonly HistoryEntry[], nowMs: number): string {
  if (history.length === 0) return '<h2 id="recent">Recent probes</h2><p class="empty">No probe yet.</p>';
  const rows = history
    .map((entry) => {
      const r = entry.result;
      const verdict = verdictOf(r, entry.atMs);
      return `<tr>
${cell('When', timeTag(entry.atMs, nowMs))}
<td class="state" data-label="State">${badge(verdict.state)}</td>
<td class="target" data-label="Target"><a href="${hrefOf('target', { entry: String(entry.id) })}">${shown(r.target)}</a><br><span class="muted">${shown(r.address)} · module ${shown(r.module)}</span></td>
${cell('Source', entry.source === 'probe' ? '/probe' : 'sweep')}
${cell('Duration', `${r.durationSeconds.toFixed(3)} s`)}
</tr>`;
    })
    .join('\n');
  return `<h2 id="recent">Recent probes (${history.length})</h2>
<p class="sub">Each links to its result and the probe's log. Failed probes are kept longer than successful ones.</p>
<table class="status history"><thead><tr><th>When</th><th>State</th><th>Target</th><th>Source</th><th>Duration</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function aboutHtml(config: Config, version: string): string {
  const moduleRows = Object.values(config.modules)
    .map((m) => `<tr><td>${shown(m.name)}</td><td>${m.timeoutSeconds}</td><td>${shown(m.serverName ?? '')}</td><td>${m.probeAllAddresses ? 'yes' : 'no'}</td></tr>`)
    .join('\n');
  return `<h2 id="about">Endpoints</h2>
<ul>
<li><a href="metrics">/metrics</a>: every configured target, plus exporter and process metrics (a scrape runs the sweep this page shows)</li>
<li><code>/probe?target=HOST:PORT&amp;module=NAME[&amp;server_name=SNI][&amp;debug=true]</code>: one target (multi-target pattern), allowed targets only; <code>debug=true</code> answers with the probe's log</li>
<li><a href="config">/config</a>: the configuration in force, secrets redacted</li>
<li><a href="-/healthy">/-/healthy</a>, <a href="-/ready">/-/ready</a>, <code>POST /-/reload</code></li>
</ul>
<h2 id="modules">Modules</h2>
<div class="scroll"><table class="modules"><thead><tr><th>Name</th><th>Timeout (s)</th><th>Server name</th><th>All addresses</th></tr></thead>
<tbody>
${moduleRows}
</tbody></table></div>
<footer>ocsp-stapling-exporter ${escapeHtml(version)} · configuration: ${shown(config.file ?? 'built-in default')}</footer>`;
}

export function statusPage(view: StatusView): string {
  const { config, nowMs, query } = view;
  const all = rowsOf(config, view.results, nowMs);
  const needle = query.search.toLowerCase();
  const searched = all.filter((row) => matches(row, needle));
  const counts = new Map<PageState, number>();
  for (const row of searched) counts.set(row.verdict.state, (counts.get(row.verdict.state) ?? 0) + 1);
  const shownRows = worstFirst(query.state ? searched.filter((row) => row.verdict.state === query.state) : searched);

  const sweep = view.lastSweep
    ? `Last sweep ${timeTag(view.lastSweep.startedAtMs, nowMs)}, ${view.lastSweep.durationSeconds.toFixed(2)} s (${view.lastSweep.probed} probed, ${view.lastSweep.reused} reused).`
    : 'No sweep yet: the targets are probed when /metrics is scraped.';
  const cut = shownRows.length > MAX_ROWS ? `<p class="sub">Showing the worst ${MAX_ROWS} of ${shownRows.length}; filter by state or search to see the others.</p>` : '';
  const table =
    shownRows.length === 0
      ? `<p class="empty">${all.length === 0 ? 'No static targets configured.' : 'Nothing matches this filter.'}</p>`
      : `<table class="status"><thead><tr><th>State</th><th>Target</th><th>Staple</th><th>Certificate</th><th>TLS</th><th>Last probe</th><th>Responder</th></tr></thead>
<tbody>
${shownRows.slice(0, MAX_ROWS).map((row) => rowHtml(row, nowMs)).join('\n')}
</tbody></table>${cut}`;
  const filtered = query.state !== null || query.search !== '' ? ` · showing ${shownRows.length} of ${all.length} · <a href="./">clear filter</a>` : '';
  const body = `<header>
<h1>OCSP Stapling Exporter</h1>
<p class="sub">${sweep} This page shows what the sweeps found; it probes nothing.${filtered}</p>
</header>
<main>
${countsHtml(counts, searched.length, query)}
${filterForm(query)}
${table}
${view.history ? historyHtml(view.history, nowMs) : ''}
${aboutHtml(config, view.version)}
</main>`;
  return htmlDocument('OCSP Stapling Exporter', body);
}

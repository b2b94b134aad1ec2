/**
 * The HTML page at `/`: what this exporter is, links to its endpoints, and the configured targets
 * and modules, each target linking to its own /probe URL. Everything from the config is escaped:
 * target names and labels are operator input shown in a browser.
 */
import type { Config } from '../config/schema.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function probeHref(target: string, module: string, serverName: string | null): string {
  const query = new URLSearchParams({ target, module });
  if (serverName) query.set('server_name', serverName);
  return `probe?${query.toString()}`;
}

export function landingPage(config: Config, version: string): string {
  const targetRows = config.targets
    .map((t) => {
      const labels = Object.entries(t.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ');
      return `<tr><td><a href="${escapeHtml(probeHref(t.target, t.module, t.serverName))}">${escapeHtml(t.target)}</a></td><td>${escapeHtml(t.module)}</td><td>${escapeHtml(t.serverName ?? '')}</td><td>${escapeHtml(labels)}</td></tr>`;
    })
    .join('\n');
  const moduleRows = Object.values(config.modules)
    .map((m) => `<tr><td>${escapeHtml(m.name)}</td><td>${m.timeoutSeconds}</td><td>${escapeHtml(m.serverName ?? '')}</td><td>${m.probeAllAddresses ? 'yes' : 'no'}</td></tr>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>OCSP Stapling Exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style>
</head>
<body>
<h1>OCSP Stapling Exporter</h1>
<p>Version ${escapeHtml(version)}. Probes TLS servers for their stapled OCSP responses and verifies them.</p>
<ul>
<li><a href="metrics">/metrics</a>: every configured target, plus exporter and process metrics</li>
<li><code>/probe?target=HOST:PORT&amp;module=NAME[&amp;server_name=SNI]</code>: one target (multi-target pattern), allowed targets only</li>
<li><a href="-/healthy">/-/healthy</a>, <a href="-/ready">/-/ready</a>, <code>POST /-/reload</code></li>
</ul>
<h2>Targets (${config.targets.length})</h2>
<table>
<tr><th>Target</th><th>Module</th><th>Server name</th><th>Labels</th></tr>
${targetRows}
</table>
<h2>Modules</h2>
<table>
<tr><th>Name</th><th>Timeout (s)</th><th>Server name</th><th>All addresses</th></tr>
${moduleRows}
</table>
<p>Configuration: ${escapeHtml(config.file ?? 'built-in default')}</p>
</body>
</html>
`;
}

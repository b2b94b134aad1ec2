/**
 * The page's only style sheet, inline, and the response headers that go with it. The
 * Content-Security-Policy allows exactly this sheet (by its hash) and nothing else: no script, no
 * image, no font, no frame, no other origin, forms to this origin only. So even markup that slipped
 * past escaping could neither run nor load anything nor send data away.
 */
import { createHash } from 'node:crypto';
import { shown } from './html.js';

export const PAGE_CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#fff;--card:#f6f8fa;--line:#d0d7de;--link:#0550ae}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#161b22;--line:#30363d;--link:#58a6ff}}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem 1.25rem 3rem;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
h1{font-size:1.35rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:2rem 0 .5rem}
.sub,.muted{color:var(--muted)}
.sub{margin:0 0 1rem;font-size:.9rem}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.mono{overflow-wrap:anywhere}
pre{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
.counts{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0 1rem;padding:0;list-style:none}
.counts a{display:inline-flex;align-items:center;gap:.35rem;text-decoration:none;color:var(--fg);border:1px solid var(--line);border-radius:999px;padding:.15rem .6rem .15rem .2rem;background:var(--card)}
.counts a.on{outline:2px solid var(--link)}
.counts .n{font-weight:600}
.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:0 0 1rem}
.filter input,.filter select,.filter button{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.filter input{min-width:14rem;flex:1 1 14rem;max-width:28rem}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;font-weight:600;white-space:nowrap;color:#fff;background:#6e7781}
.b-valid{background:#1a7f37}.b-stale{background:#9a6700}.b-expiring_soon{background:#bc4c00}
.b-expired{background:#cf222e}.b-invalid{background:#cf222e}.b-missing{background:#bc4c00}
.b-revoked{background:#82071e}.b-unknown{background:#8250df}.b-probe_failed{background:#57606a}
.b-no_ocsp_url{background:#8c959f}.b-not_probed{background:#d0d7de;color:#1b1f24}
.tag{display:inline-block;border:1px solid currentColor;border-radius:4px;padding:0 .3rem;font-size:.75rem;margin-left:.3rem;white-space:nowrap}
.tag.crit{color:#cf222e}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.45rem .6rem;border-bottom:1px solid var(--line)}
th{font-size:.8rem;color:var(--muted);font-weight:600;white-space:nowrap}
td .muted{font-size:.85em}
td.target a{font-weight:600;word-break:break-all}
td.state{max-width:17rem}
.share{white-space:nowrap}
.subject{word-break:break-word}
meter{width:3.5rem;height:.7rem;vertical-align:middle}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-word}
.empty{padding:1rem;border:1px dashed var(--line);border-radius:6px;color:var(--muted)}
footer{margin-top:2.5rem;font-size:.85rem;color:var(--muted)}
@media (max-width:760px){
body{padding:.75rem .75rem 2rem}
table.status thead{display:none}
table.status,table.status tbody,table.status tr,table.status td{display:block;width:100%}
table.status tr{border:1px solid var(--line);border-radius:8px;margin:0 0 .75rem;padding:.4rem .2rem;background:var(--card)}
table.status td{border:0;padding:.2rem .6rem;display:grid;grid-template-columns:6.5rem minmax(0,1fr);gap:.5rem}
table.status td[data-label]::before{content:attr(data-label);font-size:.72rem;line-height:1.9;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
table.status td.state,table.status td.target{display:block;max-width:none}
table.status td.state::before,table.status td.target::before{display:none}
.filter input{min-width:0}
li code{word-break:break-all}
}
.scroll{overflow-x:auto}
`;

const CSS_HASH = createHash('sha256').update(PAGE_CSS).digest('base64');

/** The policy of every HTML page: this style sheet only; no script, image, frame or other origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${CSS_HASH}'`,
  "img-src 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every HTML page; the answer is live state, never to be cached or framed. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The document around a page's body (HTML, escaped by the caller): one inline style sheet (allowed by its hash), nothing fetched. */
export function htmlDocument(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${shown(title)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

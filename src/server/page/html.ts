/**
 * Text made safe for the status page. Every value that came from the network or the config file
 * (certificate subjects, server errors, target names, labels) goes through {@link shown}: a
 * certificate subject is chosen by whoever runs the server and must never become markup.
 */
import { escapeForTerminal } from '../../util/text.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` with the five HTML-significant characters as entities: safe in element content and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Network text for the page: control characters and the bidirectional overrides written as
 * visible escapes first (a subject must not reorder what the reader sees, CVE-2021-42574), then
 * HTML-escaped.
 */
export function shown(text: string): string {
  return escapeHtml(escapeForTerminal(text));
}

/** A same-origin relative link with its query, escaped for an attribute. */
export function hrefOf(path: string, query: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== '') params.set(name, value);
  const text = params.toString();
  return escapeHtml(text === '' ? path : `${path}?${text}`);
}

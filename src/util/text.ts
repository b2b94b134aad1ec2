/** Text from the far side of a connection or a file, made safe to show: escaped for a terminal, or cut short. */

/**
 * Characters a terminal would act on instead of showing: C0 controls (newline, CR, ESC starting
 * CSI/OSC sequences, BEL), DEL, C1 controls (0x9B is a one-byte CSI), the line and paragraph
 * separators U+2028/U+2029, and the Unicode bidirectional controls that reorder what is shown
 * (Trojan Source, CVE-2021-42574). A backslash is left alone: subjects already use it for their own
 * escapes (RFC 4514 `\;`), and text that merely looks like an escape acts on nothing.
 */
export const TERMINAL_UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every terminal-unsafe character written as an escape (`\x1b`, `\u{202e}`):
 * for values in human reports (certificate subjects, server and responder text) that come from
 * the other side of a TLS connection and could otherwise forge report lines or retitle the
 * terminal. `--json` output is for programs and is left as JSON.stringify writes it (C0 escaped).
 */
export function escapeForTerminal(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (char) => {
    const code = char.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * The first `maxChars` characters of `text`, with `…` and the count of what was left out when it is
 * longer. `oneLine` joins lines with "; " and blanks other control characters, for an HTTP answer
 * a terminal shows as is.
 */
export function excerptOf(text: string, maxChars: number, options: { oneLine?: boolean } = {}): string {
  const flat = options.oneLine ? text.replace(/\s*[\r\n]+\s*/g, '; ').replace(/[\u0000-\u001f\u007f]/g, ' ') : text;
  if (flat.length <= maxChars) return flat;
  return `${flat.slice(0, maxChars)}… (${flat.length - maxChars} more characters)`;
}

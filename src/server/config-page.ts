/**
 * The `/config` answer: the configuration in force as YAML (src/config/serialize.ts, secrets
 * redacted), under comment lines saying which file it was loaded from and when, and the last failed
 * reload's error, so whoever is paged sees at once whether the exporter runs on the file as it is
 * now or on an older good one. Plain text, as blackbox_exporter's `/config`.
 */
import { configToYaml, redactUrlCredentials } from '../config/serialize.js';
import type { Config } from '../config/schema.js';
import type { ReloadFailure } from '../config/store.js';
import { escapeForTerminal, excerptOf } from '../util/text.js';

/** How much of a failed reload's error the page shows (one line; the log has it all). */
export const CONFIG_PAGE_ERROR_CHARS = 1000;

/**
 * The YAML of each loaded config, made once: writing it costs about as much CPU as parsing it (over
 * a second on the main thread at 10,000 targets), and a loaded config never changes, only gets
 * replaced by a reload; the old one's entry goes with it.
 */
const yamlOfConfig = new WeakMap<Config, string>();

function cachedYaml(config: Config): string {
  let yaml = yamlOfConfig.get(config);
  if (yaml === undefined) {
    yaml = configToYaml(config);
    yamlOfConfig.set(config, yaml);
  }
  return yaml;
}

/** What `/config` says about the config besides the config itself. */
export interface ConfigStatus {
  /** Unix seconds the config in force was loaded at; null when unknown. */
  loadedAtSeconds: number | null;
  lastReloadSuccessful: boolean;
  /** The most recent failed reload, even when a later one succeeded; null when none failed. */
  lastReloadFailure: ReloadFailure | null;
}

function isoTime(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString().replace(/\.000Z$/, 'Z');
}

/** Text for a comment line: one line (a newline would end the comment), terminal-safe, no URL credentials. */
function commentText(text: string, maxChars: number): string {
  return escapeForTerminal(excerptOf(redactUrlCredentials(text), maxChars, { oneLine: true }));
}

export function configPage(config: Config, status: ConfigStatus | null): string {
  const lines = ['# The configuration in force (secrets redacted); itself a valid config file.'];
  const at = status?.loadedAtSeconds ?? null;
  const when = at === null ? '' : ` at ${isoTime(at)}`;
  lines.push(config.file === null ? `# built-in configuration (no --config.file)${when}` : `# loaded from ${commentText(config.file, 4096)}${when}`);
  const failure = status?.lastReloadFailure ?? null;
  if (failure) {
    const since = status?.lastReloadSuccessful === false ? 'the configuration below is the last good one' : 'a later reload succeeded';
    lines.push(`# last reload failed at ${isoTime(failure.atSeconds)} (${since}): ${commentText(failure.message, CONFIG_PAGE_ERROR_CHARS)}`);
  }
  return `${lines.join('\n')}\n${cachedYaml(config)}`;
}

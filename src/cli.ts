#!/usr/bin/env node
/**
 * Command line: argv → subcommand (serve, check, inspect) and its exit code. Flags follow the
 * Prometheus style (`--config.file`, `--web.listen-address`, `--log.level`). Everything the
 * subcommands do lives in their own modules; this file only parses and dispatches.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseInspectArgs, runInspect } from './commands/inspect.js';
import { EXIT, processIO, UsageError, type CommandIO } from './commands/io.js';
import { messageOf } from './util/errors.js';

const USAGE = `Usage:
  ocsp-stapling-exporter [serve] [--config.file FILE] [--web.listen-address HOST:PORT] [--log.level LEVEL] [--web.config.file FILE]
                         [--probe.workers N] [--history.limit N] [--config.check]
                         [--config.auto-reload [--config.auto-reload-interval DURATION]]
  ocsp-stapling-exporter check HOST:PORT [--server-name NAME] [--module NAME] [--config.file FILE] [--query-responder] [--fetch-issuer]
                         [--starttls smtp|imap|pop3|ftp|ldap|xmpp|postgres|mysql] [--handshake native|node] [--json]
  ocsp-stapling-exporter check --responder-check CERT.pem [--issuer ISSUER.pem] [--module NAME] [--config.file FILE] [--json]
  ocsp-stapling-exporter check --file STAPLE --cert CERT.pem [--issuer ISSUER.pem] [--module NAME] [--config.file FILE] [--json]
  ocsp-stapling-exporter inspect --response FILE [--cert LEAF.pem] [--issuer ISSUER.pem] [--at TIME] [--json]
  ocsp-stapling-exporter --version

Without --config.file, serve runs the built-in demo lab on loopback.
`;

const OPTIONS = {
  'config.file': { type: 'string' },
  'config.check': { type: 'boolean' },
  'config.auto-reload': { type: 'boolean' },
  'config.auto-reload-interval': { type: 'string' },
  'web.listen-address': { type: 'string' },
  'web.config.file': { type: 'string' },
  'log.level': { type: 'string' },
  'probe.workers': { type: 'string' },
  'history.limit': { type: 'string' },
  'server-name': { type: 'string' },
  module: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  'query-responder': { type: 'boolean' },
  'fetch-issuer': { type: 'boolean' },
  starttls: { type: 'string' },
  handshake: { type: 'string' },
  response: { type: 'string' },
  cert: { type: 'string' },
  issuer: { type: 'string' },
  at: { type: 'string' },
  'clock-skew': { type: 'string' },
  'responder-check': { type: 'string' },
  file: { type: 'string' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr(`${messageOf(error)}\n\n${USAGE}`);
    return EXIT.unreadable;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  if (values.version) {
    io.stdout(`${(await import('./version.js')).VERSION}\n`);
    return EXIT.ok;
  }
  const [command = 'serve', ...rest] = positionals;
  try {
    switch (command) {
      case 'inspect':
        if (rest.length > 0) throw new UsageError(`inspect takes no positional arguments (got "${rest.join(' ')}")`);
        return runInspect(parseInspectArgs(values), io);
      case 'check': {
        if (values['file'] !== undefined) {
          const { parseCheckFileArgs, runCheckFile } = await import('./commands/check-file.js');
          return await runCheckFile(parseCheckFileArgs(values, rest), io);
        }
        if (values['responder-check'] !== undefined) {
          const { parseResponderCheckArgs, runResponderCheck } = await import('./commands/responder-check.js');
          return await runResponderCheck(parseResponderCheckArgs(values, rest), io);
        }
        const { parseCheckArgs, runCheck } = await import('./commands/check.js');
        return await runCheck(parseCheckArgs(values, rest), io);
      }
      case 'serve': {
        if (rest.length > 0) throw new UsageError(`serve takes no positional arguments (got "${rest.join(' ')}")`);
        const { parseServeArgs, runServe } = await import('./commands/serve.js');
        return await runServe(parseServeArgs(values), io);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n\n${USAGE}`);
      return EXIT.unreadable;
    }
    io.stderr(`${command}: ${messageOf(error)}\n`);
    return EXIT.unreadable;
  }
}

// Run only when executed, not when imported by tests.
// realpath: npm's bin entry is a symlink to this file.
const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    // serve resolves only once the server has shut down (SIGTERM/SIGINT).
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.unreadable;
    },
  );
}

/**
 * Regenerates test/fuzz/seeds.json (valid OCSP responses and certificates made by src/pki) for the
 * fuzzer. Run when src/pki learns new shapes: `node --import tsx fuzz/make-seeds.ts`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeSeeds, SEEDS_FILE, seedsToJson } from '../test/fuzz/seeds.js';

const seeds = await makeSeeds();
writeFileSync(SEEDS_FILE, seedsToJson(seeds));
process.stdout.write(`wrote ${fileURLToPath(SEEDS_FILE)}: ${Object.keys(seeds.ocsp).length} OCSP responses, ${Object.keys(seeds.certs).length} certificates\n`);

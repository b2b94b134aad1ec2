/**
 * The body of one probe worker thread (see pool.ts). It keeps the modules the pool sent it, by id,
 * so each module object lives once per thread and `probeTarget`'s per-module caches (TLS
 * SecureContext, parsed CA file) are built once per thread and config version, never per probe.
 * Each probe message runs `probeTarget` and posts its results back; `probeTarget` never throws, and
 * anything unexpected here still comes back as an `internal` failure, never as silence.
 */
import { parentPort } from 'node:worker_threads';
import type { ModuleConfig } from '../config/schema.js';
import { messageOf } from '../util/errors.js';
import { failedResult, neverThrows, subjectOf } from './failure.js';
import type { FromWorker, ProbeRequest, ToWorker } from './pool-messages.js';
import { probeTarget } from './probe.js';
import { batchedPost } from './batched-post.js';
import { answersFromMainThread } from './responder-relay.js';
import type { ProbeResult } from './types.js';

const port = parentPort;
if (!port) throw new Error('src/probe/worker.ts runs only as a worker thread (created by createProbePool)');

const modules = new Map<number, ModuleConfig>();

/** Everything for the main thread, batched per event-loop turn (batched-post.ts). */
const send = batchedPost<FromWorker>(
  (batch) => port.postMessage(batch),
  (message, error) => {
    // A result that cannot be cloned is our bug; report it for that probe instead of hanging it.
    if (message.type === 'result') send({ type: 'failed', seq: message.seq, error: `probe result could not be sent from the worker: ${messageOf(error)}` });
  },
);

/** Responder answers are asked of the main thread, whose cache all workers share. */
const mainThread = answersFromMainThread(send);

const probe = neverThrows((target, module, deadlineMs) =>
  probeTarget(target, module, deadlineMs, { responderAnswers: mainThread.answers }),
);

async function run(request: ProbeRequest): Promise<ProbeResult[]> {
  const module = modules.get(request.moduleId);
  if (!module) {
    return [failedResult(subjectOf(request.target, Date.now()), 'internal', `probe worker has no module #${request.moduleId}`)];
  }
  return probe(request.target, module, request.deadlineMs);
}

function receive(message: ToWorker): void {
  switch (message.type) {
    case 'module':
      modules.set(message.id, message.module);
      break;
    case 'forget':
      modules.delete(message.id);
      break;
    case 'probe':
      void run(message).then((results) => send({ type: 'result', seq: message.seq, results }));
      break;
    case 'answer':
      mainThread.receive(message);
      break;
  }
}

// The pool posts arrays (batched-post.ts).
port.on('message', (batch: ToWorker[]) => {
  for (const message of batch) receive(message);
});

send({ type: 'ready' });

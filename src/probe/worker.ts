/**
 * The body of one probe worker thread (see pool.ts). It keeps the modules the pool sent it, by id,
 * so each module object lives once per thread and `probeTarget`'s per-module caches (TLS
 * SecureContext, parsed CA file) are built once per thread and config version, never per probe.
 * Each probe message runs `probeTarget` and posts its results back; `probeTarget` never throws, and
 * anything unexpected here still comes back as an `internal` failure, never as silence.
 */
import { parentPort } from 'node:worker_threads';
import type { ModuleConfig } from '../config/schema.js';
import type { AnswerProvider, AnswerReply } from '../responder/check.js';
import { syntheticFailure } from '../scheduler/sweep.js';
import type { FromWorker, ProbeRequest, ToWorker } from './pool.js';
import { probeTarget } from './probe.js';
import type { ProbeResult } from './types.js';
import { messageOf } from '../util/errors.js';

const port = parentPort;
if (!port) throw new Error('src/probe/worker.ts runs only as a worker thread (created by createProbePool)');

const modules = new Map<number, ModuleConfig>();

/** Responder answers are asked of the main thread, whose cache all workers share (see pool.ts). */
const answerWaiters = new Map<number, { resolve: (reply: AnswerReply) => void; reject: (error: Error) => void }>();
let nextAnswerId = 1;
const mainThreadAnswers: AnswerProvider = (query) =>
  new Promise((resolve, reject) => {
    const id = nextAnswerId++;
    // The main thread answers by the query's deadline; should a reply ever be lost, do not wait for ever.
    const timer = setTimeout(() => {
      answerWaiters.delete(id);
      reject(new Error('no responder answer from the main thread by the deadline'));
    }, Math.max(0, query.deadlineMs - Date.now()) + 1000);
    answerWaiters.set(id, {
      resolve: (reply) => (clearTimeout(timer), resolve(reply)),
      reject: (error) => (clearTimeout(timer), reject(error)),
    });
    port!.postMessage({ type: 'answer-query', id, query } satisfies FromWorker);
  });

async function run(request: ProbeRequest): Promise<ProbeResult[]> {
  const module = modules.get(request.moduleId);
  const startedAtMs = Date.now();
  if (!module) {
    return [syntheticFailure(request.target, 'internal', `probe worker has no module #${request.moduleId}`, startedAtMs)];
  }
  try {
    return await probeTarget(request.target, module, request.deadlineMs, { responderAnswers: mainThreadAnswers });
  } catch (error) {
    const message = messageOf(error);
    const target = { ...request.target, module: module.name };
    return [syntheticFailure(target, 'internal', `probe threw: ${message}`, startedAtMs, (Date.now() - startedAtMs) / 1000)];
  }
}

function reply(message: Extract<FromWorker, { type: 'result' }>): void {
  try {
    port!.postMessage(message);
  } catch (error) {
    // A result that cannot be cloned is our bug; report it for that probe instead of hanging it.
    const text = messageOf(error);
    port!.postMessage({ type: 'failed', seq: message.seq, error: `probe result could not be sent from the worker: ${text}` } satisfies FromWorker);
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'module':
      modules.set(message.id, message.module);
      break;
    case 'forget':
      modules.delete(message.id);
      break;
    case 'probe':
      void run(message).then((results) => reply({ type: 'result', seq: message.seq, results }));
      break;
    case 'answer': {
      const waiter = answerWaiters.get(message.id);
      answerWaiters.delete(message.id);
      if (message.reply) waiter?.resolve(message.reply);
      else waiter?.reject(new Error(message.error ?? 'no answer from the main thread'));
      break;
    }
  }
});

port.postMessage({ type: 'ready' } satisfies FromWorker);

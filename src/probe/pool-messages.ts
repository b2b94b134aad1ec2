/**
 * The messages between the probe pool (main thread) and its worker threads. Plain data, sent by
 * structured clone, in arrays: each side posts what one event-loop turn produced as one batch
 * (batched-post.ts). Modules travel once per worker and config version and are referred to by id.
 */
import type { ModuleConfig } from '../config/schema.js';
import type { AnswerQuery, AnswerReply } from '../responder/check.js';
import type { ProbeResult, ProbeTarget } from './types.js';

/** Main thread → worker. `answer` replies to a worker's `answer-query` (responder checks). */
export type ToWorker =
  | { type: 'module'; id: number; module: ModuleConfig }
  | { type: 'forget'; id: number }
  | AnswerMessage
  | ProbeRequest;

export interface ProbeRequest {
  type: 'probe';
  seq: number;
  target: ProbeTarget;
  moduleId: number;
  deadlineMs: number;
}

/** The main thread's reply to an `answer-query`: the reply, or why there is none. */
export interface AnswerMessage {
  type: 'answer';
  id: number;
  reply: AnswerReply | null;
  error: string | null;
}

/** Worker → main thread. `ready` once its modules are loaded, before any result. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; seq: number; results: ProbeResult[] }
  | { type: 'failed'; seq: number; error: string }
  | AnswerQueryMessage;

/** A worker asking the main thread for a responder answer (see responder-relay.ts). */
export interface AnswerQueryMessage {
  type: 'answer-query';
  id: number;
  query: AnswerQuery;
}

/**
 * Responder answers for probes in worker threads, relayed to the main thread: every worker asks the
 * main thread's cache (src/responder/), so probes on different threads of one certificate still
 * cost its CA one request per answer lifetime. Both ends of the exchange live here: the main
 * thread's {@link answerWorkerQuery} and the worker's {@link answersFromMainThread}.
 */
import { localAnswers, sharedAnswerCache, type AnswerProvider, type AnswerReply } from '../responder/check.js';
import { messageOf } from '../util/errors.js';
import type { AnswerMessage, AnswerQueryMessage, FromWorker, ToWorker } from './pool-messages.js';

const mainThreadAnswers = localAnswers(sharedAnswerCache);

/** Main thread: answers a worker's query from the shared cache and sends the reply (or the error) back. */
export function answerWorkerQuery(toWorker: (message: ToWorker) => void, message: AnswerQueryMessage): void {
  const send = (reply: AnswerReply | null, error: string | null): void => toWorker({ type: 'answer', id: message.id, reply, error });
  mainThreadAnswers(message.query).then(
    (reply) => send(reply, null),
    (error: unknown) => send(null, messageOf(error)),
  );
}

export interface MainThreadAnswers {
  /** The provider a worker's probes use: asks the main thread through `post`. */
  answers: AnswerProvider;
  /** Hands the main thread's `answer` message to the query waiting for it. */
  receive(message: AnswerMessage): void;
}

/** Worker: a provider that asks the main thread, and the receiver of its replies. */
export function answersFromMainThread(post: (message: FromWorker) => void): MainThreadAnswers {
  const waiters = new Map<number, { resolve: (reply: AnswerReply) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const answers: AnswerProvider = (query) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      // The main thread answers by the query's deadline; should a reply ever be lost, do not wait for ever.
      const timer = setTimeout(() => {
        waiters.delete(id);
        reject(new Error('no responder answer from the main thread by the deadline'));
      }, Math.max(0, query.deadlineMs - Date.now()) + 1000);
      waiters.set(id, {
        resolve: (reply) => (clearTimeout(timer), resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      post({ type: 'answer-query', id, query });
    });
  return {
    answers,
    receive(message) {
      const waiter = waiters.get(message.id);
      waiters.delete(message.id);
      if (message.reply) waiter?.resolve(message.reply);
      else waiter?.reject(new Error(message.error ?? 'no answer from the main thread'));
    },
  };
}

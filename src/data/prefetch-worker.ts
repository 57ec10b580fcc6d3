// The reader thread of a prefetched pass.
import { workerData } from "node:worker_threads";
import { openData } from "./reader.js";
import { DataError, dataErrorFields } from "./errors.js";
import {
  CREDITS, SENT, SLEEPING, batchBuffers, type PrefetchMessage, type PrefetchWorkerData, type SerializedError,
} from "./prefetch-protocol.js";

/**
 * The reader thread of a prefetched pass: reads, parses and hashes the rows
 * exactly as the main thread would (the same `openData` code), and hands each
 * batch over by transferring its buffers, and each skipped row's error as it
 * is skipped. It runs at most `depth` batches ahead of the consumer (skipped
 * rows' messages need no credit); waiting for credit, it naps and looks
 * again, then sleeps until notified (no spinning).
 */
const start = workerData as PrefetchWorkerData;
const port = start.port, ctl = start.control;
let sentBatches = 0;

/**
 * Naps (NAPS of NAP_MS, about 200 ms) before sleeping until notified: a
 * notify costs the consumer more than a post did, and a nap costs it
 * nothing. A nap is short next to the depth's worth of steps the reader is
 * ahead by, and long enough that its wake-ups take little of the core the
 * other helper threads share.
 */
const NAPS = 50;
const NAP_MS = 4;

/** Resolves once a batch may be sent: at most depth ahead of the consumer's takes. */
async function credit(): Promise<void> {
  for (let naps = 0; ; naps++) {
    const taken = Atomics.load(ctl, CREDITS);
    if (sentBatches < start.depth + taken) return;
    if (naps < NAPS) {
      await new Promise((r) => setTimeout(r, NAP_MS));
    } else {
      // The flag first, then a last look: a take after it notifies.
      Atomics.store(ctl, SLEEPING, 1);
      const w = Atomics.waitAsync(ctl, CREDITS, taken);
      if (w.async) {
        // A pending waitAsync does not keep a thread's event loop alive.
        const alive = setInterval(() => undefined, 1 << 30);
        await w.value;
        clearInterval(alive);
      }
      Atomics.store(ctl, SLEEPING, 0);
    }
  }
}

function send(m: PrefetchMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
  // After the post: a consumer that sees the count can receive the message.
  Atomics.add(ctl, SENT, 1);
  Atomics.notify(ctl, SENT);
}

function serialize(e: unknown): SerializedError {
  if (e instanceof DataError) return { name: e.name, message: e.message, data: dataErrorFields(e) };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

try {
  // Each skipped row is reported as it is skipped, in order with the batches.
  const onSkip = (e: DataError): void => send({ kind: "skip", error: dataErrorFields(e) });
  const file = await openData(start.paths, { ...start.options, onSkip });
  const it = file.batches(start.range);
  for (;;) {
    await credit();
    const n = await it.next();
    if (n.done) {
      send({ kind: "end", stats: { ...n.value, firstBad: n.value.firstBad.map(dataErrorFields) } });
      break;
    }
    sentBatches++;
    send({ kind: "batch", batch: n.value }, batchBuffers(n.value));
  }
} catch (e) {
  send({ kind: "error", error: serialize(e) });
}
// Stay until the consumer has taken the last message and stops this thread:
// closing the port now could drop messages still in flight.
port.unref();

import { workerData, type MessagePort } from "node:worker_threads";
import { openData } from "./reader.js";
import { DataError } from "./errors.js";
import { batchBuffers, type DataErrorFields, type PrefetchCredit, type PrefetchMessage, type PrefetchStart, type SerializedError } from "./prefetch-protocol.js";

/**
 * The reader thread of a prefetched pass: reads, parses and hashes the rows
 * exactly as the main thread would (the same `openData` code), and hands each
 * batch over by transferring its buffers. It runs at most `depth` batches
 * ahead of the consumer and sleeps (no spinning) while it waits for credit.
 */
const start = workerData as PrefetchStart & { depth: number; port: MessagePort; sent: Int32Array };
const port = start.port;
let credit = start.depth;
let wake: (() => void) | undefined;
port.on("message", (m: PrefetchCredit) => {
  credit += m.credit;
  wake?.();
});

function send(m: PrefetchMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
  // After the post: a consumer that sees the count can receive the message.
  Atomics.add(start.sent, 0, 1);
  Atomics.notify(start.sent, 0);
}

function fields(e: DataError): DataErrorFields {
  return { file: e.file, line: e.line, column: e.column, reason: e.reason };
}

function serialize(e: unknown): SerializedError {
  if (e instanceof DataError) return { name: e.name, message: e.message, data: fields(e) };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

try {
  const file = await openData(start.path, start.options);
  const it = file.batches(start.range);
  for (;;) {
    while (credit <= 0) await new Promise<void>((r) => { wake = r; });
    wake = undefined;
    const n = await it.next();
    if (n.done) {
      send({ kind: "end", stats: { ...n.value, firstBad: n.value.firstBad.map(fields) } });
      break;
    }
    credit--;
    send({ kind: "batch", batch: n.value }, batchBuffers(n.value));
  }
} catch (e) {
  send({ kind: "error", error: serialize(e) });
}
// Stay until the consumer has taken the last message and stops this thread:
// closing the port now could drop messages still in flight.
port.unref();

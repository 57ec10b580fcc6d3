/**
 * The entry of a pool's worker thread (./parallel-pool.ts): it compiles its
 * layer kernels when it starts, then serves jobs one after another: a run's
 * training (./parallel-worker.ts) or a share of rows to score
 * (./score-thread.ts), whose scores it posts back (ScoreReply). A run that
 * fails ends the thread (its state is not trusted again); so does a scoring
 * job's error, which reaches the caller as the thread's error.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { PoolJob, PooledWorkerData, ScoreReply } from "./parallel-pool.js";
import { trainWorker } from "./parallel-worker.js";
import { threadLayers } from "./replica.js";
import { scoreThread } from "./score-thread.js";

try {
  threadLayers((workerData as PooledWorkerData).fma);
} catch {
  // Reported when a job prepares them again with its settings.
}
for (;;) {
  const job = await new Promise<PoolJob>((r) => parentPort!.once("message", r));
  if (job.kind === "train") {
    if (!await trainWorker(job.init)) break;
  } else if (job.kind === "score") {
    const share = await scoreThread(job.init);
    parentPort!.postMessage({ kind: "share", share } satisfies ScoreReply, [share.scores.buffer as ArrayBuffer, share.labels.buffer as ArrayBuffer]);
  } else {
    throw new Error(`a pool's thread was sent ${JSON.stringify((job as { kind?: unknown }).kind)}, not a job`);
  }
}

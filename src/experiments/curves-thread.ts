/**
 * writeCurves (./curves.ts) on a thread of its own, so that a run's figures
 * are drawn (the PNG rendered and encoded in WebAssembly) while the calling
 * thread writes the run's other outputs. This module is also that thread's
 * entry: started with CurvesJob as workerData it draws and posts what
 * writeCurves returned, or its error's message.
 */
import { parentPort, Worker, workerData } from "node:worker_threads";
import { writeCurves } from "./curves.js";

/** What the thread is started with. */
interface CurvesJob { curves: true; dir: string; title?: string }

/** What the thread posts. */
type CurvesReply = { ok: Awaited<ReturnType<typeof writeCurves>> } | { error: string };

/** writeCurves(dir, title) on a new thread; rejects with its error. */
export function writeCurvesThread(dir: string, title?: string): Promise<Awaited<ReturnType<typeof writeCurves>>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { curves: true, dir, title } satisfies CurvesJob });
    let reply: CurvesReply | undefined;
    w.once("message", (r: CurvesReply) => { reply = r; });
    w.once("error", reject);
    w.once("exit", (code) => {
      if (reply === undefined) reject(new Error(`the thread drawing ${dir}'s curves stopped (exit code ${code}) before it was done`));
      else if ("error" in reply) reject(new Error(reply.error));
      else resolve(reply.ok);
    });
  });
}

const job = workerData as Partial<CurvesJob> | undefined;
if (parentPort !== null && job?.curves === true) {
  try {
    parentPort.postMessage({ ok: await writeCurves(job.dir!, job.title) } satisfies CurvesReply);
  } catch (e) {
    parentPort.postMessage({ error: (e as Error).message } satisfies CurvesReply);
  }
}

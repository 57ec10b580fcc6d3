// The worker threads of the shared-table tests (test/unit/table-threads.test.ts,
// round-merge.test.ts) and runThreads, which starts them. A thread trains its
// plan of batches on a shared table through a SharedTableView, all threads
// starting together at a shared gate, and reports the rows' weights it read
// (to check the inserts) when asked.
import { parentPort, Worker, workerData } from "node:worker_threads";
import { SharedTableView, shareTable, sharedStepCount, type TableShare } from "../../src/optim/table-share.js";
import type { SparseTable } from "../../src/optim/table.js";

/**
 * Runs one thread per plan on the shared table, all released together
 * (merged: in rounds, see TableThreadData.rounds); returns each thread's
 * gathered rows.
 */
export async function runThreads(t: SparseTable, plans: { ids: BigUint64Array[]; grads: Float32Array[] }[], maxIds: number, room: number, merged = false): Promise<Float32Array[][]> {
  const share = shareTable(t, plans.length, maxIds, room);
  const gate = new SharedArrayBuffer(4), rounds = merged ? { barrier: new SharedArrayBuffer(8), threads: plans.length } : undefined;
  const workers = plans.map((p, worker) => {
    const data: TableThreadData = { share, worker, ids: p.ids, grads: p.grads, gate, rounds };
    return new Worker(new URL("./table-thread.js", import.meta.url), { workerData: data });
  });
  const done = workers.map((w) => new Promise<Float32Array[]>((resolve, reject) => {
    w.once("message", (m: { gathered: Float32Array[] }) => resolve(m.gathered));
    w.once("error", reject);
  }));
  // Let every thread reach the gate, then open it.
  await new Promise((r) => setTimeout(r, 200));
  Atomics.store(new Int32Array(gate), 0, 1);
  Atomics.notify(new Int32Array(gate), 0);
  const out = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  t.adoptStepCount(sharedStepCount(t, share));
  return out;
}

/** What a test thread is given. */
export interface TableThreadData {
  share: TableShare;
  worker: number;
  /** The batches' ids, one array per step. */
  ids: BigUint64Array[];
  /** Per step, one gradient row per id (empty: gather only, no step). */
  grads: Float32Array[];
  /** Int32 gate: the threads wait until word 0 is 1. */
  gate: SharedArrayBuffer;
  /**
   * Merged rounds (--dense-updates split): batch s of every thread is one
   * round, whose step every thread holds (holdStep) and, after a barrier
   * on these Int32 words (arrived, generation), steps its own rows of
   * (stepOwned); thread 0 then advances the step count.
   */
  rounds?: { barrier: SharedArrayBuffer; threads: number };
}

// The test runner also loads this file on its own (it runs every file under
// dist/test): then there is no work.
if (workerData !== null && parentPort !== null) run(workerData as TableThreadData);

function run(data: TableThreadData): void {
  const view = new SharedTableView(data.share, data.worker);
  const gate = new Int32Array(data.gate);
  Atomics.wait(gate, 0, 0);
  const gathered: Float32Array[] = [];
  const rounds = data.rounds, base = view.stepCount;
  for (let s = 0; s < data.ids.length; s++) {
    if (rounds) view.holdStep(base + s + 1);
    const rows = view.gatherBatch(data.ids[s]);
    if (data.grads[s].length) view.stepBatch(data.grads[s]);
    else gathered.push(rows);
    if (!rounds) continue;
    barrier(rounds);
    view.stepOwned();
    if (data.worker === 0) view.advanceStep();
    barrier(rounds);
  }
  parentPort!.postMessage({ gathered });
}

/** Waits until every thread arrived (the last to arrive lets them go). */
function barrier(r: { barrier: SharedArrayBuffer; threads: number }): void {
  const w = new Int32Array(r.barrier), gen = Atomics.load(w, 1);
  if (Atomics.add(w, 0, 1) + 1 === r.threads) {
    Atomics.store(w, 0, 0);
    Atomics.add(w, 1, 1);
    Atomics.notify(w, 1);
  } else {
    while (Atomics.load(w, 1) === gen) Atomics.wait(w, 1, gen, 1000);
  }
}

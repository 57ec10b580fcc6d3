// A worker thread of the shared-table tests (test/unit/table-threads.test.ts):
// trains its plan of batches on a shared table through a SharedTableView,
// all workers starting together at a shared gate, and reports the rows'
// weights it read (to check the inserts) when asked.
import { parentPort, workerData } from "node:worker_threads";
import { SharedTableView, type TableShare } from "../../src/optim/table-share.js";

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
}

// The test runner also loads this file on its own (it runs every file under
// dist/test): then there is no work.
if (workerData !== null && parentPort !== null) run(workerData as TableThreadData);

function run(data: TableThreadData): void {
  const view = new SharedTableView(data.share, data.worker);
  const gate = new Int32Array(data.gate);
  Atomics.wait(gate, 0, 0);
  const gathered: Float32Array[] = [];
  for (let s = 0; s < data.ids.length; s++) {
    const rows = view.gatherBatch(data.ids[s]);
    if (data.grads[s].length) view.stepBatch(data.grads[s]);
    else gathered.push(rows);
  }
  parentPort!.postMessage({ gathered });
}

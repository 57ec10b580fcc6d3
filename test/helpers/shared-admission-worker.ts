/**
 * The key streams of the shared admission test (test/unit/shared-admission.test.ts),
 * and the worker thread that routes one of them: it attaches to the shared
 * counts, routes one round of its stream (counting) each time the main
 * thread says so, then a storm of small bursts of new keys that every
 * worker routes at the same moment, and at the end reports per key how many
 * of its occurrences went to the key itself and how many to its field's OOV
 * key.
 */
import { parentPort, workerData } from "node:worker_threads";
import { oovTable } from "../../src/train/admission.js";
import { SharedAdmission, type SharedAdmissionState } from "../../src/train/shared-admission.js";
import { fmix32 } from "../../src/util/fmix32.js";
import { rng } from "./rng.js";

/** One worker's stream: `rounds` batches of `rows` rows of `fields` keys. */
export interface StreamSpec {
  readonly fields: number;
  readonly rows: number;
  readonly rounds: number;
  readonly seed: number;
  /** Bursts of the storm, and keys in each. */
  readonly bursts: number;
  readonly burstKeys: number;
}

/** What a worker is started with. */
export interface WorkerJob extends StreamSpec {
  readonly sharedAdmission: SharedAdmissionState;
  readonly worker: number;
  readonly workers: number;
  /** Four i32 words every worker shares: arrivals and generations of the rounds' and the bursts' barriers. */
  readonly gate: SharedArrayBuffer;
}

/** Main thread -> worker. */
export type ToWorker = { k: "round"; round: number } | { k: "storm" } | { k: "report" };
/** Worker -> main thread. */
export type FromWorker =
  | { k: "ready" }
  | { k: "done"; round: number }
  | { k: "stormed" }
  | { k: "report"; ids: Uint32Array; own: Uint32Array; oov: Uint32Array; bad: number };

const VALUE_BITS = 24;

/**
 * The key ids (field * 2^24 + value) of one worker's round, row-major (key j
 * is of field j % fields): a few hot values that every worker repeats very
 * often, a skewed middle range every worker draws from, and rare values
 * drawn from millions (mostly seen once, some by several workers).
 */
export function roundIds(spec: StreamSpec, worker: number, round: number): Uint32Array {
  const r = rng(spec.seed * 7919 + worker * 104729 + round * 15485863), F = spec.fields;
  const ids = new Uint32Array(spec.rows * F);
  for (let j = 0; j < ids.length; j++) {
    const u = r();
    const v = u < 0.4 ? Math.floor(r() * 2) : u < 0.7 ? 4 + Math.floor(Math.pow(r(), 3) * 3000) : 4000 + Math.floor(r() * 3_000_000);
    ids[j] = (j % F) * 2 ** VALUE_BITS + v;
  }
  return ids;
}

/** The key ids of burst b of the storm: new to the counts, the same in every worker (key j is of field j % fields). */
export function burstIds(spec: StreamSpec, b: number): Uint32Array {
  const K = spec.burstKeys;
  return Uint32Array.from({ length: K }, (_, j) => (j % spec.fields) * 2 ** VALUE_BITS + 3_500_000 + b * K + j);
}

/** The (lo, hi) words of key id `id`, written to out[o], out[o + 1] (distinct ids give distinct keys). */
export function keyWords(id: number, out: Uint32Array, o: number): void {
  out[o] = fmix32(id >>> 0);
  out[o + 1] = fmix32((Math.floor(id / 2 ** VALUE_BITS) * 0x9e3779b1 + 12345) >>> 0);
}

/**
 * Waits until all `parties` threads have arrived at generation g of the
 * barrier whose arrivals are gate[slot] and whose generations passed are
 * gate[slot + 1]; the last to arrive wakes the others.
 */
function barrier(gate: Int32Array, slot: number, parties: number, g: number): void {
  if (Atomics.add(gate, slot, 1) === parties * (g + 1) - 1) {
    Atomics.store(gate, slot + 1, g + 1);
    Atomics.notify(gate, slot + 1);
  } else while (Atomics.load(gate, slot + 1) <= g) Atomics.wait(gate, slot + 1, g);
}

/** Routes the worker's rounds as told, in calls of ragged sizes, half of them with an explicit fieldOf; then the storm. */
function serve(job: WorkerJob): void {
  const port = parentPort!;
  const sa = SharedAdmission.attach(job.sharedAdmission), F = job.fields, oov = oovTable(F);
  const r = rng(job.seed + 31 * job.worker), gate = new Int32Array(job.gate);
  const index = new Map<number, number>();
  const ids: number[] = [], own: number[] = [], toOov: number[] = [];
  let bad = 0;
  /** Tallies where the n keys went (key j of field j % F). */
  const tally = (keys: Uint32Array, words: Uint32Array, out: Uint32Array, n: number): void => {
    for (let j = 0; j < n; j++) {
      const id = keys[j], f = j % F;
      let k = index.get(id);
      if (k === undefined) {
        k = ids.length;
        index.set(id, k);
        ids.push(id);
        own.push(0);
        toOov.push(0);
      }
      if (out[2 * j] === words[2 * j] && out[2 * j + 1] === words[2 * j + 1]) own[k]++;
      else if (out[2 * j] === oov[2 * f] && out[2 * j + 1] === oov[2 * f + 1]) toOov[k]++;
      else bad++;
    }
  };
  port.on("message", (m: ToWorker) => {
    if (m.k === "report") {
      port.postMessage({ k: "report", ids: Uint32Array.from(ids), own: Uint32Array.from(own), oov: Uint32Array.from(toOov), bad } satisfies FromWorker);
      port.close();
      return;
    }
    if (m.k === "storm") {
      // Every worker routes each burst at the same moment: threads meet on slots another is claiming.
      const K = job.burstKeys, words = new Uint32Array(2 * K), out = new Uint32Array(2 * K);
      for (let b = 0; b < job.bursts; b++) {
        const keys = burstIds(job, b);
        for (let j = 0; j < K; j++) keyWords(keys[j], words, 2 * j);
        barrier(gate, 2, job.workers, b);
        sa.route(words, K, out, undefined, true);
        tally(keys, words, out, K);
      }
      port.postMessage({ k: "stormed" } satisfies FromWorker);
      return;
    }
    const keys = roundIds(job, job.worker, m.round), n = keys.length;
    const words = new Uint32Array(2 * n), out = new Uint32Array(2 * n), fieldOf = new Int32Array(n);
    for (let j = 0; j < n; j++) keyWords(keys[j], words, 2 * j);
    barrier(gate, 0, job.workers, m.round);
    for (let start = 0; start < n;) {
      const explicit = start % F !== 0 || r() < 0.5;
      // Without fieldOf a call starts at a row (key j is of field j % F).
      const len = Math.min(n - start, explicit ? 1 + Math.floor(r() * 700) : F * (1 + Math.floor(r() * 90)));
      for (let j = 0; j < len; j++) fieldOf[j] = (start + j) % F;
      sa.route(words.subarray(2 * start), len, out.subarray(2 * start), explicit ? fieldOf : undefined, true);
      start += len;
    }
    tally(keys, words, out, n);
    port.postMessage({ k: "done", round: m.round } satisfies FromWorker);
  });
  port.postMessage({ k: "ready" } satisfies FromWorker);
}

const job = workerData as Partial<WorkerJob> | null;
if (parentPort !== null && job?.sharedAdmission !== undefined) serve(job as WorkerJob);

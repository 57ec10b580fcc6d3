/**
 * One worker's synchronisation with the store (./store.ts): each worker
 * trains its own copy of the model, and every K rows pushes what it changed
 * since the last synchronisation and takes back the merged state of those
 * rows and of the dense layers.
 *
 * Embedding rows: the rows whose update count moved since the last
 * synchronisation are pushed with the record they had then (the base); the
 * stored row takes each worker's change of z and of the moments as if its
 * updates had run after those already stored (./merge.ts), so no worker's
 * update is lost, and the worker takes the merged record,
 * its weights recomputed from the merged state by Algorithm 1's closed form
 * (SparseTable.putRecords): a row that state makes zero is exactly zero.
 * Rows a worker did not touch keep its last copy until it touches them
 * again (their change is still added to the store's, against that copy).
 * Dense parameters: each worker's change of the weights added, the moments
 * merged as the rows' (mergeDense). With admission, every table
 * synchronisation also exchanges the run's filter of the features counted
 * (./sightings.ts). With one worker the merged state is the pushed one bit
 * for bit.
 */
import { H_COUNT, H_FLAGS, ROW_LOCK } from "../kernels/layout.js";
import { SparseTable } from "../optim/table.js";
import { ruleSpec } from "../optim/hyper.js";
import type { CtrModel } from "../train/model.js";
import type { ClusterStore } from "./store.js";
import { mergeDense, mergeRecord, slotMerges, type SlotMerge } from "./merge.js";
import type { DenseParam } from "../optim/dense.js";
import type { Admission } from "../train/admission.js";
import { ClusterSightings } from "./sightings.js";

/** Why a model cannot be trained through the store, or undefined when it can. */
export function clusterUnsupported(m: CtrModel): string | undefined {
  if (m.tables.some((t) => !(t instanceof SparseTable))) return "sharded tables (--shards above 1)";
  if (!ruleSpec(m.settings.optimizer).group) return `the plain optimizer ${m.settings.optimizer} (the cluster merges the group form's z: use group-${m.settings.optimizer})`;
  if (m.settings.dense === "group") return "group-lasso dense layers (--dense group)";
  return undefined;
}

/**
 * A synchronisation in flight: done once the store answered; prepare does
 * what needs no pause (see {@link ClusterSync.prepare}), apply writes the
 * result into the model.
 */
interface Flight {
  done: boolean;
  failed: unknown;
  /** Whether prepare is over (or not wanted); the passes made and the rows merged by the last whole pass and by the pass under way. */
  prepared: boolean;
  passes: number;
  lastPass: number;
  thisPass: number;
  prepare: Prepare;
  apply: () => void;
}

/** Part of a pass of prepare, until `deadline` (performance.now()): the rows it merged, and whether the pass is over. */
type Prepare = (deadline: number) => { merged: number; done: boolean };

/** The prepare of a synchronisation with nothing to merge off a pause. */
const NOTHING_TO_PREPARE: Prepare = () => ({ merged: 0, done: true });

/**
 * A table's merged records, written into the model in two steps (pushTable):
 * prepare merges, off a pause, the rows not merged yet or stepped since
 * their merge (returns how many), write those left and writes every record.
 */
interface Write { prepare: Prepare; write(): void }

/** What the synchronisations of a worker did. */
export interface SyncCounts { syncs: number; denseSyncs: number; rowsPushed: number; seconds: number }

/** The record of every row as of the last synchronisation (the base of its next push); zeros for a row never pushed. */
class Baseline {
  recs = new Uint8Array(0);
  private words = new Uint32Array(0);
  constructor(readonly recBytes: number) {}
  /** Row r's update count in its base record (0: never pushed). */
  count(r: number): number { return this.words[(r * this.recBytes + H_COUNT) >>> 2]; }
  ensure(rows: number): void {
    if (rows * this.recBytes <= this.recs.length) return;
    const r = new Uint8Array(Math.max(1024, 2 ** Math.ceil(Math.log2(rows))) * this.recBytes);
    r.set(this.recs);
    this.recs = r;
    this.words = new Uint32Array(r.buffer);
  }
}

export class ClusterSync {
  readonly counts: SyncCounts = { syncs: 0, denseSyncs: 0, rowsPushed: 0, seconds: 0 };
  private readonly bases: Baseline[];
  private readonly denseBases: Float32Array[];
  /** Each dense parameter's update count at its base (the pusher's steps since are the n of its merge). */
  private readonly denseUpdates: number[];
  private readonly denseSlots: SlotMerge[][];
  private readonly tableSlots: SlotMerge[][];
  /** The tables' step count counted in the store (the global step at the last synchronisation). */
  private steps: number;
  /** The run's features counted, shared with every table synchronisation (see shareSightings). */
  private sightings: ClusterSightings | undefined;
  /** The synchronisations in flight (see start and startDense). */
  private readonly flights: { rows?: Flight; dense?: Flight } = {};

  constructor(private readonly store: ClusterStore, private readonly m: CtrModel) {
    const why = clusterUnsupported(m);
    if (why !== undefined) throw new Error(`cluster training does not support ${why}`);
    this.bases = m.tables.map((t) => new Baseline(t.recordBytes));
    // Every worker starts from the same seeded weights: the base of its first push.
    this.denseBases = m.dense.map((d) => d.mergeable());
    this.denseUpdates = m.dense.map((d) => d.updates);
    // The moments decay by the rate the steps use (a worker's compensated momentum, ./train.ts).
    this.denseSlots = m.dense.map((d) => slotMerges(d.optimizer, d.stepHyper, ruleSpec(d.optimizer).group));
    this.steps = m.tables[0]?.stepCount ?? 0;
    this.tableSlots = (m.tables as SparseTable[]).map((t) => slotMerges(t.optimizer, t.hyper, true));
  }

  /**
   * Shares the features `a` counts with the run's other workers through a
   * filter of `bytes` bytes in the store (./sightings.ts), from now on: every
   * table synchronisation exchanges it. Takes the run's filter now.
   */
  async shareSightings(a: Admission, bytes: number): Promise<void> {
    const s = new ClusterSightings(bytes);
    s.addEntries(a.entries());
    (await s.exchange(this.store))();
    a.elsewhere = s;
    this.sightings = s;
  }

  /** The estimated false-positive rate of the run's sightings filter as this worker last took it (undefined: not shared). */
  get sightingsFalsePositiveRate(): number | undefined { return this.sightings?.falsePositiveRate(); }

  /** True while a synchronisation of the tables (start) or of the dense layers (startDense) is in flight. */
  get busy(): boolean { return this.rowsBusy || this.denseBusy; }
  get rowsBusy(): boolean { return this.flights.rows !== undefined; }
  /** True when a synchronisation in flight has come back (the next {@link poll} applies it). */
  get landed(): boolean { return this.flights.rows?.done === true || this.flights.dense?.done === true; }
  get denseBusy(): boolean { return this.flights.dense !== undefined; }

  /** Pushes this worker's changes since the last synchronisation (tables and dense layers) and takes the merged state, waiting for it. */
  async sync(): Promise<void> {
    await this.settle();
    this.start();
    this.startDense();
    await this.settle();
  }

  /**
   * Starts a synchronisation of the tables (and of the run's step count) in
   * the background: the rows changed since the last one are taken now and
   * pushed, and training may go on; {@link poll} or {@link settle} applies
   * the merged records, with the updates made since on top of them (by the
   * same merge rule), so the worker never waits for the store. `onApplied`
   * runs once it is applied.
   */
  start(onApplied?: () => void): void {
    const tables = this.m.tables as SparseTable[];
    const own = tables[0]?.stepCount ?? this.steps;
    const jobs = tables.map((t, i) => this.pushTable(t, i));
    const total = this.store.addSteps(own - this.steps);
    const seen = this.sightings?.exchange(this.store) ?? Promise.resolve(() => {});
    let wi = 0;
    this.launch("rows", Promise.all([Promise.all(jobs), total, seen]).then(([writes, t, sightings]) => ({
      // A pass goes through every table's rows in turn, over as many calls as the deadlines make it.
      prepare: (deadline: number) => {
        let merged = 0;
        for (; wi < writes.length; wi++) {
          const r = writes[wi].prepare(deadline);
          merged += r.merged;
          if (!r.done) return { merged, done: false };
        }
        wi = 0;
        return { merged, done: true };
      },
      apply: () => {
        // Steps and bias corrections continue from every worker's steps (the
        // run's global step), plus this worker's steps since the snapshot.
        const since = (tables[0]?.stepCount ?? own) - own;
        for (const tb of tables) tb.adoptStepCount(t + since);
        for (const d of this.m.dense) d.adoptStepCount(t + since);
        this.steps = t;
        for (const w of writes) w.write();
        sightings();
        this.counts.syncs++;
        onApplied?.();
      },
    })));
  }

  /** Starts a synchronisation of the dense layers in the background (as start does for the tables). */
  startDense(): void {
    const jobs = this.m.dense.map((d, i) => this.pushDense(d, i));
    this.launch("dense", Promise.all(jobs).then((writes) => ({
      prepare: NOTHING_TO_PREPARE,
      apply: () => {
        for (const w of writes) w();
        this.counts.denseSyncs++;
      },
    })));
  }

  private launch(kind: "rows" | "dense", work: Promise<{ prepare: Prepare; apply: () => void }>): void {
    if (this.flights[kind]) throw new Error(`internal: a synchronisation of the ${kind} is already in flight`);
    const t0 = process.hrtime.bigint();
    const flight: Flight = { done: false, failed: undefined, prepared: false, passes: 0, lastPass: 0, thisPass: 0, prepare: NOTHING_TO_PREPARE, apply: () => {} };
    this.flights[kind] = flight;
    work.then(({ prepare, apply }) => {
      flight.prepare = prepare;
      flight.apply = () => {
        apply();
        this.counts.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      };
      flight.done = true;
    }, (e: unknown) => {
      flight.failed = e ?? new Error("synchronisation failed");
      flight.done = true;
    });
  }

  /**
   * Does the part of applying the synchronisations that have come back that
   * may run while other threads train the tables (a data-parallel worker's
   * coordinating thread, ../train/parallel.ts): the merge of each pushed
   * row's stored record with the row's present one, read without its lock
   * (a row read while a thread steps it, or stepped after, is merged again
   * at {@link poll}, which then only writes the records). Passes over the
   * rows stepped during the pass before follow while they shrink by 8 or
   * more, at most 4 in all. Works for `budgetMs` at most a call (the
   * coordinating thread stays free for the threads that wait on it) and
   * goes on at the next; true once done for every synchronisation that
   * came back.
   */
  prepare(budgetMs = 15): boolean {
    const deadline = performance.now() + budgetMs;
    let all = true;
    for (const kind of ["rows", "dense"] as const) {
      const f = this.flights[kind];
      if (!f?.done || f.failed !== undefined || f.prepared) continue;
      for (;;) {
        const r = f.prepare(deadline);
        f.thisPass += r.merged;
        if (!r.done) break;
        const n = f.thisPass;
        f.passes++;
        f.thisPass = 0;
        if (f.passes >= 4 || n === 0 || (f.passes > 1 && n * 8 > f.lastPass)) {
          f.prepared = true;
          break;
        }
        f.lastPass = n;
      }
      if (!f.prepared) all = false;
    }
    return all;
  }

  /** Applies the synchronisations that have come back; returns false while one is still in flight. */
  poll(): boolean {
    for (const kind of ["rows", "dense"] as const) {
      const f = this.flights[kind];
      if (!f?.done) continue;
      this.flights[kind] = undefined;
      if (f.failed !== undefined) throw f.failed;
      f.apply();
    }
    return !this.busy;
  }

  /** Waits for the synchronisations in flight, if any, and applies them. */
  async settle(): Promise<void> {
    while (!this.poll()) await new Promise((r) => setImmediate(r));
  }

  /**
   * Takes the store's state of every row and dense parameter (the model of
   * the whole run, once every worker's last push is in).
   */
  async pull(): Promise<void> {
    const tables = this.m.tables as SparseTable[];
    // The run's global step first: the records' last steps are within it.
    const t = await this.store.addSteps(0);
    for (const tb of tables) tb.adoptStepCount(Math.max(t, tb.stepCount));
    for (const d of this.m.dense) d.adoptStepCount(Math.max(t, d.stepCount));
    for (let i = 0; i < tables.length; i++) {
      const { ids, records } = await this.store.rows(i, tables[i].recordBytes, tables[i].rowLength);
      tables[i].putRecords(ids, records);
    }
    for (let i = 0; i < this.m.dense.length; i++) {
      const v = await this.store.dense(i);
      if (v === undefined) continue;
      this.m.dense[i].setMergeable(v);
      this.m.params[i].value.set(this.m.dense[i].view());
    }
    this.rebase();
  }

  /** Takes the model's present state as the base of the next push (after a pull). */
  private rebase(): void {
    (this.m.tables as SparseTable[]).forEach((t, i) => {
      const store = t.mutate();
      this.bases[i].ensure(store.size);
      store.records(0, store.size, this.bases[i].recs.subarray(0, store.size * store.recBytes));
    });
    this.m.dense.forEach((d, i) => { this.denseBases[i] = d.mergeable(); this.denseUpdates[i] = d.updates; });
    this.steps = this.m.tables[0]?.stepCount ?? this.steps;
  }

  /** Pushes dense parameter i; resolves to the write of the merged state (with the steps taken since on top). */
  private async pushDense(d: DenseParam, i: number): Promise<() => void> {
    const pushed = d.mergeable(), at = d.updates, how = { rows: d.rows, d: d.rowLength, slots: this.denseSlots[i] };
    const merged = await this.store.mergeDense(i, pushed, this.denseBases[i], { ...how, n: at - this.denseUpdates[i] });
    return () => {
      // The model's parameter now (a data-parallel trainer replaces it with its workers' state at each pause).
      const d = this.m.dense[i], now = d.mergeable();
      // Steps taken since the snapshot stay, on top of the merged state (compared
      // by value: a table synchronisation may renumber the steps in between).
      d.setMergeable(now.every((v, k) => v === pushed[k]) ? merged : mergeDense(merged, now, pushed, { ...how, n: d.updates - at }));
      this.m.params[i].value.set(d.view());
      this.denseBases[i] = merged;
      this.denseUpdates[i] = at;
    };
  }

  /** Pushes table i's changed rows; resolves to the write of the merged records into the table. */
  private async pushTable(t: SparseTable, i: number): Promise<Write> {
    const base = this.bases[i], rb = t.recordBytes, store = t.mutate(), n = store.size, heap = store.arena.heap;
    base.ensure(n);
    const changed: number[] = [];
    for (let r = 0; r < n; r++) {
      if (heap.u32[(store.record(r) + H_COUNT) >>> 2] !== base.count(r)) changed.push(r);
    }
    if (!changed.length) return { prepare: NOTHING_TO_PREPARE, write: () => {} };
    // One copy of the changed rows' ids, records and bases, viewed row by row
    // (no allocation per row, no BigInt arithmetic: this runs on the training thread).
    const c = changed.length, ids = store.ids(), ids32 = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    const idAll = Buffer.alloc(c * 8), pushedAll = Buffer.alloc(c * rb), baseAll = Buffer.from(base.recs.buffer, base.recs.byteOffset, base.recs.byteLength);
    const id32 = new Uint32Array(idAll.buffer, idAll.byteOffset, c * 2), keys = new BigUint64Array(idAll.buffer, idAll.byteOffset, c);
    const hasBase = new Uint8Array(c);
    for (let k = 0; k < c; k++) {
      const r = changed[k];
      id32[2 * k] = ids32[2 * r];
      id32[2 * k + 1] = ids32[2 * r + 1];
      const rec = store.record(r);
      pushedAll.set(heap.u8.subarray(rec, rec + rb), k * rb);
      hasBase[k] = base.count(r) === 0 ? 0 : 1;
    }
    // The rows are copied: the rest (the rows' views, the calls to the store, their commands built and
    // written) runs on a later turn, after the caller's pause (a data-parallel worker's threads train on meanwhile).
    await new Promise((r) => setImmediate(r));
    const idBufs: Buffer[] = new Array<Buffer>(c), pushed: Buffer[] = new Array<Buffer>(c), bases: (Buffer | undefined)[] = new Array<Buffer | undefined>(c);
    for (let k = 0; k < c; k++) {
      const r = changed[k];
      idBufs[k] = idAll.subarray(k * 8, k * 8 + 8);
      pushed[k] = pushedAll.subarray(k * rb, (k + 1) * rb);
      bases[k] = hasBase[k] === 0 ? undefined : baseAll.subarray(r * rb, (r + 1) * rb);
    }
    const merged: Buffer[] = new Array<Buffer>(c);
    await Promise.all(this.store.callsOf(keys).map(({ bucket, rows }) =>
      this.store.mergeRows(i, bucket, t.rowLength, this.tableSlots[i], rows.map((k) => idBufs[k]), rows.map((k) => pushed[k]), rows.map((k) => bases[k]))
        .then((out) => { rows.forEach((k, j) => { merged[k] = out[j]; }); })));
    this.counts.rowsPushed += changed.length;
    // Rows updated since the snapshot keep those updates, on top of the merged
    // record (the worker's own updates on top of its own push: the sequential rule).
    const slots = this.tableSlots[i], recs = new Uint8Array(c * rb);
    /** Each row's update count when prepare merged it (0: merge it at write); the next row of prepare's pass. */
    const at = new Uint32Array(c);
    let cursor = 0;
    const mergeRow = (k: number, cur: Uint8Array, count: number): void => {
      recs.set(count === pushed[k].readUInt32LE(H_COUNT) ? merged[k] : mergeRecord(merged[k], cur, pushed[k], t.rowLength, slots, Infinity), k * rb);
    };
    return {
      // Off the pause: rows read while locked, or whose count moved during the read, are left to write.
      prepare: (deadline: number) => {
        const now = t.mutate(), h = now.arena.heap, u32 = h.u32;
        let n = 0;
        for (; cursor < c; cursor++) {
          if ((cursor & 255) === 255 && performance.now() > deadline) return { merged: n, done: false };
          const k = cursor, rec = now.record(changed[k]), cw = (rec + H_COUNT) >>> 2, fw = (rec + H_FLAGS) >>> 2;
          const c1 = Atomics.load(u32, cw);
          if (c1 === at[k]) continue;
          const f1 = Atomics.load(u32, fw), cur = h.u8.slice(rec, rec + rb);
          if (((f1 | Atomics.load(u32, fw)) & ROW_LOCK) !== 0 || Atomics.load(u32, cw) !== c1 || c1 === 0) continue;
          mergeRow(k, cur, c1);
          at[k] = c1;
          n++;
        }
        cursor = 0;
        return { merged: n, done: true };
      },
      // With no thread stepping the table: the rows stepped since prepare (or never prepared) merged now, then every record written.
      write: () => {
        const now = t.mutate(), h = now.arena.heap;
        for (let k = 0; k < c; k++) {
          const rec = now.record(changed[k]), count = h.u32[(rec + H_COUNT) >>> 2];
          if (count !== at[k]) mergeRow(k, h.u8.subarray(rec, rec + rb), count);
        }
        t.putRecords(keys, recs);
        changed.forEach((r, k) => base.recs.set(merged[k], r * rb));
      },
    };
  }
}

/**
 * Runs cells: skips those already stored, runs the others on a pool of worker
 * threads (one per core by default: cells are independent and each is
 * deterministic by its seed, so parallelism changes no number), stores each
 * result as soon as it finishes, and builds dependent cells (the pruning
 * baseline needs the sparsity the group-lasso runs reached) once their
 * inputs are known.
 */
import { Worker } from "node:worker_threads";
import { cellCost, cellId, cellLabel, runCell, type CellResult, type CellSpec } from "./cells.js";
import type { CellStore } from "./store.js";

/** A cell given outright, or one built from the results of others. */
export type Job =
  | { spec: CellSpec }
  | { key: string; deps: CellSpec[]; build: (results: CellResult[]) => CellSpec };

/** The key under which a job's result is returned. */
export function jobKey(j: Job): string {
  return "spec" in j ? cellId(j.spec) : j.key;
}

export interface RunOptions {
  store: CellStore;
  /** Worker threads; 1 runs the cells in this thread. */
  jobs: number;
  log?: (line: string) => void;
}

export interface RunStats {
  /** Distinct cells. */
  cells: number;
  /** Cells computed by this run. */
  ran: number;
  /** Cells found stored. */
  skipped: number;
  /** Wall time. */
  seconds: number;
  /** Sum of the computed cells' own times. */
  cellSeconds: number;
}

interface Task { id: string; spec: CellSpec; cost: number; unlocks: boolean }

export async function runJobs(jobs: readonly Job[], o: RunOptions): Promise<{ results: Map<string, CellResult>; stats: RunStats }> {
  const t0 = process.hrtime.bigint();
  const log = o.log ?? (() => undefined);
  const results = new Map<string, CellResult>(); // by job key and by cell id
  const specs = new Map<string, CellSpec>();
  const unlocking = new Set<string>();
  const lazy: Extract<Job, { key: string }>[] = [];
  for (const j of jobs) {
    if ("spec" in j) specs.set(cellId(j.spec), j.spec);
    else {
      if (!lazy.some((l) => l.key === j.key)) lazy.push(j);
      for (const d of j.deps) { const id = cellId(d); specs.set(id, d); unlocking.add(id); }
    }
  }
  const stats: RunStats = { cells: 0, ran: 0, skipped: 0, seconds: 0, cellSeconds: 0 };
  const queue: Task[] = [];
  const queued = new Set<string>();
  const enqueue = (id: string, spec: CellSpec): void => {
    if (queued.has(id) || results.has(id)) return;
    stats.cells++;
    const stored = o.store.get(spec);
    if (stored) { results.set(id, stored); stats.skipped++; return; }
    queued.add(id);
    queue.push({ id, spec, cost: cellCost(spec), unlocks: unlocking.has(id) });
  };
  for (const [id, spec] of specs) enqueue(id, spec);
  const pendingLazy = new Set(lazy);
  const lazyIds = new Map<string, string>();
  const resolveLazy = (): void => {
    for (const j of [...pendingLazy]) {
      const deps = j.deps.map((d) => results.get(cellId(d)));
      if (deps.some((r) => r === undefined)) continue;
      pendingLazy.delete(j);
      const spec = j.build(deps as CellResult[]);
      const id = cellId(spec);
      specs.set(id, spec);
      lazyIds.set(j.key, id);
      enqueue(id, spec);
    }
  };
  resolveLazy();
  const next = (): Task | undefined => {
    if (!queue.length) return undefined;
    queue.sort((a, b) => Number(b.unlocks) - Number(a.unlocks) || b.cost - a.cost || (a.id < b.id ? -1 : 1));
    return queue.shift();
  };
  let done = 0;
  const finish = (t: Task, r: CellResult): void => {
    o.store.put(t.spec, r);
    results.set(t.id, r);
    queued.delete(t.id);
    stats.ran++;
    stats.cellSeconds += r.seconds;
    done++;
    log(`[${done}/${done + queue.length + inFlight}] ${cellLabel(t.spec)}: ${describe(r)} (${r.seconds.toFixed(1)} s)`);
    resolveLazy();
  };
  let inFlight = 0;
  const workers = Math.max(1, Math.floor(o.jobs));
  if (workers === 1) {
    for (let t = next(); t; t = next()) {
      inFlight = 1;
      const r = await runCell(t.spec);
      inFlight = 0;
      finish(t, r);
    }
  } else if (queue.length) {
    await new Promise<void>((resolveAll, rejectAll) => {
      const pool: Worker[] = [];
      const idle: Worker[] = [];
      let failed = false, over = false;
      const end = (e?: Error): void => {
        if (failed || over) return;
        if (e) failed = true; else over = true;
        for (const w of pool) void w.terminate();
        if (e) rejectAll(e); else resolveAll();
      };
      const dispatch = (w: Worker, t: Task): void => {
        inFlight++;
        w.once("message", (msg: { id: string; result?: CellResult; error?: string }) => {
          inFlight--;
          if (msg.error !== undefined || !msg.result) { end(new Error(`cell ${cellLabel(t.spec)} failed: ${msg.error}`)); return; }
          try { finish(t, msg.result); } catch (e) { end(e as Error); return; }
          idle.push(w);
          pump();
        });
        w.postMessage({ id: t.id, spec: t.spec });
      };
      // Fills idle workers; a finished cell may have made dependent cells ready.
      const pump = (): void => {
        if (failed || over) return;
        while (idle.length && queue.length) dispatch(idle.pop()!, next()!);
        if (inFlight === 0 && queue.length === 0) end();
      };
      const n = Math.min(workers, Math.max(1, queue.length));
      for (let i = 0; i < n; i++) {
        const w = new Worker(new URL("./worker.js", import.meta.url));
        w.on("error", (e) => end(e));
        w.on("exit", (code) => { if (!over && !failed) end(new Error(`an experiment worker stopped (exit code ${code})`)); });
        pool.push(w);
        idle.push(w);
      }
      pump();
    });
  }
  if (pendingLazy.size) throw new Error(`internal: ${pendingLazy.size} dependent cells were never built`);
  const byKey = new Map<string, CellResult>(results);
  for (const [key, id] of lazyIds) byKey.set(key, results.get(id)!);
  stats.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { results: byKey, stats };
}

function describe(r: CellResult): string {
  if (r.kind === "train") return `val AUC ${r.val.auc.toFixed(4)}, test AUC ${r.test.auc.toFixed(4)}, feature rate ${r.featureRate.toPrecision(3)}`;
  return `unpruned test AUC ${r.base.test.auc.toFixed(4)}; pruned ${r.targets.map((t) => `${t.featureRate.toPrecision(2)}:${t.test.auc.toFixed(4)}(k${t.chosenK})`).join(" ")}`;
}

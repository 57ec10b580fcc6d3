// Scoring threads: each serves one model version and scores the large
// request bodies the HTTP thread hands it, so that requests use more than
// one core; the HTTP thread keeps the connections, limits and metrics.
import { Worker } from "node:worker_threads";
import { HttpError, type BodyKind } from "./requests.js";
import type { FromScorer, ScoreRequest, ScorerData } from "./score-protocol.js";
import type { InputOverrides, ServedModel } from "./served-model.js";

interface Scorer {
  worker: Worker;
  pending: Map<number, { resolve: (s: Float64Array) => void; reject: (e: Error) => void }>;
  gone: boolean;
}

/** The threads of one model version. */
interface Generation {
  model: ServedModel;
  scorers: Scorer[];
  /** Settles when every thread has loaded the model. */
  ready: Promise<void>;
  retired: boolean;
}

/**
 * A fixed number of scoring threads per model version. A new model starts
 * new threads; once they have loaded it they take the bodies of that model,
 * and the old threads end when their last body is scored (ending a thread
 * frees all its memory: memory stays flat over reloads). A body is given to
 * threads only when they serve its model (`serves`): until then the HTTP
 * thread scores it. A thread that dies fails its pending bodies (500) and
 * is replaced.
 */
export class ScorePool {
  private current: Generation;
  private next: Generation | undefined;
  private nextId = 1;
  private closed = false;
  /** Every thread not yet ended, of any generation. */
  private readonly workers = new Set<Worker>();

  private constructor(private readonly threads: number, model: ServedModel, private readonly overrides: InputOverrides, private readonly log: (line: string) => void) {
    this.current = this.generation(model);
  }

  /** Starts `threads` scoring threads with `model` (which must keep its bytes) loaded. */
  static async start(threads: number, model: ServedModel, overrides: InputOverrides, log: (line: string) => void): Promise<ScorePool> {
    const pool = new ScorePool(threads, model, overrides, log);
    await pool.current.ready;
    return pool;
  }

  /** Whether the threads serve the model of this sha256 now. */
  serves(sha256: string): boolean {
    return this.current.model.sha256 === sha256 && !this.current.retired && this.current.scorers.length > 0;
  }

  /** Starts threads for a new model; they take over once all have loaded it. */
  setModel(m: ServedModel): void {
    if (this.next) this.retire(this.next);
    const g = this.generation(m);
    this.next = g;
    g.ready.then(() => {
      if (this.next !== g) return;
      this.next = undefined;
      this.retire(this.current);
      this.current = g;
    }, (e: Error) => {
      if (g.retired) return; // superseded by a newer model before it was ready
      this.log(`scoring threads could not load the model (the HTTP thread scores its requests): ${e.message}`);
      if (this.next === g) this.next = undefined;
      this.retire(g);
    });
  }

  /** The scores of a body by the least busy thread (the pool must serve the body's model: see serves). */
  score(kind: BodyKind, body: Buffer, maxRows: number): Promise<Float64Array> {
    const scorers = this.current.scorers;
    if (scorers.length === 0) return Promise.reject(new HttpError(503, "internal", "no scoring thread is running"));
    const s = scorers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    // A copy of its own, handed over: a request's bytes may share memory with other buffers.
    const copy = new Uint8Array(body);
    return new Promise((resolve, reject) => {
      s.pending.set(id, { resolve, reject });
      s.worker.postMessage({ id, kind, body: copy, maxRows } satisfies ScoreRequest, [copy.buffer]);
    });
  }

  /** Ends every thread (bodies still pending fail). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  private generation(model: ServedModel): Generation {
    if (!model.raw) throw new Error("internal: the served model was loaded without its bytes");
    const g: Generation = { model, scorers: [], ready: Promise.resolve(), retired: false };
    g.ready = Promise.all(Array.from({ length: this.threads }, () => this.spawn(g))).then(() => undefined);
    return g;
  }

  /** Its threads end once their pending bodies are scored. */
  private retire(g: Generation): void {
    g.retired = true;
    for (const s of g.scorers) if (s.pending.size === 0) void s.worker.terminate();
  }

  /** A thread of generation g; resolves when it has loaded the model. */
  private spawn(g: Generation): Promise<void> {
    const m = g.model;
    const data: ScorerData = { path: m.path, raw: m.raw!, mtimeMs: m.mtimeMs, ino: m.ino, overrides: this.overrides };
    const worker = new Worker(new URL("./score-worker.js", import.meta.url), { workerData: data });
    const s: Scorer = { worker, pending: new Map(), gone: false };
    g.scorers.push(s);
    this.workers.add(worker);
    return new Promise((resolve, reject) => {
      worker.on("message", (msg: FromScorer) => {
        if (msg.type === "ready") return resolve();
        if (msg.type === "failed") return reject(new Error(msg.error));
        const p = s.pending.get(msg.id);
        if (!p) return;
        s.pending.delete(msg.id);
        if (msg.type === "scores") p.resolve(msg.scores);
        else p.reject(new HttpError(msg.status, msg.kind, msg.message));
        if (g.retired && s.pending.size === 0) void worker.terminate();
      });
      const lost = (why: string): void => {
        if (s.gone) return;
        s.gone = true;
        this.workers.delete(worker);
        g.scorers.splice(g.scorers.indexOf(s), 1);
        reject(new Error(`a scoring thread ${why}`));
        for (const p of s.pending.values()) p.reject(new HttpError(500, "internal", `the scoring thread ${why}`));
        s.pending.clear();
        if (!g.retired && !this.closed) {
          this.log(`a scoring thread ${why}: starting another`);
          this.spawn(g).catch((e: Error) => this.log(e.message));
        }
      };
      worker.on("error", (e) => lost(`failed: ${e.message}`));
      worker.on("exit", (code) => lost(`exited (${code})`));
    });
  }
}

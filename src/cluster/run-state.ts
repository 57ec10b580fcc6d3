/**
 * The coordination of a cluster run in its store (RunState): its
 * generations, the join of each worker (settings checked, ranks above 0
 * waiting for rank 0), the workers' positions, the finished ranks and the
 * end-of-run barrier, the count of distinct features, and the checkpoint
 * barrier (a request by rank 0, each worker's arrival with its admission
 * counts, rank 0's word that the snapshot is written).
 *
 * Keys (besides the data keys of ./store.ts), in generation G of run R (a
 * hash tag in braces picks the cluster slot):
 *   sctr:R:gen               counter: the present generation (rank 0's restore from a checkpoint starts the next)
 *   sctr:R:G:meta:{m}        hash: settings, workers, buckets; ready = rank 0 set the generation up; finished
 *   sctr:R:G:pos:{m}         hash: rank -> its position in its input at its last synchronisation
 *   sctr:R:G:done:{m}        set: the ranks that finished
 *   sctr:R:G:keys:{m}        hash: rank -> the HyperLogLog registers of the features it saw (../util/hyperloglog.ts)
 *   sctr:R:G:ckpt:{m}        hash: req = the barrier (checkpoint or evaluation) rank 0 asked for last, written = the last one passed, stop = one after which every worker stops (paused), end = one after which the run ends (stopped early)
 *   sctr:R:G:ckpt<k>:{m}     set: the ranks at checkpoint k's barrier
 *   sctr:R:G:adm:{m}         hash: rank -> its admission counts at the last checkpoint
 */
import type { ClusterStore } from "./store.js";
import { HyperLogLog } from "../util/hyperloglog.js";

/** Polling interval of the barriers (ms). */
const POLL_MS = 50;

/** How often a waiting worker says what it waits for (ms). */
const SAY_MS = 30_000;

/** The bytes as a Buffer (a view, no copy), for a hash field's value. */
const asBuffer = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export class RunState {
  constructor(readonly store: ClusterStore) {}

  private get redis(): ClusterStore["redis"] { return this.store.redis; }
  private get run(): string { return this.store.run; }
  private key(suffix: string): string { return this.store.key(suffix); }
  private retrying<T>(f: () => Promise<T>): Promise<T> { return this.store.retrying(f); }

  /** Polls `ready` until it is true; calls `say` every 30 s meanwhile. */
  private async until(ready: () => Promise<boolean>, say?: () => void): Promise<void> {
    let last = Date.now();
    while (!await ready()) {
      if (Date.now() - last > SAY_MS) {
        say?.();
        last = Date.now();
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Rank 0: enters the run's present generation, the first one when it has none. */
  async enterRun(): Promise<void> {
    await this.retrying(() => this.redis.setnx(this.store.generationKey, "1"));
    this.store.enter((await this.store.currentGeneration())!);
  }

  /** Rank 0: starts the run's next generation (a restore from a checkpoint) and enters it. */
  async nextGeneration(): Promise<number> {
    const g = await this.redis.incr(this.store.generationKey);
    this.store.enter(g);
    return g;
  }

  /** Throws when rank 0 has started another generation since this worker entered its own. */
  async checkGeneration(): Promise<void> {
    const g = await this.store.currentGeneration();
    if (g !== this.store.generation) throw new Error(`cluster run "${this.run}" was restored from a checkpoint since this worker joined it (generation ${this.store.generation}, now ${g}): start this worker again`);
  }

  /** Rank 0: marks its generation set up (settings recorded, a restore written): the other ranks may join it. */
  async markReady(): Promise<void> {
    await this.retrying(() => this.redis.hset(this.key("meta:{m}"), "ready", "1"));
  }

  /** Ranks above 0: waits until rank 0 has set up the run's present generation, and enters it. */
  async awaitRun(say?: () => void): Promise<void> {
    await this.until(async () => {
      const g = await this.store.currentGeneration();
      if (g === undefined || await this.retrying(() => this.redis.hget(`sctr:${this.run}:${g}:meta:{m}`, "ready")) !== "1") return false;
      this.store.enter(g);
      return true;
    }, say);
  }

  /** Deletes the keys of the run's other generations (after a restore); returns how many. */
  async dropOtherGenerations(): Promise<number> {
    let n = 0;
    const mine = String(this.store.generation), head = `sctr:${this.run}:`;
    for (const node of this.redis.nodes("master")) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", `${head}*`, "COUNT", 1000);
        cursor = next;
        for (const k of keys) {
          const g = k.slice(head.length).split(":")[0];
          if (g === "gen" || g === mine) continue;
          await node.unlink(k);
          n++;
        }
      } while (cursor !== "0");
    }
    return n;
  }

  /**
   * Records the run's settings on first use and checks a joining worker's
   * against them (every worker must train the same model the same way).
   */
  async join(settings: string, workers: number): Promise<void> {
    const key = this.key("meta:{m}");
    await this.redis.hsetnx(key, "settings", settings);
    await this.redis.hsetnx(key, "workers", String(workers));
    await this.redis.hsetnx(key, "buckets", String(this.store.buckets));
    const [s, w, b, finished] = await this.redis.hmget(key, "settings", "workers", "buckets", "finished");
    if (finished) throw new Error(`cluster run "${this.run}" has finished: choose another --cluster-run, or delete its keys (sctr:${this.run}:*)`);
    if (w !== String(workers)) throw new Error(`cluster run "${this.run}" was started with --workers ${w}, not ${workers}`);
    if (b !== String(this.store.buckets)) throw new Error(`cluster run "${this.run}" keeps its rows in ${b} buckets, not ${this.store.buckets}`);
    if (s !== settings) throw new Error(`cluster run "${this.run}" was started with other settings: ${s}`);
  }

  /**
   * Records where worker `rank` is in its input (after a synchronisation:
   * what a rejoin continues from), in this worker's generation only: throws
   * when rank 0 has started another one (checkGeneration).
   */
  async savePosition(rank: number, position: string): Promise<void> {
    await this.checkGeneration();
    this.store.counts.calls++;
    await this.retrying(() => this.redis.hset(this.key("pos:{m}"), String(rank), position));
  }

  /** Worker `rank`'s last recorded position, or undefined. */
  async position(rank: number): Promise<string | undefined> {
    return await this.retrying(() => this.redis.hget(this.key("pos:{m}"), String(rank))) ?? undefined;
  }

  /** Every worker's recorded position, by rank. */
  async positions(): Promise<Record<string, string>> {
    return this.retrying(() => this.redis.hgetall(this.key("pos:{m}")));
  }

  /** Rank 0's restore: the workers' positions and the finished ranks of a checkpoint. */
  async restorePositions(positions: readonly (string | null)[], done: readonly number[]): Promise<void> {
    for (let r = 0; r < positions.length; r++) if (positions[r] !== null) await this.savePosition(r, positions[r]!);
    if (done.length) await this.retrying(() => this.redis.sadd(this.key("done:{m}"), ...done.map(String)));
  }

  /**
   * Records the sketch of the features worker `rank` saw (built on the
   * worker: the store only keeps its 16 KiB, whatever the number of keys).
   */
  async saveFeatureSketch(rank: number, sketch: HyperLogLog): Promise<void> {
    const r = sketch.registers;
    this.store.counts.calls++;
    this.store.counts.bytesSent += r.length;
    await this.retrying(() => this.redis.hset(this.key("keys:{m}"), String(rank), asBuffer(r)));
  }

  /** The values of hash `suffix`'s fields 0 .. workers - 1 (one per rank; null where a rank has none). */
  private byRank(suffix: string, workers: number): Promise<(Buffer | null)[]> {
    return this.retrying(() => this.redis.hmgetBuffer(this.key(suffix), ...Array.from({ length: workers }, (_, r) => String(r))));
  }

  /** The distinct features every worker saw: the union of their sketches, estimated (standard error 0.81%). */
  async featureCount(workers: number): Promise<number> {
    const got = await this.byRank("keys:{m}", workers);
    const all = new HyperLogLog();
    got.forEach((b, r) => {
      if (!b) throw new Error(`cluster run "${this.run}": rank ${r} finished without its feature sketch`);
      all.merge(new HyperLogLog(new Uint8Array(b)));
    });
    return all.count();
  }

  /** Counts worker `rank` as finished (once, however often it says so). */
  async arrive(rank: number): Promise<void> {
    await this.retrying(() => this.redis.sadd(this.key("done:{m}"), String(rank)));
  }

  /** The ranks that have finished. */
  async finished(): Promise<number[]> {
    return (await this.retrying(() => this.redis.smembers(this.key("done:{m}")))).map(Number).sort((a, b) => a - b);
  }

  /** Waits until `workers` have finished, polling; says so every 30 s on `say`. */
  async waitFor(workers: number, say?: (arrived: number) => void): Promise<void> {
    let n = 0;
    await this.until(async () => (n = await this.retrying(() => this.redis.scard(this.key("done:{m}")))) >= workers, () => say?.(n));
  }

  /** Marks the run finished (a later worker joining it is refused). */
  async finish(): Promise<void> {
    await this.redis.hset(this.key("meta:{m}"), "finished", "1");
  }

  /** The barrier rank 0 asked for last, the last one passed (0: none), and whether the run ended at one (stopped early). */
  async checkpoints(): Promise<{ requested: number; written: number; ended: boolean }> {
    const [req, written, end] = await this.retrying(() => this.redis.hmget(this.key("ckpt:{m}"), "req", "written", "end"));
    return { requested: Number(req ?? 0), written: Number(written ?? 0), ended: end !== null };
  }

  /** Rank 0: asks every worker to its barrier for checkpoint k. */
  async requestCheckpoint(k: number): Promise<void> {
    await this.retrying(() => this.redis.hset(this.key("ckpt:{m}"), "req", String(k)));
  }

  /** A worker at checkpoint k's barrier, its changes pushed and its position recorded, with its admission counts. */
  async atBarrier(k: number, rank: number, admission: Uint8Array | undefined): Promise<void> {
    await this.saveAdmission(rank, admission ?? new Uint8Array(0));
    await this.retrying(() => this.redis.sadd(this.key(`ckpt${k}:{m}`), String(rank)));
  }

  /** Rank 0: waits until every worker is at checkpoint k's barrier or has finished. */
  async awaitBarrier(k: number, workers: number): Promise<void> {
    let missing: number[] = [];
    await this.until(async () => {
      const [at, done] = await Promise.all([this.retrying(() => this.redis.smembers(this.key(`ckpt${k}:{m}`))), this.finished()]);
      const there = new Set([...at.map(Number), ...done]);
      missing = Array.from({ length: workers }, (_, r) => r).filter((r) => !there.has(r));
      return missing.length === 0;
    }, () => process.stderr.write(`rank 0: waiting for rank(s) ${missing.join(", ")} at barrier ${k} (a checkpoint or an evaluation)\n`));
  }

  /**
   * Rank 0: barrier k is passed (its checkpoint written, its evaluation
   * made); the workers go on, or stop with `stop` (the run is paused: the
   * generation is no longer ready, so that a rank started again waits for
   * rank 0 to continue or restore the run), or end with `end` (the run
   * stopped early: each worker finishes as if its part were done).
   */
  async checkpointWritten(k: number, stop = false, end = false): Promise<void> {
    if (stop) {
      await this.retrying(() => this.redis.hset(this.key("ckpt:{m}"), "stop", String(k)));
      await this.retrying(() => this.redis.hdel(this.key("meta:{m}"), "ready"));
    }
    if (end) await this.retrying(() => this.redis.hset(this.key("ckpt:{m}"), "end", String(k)));
    await this.retrying(() => this.redis.hset(this.key("ckpt:{m}"), "written", String(k)));
    await this.retrying(() => this.redis.unlink(this.key(`ckpt${k}:{m}`)));
  }

  /** A worker at barrier k: waits until rank 0 has passed it; whether the run stops (paused) or ends there. */
  async awaitWritten(k: number, rank: number): Promise<{ stop: boolean; end: boolean }> {
    await this.until(async () => Number(await this.retrying(() => this.redis.hget(this.key("ckpt:{m}"), "written")) ?? 0) >= k,
      () => process.stderr.write(`rank ${rank}: waiting for rank 0 at barrier ${k} (a checkpoint or an evaluation)\n`));
    const [stop, end] = await this.retrying(() => this.redis.hmget(this.key("ckpt:{m}"), "stop", "end"));
    return { stop: Number(stop ?? 0) === k, end: Number(end ?? 0) === k };
  }

  /** Records rank `rank`'s admission counts of a checkpoint (empty: it has none). */
  async saveAdmission(rank: number, counts: Uint8Array): Promise<void> {
    if (counts.length) await this.retrying(() => this.redis.hset(this.key("adm:{m}"), String(rank), asBuffer(counts)));
    else await this.retrying(() => this.redis.hdel(this.key("adm:{m}"), String(rank)));
  }

  /** Every rank's admission counts at the last checkpoint (empty: none). */
  async admissions(workers: number): Promise<Uint8Array[]> {
    return (await this.byRank("adm:{m}", workers)).map((b) => (b ? new Uint8Array(b) : new Uint8Array(0)));
  }

  /** The checkpoint number a restored generation starts from (checkpoints go on numbering after it). */
  async restoreCheckpointNumber(k: number): Promise<void> {
    await this.retrying(() => this.redis.hset(this.key("ckpt:{m}"), "req", String(k), "written", String(k)));
  }
}

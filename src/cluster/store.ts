/**
 * The Redis Cluster side of cluster training: the keys of a run, the
 * merges (read, merge on the worker, compare-and-set), the run's
 * settings check, the end-of-run barrier, and what the exchange costs (bytes
 * each way, calls, the masters' CPU time).
 *
 * Keys of run R (a hash tag in braces picks the cluster slot):
 *   sctr:R:t<i>:{<i>.<b>}   hash: table i's rows of bucket b, field = the id (8 bytes LE), value = its record
 *   sctr:R:d<i>:{d<i>}      hash: x = dense parameter i's weights and moments (float32 LE)
 * Each row and dense hash has a version field "v", set to a tag unique to each write.
 *   sctr:R:meta:{m}         hash: the run's settings, its workers and buckets
 *   sctr:R:steps:{m}        counter: steps of every worker (the run's global step)
 *   sctr:R:pos:{m}          hash: each worker's position in its input at its last synchronisation
 *   sctr:R:keys:{m}         HyperLogLog: the distinct features the workers saw
 *   sctr:R:done:{m}         set: the ranks that finished
 */
import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { fmix32 } from "../util/fmix32.js";
import { mergeDense, mergeRecord, type SlotMerge } from "./merge.js";

/**
 * Compare-and-set of a hash: writes the fields (ARGV[3..], field value ...)
 * and the version ARGV[2] when the hash's version field "v" is still ARGV[1]
 * ("0" when it has none); returns 1, or 0 when another worker wrote first.
 * The only script: the merge arithmetic runs on the workers (./merge.ts), so
 * the store does a read and a write per row, natively.
 */
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], unpack(ARGV, 3))
return 1
`;

/** Tries of a compare-and-set before a merge gives up (each loses only to another worker's write). */
const CAS_TRIES = 1000;

/** How long a call is repeated while the cluster fails over (a replica takes over within cluster-node-timeout). */
const RETRY_MS = 60_000;

/** An error a failing-over cluster gives, after which the call may be repeated. */
function transient(e: unknown): boolean {
  return /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|CLUSTERDOWN|TRYAGAIN|\bMOVED\b|\bASK\b|LOADING|READONLY|Too many Cluster redirections|Failed to refresh slots|None of startup nodes/i.test(String((e as Error)?.message ?? e));
}

interface CasCommand {
  sctrCas(key: string, ...args: (string | Buffer)[]): Promise<number>;
}

/** Bytes each way and calls of the exchange, from the client's side. */
export interface ExchangeCounts { bytesSent: number; bytesReceived: number; calls: number; conflicts: number }

/** The cluster's masters as `redis://host:port[,host:port...]` (the scheme optional), checked. */
export function parseClusterUrl(url: string): { host: string; port: number }[] {
  const list = url.replace(/^redis:\/\//, "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (!list.length) throw new RangeError(`--cluster ${JSON.stringify(url)}: give at least one node as host:port`);
  return list.map((s) => {
    const m = /^(.+):(\d+)$/.exec(s.replace(/^redis:\/\//, ""));
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port > 0 && port < 65536)) throw new RangeError(`--cluster: ${JSON.stringify(s)} is not host:port`);
    return { host: m[1], port };
  });
}

/** Checks a run's name (part of its keys). */
export function checkRunName(run: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(run)) throw new RangeError(`--cluster-run ${JSON.stringify(run)}: use 1 to 64 letters, digits, '_', '.' or '-'`);
}

/** What a Redis server has used, from its `INFO everything` text. */
export interface ServerUse {
  /** CPU seconds, user + system. */
  cpuSeconds: number;
  /** Microseconds its commands took (INFO commandstats, summed; a script's inner commands count twice). */
  commandUsec: number;
  usedMemory: number;
  /** 0: no limit. */
  maxMemory: number;
}

export function serverUse(info: string): ServerUse {
  const num = (k: string): number => Number(new RegExp(`^${k}:([0-9.]+)`, "m").exec(info)?.[1] ?? 0);
  let commandUsec = 0;
  for (const m of info.matchAll(/^cmdstat_\w+:calls=\d+,usec=(\d+)/gm)) commandUsec += Number(m[1]);
  return { cpuSeconds: num("used_cpu_sys") + num("used_cpu_user"), commandUsec, usedMemory: num("used_memory"), maxMemory: num("maxmemory") };
}

/** One run's keys in a Redis Cluster and the merges on them. */
export class ClusterStore {
  readonly counts: ExchangeCounts = { bytesSent: 0, bytesReceived: 0, calls: 0, conflicts: 0 };
  private readonly prefix: string;
  /** This client's tag in the versions it writes, and its count of writes. */
  private readonly id = randomBytes(6).toString("hex");
  private writes = 0;

  private constructor(private readonly redis: Cluster, readonly run: string, readonly buckets: number) {
    this.prefix = `sctr:${run}`;
  }

  /** Connects to the cluster (any of its nodes; the rest are discovered) and checks it answers. */
  static async connect(url: string, run: string, buckets: number): Promise<ClusterStore> {
    checkRunName(run);
    if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > 1 << 20) throw new RangeError(`buckets = ${buckets} must be an integer in [1, 2^20]`);
    const redis = new Cluster(parseClusterUrl(url), {
      enableAutoPipelining: true, scaleReads: "master", slotsRefreshTimeout: 5000,
      // A master that fails is replaced by its replica within a few seconds
      // (cluster-node-timeout): commands wait and retry for up to about 30 s.
      maxRedirections: 300, retryDelayOnClusterDown: 100, retryDelayOnFailover: 100, retryDelayOnTryAgain: 100,
      clusterRetryStrategy: (times) => (times > 20 ? null : Math.min(100 * times, 2000)),
      redisOptions: { connectTimeout: 5000, maxRetriesPerRequest: 20 },
    });
    redis.defineCommand("sctrCas", { numberOfKeys: 1, lua: CAS });
    try {
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new Error(`--cluster ${url}: the Redis Cluster does not answer (${(e as Error).message})`);
    }
    return new ClusterStore(redis, run, buckets);
  }

  /** The bucket of an id (its low and high 32 bits). */
  bucketOf(lo: number, hi: number): number {
    return fmix32((lo ^ fmix32(hi + 0x9e3779b9)) >>> 0) % this.buckets;
  }

  /**
   * Records the run's settings on first use and checks a joining worker's
   * against them (every worker must train the same model the same way).
   */
  async join(settings: string, workers: number): Promise<void> {
    const key = `${this.prefix}:meta:{m}`;
    await this.redis.hsetnx(key, "settings", settings);
    await this.redis.hsetnx(key, "workers", String(workers));
    await this.redis.hsetnx(key, "buckets", String(this.buckets));
    const [s, w, b, finished] = await this.redis.hmget(key, "settings", "workers", "buckets", "finished");
    if (finished) throw new Error(`cluster run "${this.run}" has finished: choose another --cluster-run, or delete its keys (sctr:${this.run}:*)`);
    if (w !== String(workers)) throw new Error(`cluster run "${this.run}" was started with --workers ${w}, not ${workers}`);
    if (b !== String(this.buckets)) throw new Error(`cluster run "${this.run}" keeps its rows in ${b} buckets, not ${this.buckets}`);
    if (s !== settings) throw new Error(`cluster run "${this.run}" was started with other settings: ${s}`);
  }

  /**
   * Merges one bucket's pushed rows of table `table` (ids, records and base
   * records; no base: a row new to the pusher) by mergeRecord and returns the
   * merged records, in order: read, merge here, compare-and-set, again when
   * another worker wrote the bucket in between.
   */
  async mergeRows(table: number, bucket: number, d: number, slots: readonly SlotMerge[], ids: Buffer[], pushed: Buffer[], bases: (Buffer | undefined)[], shared?: number): Promise<Buffer[]> {
    const key = `${this.prefix}:t${table}:{${table}.${bucket}}`;
    return this.cas(key, ids, async () => {
      const got = await this.redis.hmgetBuffer(key, "v", ...ids);
      this.count(ids, got);
      return { version: got[0], values: ids.map((_, i) => mergeRecord(got[i + 1], pushed[i], bases[i], d, slots, shared)) };
    });
  }

  /** Merges dense parameter `i`'s pushed floats (base: the floats of its last merge) by mergeDense. */
  async mergeDense(i: number, workers: number, pushed: Float32Array, base: Float32Array): Promise<Float32Array> {
    const key = `${this.prefix}:d${i}:{d${i}}`, field = [Buffer.from("x")];
    const [out] = await this.cas(key, field, async () => {
      const got = await this.redis.hmgetBuffer(key, "v", "x");
      this.count(field, got);
      const stored = got[1] ? fromBuffer(got[1]) : undefined;
      if (stored && stored.length !== pushed.length) throw new Error(`cluster run "${this.run}": dense parameter ${i} holds ${stored.length} floats, this worker ${pushed.length}`);
      return { version: got[0], values: [toBuffer(mergeDense(stored, pushed, base, workers))] };
    });
    return fromBuffer(out);
  }

  /** Read-merge-write of a hash's fields, retried while another worker's write comes between. */
  private async cas(key: string, fields: Buffer[], merge: () => Promise<{ version: Buffer | null; values: Buffer[] }>): Promise<Buffer[]> {
    for (let tries = 0; tries < CAS_TRIES; tries++) {
      const { version, values } = await this.retrying(merge);
      // A version unique to this write: after a lost reply it tells whether the write landed.
      const v = version ? version.toString() : "0", mine = `${this.id}.${++this.writes}`;
      const args: (string | Buffer)[] = [v, mine];
      for (let k = 0; k < fields.length; k++) {
        args.push(fields[k], values[k]);
        this.counts.bytesSent += fields[k].length + values[k].length;
      }
      this.counts.calls += 2;
      let ok: boolean;
      try {
        ok = await (this.redis as unknown as CasCommand).sctrCas(key, ...args) === 1;
      } catch (e) {
        if (!transient(e)) throw e;
        // The reply was lost (a node failed): the write landed if the version is ours.
        ok = await this.retrying(async () => (await this.redis.hget(key, "v")) === mine);
      }
      if (ok) return values;
      this.counts.conflicts++;
    }
    throw new Error(`cluster run "${this.run}": ${key} changed under ${CAS_TRIES} merges in a row`);
  }

  /**
   * Runs a read (or another call safe to repeat) again while the cluster
   * fails over: a connection closed under it, CLUSTERDOWN, TRYAGAIN, for up
   * to RETRY_MS.
   */
  private async retrying<T>(f: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (!transient(e) || Date.now() - t0 > RETRY_MS) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private count(fields: Buffer[], got: (Buffer | null)[]): void {
    for (const f of fields) this.counts.bytesSent += f.length;
    for (const g of got) this.counts.bytesReceived += g?.length ?? 0;
  }

  /** Every row of table `table` the store holds: ids and records, bucket by bucket. */
  async rows(table: number, recBytes: number): Promise<{ ids: BigUint64Array; records: Uint8Array }> {
    // HSCAN gives the fields (binary ids) as buffers; hgetallBuffer would make them strings,
    // and an auto-pipelined callBuffer("HGETALL") loses its command name (ioredis 6.1).
    const scan = async (key: string): Promise<Buffer[]> => {
      const all: Buffer[] = [];
      let cursor = "0";
      do {
        const [next, items] = await this.retrying(() => this.redis.hscanBuffer(key, cursor, "COUNT", 10_000));
        cursor = next.toString();
        for (const it of items) all.push(it);
      } while (cursor !== "0");
      return all;
    };
    const parts = await Promise.all(Array.from({ length: this.buckets }, (_, b) => scan(`${this.prefix}:t${table}:{${table}.${b}}`)));
    let n = 0;
    for (const p of parts) for (let k = 0; k < p.length; k += 2) if (p[k].length !== 1) n++;
    const ids = new BigUint64Array(n), records = new Uint8Array(n * recBytes);
    let r = 0;
    for (const p of parts) {
      for (let k = 0; k < p.length; k += 2) {
        const key = p[k], rec = p[k + 1];
        if (key.length === 1) continue; // the version field "v"
        if (key.length !== 8 || rec.length !== recBytes) throw new Error(`cluster run "${this.run}": table ${table} holds a row of ${rec.length} bytes (id of ${key.length}), not ${recBytes}`);
        ids[r] = key.readBigUInt64LE(0);
        records.set(rec, r * recBytes);
        r++;
      }
    }
    return { ids, records };
  }

  /** Dense parameter i's merged floats, or undefined when no worker pushed it yet. */
  async dense(i: number): Promise<Float32Array | undefined> {
    const b = await this.retrying(() => this.redis.hgetBuffer(`${this.prefix}:d${i}:{d${i}}`, "x"));
    return b ? fromBuffer(b) : undefined;
  }

  /** Adds a worker's steps since its last synchronisation to the run's step count; returns the count. */
  async addSteps(n: number): Promise<number> {
    this.counts.calls++;
    // Repeated after a lost reply it may count a worker's steps twice: only the bias correction's step moves.
    return this.retrying(() => this.redis.incrby(`${this.prefix}:steps:{m}`, n));
  }

  /** Records where worker `rank` is in its input (after a synchronisation: what a rejoin continues from). */
  async savePosition(rank: number, position: string): Promise<void> {
    this.counts.calls++;
    await this.retrying(() => this.redis.hset(`${this.prefix}:pos:{m}`, String(rank), position));
  }

  /** Worker `rank`'s last recorded position, or undefined. */
  async position(rank: number): Promise<string | undefined> {
    return await this.redis.hget(`${this.prefix}:pos:{m}`, String(rank)) ?? undefined;
  }

  /** Adds feature keys (8 bytes each) a worker saw to the run's HyperLogLog of distinct features. */
  async countKeys(keys: Buffer[]): Promise<void> {
    const key = `${this.prefix}:keys:{m}`;
    for (let i = 0; i < keys.length; i += 10_000) {
      const part = keys.slice(i, i + 10_000);
      this.counts.calls++;
      for (const k of part) this.counts.bytesSent += k.length;
      await this.retrying(() => this.redis.pfadd(key, ...part));
    }
  }

  /** The distinct features every worker saw, estimated (HyperLogLog: a standard error of 0.81%). */
  async keyCount(): Promise<number> {
    return this.redis.pfcount(`${this.prefix}:keys:{m}`);
  }

  /** Counts worker `rank` as finished (once, however often it says so); returns how many have. */
  async arrive(rank: number): Promise<number> {
    const key = `${this.prefix}:done:{m}`;
    await this.retrying(() => this.redis.sadd(key, String(rank)));
    return this.retrying(() => this.redis.scard(key));
  }

  /** Waits until `workers` have arrived, polling; says so every 30 s on `onWait`. */
  async waitFor(workers: number, onWait?: (arrived: number) => void): Promise<void> {
    const key = `${this.prefix}:done:{m}`;
    let last = Date.now();
    for (;;) {
      const n = await this.retrying(() => this.redis.scard(key));
      if (n >= workers) return;
      if (Date.now() - last > 30_000) {
        onWait?.(n);
        last = Date.now();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Marks the run finished (a later worker joining it is refused). */
  async finish(): Promise<void> {
    await this.redis.hset(`${this.prefix}:meta:{m}`, "finished", "1");
  }

  /** CPU seconds (user + system) every master has used, summed: the store's cost. */
  async cpuSeconds(): Promise<number> {
    let s = 0;
    for (const node of this.redis.nodes("master")) s += serverUse(await node.info("everything")).cpuSeconds;
    return s;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function toBuffer(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function fromBuffer(b: Buffer): Float32Array {
  const out = new Float32Array(b.length >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

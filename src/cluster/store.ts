/**
 * The Redis Cluster side of cluster training: the connection, the keys of
 * a run's generation, the data keys and their merges (read, merge on the
 * worker, compare-and-set), and what the exchange costs (bytes each way,
 * calls, the masters' CPU time). The run's coordination keys: ./run-state.ts.
 *
 * Data keys of run R in its generation G (a hash tag in braces picks the cluster slot):
 *   sctr:R:G:t<i>:{<i>.<b>} hash: table i's rows of bucket b, field = the id (8 bytes LE), value = its record without the weights (narrow)
 *   sctr:R:G:d<i>:{d<i>}    hash: x = dense parameter i's weights and moments (float32 LE)
 *   sctr:R:G:steps:{m}      counter: steps of every worker (the run's global step)
 *   sctr:R:G:seen:{s<s>}    string: segment s of the run's filter of the features counted (./sightings.ts)
 * Each row and dense hash has a version field "v", set to a tag unique to each write.
 */
import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { HEADER_BYTES } from "../kernels/layout.js";
import { fmix32 } from "../util/fmix32.js";
import { mergeDense, mergeRecord, type DenseMerge, type SlotMerge } from "./merge.js";

/**
 * OR of a worker's words into a string (a segment of the run's sightings
 * filter), through a scratch key of the same slot; returns the string.
 * Repeated, it changes nothing more.
 */
const OR = `
redis.call('SET', KEYS[2], ARGV[1])
redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
return redis.call('GET', KEYS[1])
`;

/**
 * Compare-and-set of a hash: writes the fields (ARGV[3..], field value ...)
 * and the version ARGV[2] when the hash's version field "v" is still ARGV[1]
 * ("0" when it has none); returns 1, or 0 when another worker wrote first.
 * The merge arithmetic runs on the workers (./merge.ts), so the store does a
 * read and a write per row, natively.
 */
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], unpack(ARGV, 3))
return 1
`;

/** Rows per call at most (one call holds its node for its whole length). */
const ROWS_PER_CALL = 512;

/** Tries of a compare-and-set before a merge gives up (each loses only to another worker's write). */
const CAS_TRIES = 1000;

/** How long a call is repeated while the cluster fails over (a replica takes over within cluster-node-timeout). */
const RETRY_MS = 60_000;

/** An error a failing-over cluster gives, after which the call may be repeated. */
function transient(e: unknown): boolean {
  return /Connection is closed|Command aborted due to connection close|ECONNRESET|ECONNREFUSED|EPIPE|CLUSTERDOWN|TRYAGAIN|\bMOVED\b|\bASK\b|LOADING|READONLY|Too many Cluster redirections|Failed to refresh slots|None of startup nodes/i.test(String((e as Error)?.message ?? e));
}

interface Scripts {
  sctrCas(key: string, ...args: (string | Buffer)[]): Promise<number>;
  sctrOrBuffer(key: string, scratch: string, words: Buffer): Promise<Buffer>;
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
  /** The keys' prefix, sctr:R:G (see enter). */
  private prefix: string;
  /** The generation whose keys this client uses. */
  generation = 1;
  /** This client's tag in the versions it writes, and its count of writes. */
  private readonly id = randomBytes(6).toString("hex");
  private writes = 0;

  private constructor(readonly redis: Cluster, readonly run: string, readonly buckets: number) {
    this.prefix = `sctr:${run}:1`;
  }

  /** The key `sctr:R:G:<suffix>` of this client's generation. */
  key(suffix: string): string { return `${this.prefix}:${suffix}`; }

  /** The run's generation counter's key. */
  get generationKey(): string { return `sctr:${this.run}:gen`; }

  /** The run's present generation, or undefined when the run has none yet. */
  async currentGeneration(): Promise<number | undefined> {
    const g = await this.retrying(() => this.redis.get(this.generationKey));
    return g === null ? undefined : Number(g);
  }

  /** Uses generation g's keys. */
  enter(g: number): void {
    this.generation = g;
    this.prefix = `sctr:${this.run}:${g}`;
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
    redis.defineCommand("sctrOr", { numberOfKeys: 2, lua: OR });
    try {
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new Error(`--cluster ${url}: the Redis Cluster does not answer (${(e as Error).message})`);
    }
    const store = new ClusterStore(redis, run, buckets);
    store.enter(await store.currentGeneration() ?? 1);
    return store;
  }

  private rowKey(table: number, bucket: number): string { return this.key(`t${table}:{${table}.${bucket}}`); }
  private denseKey(i: number): string { return this.key(`d${i}:{d${i}}`); }

  /** The bucket of an id (its low and high 32 bits). */
  bucketOf(lo: number, hi: number): number {
    return fmix32((lo ^ fmix32(hi + 0x9e3779b9)) >>> 0) % this.buckets;
  }

  /** The indices of `ids` grouped by bucket and cut into calls of at most ROWS_PER_CALL rows. */
  callsOf(ids: BigUint64Array): { bucket: number; rows: number[] }[] {
    const w = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2), byBucket = new Map<number, number[]>();
    for (let k = 0; k < ids.length; k++) {
      const b = this.bucketOf(w[2 * k], w[2 * k + 1]), list = byBucket.get(b);
      if (list) list.push(k);
      else byBucket.set(b, [k]);
    }
    const calls: { bucket: number; rows: number[] }[] = [];
    for (const [bucket, list] of byBucket) for (let o = 0; o < list.length; o += ROWS_PER_CALL) calls.push({ bucket, rows: list.slice(o, o + ROWS_PER_CALL) });
    return calls;
  }

  /**
   * Merges one bucket's pushed rows of table `table` (ids, records and base
   * records; no base: a row new to the pusher) by mergeRecord and returns the
   * merged records, in order: read, merge here, compare-and-set, again when
   * another worker wrote the bucket in between.
   */
  async mergeRows(table: number, bucket: number, d: number, slots: readonly SlotMerge[], ids: Buffer[], pushed: Buffer[], bases: (Buffer | undefined)[], shared?: number): Promise<Buffer[]> {
    const key = this.rowKey(table, bucket);
    let merged: Buffer[] = [];
    await this.cas(key, ids, async () => {
      const got = await this.redis.hmgetBuffer(key, "v", ...ids);
      this.count(ids, got);
      merged = ids.map((_, i) => { const g = got[i + 1]; return mergeRecord(g && widen(g, d), pushed[i], bases[i], d, slots, shared); });
      return { version: got[0], values: merged.map((m) => narrow(m, d)) };
    });
    return merged;
  }

  /** Merges dense parameter `i`'s pushed floats (base: the floats of its last merge) by mergeDense. */
  async mergeDense(i: number, pushed: Float32Array, base: Float32Array, how: DenseMerge): Promise<Float32Array> {
    const key = this.denseKey(i), field = [Buffer.from("x")];
    const [out] = await this.cas(key, field, async () => {
      const got = await this.redis.hmgetBuffer(key, "v", "x");
      this.count(field, got);
      const stored = got[1] ? fromBuffer(got[1]) : undefined;
      if (stored && stored.length !== pushed.length) throw new Error(`cluster run "${this.run}": dense parameter ${i} holds ${stored.length} floats, this worker ${pushed.length}`);
      return { version: got[0], values: [toBuffer(mergeDense(stored, pushed, base, how))] };
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
        ok = await (this.redis as unknown as Scripts).sctrCas(key, ...args) === 1;
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
  async retrying<T>(f: () => Promise<T>): Promise<T> {
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
  async rows(table: number, recBytes: number, d: number): Promise<{ ids: BigUint64Array; records: Uint8Array }> {
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
    const parts = await Promise.all(Array.from({ length: this.buckets }, (_, b) => scan(this.rowKey(table, b))));
    let n = 0;
    for (const p of parts) for (let k = 0; k < p.length; k += 2) if (p[k].length !== 1) n++;
    const ids = new BigUint64Array(n), records = new Uint8Array(n * recBytes);
    let r = 0;
    for (const p of parts) {
      for (let k = 0; k < p.length; k += 2) {
        const key = p[k], rec = p[k + 1];
        if (key.length === 1) continue; // the version field "v"
        if (key.length !== 8 || rec.length !== recBytes - 4 * d) throw new Error(`cluster run "${this.run}": table ${table} holds a row of ${rec.length} bytes (id of ${key.length}), not ${recBytes - 4 * d}`);
        ids[r] = key.readBigUInt64LE(0);
        records.set(rec.subarray(0, HEADER_BYTES), r * recBytes);
        records.set(rec.subarray(HEADER_BYTES), r * recBytes + HEADER_BYTES + 4 * d);
        r++;
      }
    }
    return { ids, records };
  }

  /** Dense parameter i's merged floats, or undefined when no worker pushed it yet. */
  async dense(i: number): Promise<Float32Array | undefined> {
    const b = await this.retrying(() => this.redis.hgetBuffer(this.denseKey(i), "x"));
    return b ? fromBuffer(b) : undefined;
  }

  /** ORs a worker's words of segment s of the run's sightings filter into the store's; resolves to the store's words then. */
  async orSightings(s: number, words: Uint32Array): Promise<Uint32Array> {
    const b = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
    this.counts.bytesSent += b.length;
    this.counts.calls++;
    return this.words(await this.retrying(() => (this.redis as unknown as Scripts).sctrOrBuffer(this.key(`seen:{s${s}}`), this.key(`seen-in:{s${s}}`), b)));
  }

  /** Segment s of the run's sightings filter (its words; null: no worker has written it). */
  async sightings(s: number): Promise<Uint32Array | null> {
    this.counts.calls++;
    const b = await this.retrying(() => this.redis.getBuffer(this.key(`seen:{s${s}}`)));
    return b ? this.words(b) : null;
  }

  private words(b: Buffer): Uint32Array {
    this.counts.bytesReceived += b.length;
    const w = new Uint32Array(b.length >>> 2);
    new Uint8Array(w.buffer).set(b.subarray(0, w.length * 4));
    return w;
  }

  /** Writes rows of table `table` (ids and records of d weights) as they are, bucket by bucket: a restore into a new generation. */
  async writeRows(table: number, d: number, ids: BigUint64Array, records: Uint8Array): Promise<void> {
    const rb = ids.length ? records.length / ids.length : 0;
    const idBytes = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength), recBytes = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
    await Promise.all(this.callsOf(ids).map(({ bucket, rows }) => {
      const args: Buffer[] = [Buffer.from("v"), Buffer.from(`${this.id}.${++this.writes}`)];
      for (const k of rows) args.push(idBytes.subarray(k * 8, k * 8 + 8), narrow(recBytes.subarray(k * rb, (k + 1) * rb), d));
      return this.retrying(() => this.redis.hset(this.rowKey(table, bucket), ...args));
    }));
  }

  /** Writes dense parameter i's floats as they are (a restore). */
  async writeDense(i: number, floats: Float32Array): Promise<void> {
    await this.retrying(() => this.redis.hset(this.denseKey(i), "v", `${this.id}.${++this.writes}`, "x", toBuffer(floats)));
  }

  /** Sets the run's step count (a restore). */
  async setSteps(n: number): Promise<void> {
    await this.retrying(() => this.redis.set(this.key("steps:{m}"), String(n)));
  }

  /** Adds a worker's steps since its last synchronisation to the run's step count; returns the count. */
  async addSteps(n: number): Promise<number> {
    this.counts.calls++;
    // Repeated after a lost reply it may count a worker's steps twice: only the bias correction's step moves.
    return this.retrying(() => this.redis.incrby(this.key("steps:{m}"), n));
  }

  /** CPU seconds (user + system) every master has used, summed: the store's cost. */
  async cpuSeconds(): Promise<number> {
    let s = 0;
    for (const node of this.redis.nodes("master")) {
      // A master that has just failed (its replica taking over) is left out: the figure is a report, not state.
      const info = await node.info("everything").catch((e: unknown) => { if (transient(e)) return undefined; throw e; });
      if (info !== undefined) s += serverUse(info).cpuSeconds;
    }
    return s;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * A table record as the store holds it: the header and the state, without
 * the d weights, which every reader recomputes from the state
 * (SparseTable.putRecords): 112 bytes instead of 144 for group-adam rows
 * of 8 weights, read and written at every merge and by the final gather
 * (bench cluster: docs/cluster.md).
 */
function narrow(rec: Uint8Array, d: number): Buffer {
  const out = Buffer.allocUnsafe(rec.length - 4 * d);
  out.set(rec.subarray(0, HEADER_BYTES));
  out.set(rec.subarray(HEADER_BYTES + 4 * d), HEADER_BYTES);
  return out;
}

/** A stored record (see narrow) with its d weights as zeros. */
function widen(rec: Uint8Array, d: number): Buffer {
  const out = Buffer.alloc(rec.length + 4 * d);
  out.set(rec.subarray(0, HEADER_BYTES));
  out.set(rec.subarray(HEADER_BYTES), HEADER_BYTES + 4 * d);
  return out;
}

function toBuffer(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function fromBuffer(b: Buffer): Float32Array {
  const out = new Float32Array(b.length >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

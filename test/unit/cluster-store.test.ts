// The cluster store (src/cluster/store.ts) on a local 3-master Redis Cluster:
// the read, merge-on-the-worker, compare-and-set loop loses no update. Six
// store clients push 50 rounds each of changes to the same 40 rows, kept in
// only 8 buckets so that their writes collide (the CAS path must retry), as
// concurrent tasks that each keep a local copy and base the way ClusterSync
// does; the stored rows end as brute force says: every row's summed slots
// hold the sum of every change sent to them, its running-max slot the max of
// every value pushed, its update count the number of pushes, its last step
// the latest. Three clients merging a dense parameter (mergeDense) end at
// initial + the sum of their changes. Three workers exchanging their
// sightings filters concurrently each end finding every key the others
// counted, and the store holds the OR of their filters. A run refuses
// joins with other settings, worker or bucket counts, and any join once
// finished.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { redisServerAvailable, startLocalCluster, type LocalCluster } from "../../src/cluster/local-redis.js";
import { ClusterStore } from "../../src/cluster/store.js";
import { RunState } from "../../src/cluster/run-state.js";
import type { SlotMerge } from "../../src/cluster/merge.js";
import { ClusterSightings } from "../../src/cluster/sightings.js";
import { BloomFilter } from "../../src/util/bloom.js";
import { H_COUNT, H_TAU, HEADER_BYTES } from "../../src/kernels/layout.js";
import { rng } from "../helpers/rng.js";

const skip = redisServerAvailable() ? false : "redis-server is not installed (CI installs it: see .ci/run)";

let cluster: LocalCluster | undefined;
before(async () => {
  if (!skip) cluster = await startLocalCluster({ masters: 3 });
});
after(async () => {
  await cluster?.stop();
});

/** Connects n stores to one run, runs f, closes them whatever happens. */
async function withStores<T>(n: number, run: string, buckets: number, f: (s: ClusterStore[]) => Promise<T>): Promise<T> {
  const stores: ClusterStore[] = [];
  try {
    for (let i = 0; i < n; i++) stores.push(await ClusterStore.connect(cluster!.url, run, buckets));
    return await f(stores);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

// Rows of d weights and three slots: z and V summed, a running max (AMSGrad's vmax).
const SLOTS: SlotMerge[] = [{ beta: 1, first: 0 }, { beta: 1, first: 0 }, { beta: "max", first: 0 }];
const d = 4, stateFloats = 3 * d, recBytes = HEADER_BYTES + 4 * (d + stateFloats), firstState = HEADER_BYTES + 4 * d;
const isMax = (k: number) => k >= 2 * d;
const TASKS = 6, ROUNDS = 50, ROWS = 40;

test("six clients pushing 50 rounds to 40 shared rows in 8 buckets lose no update (brute force)", { skip, timeout: 30_000 }, async (t) => {
  const ids = Array.from({ length: ROWS }, (_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn);
  // Brute force: the sum of the changes sent to each row's summed floats (the max of the values pushed to its max slot), pushes and the latest step.
  const sums = ids.map(() => new Float64Array(stateFloats).fill(-Infinity, 2 * d)), pushes = new Array<number>(ROWS).fill(0), last = new Array<number>(ROWS).fill(0);
  const counts = await withStores(TASKS, "stress", 8, (stores) => Promise.all(stores.map(async (store, w) => {
    const r = rng(100 + w);
    const local = new Map<number, Buffer>(), base = new Map<number, Buffer>();
    for (let round = 1; round <= ROUNDS; round++) {
      // This task's change: a random subset of the rows, each with a random change of its state and one more update.
      const byBucket = new Map<number, number[]>();
      for (let i = 0; i < ROWS; i++) {
        if (r() < 0.5) continue;
        const rec = Buffer.from(local.get(i) ?? Buffer.alloc(recBytes));
        for (let k = 0; k < stateFloats; k++) {
          const delta = (r() < 0.5 ? -1 : 1) * (0.5 + r() / 2), p = firstState + 4 * k;
          const before = rec.readFloatLE(p);
          if (isMax(k)) {
            rec.writeFloatLE(Math.max(before, delta * 100), p);
            sums[i][k] = Math.max(sums[i][k], rec.readFloatLE(p));
            continue;
          }
          rec.writeFloatLE(before + delta, p);
          sums[i][k] += rec.readFloatLE(p) - before; // the change as float32 made it
        }
        rec.writeUInt32LE(rec.readUInt32LE(H_COUNT) + 1, H_COUNT);
        rec.writeUInt32LE(round * 10 + w, H_TAU);
        pushes[i]++;
        last[i] = Math.max(last[i], round * 10 + w);
        local.set(i, rec);
        const id = ids[i], b = store.bucketOf(Number(id & 0xffffffffn), Number(id >> 32n));
        byBucket.set(b, [...(byBucket.get(b) ?? []), i]);
      }
      await Promise.all([...byBucket].map(async ([b, rows]) => {
        const idBufs = rows.map((i) => {
          const idb = Buffer.alloc(8);
          idb.writeBigUInt64LE(ids[i]);
          return idb;
        });
        const merged = await store.mergeRows(0, b, d, SLOTS, idBufs, rows.map((i) => local.get(i)!), rows.map((i) => base.get(i)), Infinity);
        rows.forEach((i, k) => {
          local.set(i, merged[k]);
          base.set(i, merged[k]);
        });
      }));
    }
    return store.counts;
  })));
  const conflicts = counts.reduce((s, c) => s + c.conflicts, 0), calls = counts.reduce((s, c) => s + c.calls, 0);
  t.diagnostic(`${conflicts} compare-and-set conflicts in ${calls} calls`);
  const got = await withStores(1, "stress", 8, ([s]) => s.rows(0, recBytes, d));
  assert.equal(got.ids.length, ROWS, "one stored row per id");
  const where = new Map([...got.ids].map((id, r) => [id, r]));
  ids.forEach((id, i) => {
    const r = where.get(id);
    assert.ok(r !== undefined, `row ${i} is stored`);
    const rec = Buffer.from(got.records.buffer, got.records.byteOffset + r * recBytes, recBytes);
    assert.equal(rec.readUInt32LE(H_COUNT), pushes[i], `row ${i}: updates`);
    assert.equal(rec.readUInt32LE(H_TAU), last[i], `row ${i}: last step`);
    for (let k = 0; k < stateFloats; k++) {
      const v = rec.readFloatLE(firstState + 4 * k), want = sums[i][k];
      if (isMax(k)) assert.equal(v, want, `row ${i} state[${k}]: the max pushed`);
      else assert.ok(Math.abs(v - want) <= 1e-5 * pushes[i] * Math.max(8, Math.abs(want)), `row ${i} state[${k}] = ${v}, the changes sent sum to ${want}`);
    }
  });
  assert.ok(conflicts > 0, "the clients' writes collided: the retry path ran");
});

test("three clients merging a dense parameter end at initial + the sum of their changes (brute force)", { skip, timeout: 30_000 }, async (t) => {
  const n = 64, workers = 3;
  const r0 = rng(7), initial = Float32Array.from({ length: n }, () => r0() * 2 - 1);
  // Brute force: every push adds its change since its base to the stored floats.
  const want = Float64Array.from(initial);
  let pushes = 0;
  await withStores(workers, "dense", 4, async (stores) => {
    // An empty store counts as holding the base.
    await Promise.all(stores.map(async (store, k) => {
      const r = rng(200 + k);
      let local: Float32Array = initial.slice(), base: Float32Array = initial.slice();
      for (let round = 0; round < 30; round++) {
        const pushed = local.slice();
        for (let j = 0; j < n; j++) {
          pushed[j] = local[j] + (r() * 2 - 1);
          want[j] += pushed[j] - base[j]; // the change as float32 made it
        }
        pushes++;
        // As ClusterSync does: the local copy and the base become the merged floats.
        local = await store.mergeDense(0, pushed, base, { rows: n, d: 1, slots: [], n: 1 });
        base = local.slice();
      }
    }));
    assert.equal(pushes, workers * 30);
    const got = await stores[0].dense(0);
    assert.ok(got !== undefined);
    assert.equal(got.length, n);
    // Each merge rounds to float32 (|values| stay under ~10): 90 roundings of at most 2^-24 * 10 each.
    for (let j = 0; j < n; j++) assert.ok(Math.abs(got[j] - want[j]) <= 1e-4, `[${j}] = ${got[j]}, want ${want[j]}`);
    const conflicts = stores.reduce((s, x) => s + x.counts.conflicts, 0);
    t.diagnostic(`${conflicts} compare-and-set conflicts`);
    assert.ok(conflicts > 0, "the clients' writes collided");
  });
});

test("join refuses other settings, worker and bucket counts, naming the run, and every join once finished", { skip }, async () => {
  await withStores(2, "joins", 8, async (stores) => {
    const [a, b] = stores.map((x) => new RunState(x));
    await a.join("model=dcn lr=0.01", 2);
    await b.join("model=dcn lr=0.01", 2);
    await assert.rejects(b.join("model=dcn lr=0.02", 2), /cluster run "joins" was started with other settings: model=dcn lr=0\.01/);
    await assert.rejects(b.join("model=dcn lr=0.01", 3), /cluster run "joins" was started with --workers 2, not 3/);
    await withStores(1, "joins", 16, async ([c]) => {
      await assert.rejects(new RunState(c).join("model=dcn lr=0.01", 2), /cluster run "joins" keeps its rows in 8 buckets, not 16/);
    });
    await a.finish();
    await assert.rejects(b.join("model=dcn lr=0.01", 2), /cluster run "joins" has finished/);
  });
});

test("sightings: three workers' filters exchanged concurrently through the store; each finds every key the others counted, and the store holds the OR of all (brute force)", { skip, timeout: 30_000 }, async () => {
  const bytes = 2 ** 16, u32 = (r: () => number) => Math.floor(r() * 2 ** 32) >>> 0;
  await withStores(3, "sightings", 8, async (stores) => {
    const all = new BloomFilter(bytes * 8, 3, 1 << 14), keys: [number, number][][] = [[], [], []];
    const sightings = stores.map(() => new ClusterSightings(bytes));
    // Three rounds: each worker counts new keys (some shared with the others), then all exchange at once.
    const r = rng(31), shared: [number, number][] = Array.from({ length: 300 }, () => [u32(r), u32(r)]);
    for (let round = 0; round < 3; round++) {
      sightings.forEach((s, w) => {
        for (let i = 0; i < 2000; i++) {
          const k: [number, number] = r() < 0.1 ? shared[Math.floor(r() * shared.length)] : [u32(r), u32(r)];
          s.add(k[0], k[1]);
          all.add(k[0], k[1]);
          keys[w].push(k);
        }
      });
      const writes = await Promise.all(sightings.map((s, w) => s.exchange(stores[w])));
      writes.forEach((f) => f());
    }
    // A last exchange with nothing new: every worker then holds every other's keys.
    (await Promise.all(sightings.map((s, w) => s.exchange(stores[w])))).forEach((f) => f());
    for (let w = 0; w < 3; w++) {
      for (let o = 0; o < 3; o++) for (const [lo, hi] of keys[o]) assert.ok(sightings[w].seen(lo, hi), `worker ${w} does not find worker ${o}'s key (${lo}, ${hi})`);
    }
    // The store's filter is the OR of the three.
    for (let s = 0; s < all.segments; s++) assert.deepEqual(await stores[0].sightings(s), all.segment(s), `segment ${s}`);
    // Keys never counted: found at about the filter's estimated rate.
    let fp = 0;
    for (let i = 0; i < 50_000; i++) if (sightings[0].seen(u32(r), u32(r))) fp++;
    const est = sightings[0].falsePositiveRate();
    assert.ok(est > 0 && Math.abs(fp / 50_000 - est) < 0.3 * est + 1e-3, `false positives ${fp / 50_000}, estimated ${est}`);
  });
});

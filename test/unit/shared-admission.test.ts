// Shared admission counts: on one thread they route exactly as Admission
// does, call by call, counted here or with the counts' kernel in a piece
// (calls of more keys than a piece holds included); they convert to and from
// Admission and keep every count through a grow; and when 8 worker threads
// count overlapping streams at once against one set of counts (some with
// the kernel, some without), every key ends with its brute-force count and
// exactly min(count, minCount - 1) of its occurrences went to OOV.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { Admission } from "../../src/train/admission.js";
import { SharedAdmission } from "../../src/train/shared-admission.js";
import { BloomFilter } from "../../src/util/bloom.js";
import { burstIds, keyWords, roundIds, type FromWorker, type StreamSpec, type WorkerJob } from "../helpers/shared-admission-worker.js";
import { rng } from "../helpers/rng.js";
import { pieceLayout } from "../../src/kernels/counts.js";

// BatchInputs (src/train/inputs.ts) reads route, fields and minCount of its admission: the shapes agree.
const _shape: Pick<Admission, "route" | "fields" | "minCount"> = SharedAdmission.create(2, 1, 4);

/** Sorted (lo, hi, count) triples as strings, for comparing two sets of counts. */
function triples(e: Uint32Array): string[] {
  const t: string[] = [];
  for (let k = 0; k < e.length; k += 3) t.push(`${e[k]}:${e[k + 1]}:${e[k + 2]}`);
  return t.sort();
}

/** n random keys ((lo, hi) words) with fields: skewed values per field, some rare ones. */
function randomKeys(r: () => number, n: number, F: number, explicit: boolean): { words: Uint32Array; fieldOf: Int32Array } {
  const words = new Uint32Array(2 * n), fieldOf = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const f = explicit ? Math.floor(r() * F) : j % F;
    const v = r() < 0.9 ? Math.floor(Math.pow(r(), 3) * 400) : 1000 + Math.floor(r() * 1e6);
    fieldOf[j] = f;
    keyWords(f * 2 ** 24 + v, words, 2 * j);
  }
  return { words, fieldOf };
}

function sameState(a: Admission, s: SharedAdmission, what: string): void {
  assert.equal(s.seen, a.seen, `${what}: seen`);
  assert.equal(s.admitted, a.admitted, `${what}: admitted`);
  assert.equal(s.routed, a.routed, `${what}: routed`);
}

for (const pieces of [0, 1]) test(`one thread: shared counts route as Admission, call by call (count, no count, no tally; 1-26 fields, minCount 2-5)${pieces ? ", with the counts' kernel" : ""}`, () => {
  const pieceKeys = pieceLayout().keys;
  for (const [F, N, seed] of [[1, 2, 1], [3, 3, 2], [7, 5, 3], [26, 4, 4], [5, 2, 5]]) {
    const a = new Admission(N, F, 16), s = SharedAdmission.create(N, F, 16, undefined, pieces), r = rng(seed);
    let grows = 0;
    for (let call = 0; call < 300; call++) {
      // Now and then more keys than a piece holds (the kernel counts them piece by piece).
      const most = call % 50 === 7 ? 2.5 * pieceKeys : 500;
      const explicit = r() < 0.4, n = explicit ? Math.floor(r() * most) : F * Math.floor(r() * (most / F));
      const { words, fieldOf } = randomKeys(r, n, F, explicit);
      const count = r() < 0.75, tally = r() < 0.8, what = `F ${F} N ${N} call ${call}`;
      if (count && !s.room(n)) {
        s.grow(s.seen + n);
        grows++;
      }
      const outA = new Uint32Array(2 * n), outS = new Uint32Array(2 * n);
      a.route(words, n, outA, explicit ? fieldOf : undefined, count, tally);
      s.route(words, n, outS, explicit ? fieldOf : undefined, count, tally);
      assert.deepEqual(outS, outA, `${what}: routed keys`);
      sameState(a, s, what);
    }
    assert.ok(grows >= 2, `F ${F}: the counts grew (${grows} times)`);
    assert.deepEqual(s.pieces, { made: pieces, taken: pieces }, "this thread counted in its piece");
    const e = a.entries();
    for (let k = 0; k < e.length; k += 3) assert.equal(s.count(e[k], e[k + 1]), e[k + 2], `F ${F}: count of entry ${k / 3}`);
    assert.equal(s.count(0x12345, 0x6789), 0, "an unseen key counts 0");
    assert.deepEqual(triples(s.entries()), triples(e));
  }
});

for (const pieces of [0, 2]) test(`from(a) and toAdmission() keep the counts, seen, admitted and routed; grow keeps every count; another handle sees the growth${pieces ? " (with the counts' kernel)" : ""}`, () => {
  const F = 6, N = 3, a = new Admission(N, F, 16), r = rng(11);
  for (let call = 0; call < 100; call++) {
    const n = F * Math.floor(r() * 80), { words } = randomKeys(r, n, F, false);
    a.route(words, n, new Uint32Array(2 * n), undefined, true);
  }
  const s = SharedAdmission.from(a, pieces);
  sameState(a, s, "from");
  assert.deepEqual(triples(s.entries()), triples(a.entries()));
  const b = s.toAdmission();
  sameState(b, s, "toAdmission");
  assert.deepEqual(triples(b.entries()), triples(a.entries()));
  assert.deepEqual(triples(Admission.load(b.save()).entries()), triples(a.entries()), "toAdmission saves in Admission's format");
  // toAdmission takes the shared slots as they lie: every key is found where Admission's probing looks for it.
  const e = a.entries();
  for (let k = 0; k < e.length; k += 3) assert.equal(b.count(e[k], e[k + 1]), e[k + 2], `key ${k / 3}`);
  const more = randomKeys(r, 600, F, false), outA0 = new Uint32Array(1200), outB0 = new Uint32Array(1200);
  const a2 = Admission.load(a.save());
  a2.route(more.words, 600, outA0, undefined, true);
  b.route(more.words, 600, outB0, undefined, true);
  assert.deepEqual(outB0, outA0, "the converted counts count and route on as Admission's");
  assert.deepEqual(triples(b.entries()), triples(a2.entries()));

  // A handle attached before the memory grows routes with it afterwards.
  const t = SharedAdmission.attach(s.state()), cap = s.capacity, bytes = s.bytes;
  s.grow();
  assert.equal(s.capacity, 2 * cap);
  s.grow(20 * cap);
  assert.ok(s.capacity >= (20 * cap) / 0.75 && s.bytes > bytes, `capacity ${s.capacity}, bytes ${s.bytes}`);
  assert.ok(s.room(20 * cap - s.seen - 1));
  assert.deepEqual(triples(t.entries()), triples(a.entries()), "grow keeps every count");
  sameState(a, t, "after grow");
  const n = 3000, { words } = randomKeys(r, n, F, false), outA = new Uint32Array(2 * n), outT = new Uint32Array(2 * n);
  a.route(words, n, outA, undefined, true);
  t.route(words, n, outT, undefined, true);
  assert.deepEqual(outT, outA);
  sameState(a, s, "routed by the other handle");
  assert.deepEqual(s.pieces, { made: pieces, taken: Math.min(pieces, 1) }, "the handle that routed counted in a piece");
  assert.deepEqual(triples(s.entries()), triples(a.entries()));
});

test("from(a) copies the plain counts' slots as they lie (its capacity kept, every key where probing finds it), and rehashes counts of fewer slots than shared counts take", () => {
  const F = 4, N = 2, r = rng(5);
  for (const capacity of [1 << 10, 2]) {
    const a = new Admission(N, F, capacity), n = capacity > 2 ? 400 : 1, { words } = randomKeys(r, n, F, false);
    a.route(words, n, new Uint32Array(2 * n), undefined, true);
    const s = SharedAdmission.from(a);
    assert.equal(s.capacity, capacity > 2 ? capacity : 1 << 16, `capacity ${capacity}`);
    sameState(a, s, `capacity ${capacity}`);
    const e = a.entries();
    for (let k = 0; k < e.length; k += 3) assert.equal(s.count(e[k], e[k + 1]), e[k + 2], `capacity ${capacity}: key ${k / 3}`);
    assert.deepEqual(triples(s.entries()), triples(e));
    const more = randomKeys(r, 300, F, false), outA = new Uint32Array(600), outS = new Uint32Array(600);
    a.route(more.words, 300, outA, undefined, true);
    s.route(more.words, 300, outS, undefined, true);
    assert.deepEqual(outS, outA, `capacity ${capacity}: the copy counts and routes on as the plain counts`);
    sameState(a, s, `capacity ${capacity}, routed on`);
  }
});

for (const pieces of [0, 1]) test(`counts saturate at 2^32 - 1 and cross minCount near 2^31 as Admission's do${pieces ? ", with the counts' kernel" : ""}`, () => {
  const keys = new Uint32Array(8);
  for (let k = 0; k < 4; k++) keyWords(k, keys, 2 * k);
  for (const N of [2, 0x80000000, 0xffffffff]) {
    const e = Uint32Array.of(keys[0], keys[1], 0xfffffffe, keys[2], keys[3], 0x7fffffff, keys[4], keys[5], 0x7ffffffe, keys[6], keys[7], 1);
    const a = Admission.fromEntries(N, 2, e, 7), s = SharedAdmission.from(a, pieces);
    const seq = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3], words = new Uint32Array(2 * seq.length);
    seq.forEach((k, j) => { words[2 * j] = keys[2 * k]; words[2 * j + 1] = keys[2 * k + 1]; });
    const outA = new Uint32Array(words.length), outS = new Uint32Array(words.length);
    for (let j = 0; j < seq.length; j++) {
      a.route(words.subarray(2 * j), 1, outA.subarray(2 * j), Int32Array.of(j % 2), true);
      s.route(words.subarray(2 * j), 1, outS.subarray(2 * j), Int32Array.of(j % 2), true);
      sameState(a, s, `minCount ${N}, key ${j}`);
    }
    assert.deepEqual(outS, outA, `minCount ${N}`);
    for (let k = 0; k < 4; k++) assert.equal(s.count(keys[2 * k], keys[2 * k + 1]), a.count(keys[2 * k], keys[2 * k + 1]), `minCount ${N}, key ${k}`);
    assert.equal(s.count(keys[0], keys[1]), 0xffffffff);
  }
});

test("refusals: a counting route without room, a capacity past the limit, a mismatched attach", () => {
  const s = SharedAdmission.create(2, 1, 16), words = new Uint32Array(2 * 12), out = new Uint32Array(2 * 12);
  for (let k = 0; k < 12; k++) keyWords(k, words, 2 * k);
  assert.ok(s.room(11) && !s.room(12), "load 0.75 of 16 slots: 11 more keys fit, 12 may not");
  assert.throws(() => s.route(words, 12, out, undefined, true), (e: unknown) => e instanceof RangeError && /room\(\)/.test(e.message));
  assert.equal(s.seen, 0, "a refused route counts nothing");
  s.route(words, 12, out, undefined, false);
  assert.equal(s.routed, 12, "routing without counting needs no room");
  s.route(words, 11, out, undefined, true);
  assert.equal(s.seen, 11);
  assert.throws(() => s.route(words, 1, out, undefined, true), RangeError, "11 keys leave no room for one more");
  assert.throws(() => s.grow(2 ** 27), RangeError);
  assert.equal(s.capacity, 16, "a refused grow changes nothing");
  assert.throws(() => SharedAdmission.attach({ ...s.state(), minCount: 3 }), RangeError);
  assert.throws(() => SharedAdmission.create(2, 1, 24), RangeError);
  assert.throws(() => SharedAdmission.create(1, 1), RangeError);
  for (const pieces of [-1, 1.5, 257]) assert.throws(() => SharedAdmission.create(2, 1, 16, undefined, pieces), RangeError, `${pieces} pieces`);
  // The kernel refuses nothing on its own: the room is reserved before it counts.
  const k = SharedAdmission.create(2, 1, 16, undefined, 1);
  assert.throws(() => k.route(words, 12, out, undefined, true), RangeError);
  assert.equal(k.seen, 0, "a refused route counts nothing, with the kernel either");
});

for (const pieces of [0, 1]) test(`another thread's room, at every atomic step of a counting route, is never less than the keys and reservations there are, nor more${pieces ? " (with the counts' kernel)" : ""}`, () => {
  // 64 slots: 48 keys under the load limit. A's route reserves 10 keys and inserts 6 distinct ones.
  const a = SharedAdmission.create(2, 1, 64, undefined, pieces), b = SharedAdmission.attach(a.state());
  const words = new Uint32Array(2 * 10), out = new Uint32Array(2 * 10);
  for (let k = 0; k < 10; k++) keyWords([1, 2, 3, 4, 5, 6, 1, 2, 3, 4][k], words, 2 * k);
  // B's view between the writes of A's route: at most 10 keys held (reserved or counted), at least 6 once A counted them.
  let steps = 0, inCheck = false, counted = false;
  const check = (): void => {
    if (inCheck) return;
    inCheck = true;
    steps++;
    assert.ok(b.room(48 - 10 - 1), `step ${steps}: a key or reservation of A's route counted twice`);
    if (counted) assert.ok(!b.room(48 - 6), `step ${steps}: A's counted keys not held`);
    inCheck = false;
  };
  const saved = { add: Atomics.add, sub: Atomics.sub, store: Atomics.store, exchange: Atomics.exchange, compareExchange: Atomics.compareExchange };
  const ops = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, f] of Object.entries(saved)) {
    ops[name] = (...args: unknown[]): unknown => {
      const r = (f as (...x: unknown[]) => unknown).apply(Atomics, args);
      check();
      return r;
    };
  }
  try {
    a.route(words, 10, out, undefined, true);
    counted = true;
    check();
  } finally {
    Object.assign(Atomics, saved);
  }
  assert.ok(steps >= 3, `${steps} atomic steps seen`);
  assert.equal(a.seen, 6);
  assert.ok(b.room(48 - 6 - 1) && !b.room(48 - 6), "after the route: its 6 keys held, its reservation's rest given back");
});

for (const pieces of [0, 1]) test(`under a memory budget makeRoom forgets the unadmitted keys as Admission does, call by call; from() and toAdmission() keep the budget and the count forgotten${pieces ? " (with the counts' kernel)" : ""}`, () => {
  for (const [F, N, slots, seed] of [[3, 2, 64, 21], [5, 3, 256, 22], [26, 4, 1024, 23]]) {
    // The same budget in slots: Admission's slot is 12 bytes, the shared one's 16.
    const a = new Admission(N, F, 16), s = SharedAdmission.create(N, F, 16, undefined, pieces), r = rng(seed);
    a.maxBytes = slots * 12;
    s.maxBytes = slots * 16;
    let forgot = 0, adopted: Admission | undefined, reused = 0;
    for (let call = 0; call < 300; call++) {
      const n = F * Math.floor(r() * (200 / F)), { words } = randomKeys(r, n, F, false), what = `F ${F} N ${N} call ${call}`;
      const before = s.forgotten;
      s.makeRoom(n);
      if (s.forgotten > before) forgot++;
      const outA = new Uint32Array(2 * n), outS = new Uint32Array(2 * n);
      a.route(words, n, outA, undefined, true);
      s.route(words, n, outS, undefined, true);
      assert.deepEqual(outS, outA, `${what}: routed keys`);
      sameState(a, s, what);
      assert.equal(s.forgotten, a.forgotten, `${what}: forgotten`);
      assert.equal(s.capacity * 12, a.bytes, `${what}: slots`);
      // Plain counts over the last ones' memory (the data-parallel trainer's parks) equal fresh ones, keys forgotten since included.
      if (call % 7 === 0) {
        const words = adopted?.slotWords, next = s.toAdmission(adopted);
        if (words !== undefined && next.slotWords === words) reused++;
        assert.deepEqual(next.save(), s.toAdmission().save(), `${what}: counts over the last ones`);
        sameState(next, s, `${what}: adopted`);
        // The shared counts' keys and admitted keys (taken as they are) equal a count of the slots.
        const scanned = Admission.fromSlots(N, F, next.slotWords.slice(), next.routed);
        assert.deepEqual([scanned.seen, scanned.admitted], [next.seen, next.admitted], `${what}: counted slots`);
        adopted = next;
      }
    }
    assert.ok(forgot >= 2, `F ${F}: forgot ${forgot} times`);
    assert.ok(reused >= 10, `F ${F}: reused ${reused} times`);
    assert.deepEqual(triples(s.entries()), triples(a.entries()));
    const b = s.toAdmission();
    assert.equal(b.maxBytes, slots * 16);
    assert.equal(b.forgotten, a.forgotten);
    const c = SharedAdmission.from(a);
    assert.equal(c.maxBytes, slots * 12);
    assert.equal(c.forgotten, a.forgotten);
  }
});

function next(w: Worker): Promise<FromWorker> {
  return once(w, "message").then(([m]) => m as FromWorker);
}

for (const [sightings, pieces] of [[false, 0], [false, 4], [true, 4]] as const) test(`8 worker threads count overlapping streams at once${sightings ? ", with sightings elsewhere" : ""}${pieces ? `, ${pieces} of them with the counts' kernel` : ""}: brute-force counts, and min(count, minCount - 1) occurrences of each key to OOV`, { timeout: 120_000 }, async () => {
  // 8 workers on a machine of 2 cores (oversubscribed on purpose: threads are
  // preempted mid-route, in the middle of claiming a slot or incrementing).
  // Rounds: every worker routes a batch of its stream (hot keys in all
  // workers, a skewed middle range, many rare keys) while the counts grow in
  // between. Storm: thousands of bursts of 16 new keys that every worker
  // routes at the same moment, so that threads meet on slots being claimed.
  // With sightings (a cluster run's other workers, Admission.elsewhere): a key
  // the run's filter holds counts one more at its first occurrence, and every
  // key counted is added to this process's filter (an atomic OR: no bit lost).
  const W = 8, N = 3, spec: StreamSpec = { fields: 8, rows: 1500, rounds: 10, seed: 5, bursts: 3000, burstKeys: 16 };
  const runFilter = new BloomFilter(2 ** 20, 3, 1 << 10, true), ownFilter = new BloomFilter(2 ** 20, 3, 1 << 10, true);
  // With pieces, the first 4 workers to route count with the kernel and the others here, at once (with sightings every counting route is here).
  const sa = SharedAdmission.create(N, spec.fields, 1024, sightings ? { own: ownFilter.state(), run: runFilter.state() } : undefined, pieces);
  if (sightings) {
    // The run's filter: a third of the streams' keys, counted by other processes.
    const kw = new Uint32Array(2), file = (id: number): void => {
      if (id % 3 !== 0) return;
      keyWords(id, kw, 0);
      runFilter.add(kw[0], kw[1]);
    };
    for (let w = 0; w < W; w++) for (let round = 0; round < spec.rounds; round++) roundIds(spec, w, round).forEach(file);
    for (let b = 0; b < spec.bursts; b++) burstIds(spec, b).forEach(file);
  }
  const url = new URL("../helpers/shared-admission-worker.js", import.meta.url), gate = new SharedArrayBuffer(16);
  const ws = Array.from({ length: W }, (_, w) => new Worker(url, { workerData: { ...spec, sharedAdmission: sa.state(), worker: w, workers: W, gate } satisfies WorkerJob }));
  try {
    await Promise.all(ws.map(next));
    let grows = 0;
    const perRound = W * spec.rows * spec.fields;
    for (let round = 0; round < spec.rounds; round++) {
      // The workers wait for this message: no thread routes while the counts grow.
      if (!sa.room(perRound)) {
        sa.grow(sa.seen + perRound);
        grows++;
      }
      const done = ws.map(next);
      for (const w of ws) w.postMessage({ k: "round", round });
      for (const m of await Promise.all(done)) assert.deepEqual(m, { k: "done", round });
    }
    if (!sa.room(spec.bursts * spec.burstKeys)) sa.grow(sa.seen + spec.bursts * spec.burstKeys);
    const stormed = ws.map(next);
    for (const w of ws) w.postMessage({ k: "storm" });
    for (const m of await Promise.all(stormed)) assert.deepEqual(m, { k: "stormed" });
    // Counting routes with sightings elsewhere are counted here (a key's first count needs the filters): no piece taken.
    assert.deepEqual(sa.pieces, { made: pieces, taken: sightings ? 0 : pieces }, "pieces taken");
    const reports = ws.map(next);
    for (const w of ws) w.postMessage({ k: "report" });
    const got = await Promise.all(reports);

    const occ = new Map<number, number>(), add = (id: number): void => void occ.set(id, (occ.get(id) ?? 0) + 1);
    for (let w = 0; w < W; w++) {
      for (let round = 0; round < spec.rounds; round++) roundIds(spec, w, round).forEach(add);
      for (let b = 0; b < spec.bursts; b++) burstIds(spec, b).forEach(add);
    }
    const kw = new Uint32Array(2);
    /** 1 when the key counts one sighting more (its first occurrence: the run's filter holds it), else 0. */
    const extra = (id: number): number => {
      keyWords(id, kw, 0);
      return sightings && runFilter.has(kw[0], kw[1]) ? 1 : 0;
    };
    const own = new Map<number, number>(), oov = new Map<number, number>();
    for (const m of got) {
      if (m.k !== "report") throw new Error(`expected a report, got ${m.k}`);
      assert.equal(m.bad, 0, "every key went to itself or its field's OOV key");
      m.ids.forEach((id, k) => {
        own.set(id, (own.get(id) ?? 0) + m.own[k]);
        oov.set(id, (oov.get(id) ?? 0) + m.oov[k]);
      });
    }
    let admitted = 0, routed = 0, lost = 0, split = 0, hot = 0, unfiled = 0, elsewhere = 0;
    for (const [id, c] of occ) {
      const e = extra(id);
      elsewhere += e;
      keyWords(id, kw, 0);
      if (sa.count(kw[0], kw[1]) !== c + e) lost++;
      if (sightings && !ownFilter.has(kw[0], kw[1])) unfiled++;
      if (own.get(id) !== Math.max(0, c - (N - 1 - e)) || oov.get(id) !== Math.min(c, N - 1 - e)) split++;
      if (c + e >= N) admitted++;
      if (c > 1000) hot++;
      routed += Math.min(c, N - 1 - e);
    }
    if (sightings) {
      assert.ok(elsewhere > occ.size / 4 && elsewhere < occ.size, `${elsewhere} of ${occ.size} keys were counted elsewhere`);
      assert.equal(unfiled, 0, "every key counted here is in this process's filter");
    }
    assert.ok(grows >= 2 && hot >= 16, `the counts grew ${grows} times; ${hot} keys were hot`);
    assert.equal(sa.seen, occ.size, "seen = distinct keys");
    assert.equal(lost, 0, `keys whose count is not their number of occurrences (of ${occ.size})`);
    assert.equal(split, 0, `keys whose occurrences did not go min(count, ${N - 1}) to OOV and the rest to the key (of ${occ.size})`);
    assert.equal(sa.admitted, admitted, "admitted = keys seen at least minCount times");
    assert.equal(sa.routed, routed, "routed = sum of min(count, minCount - 1)");
    const a = sa.toAdmission();
    assert.deepEqual([a.seen, a.admitted, a.routed], [occ.size, admitted, routed]);
    let missed = 0;
    for (const id of occ.keys()) {
      keyWords(id, kw, 0);
      if (a.count(kw[0], kw[1]) !== sa.count(kw[0], kw[1])) missed++;
    }
    assert.equal(missed, 0, "keys whose converted count differs (looked up by Admission's probing)");
  } finally {
    await Promise.all(ws.map((w) => w.terminate()));
  }
});

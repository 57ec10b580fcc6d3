// The data-parallel workers' barrier waits (src/train/barrier.ts): a wait
// returns only once its condition holds, whether it is met while spinning,
// after the spin (asleep), or at once; 8 threads on this machine's cores,
// spinning and not, never leave a round's barrier before every thread
// arrived at it; a run with more workers than cores does not spin; and a
// Waiter stops spinning while its waits mostly outlast the spin (other
// processes on the cores) and spins again once they are short.
import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { LATE_OFF, LATE_ON, spinMillis, waitUntil, Waiter } from "../../src/train/barrier.js";
import { runBarrier } from "../helpers/barrier-thread.js";

test("spinMillis: workers up to the cores spin a bounded time, more workers than cores never spin", () => {
  const cores = availableParallelism();
  assert.ok(spinMillis(1, 2) > 0 && spinMillis(2, 2) > 0 && spinMillis(cores) > 0);
  assert.ok(spinMillis(2, 2) <= 10, "a spin is bounded to about a round");
  assert.equal(spinMillis(3, 2), 0);
  assert.equal(spinMillis(cores + 1), 0);
});

test("waitUntil returns at once when the condition holds, and otherwise only after the word changes to a value that meets it", async () => {
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  ctl[0] = 5;
  assert.equal(waitUntil(ctl, 0, (v) => v === 5, 0), 0, "a condition that holds at once is not a wait");
  // A change that does not meet the condition, then one that does (another thread, notified): met while spinning, after the spin, asleep throughout.
  for (const spinMs of [200, 2, 0]) {
    Atomics.store(ctl, 0, 0);
    const t0 = performance.now();
    const writer = setTimeoutWriter(ctl, [[20, 1], [60, 2]]);
    const reported = waitUntil(ctl, 0, (v) => v >= 2, spinMs);
    const waited = performance.now() - t0;
    assert.ok(reported >= 55 && reported <= waited, `spin ${spinMs} ms: reported ${reported.toFixed(1)} ms of ${waited.toFixed(1)}`);
    assert.equal(Atomics.load(ctl, 0), 2, `spin ${spinMs} ms`);
    assert.ok(waited >= 55, `spin ${spinMs} ms: returned after ${waited.toFixed(1)} ms, before the word met the condition`);
    await writer;
  }
});

test("eight threads through 400 rounds of the workers' barrier, spinning (oversubscribed on purpose) and sleeping: none leaves a round before all arrived", async () => {
  for (const spinMs of [1, 0]) assert.equal(await runBarrier(8, 400, spinMs), 0, `spin ${spinMs} ms`);
});

test("a Waiter stops spinning once most of its waits outlast the spin, spins again once they are short, and never spins with no spin", () => {
  const w = new Waiter(1);
  assert.equal(w.spinning, true);
  // Short waits (the thread waited for has a core) keep it spinning.
  for (let i = 0; i < 200; i++) w.observe(0.2);
  assert.equal(w.spinning, true);
  assert.ok(w.late < LATE_ON);
  // One wait in ten late (a worker behind now and then): still spinning.
  for (let i = 0; i < 400; i++) w.observe(i % 10 === 0 ? 5 : 0.3);
  assert.equal(w.spinning, true, `late ${w.late}`);
  // Most waits late (another process on the cores): it stops within a few waits, not at the first.
  w.observe(3);
  assert.equal(w.spinning, true, "one late wait does not stop the spin");
  let waits = 1;
  while (w.spinning && waits < 100) { w.observe(3); waits++; }
  assert.ok(!w.spinning && waits <= 10, `stopped after ${waits} late waits`);
  // Half late, as the cores stay shared: it stays off (no flapping between the thresholds' band).
  for (let i = 0; i < 400; i++) { w.observe(i % 2 === 0 ? 3 : 0.2); assert.equal(w.spinning, false, `wait ${i}: late ${w.late}`); }
  // The cores free again: short waits bring the spin back.
  waits = 0;
  while (!w.spinning && waits < 100) { w.observe(0.2); waits++; }
  assert.ok(w.spinning && waits <= 30, `spinning again after ${waits} short waits`);
  assert.ok(LATE_ON < LATE_OFF);
  const none = new Waiter(0);
  for (let i = 0; i < 100; i++) none.observe(0.01);
  assert.equal(none.spinning, false);
});

test("a Waiter's wait counts a wait that outlasts the spin, and not one whose condition held at once", async () => {
  const ctl = new Int32Array(new SharedArrayBuffer(8)), w = new Waiter(1);
  ctl[0] = 1;
  w.wait(ctl, 0, (v) => v === 1);
  assert.equal(w.late, 0);
  Atomics.store(ctl, 0, 0);
  const writer = setTimeoutWriter(ctl, [[20, 1]]);
  w.wait(ctl, 0, (v) => v === 1);
  await writer;
  assert.ok(w.late > 0, "a 20 ms wait is late for a 1 ms spin");
});

/**
 * Another thread, started now, writing `values` at their times (ms from its
 * start), each notified (this thread is blocked in the wait meanwhile, so a
 * timer could not write); resolves when it has ended.
 */
function setTimeoutWriter(ctl: Int32Array, values: [number, number][]): Promise<void> {
  const src = `const { workerData: { buf, values } } = require("node:worker_threads");
    const c = new Int32Array(buf), t0 = Date.now(), sleep = new Int32Array(new SharedArrayBuffer(4));
    for (const [at, v] of values) { Atomics.wait(sleep, 0, 0, Math.max(0, at - (Date.now() - t0))); Atomics.store(c, 0, v); Atomics.notify(c, 0); }`;
  const w = new Worker(src, { eval: true, workerData: { buf: ctl.buffer, values } });
  return new Promise((resolve, reject) => { w.once("exit", () => resolve()); w.once("error", reject); });
}

// The data-parallel workers' barrier waits (src/train/barrier.ts): a wait
// returns only once its condition holds, whether it is met while spinning,
// after the spin (asleep), or at once; 8 threads on this machine's cores,
// spinning and not, never leave a round's barrier before every thread
// arrived at it; and a run with more workers than cores does not spin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { spinMillis, waitUntil } from "../../src/train/barrier.js";
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
  waitUntil(ctl, 0, (v) => v === 5, 0);
  // A change that does not meet the condition, then one that does (another thread, notified): met while spinning, after the spin, asleep throughout.
  for (const spinMs of [200, 2, 0]) {
    Atomics.store(ctl, 0, 0);
    const t0 = performance.now();
    const writer = setTimeoutWriter(ctl, [[20, 1], [60, 2]]);
    waitUntil(ctl, 0, (v) => v >= 2, spinMs);
    const waited = performance.now() - t0;
    assert.equal(Atomics.load(ctl, 0), 2, `spin ${spinMs} ms`);
    assert.ok(waited >= 55, `spin ${spinMs} ms: returned after ${waited.toFixed(1)} ms, before the word met the condition`);
    await writer;
  }
});

test("eight threads through 400 rounds of the workers' barrier, spinning (oversubscribed on purpose) and sleeping: none leaves a round before all arrived", async () => {
  for (const spinMs of [1, 0]) assert.equal(await runBarrier(8, 400, spinMs), 0, `spin ${spinMs} ms`);
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

// Welch's t-test and the Student t distribution against closed forms, printed
// table values and a numerical integration written here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mean, sampleSd, studentTwoSided, welchTTest, regularizedBeta } from "../../src/experiments/stats.js";

/** Two-sided tail of Student's t by Simpson integration of the unnormalised density (normalised numerically). */
function tailByIntegration(t: number, df: number): number {
  const dens = (u: number): number => Math.pow(1 + (u * u) / df, -(df + 1) / 2);
  // Substitute u = tan(theta) to map (0, inf) onto (0, pi/2).
  const simpson = (a: number, b: number, n: number): number => {
    const h = (b - a) / n, g = (th: number): number => dens(Math.tan(th)) / Math.cos(th) ** 2;
    let s = g(a) + (b < Math.PI / 2 ? g(b) : 0);
    for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * g(a + i * h);
    return (s * h) / 3;
  };
  const top = Math.PI / 2 - 1e-9, th = Math.atan(Math.abs(t));
  return simpson(th, top, 20000) / simpson(0, top, 20000);
}

test("Student t tails: closed forms for 1 and 2 degrees of freedom, printed table values, numerical integration", () => {
  for (const t of [0, 0.3, 1, 2.5, 12.706, 40]) {
    assert.ok(Math.abs(studentTwoSided(t, 1) - (1 - (2 / Math.PI) * Math.atan(t))) < 1e-12, `df 1, t ${t}`);
    assert.ok(Math.abs(studentTwoSided(t, 2) - (1 - t / Math.sqrt(2 + t * t))) < 1e-12, `df 2, t ${t}`);
  }
  // Two-sided critical values as printed in t tables.
  for (const [t, df, p] of [[2.228, 10, 0.05], [4.032, 5, 0.01], [1.725, 20, 0.1], [2.042, 30, 0.05], [3.707, 6, 0.01]] as const) {
    assert.ok(Math.abs(studentTwoSided(t, df) - p) < 5e-4, `t ${t}, df ${df}: ${studentTwoSided(t, df)} vs ${p}`);
  }
  for (const [t, df] of [[0.5, 3.3], [2.1, 7.7], [3, 24.9], [1.2, 150]]) {
    assert.ok(Math.abs(studentTwoSided(t, df) - tailByIntegration(t, df)) < 1e-7, `t ${t}, df ${df}`);
  }
  assert.equal(regularizedBeta(0, 2, 3), 0);
  assert.equal(regularizedBeta(1, 2, 3), 1);
  // I_x(1, b) = 1 - (1 - x)^b, I_x(a, 1) = x^a.
  assert.ok(Math.abs(regularizedBeta(0.3, 1, 4.5) - (1 - 0.7 ** 4.5)) < 1e-13);
  assert.ok(Math.abs(regularizedBeta(0.6, 3.2, 1) - 0.6 ** 3.2) < 1e-13);
});

test("Welch's t-test: statistic and degrees of freedom by hand, p by integration, a textbook example", () => {
  const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
  const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
  const r = welchTTest(a, b);
  const ma = a.reduce((s, x) => s + x, 0) / a.length, mb = b.reduce((s, x) => s + x, 0) / b.length;
  const va = a.reduce((s, x) => s + (x - ma) ** 2, 0) / (a.length - 1) / a.length;
  const vb = b.reduce((s, x) => s + (x - mb) ** 2, 0) / (b.length - 1) / b.length;
  assert.ok(Math.abs(r.t - (ma - mb) / Math.sqrt(va + vb)) < 1e-12);
  assert.ok(Math.abs(r.df - (va + vb) ** 2 / (va ** 2 / 14 + vb ** 2 / 14)) < 1e-9);
  assert.ok(Math.abs(r.p - tailByIntegration(r.t, r.df)) < 1e-7);
  // The example's published figures (Welch's t-test, example 1 of its Wikipedia article): t = -2.46, df = 24.99, p = 0.021.
  assert.ok(Math.abs(r.t + 2.46) < 0.005, `t ${r.t}`);
  assert.ok(Math.abs(r.df - 24.99) < 0.005, `df ${r.df}`);
  assert.ok(Math.abs(r.p - 0.021) < 0.0005, `p ${r.p}`);
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.ok(Math.abs(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]) - Math.sqrt(32 / 7)) < 1e-12);
  assert.deepEqual(welchTTest([1, 1, 1], [1, 1]).p, 1);
  assert.equal(welchTTest([1, 1, 1], [2, 2]).p, 0);
  assert.throws(() => welchTTest([1], [2, 3]), /needs 2 or more values/);
});

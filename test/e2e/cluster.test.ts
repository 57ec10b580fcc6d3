// `sparsectr train --cluster` with worker processes against local Redis
// Clusters: two workers and three masters train one model that rank 0
// writes; a table larger than any one node's maxmemory trains (capacity);
// a worker killed with SIGKILL rejoins from its last synchronisation and the
// run finishes (also a worker of two threads); a run checkpointed by rank 0
// and killed whole (workers and store) resumes from its checkpoint into a
// new cluster (also with workers of two threads); a master killed under load
// fails over to its replica and training goes on; the options are checked.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "ioredis";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { redisServerAvailable, startLocalCluster, type LocalCluster } from "../../src/cluster/local-redis.js";
import { readCheckpoint } from "../../src/train/checkpoint.js";

const skip = redisServerAvailable() ? false : "redis-server is not installed (CI installs it: see .ci/run)";
const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sparsectr-cluster-cli-"));
const data = join(dir, "train.txt"), testData = join(dir, "test.txt");
const gen = createGenerator(synthConfig({ preset: "criteo", seed: 6, scale: 0.05 }));
await generateFiles(gen, { format: "criteo", start: 0, rows: 60_000, out: data, truth: null });
await generateFiles(gen, { format: "criteo", start: 60_000, rows: 10_000, out: testData, truth: null });
after(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = ["--train", data, "--test", testData, "--val-fraction", "0", "--epochs", "1", "--shuffle", "off", "--batch", "256",
  "--embedding", "8", "--seed", "2", "--threads", "1", "--json"];
type Report = Record<string, unknown> & { auc: number; rows: number; liveFeatures: number; cluster: Record<string, number> };
const report = (out: string): Report => JSON.parse(out.trim().split("\n").pop()!) as Report;

/** Runs a worker; resolves to its exit code and output. */
function worker(args: string[]): { done: Promise<{ code: number | null; out: string; err: string }>; kill: () => void } {
  const p = spawn(process.execPath, [CLI, "train", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  p.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
  // Bounded: a worker left waiting (a peer that died) is killed and its output shown.
  const limit = setTimeout(() => p.kill("SIGKILL"), 180_000);
  return { done: new Promise((res) => p.on("close", (code) => { clearTimeout(limit); res({ code, out, err }); })), kill: () => p.kill("SIGKILL") };
}

const clusterArgs = (c: LocalCluster, rank: number, extra: string[] = []): string[] =>
  [...ARGS, "--cluster", c.url, "--workers", "2", "--rank", String(rank), "--sync-every", "8192", ...extra];

async function masterInfo(c: LocalCluster): Promise<{ used: number; max: number }[]> {
  return (await c.masterUse()).map((u) => ({ used: u.usedMemory, max: u.maxMemory }));
}

test("two workers and three masters train one model: rank 0 writes it, near the single process", { skip }, async () => {
  const single = spawnSync(process.execPath, [CLI, "train", ...ARGS, "--deterministic"], { encoding: "utf8" });
  assert.equal(single.status, 0, single.stderr);
  const want = report(single.stdout);
  const c = await startLocalCluster({ masters: 3 });
  try {
    const out = join(dir, "two");
    const [r0, r1] = await Promise.all([worker(clusterArgs(c, 0, ["--out", out])).done, worker(clusterArgs(c, 1)).done]);
    assert.equal(r0.code, 0, r0.err);
    assert.equal(r1.code, 0, r1.err);
    const a = report(r0.out), b = report(r1.out);
    assert.equal(a.trainer, "cluster");
    assert.equal(a.cluster.workers, 2);
    assert.equal(a.cluster.rank, 0);
    assert.equal(a.cluster.trainedRows + b.cluster.trainedRows, want.rows, "every row trained once");
    assert.equal(a.cluster.partRows, 30_000);
    assert.ok(a.cluster.syncs >= 2 && a.cluster.rowsPushed > 0 && a.cluster.bytesSent > 0, JSON.stringify(a.cluster));
    assert.equal(b.auc, null, "rank 1 does not evaluate");
    // The run's features: every worker's distinct keys (a HyperLogLog estimate), as the single process counts them.
    assert.ok(Math.abs((a.features as number) - (want.features as number)) <= 0.03 * (want.features as number), `features ${String(a.features)} vs ${String(want.features)}`);
    assert.ok(Math.abs((a.featureRate as number) - a.liveFeatures / (a.features as number)) < 1e-12);
    assert.ok(existsSync(join(out, "model.sparsectr")), "rank 0 writes the model");
    // A sanity bound (the quality goal itself is measured by `npm run bench -- cluster`).
    assert.ok(a.auc > want.auc - 0.02, `AUC ${a.auc} vs single process ${want.auc}`);
    assert.ok(a.liveFeatures > 0.5 * want.liveFeatures, `live features ${a.liveFeatures} vs ${want.liveFeatures}`);
    console.log(`# 2 workers x 3 masters: AUC ${a.auc.toFixed(4)} (single ${want.auc.toFixed(4)}), live ${a.liveFeatures} (${want.liveFeatures})`);
  } finally {
    await c.stop();
  }
});

test("capacity: a table larger than any one node's maxmemory trains across three masters", { skip }, async () => {
  // The table's size in the store, from a run without a limit.
  let size = 0;
  const free = await startLocalCluster({ masters: 3 });
  try {
    const before = await masterInfo(free);
    const rs = await Promise.all([worker(clusterArgs(free, 0)).done, worker(clusterArgs(free, 1)).done]);
    for (const r of rs) assert.equal(r.code, 0, r.err);
    size = (await masterInfo(free)).reduce((s, m, i) => s + m.used - before[i].used, 0);
  } finally {
    await free.stop();
  }
  // Each node may hold 60% of it (plus what an empty node uses): no one node could hold it all.
  const c0 = await startLocalCluster({ masters: 1 });
  const empty = (await masterInfo(c0))[0].used;
  await c0.stop();
  const max = empty + Math.ceil(0.6 * size);
  const c = await startLocalCluster({ masters: 3, maxmemoryBytes: max });
  try {
    const [r0, r1] = await Promise.all([worker(clusterArgs(c, 0)).done, worker(clusterArgs(c, 1)).done]);
    assert.equal(r0.code, 0, r0.err);
    assert.equal(r1.code, 0, r1.err);
    const mem = await masterInfo(c);
    for (const m of mem) assert.ok(m.max === max && m.used <= max, `a node holds ${m.used} of its ${m.max} bytes`);
    const added = mem.reduce((s, m) => s + m.used - empty, 0);
    assert.ok(added > max, `the table took ${added} bytes of the cluster, more than one node's whole limit (${max})`);
    assert.ok(report(r0.out).auc > 0.6);
  } finally {
    await c.stop();
  }
});

for (const threads of [1, 2]) test(`a worker${threads > 1 ? " of two threads" : ""} killed with SIGKILL rejoins from its last synchronisation, and the run finishes`, { skip }, async () => {
  // With threads (the data-parallel trainer in each worker) the position holds each thread's place.
  const extra = ["--cluster-run", "kill", ...(threads > 1 ? ["--threads", String(threads), "--parallel"] : [])];
  const c = await startLocalCluster({ masters: 3 });
  try {
    const r0 = worker(clusterArgs(c, 0, extra));
    const first = worker(clusterArgs(c, 1, extra));
    // Wait for rank 1's first recorded position, then kill it.
    const cl = new Cluster([{ host: c.nodes[0].host, port: c.nodes[0].port }]);
    try {
      let pos: string | null = null;
      for (let i = 0; i < 600 && !pos; i++) {
        pos = await cl.hget("sctr:kill:1:pos:{m}", "1");
        if (!pos) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(pos, "rank 1 recorded a position");
      first.kill();
      const k = await first.done;
      assert.equal(k.code, null, "killed");
      const saved = JSON.parse((await cl.hget("sctr:kill:1:pos:{m}", "1"))!) as { rows: number; parts?: number[] };
      const at = saved.rows;
      if (threads > 1) assert.equal(saved.parts?.length, threads, "each thread's place is recorded");
      const again = await worker(clusterArgs(c, 1, extra)).done;
      assert.equal(again.code, 0, again.err);
      const a = await r0.done;
      assert.equal(a.code, 0, a.err);
      const rank1 = report(again.out);
      assert.equal(rank1.threads, threads);
      assert.equal(rank1.cluster.trainedRows, 30_000 - at, "the rejoined worker trains the rows after its recorded position");
      assert.ok(report(a.out).auc > 0.6);
    } finally {
      cl.disconnect();
    }
  } finally {
    await c.stop();
  }
});

for (const threads of [1, 2]) test(`a run${threads > 1 ? " of workers of two threads" : ""} checkpointed by rank 0 and killed whole (workers and store) resumes from the checkpoint in a new cluster, each worker from its position with its admission counts`, { skip }, async () => {
  // Each worker counts its features alone (no shared sightings): its admission counts are then
  // those of its rows only, so the resumed run's equal the uninterrupted run's exactly (with
  // threads too: they count in one set of shared counts). Resumed, rank 0 takes its threads from
  // the checkpoint's position.
  const twice = ["--epochs", "2", "--cluster-run", "ck", "--sightings-bytes", "0", ...(threads > 1 ? ["--threads", String(threads), "--parallel"] : [])];
  // The uninterrupted run: rank 1's admission counts at its end.
  const whole = await startLocalCluster({ masters: 3 });
  let admitted: number;
  try {
    const rs = await Promise.all([worker(clusterArgs(whole, 0, twice)).done, worker(clusterArgs(whole, 1, twice)).done]);
    for (const r of rs) assert.equal(r.code, 0, r.err);
    admitted = report(rs[1].out).admittedFeatures as number;
  } finally {
    await whole.stop();
  }
  const out = join(dir, `ck${threads}`);
  const first = await startLocalCluster({ masters: 3 });
  try {
    // Rank 1 starts first: it waits for rank 0 to set the run up.
    const r1 = worker(clusterArgs(first, 1, twice));
    const r0 = worker(clusterArgs(first, 0, [...twice, "--out", out, "--checkpoint-every", "8000"]));
    for (let i = 0; i < 3000 && !existsSync(join(out, "checkpoint.sparsectr-state")); i++) await new Promise((r) => setTimeout(r, 20));
    r0.kill();
    r1.kill();
    assert.equal((await r0.done).code, null, "rank 0 killed");
    assert.equal((await r1.done).code, null, "rank 1 killed");
  } finally {
    await first.stop();
  }
  const ckpt = readCheckpoint(out);
  const rec = ckpt.meta.cluster;
  assert.ok(rec && !ckpt.meta.finished, "a checkpoint of the unfinished cluster run");
  assert.equal(rec.workers, 2);
  const at = (JSON.parse(rec.positions[1]!) as { rows: number }).rows;
  assert.ok(at > 0 && at < 60_000, `rank 1 was at row ${at}`);
  assert.equal(ckpt.rankAdmissions.length, 2);
  assert.ok(ckpt.rankAdmissions[1].length > 0, "rank 1's admission counts are in the checkpoint");
  // Without --cluster, --resume says how to resume a cluster run.
  const bare = spawnSync(process.execPath, [CLI, "train", "--resume", out], { encoding: "utf8" });
  assert.notEqual(bare.status, 0);
  assert.match(bare.stderr, /the checkpoint is of cluster run "ck": resume it with --cluster/);
  const second = await startLocalCluster({ masters: 3 });
  try {
    const r1 = worker(clusterArgs(second, 1, twice));
    const r0 = worker(["--resume", out, "--cluster", second.url, "--json"]);
    const [a, b] = await Promise.all([r0.done, r1.done]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.match(a.err, /checkpoint \d+ restored \(generation 1\); start ranks 1 to 1 again/);
    const ra = report(a.out), rb = report(b.out);
    assert.equal(ra.resumed, true);
    assert.equal(rb.cluster.trainedRows, 60_000 - at, "rank 1 trains the rows after its checkpointed position");
    assert.equal(ra.cluster.trainedRows, 60_000 - ckpt.meta.position.rows, "rank 0 too");
    assert.equal(rb.admittedFeatures, admitted, "rank 1's admission counts: those of the uninterrupted run");
    assert.ok(ra.auc > 0.6, `AUC ${ra.auc}`);
    if (threads > 1) {
      assert.equal(ckpt.meta.position.parts?.length, threads, "the checkpoint holds each thread's place");
      assert.equal(ra.threads, threads, "resumed with as many threads");
    }
    assert.ok(existsSync(join(out, "model.sparsectr")));
  } finally {
    await second.stop();
  }
});

test("Ctrl-C on rank 0 pauses the whole run at a checkpoint; --resume continues it and nothing is trained twice or lost", { skip }, async () => {
  const args = ["--epochs", "2", "--cluster-run", "pause"];
  const out = join(dir, "pause");
  const c = await startLocalCluster({ masters: 3 });
  const cl = new Cluster([{ host: c.nodes[0].host, port: c.nodes[0].port }]);
  try {
    const r1 = worker(clusterArgs(c, 1, args));
    const r0 = spawn(process.execPath, [CLI, "train", ...clusterArgs(c, 0, [...args, "--out", out])], { stdio: ["ignore", "pipe", "pipe"] });
    let err0 = "";
    r0.stderr.on("data", (d: Buffer) => { err0 += d.toString(); });
    const exit0 = new Promise<number | null>((res) => r0.on("close", (code) => res(code)));
    // Once rank 0 has recorded a position (a merge is applied), Ctrl-C.
    for (let i = 0; i < 600 && !(await cl.hget("sctr:pause:1:pos:{m}", "0")); i++) await new Promise((r) => setTimeout(r, 50));
    r0.kill("SIGINT");
    const [code0, b] = await Promise.all([exit0, r1.done]);
    assert.equal(code0, 130, err0);
    assert.match(err0, /at a checkpoint of cluster run "pause" \(every worker stopped there\); continue it with sparsectr train --resume/);
    assert.equal(b.code, 130, b.err);
    assert.match(b.err, /rank 0 paused cluster run "pause" at a checkpoint/);
    const ckpt = readCheckpoint(out), rec = ckpt.meta.cluster!;
    const at = [0, 1].map((r) => (JSON.parse(rec.positions[r]!) as { rows: number }).rows);
    assert.ok(at[0] > 0 && at[0] < 60_000 && at[1] < 60_000, `positions ${at.join(", ")}`);
    // Resumed in the same cluster (a new generation): each worker trains exactly the rows after its position.
    const again1 = worker(clusterArgs(c, 1, args));
    const again0 = worker(["--resume", out, "--cluster", c.url, "--json"]);
    const [a, b2] = await Promise.all([again0.done, again1.done]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b2.code, 0, b2.err);
    const ra = report(a.out), rb = report(b2.out);
    assert.equal(ra.cluster.generation, 2);
    assert.equal(ra.cluster.trainedRows, 60_000 - at[0], "rank 0 trains the rows after its position");
    assert.equal(rb.cluster.trainedRows, 60_000 - at[1], "rank 1 too");
    assert.ok(ra.auc > 0.6, `AUC ${ra.auc}`);
  } finally {
    cl.disconnect();
    await c.stop();
  }
});

test("a master killed under load fails over to its replica and training goes on", { skip }, async () => {
  const c = await startLocalCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    const runs = [worker(clusterArgs(c, 0, ["--sync-every", "2048"])), worker(clusterArgs(c, 1, ["--sync-every", "2048"]))];
    await new Promise((r) => setTimeout(r, 2500));
    c.kill(c.nodes[1].port);
    const [a, b] = await Promise.all(runs.map((r) => r.done));
    assert.ok(a.code === 0 && b.code === 0, `exit codes ${a.code}, ${b.code}\nrank 0: ${a.err.slice(-2000)}\nrank 1: ${b.err.slice(-2000)}`);
    assert.ok(report(a.out).auc > 0.6);
    assert.equal(report(a.out).cluster.trainedRows + report(b.out).cluster.trainedRows, 60_000);
  } finally {
    await c.stop();
  }
});

test("validation rows: rank 0 evaluates them within the run at barriers of every worker and once on the run's model, calibrates and trains on them last; the workers train the rest", { skip }, async () => {
  const c = await startLocalCluster({ masters: 3 });
  try {
    // An evaluation every 13,500 rows of the run: rank 0 makes one every 6,750 of its 27,000 rows but none in its last 6,750.
    const args = (rank: number): string[] => clusterArgs(c, rank, ["--cluster-run", "val", "--refit", "on", ...(rank === 0 ? ["--eval-every", "13500", "--patience", "10"] : [])])
      .map((a, i, all) => (all[i - 1] === "--val-fraction" ? "0.1" : a));
    const [r0, r1] = await Promise.all([worker(args(0)).done, worker(args(1)).done]);
    assert.equal(r0.code, 0, r0.err);
    assert.equal(r1.code, 0, r1.err);
    const a = report(r0.out), b = report(r1.out);
    assert.equal(a.cluster.trainedRows + b.cluster.trainedRows, 54_000, `the workers train the rows before the validation rows: ${JSON.stringify(a.cluster)} ${JSON.stringify(b.cluster)}`);
    assert.equal(a.validationRows, 6_000);
    assert.ok(typeof a.validationAuc === "number" && a.validationAuc > 0.6, `validation AUC ${String(a.validationAuc)}`);
    const curve = a.curve as { rows: number; auc: number }[];
    assert.equal(curve.length, 4, `three evaluations within the run, one at the end: ${JSON.stringify(curve)}`);
    assert.equal(a.cluster.evaluations, 3);
    for (let k = 1; k < 4; k++) assert.ok(curve[k].rows > curve[k - 1].rows, "at the run's rows, every worker's");
    assert.equal(curve[3].rows, 54_000);
    assert.ok(curve[0].rows >= 6_750 && curve[2].rows < 54_000, `${curve.map((p) => p.rows).join(", ")}`);
    const best = curve.reduce((x, p) => (p.auc > x.auc ? p : x));
    assert.equal(a.bestRows, best.rows, "the best evaluation's state is the model's");
    assert.equal(a.refitRows, 6_000, "rank 0 trains the validation rows last");
    assert.notDeepEqual(a.calibration, { scale: 1, bias: 0 }, "calibrated on the validation rows");
    assert.ok(a.auc > 0.6);
    assert.equal(b.validationAuc, null, "rank 1 does not evaluate");
    assert.equal(b.refitRows, 0);
  } finally {
    await c.stop();
  }
});

test("a run paused by Ctrl-C on rank 0 after evaluations keeps them in its checkpoint (and the best state); --resume goes on with them", { skip }, async () => {
  const out = join(dir, "pause-val");
  const c = await startLocalCluster({ masters: 3 });
  const args = (rank: number, extra: string[] = []): string[] => clusterArgs(c, rank, ["--epochs", "2", "--cluster-run", "pausev", ...(rank === 0 ? ["--eval-every", "13500", "--patience", "10"] : []), ...extra])
    .map((a, i, all) => (all[i - 1] === "--val-fraction" ? "0.1" : a));
  const cl = new Cluster([{ host: c.nodes[0].host, port: c.nodes[0].port }]);
  try {
    const r1 = worker(args(1));
    const r0 = spawn(process.execPath, [CLI, "train", ...args(0, ["--out", out])], { stdio: ["ignore", "pipe", "pipe"] });
    let err0 = "";
    r0.stderr.on("data", (d: Buffer) => { err0 += d.toString(); });
    const exit0 = new Promise<number | null>((res) => r0.on("close", (code) => res(code)));
    // Once rank 0 has passed its first barrier (an evaluation), Ctrl-C.
    for (let i = 0; i < 1200 && Number(await cl.hget("sctr:pausev:1:ckpt:{m}", "written") ?? 0) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    r0.kill("SIGINT");
    const [code0, b] = await Promise.all([exit0, r1.done]);
    assert.equal(code0, 130, err0);
    assert.equal(b.code, 130, b.err);
    const ckpt = readCheckpoint(out), curve = ckpt.meta.validation!.curve;
    assert.ok(curve.length >= 1, "the checkpoint keeps the evaluations made");
    assert.ok(ckpt.meta.validation!.bestIsCurrent || ckpt.best !== undefined, "and the best state when it is not the checkpoint's");
    const again1 = worker(args(1));
    const again0 = worker(["--resume", out, "--cluster", c.url, "--json"]);
    const [a, b2] = await Promise.all([again0.done, again1.done]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b2.code, 0, b2.err);
    const ra = report(a.out), full = ra.curve as { rows: number; auc: number }[];
    assert.deepEqual(full.slice(0, curve.length).map((p) => p.rows), curve.map((p) => p.rows), "the resumed run's curve starts with the checkpoint's");
    assert.ok(full.length > curve.length, "and goes on");
    assert.equal(full[full.length - 1].rows, 108_000, "its last point: the run's last model");
  } finally {
    cl.disconnect();
    await c.stop();
  }
});

test("the cluster options are checked", () => {
  const run = (args: string[]): { code: number | null; err: string } => {
    const r = spawnSync(process.execPath, [CLI, "train", ...args], { encoding: "utf8" });
    return { code: r.status, err: r.stderr };
  };
  let r = run([...ARGS, "--rank", "1"]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /--rank only go(es)? with --cluster/);
  r = run([...ARGS, "--cluster", "redis://127.0.0.1:1", "--workers", "2", "--rank", "2"]);
  assert.match(r.err, /--rank 2: use an integer from 0 to 1/);
  r = run([...ARGS, "--cluster", "nohost", "--workers", "2"]);
  assert.match(r.err, /is not host:port/);
  r = run([...ARGS, "--cluster", "redis://127.0.0.1:1", "--workers", "2", "--rank", "1", "--out", join(dir, "x")]);
  assert.match(r.err, /only rank 0 of a cluster run writes the model/);
  // 60k rows: the default schedule shuffles passes over rows held in memory.
  r = run(["--train", data, "--cluster", "redis://127.0.0.1:1"]);
  assert.match(r.err, /does not shuffle rows in memory: give --shuffle off/);
});

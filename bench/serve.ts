/**
 * `npm run bench -- serve`: `sparsectr serve` on loopback under autocannon,
 * the load generator on the same machine. Trains two dcn models (the
 * command's defaults) on generated Criteo rows, starts the server as its own
 * process, without scoring threads and then with 2, and measures (a)
 * single-row requests at a fixed 2,000 requests/s: latency percentiles (goal
 * p99 <= 5 ms; without threads only, single rows never go to them); (b)
 * 1,000-row requests at full speed: rows scored per second (goal >= 200k);
 * (c) 1,000-row requests while the model file is replaced 20 times: failed
 * requests and resident memory. One JSON line per case and server; --quick
 * shortens every phase.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { writeFileAtomic } from "../src/io/atomic.js";

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface CannonResult { duration: number; "2xx": number; non2xx: number; errors: number; timeouts: number; latency: { p50: number; p99: number } }
interface CannonRequest { method: string; path: string; headers: Record<string, string>; body?: string }
interface CannonInstance extends PromiseLike<CannonResult> {
  on(event: "response", f: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (opts: {
  url: string; connections: number; duration: number; overallRate?: number; pipelining?: number;
  requests: { method: string; path: string; headers: Record<string, string>; setupRequest: (r: CannonRequest) => CannonRequest }[];
}) => CannonInstance;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const CLI = new URL("../src/cli/main.js", import.meta.url).pathname;

export async function benchServe(emit: (o: object) => void, quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-serve-"));
  let server: ChildProcess | undefined;
  try {
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 11 }));
    const train = join(dir, "train.txt"), rowsFile = join(dir, "rows.txt");
    await generateFiles(g, { format: "criteo", start: 0, rows: quick ? 10_000 : 50_000, out: train, truth: null });
    await generateFiles(g, { format: "criteo", start: 1_000_000, rows: 10_000, out: rowsFile, truth: null });
    const models = [1, 2].map((seed) => {
      const out = join(dir, `run${seed}`);
      const t = spawnSync(process.execPath, [CLI, "train", "--train", train, "--out", out, "--seed", String(seed), "--json"], { encoding: "utf8" });
      if (t.status !== 0) throw new Error(`train failed: ${t.stderr}`);
      return readFileSync(join(out, "model.sparsectr"));
    });
    const modelPath = join(dir, "model.sparsectr");
    writeFileAtomic(modelPath, models[0]);
    const lines = readFileSync(rowsFile, "utf8").replace(/\n$/, "").split("\n");
    const bodies = Array.from({ length: 10 }, (_, k) => lines.slice(k * 1000, k * 1000 + 1000).join("\n"));
    for (const threads of [0, 2]) {
      const { proc, port } = await startServer(modelPath, threads);
      server = proc;
      const url = `http://127.0.0.1:${port}`;
      // The machine is shared: each line carries its 1-minute load average, taken as the case starts.
      const common = (): object => ({ bench: "serve", model: "dcn", format: "criteo", modelBytes: models[0].length, threads, load1: round(loadavg()[0]) });

      // (a) single rows at a fixed 2,000 requests/s (after a short warm-up), scored on the HTTP
      // thread whatever the threads. autocannon's rate limit is a quota per second per
      // connection, sent back to back: 20 one-connection instances of 100 requests/s, started
      // 50 ms apart, spread the requests over each second.
      if (threads === 0) {
        const single = (duration: number, record: boolean): Promise<{ r: CannonResult; ms: number[] }> =>
          paced(url, 2000, 20, duration, (i) => lines[i % lines.length], record);
        await single(2, false);
        const head = common();
        const a = await single(quick ? 5 : 20, true);
        emit({
          ...head, case: "single-row", targetRps: 2000, connections: 20, seconds: round(a.r.duration),
          rps: Math.round(a.r["2xx"] / a.r.duration), p50Ms: pct(a.ms, 0.5), p99Ms: pct(a.ms, 0.99), p999Ms: pct(a.ms, 0.999), maxMs: pct(a.ms, 1),
          non2xx: a.r.non2xx, errors: a.r.errors, goalP99Ms: 5,
        });
      }

      // (b) 1,000-row requests, as fast as they are answered (after a short warm-up).
      await load(url, { connections: 4, duration: 2 }, (i) => bodies[i % bodies.length], false);
      const rows0 = await scrape(url), headB = common();
      const t0 = performance.now();
      const b = await load(url, { connections: 4, duration: quick ? 5 : 20 }, (i) => bodies[i % bodies.length], true);
      const rows1 = await scrape(url), wall = (performance.now() - t0) / 1000;
      emit({
        ...headB, case: "1000-row", connections: 4, seconds: round(b.r.duration),
        rowsPerSec: Math.round(b.r["2xx"] * 1000 / b.r.duration), serverRowsPerSec: Math.round((rows1.rows - rows0.rows) / wall),
        rps: Math.round(b.r["2xx"] / b.r.duration), p50Ms: pct(b.ms, 0.5), p99Ms: pct(b.ms, 0.99),
        non2xx: b.r.non2xx, errors: b.r.errors, goalRowsPerSec: 200_000,
      });

      // (c) the same load while the model file is replaced (atomically, by rename) 20 times.
      const swaps = quick ? 5 : 20, seconds = quick ? 5 : 12;
      const before = await scrape(url), headC = common();
      const c = load(url, { connections: 4, duration: seconds }, (i) => bodies[i % bodies.length], false);
      for (let k = 1; k <= swaps; k++) {
        await sleep((seconds * 1000 * 0.8) / swaps);
        writeFileAtomic(modelPath, models[k % 2]);
      }
      const cr = (await c).r;
      await sleep(500);
      const after = await scrape(url);
      emit({
        ...headC, case: "1000-row-reloads", connections: 4, seconds: round(cr.duration), replaced: swaps,
        reloaded: after.loaded - before.loaded, reloadFailed: after.failed - before.failed,
        requests: cr["2xx"] + cr.non2xx, non2xx: cr.non2xx, errors: cr.errors,
        rowsPerSec: Math.round(cr["2xx"] * 1000 / cr.duration), rssMbBefore: mb(before.rss), rssMbAfter: mb(after.rss),
      });
      // Back to the first model for the next server.
      writeFileAtomic(modelPath, models[0]);
      await stopServer(proc);
      server = undefined;
    }
  } finally {
    server?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs autocannon with POST /predict bodies body(i), i counting requests; keeps each response's time (ms) when asked. */
async function load(url: string, o: { connections: number; duration: number; overallRate?: number }, body: (i: number) => string, record: boolean): Promise<{ r: CannonResult; ms: number[] }> {
  let i = 0;
  const ms: number[] = [];
  const inst = autocannon({
    url, ...o,
    requests: [{ method: "POST", path: "/predict", headers: { "content-type": "text/plain" }, setupRequest: (r) => ({ ...r, body: body(i++) }) }],
  });
  if (record) inst.on("response", (_c, status, _b, t) => { if (status === 200) ms.push(t); });
  return { r: await inst, ms };
}

/**
 * `rate` requests/s from `instances` autocannon instances of one connection
 * each, started 1/instances s apart; their counts summed, their durations
 * averaged.
 */
async function paced(url: string, rate: number, instances: number, duration: number, body: (i: number) => string, record: boolean): Promise<{ r: CannonResult; ms: number[] }> {
  let i = 0;
  const runs = await Promise.all(Array.from({ length: instances }, async (_, k) => {
    await sleep((1000 / instances) * k);
    return load(url, { connections: 1, duration, overallRate: rate / instances }, () => body(i++), record);
  }));
  const sum = (f: (r: CannonResult) => number): number => runs.reduce((s, x) => s + f(x.r), 0);
  // The instances overlap for `duration` s each: the rate is the sum of theirs.
  return {
    r: { duration: sum((r) => r.duration) / instances, "2xx": sum((r) => r["2xx"]), non2xx: sum((r) => r.non2xx), errors: sum((r) => r.errors), timeouts: sum((r) => r.timeouts), latency: { p50: NaN, p99: NaN } },
    ms: runs.flatMap((x) => x.ms),
  };
}

/** Rows scored, reloads and resident memory from /metrics. */
async function scrape(url: string): Promise<{ rows: number; loaded: number; failed: number; rss: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    rows: get("sparsectr_serve_rows_scored_total"),
    loaded: get('sparsectr_serve_model_reloads_total{result="loaded"}'),
    failed: get('sparsectr_serve_model_reloads_total{result="failed"}'),
    rss: get("process_resident_memory_bytes"),
  };
}

async function startServer(model: string, threads: number): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [CLI, "serve", "--model", model, "--port", "0", "--reload-debounce-ms", "20", "--threads", String(threads)], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /:(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { proc, port };
}

async function stopServer(proc: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  await exited;
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** The q-quantile of response times (ms, 3 decimals). */
function pct(ms: number[], q: number): number {
  if (ms.length === 0) return NaN;
  const s = Float64Array.from(ms).sort();
  return Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] * 1000) / 1000;
}

const mb = (b: number): number => Math.round(b / 1e5) / 10;

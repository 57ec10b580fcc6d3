// `npm run bench -- threads`: the data-parallel trainer with N = 1, 2, 4, 8
// workers (default dense updates, auto; sequential, sync and async with 2, async with 4) against the deterministic
// trainer (1 and 2 threads) and PyTorch's training loop in the same run, per
// model: rows/s (file on disk to trained model), test AUC, feature rate and
// peak RSS, each configuration in a fresh process (threads-run.ts); and the
// CLI as a user runs it (default flags, every core); and two processes
// training at once, a worker per core each (a machine shared).
import { execFile, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { arch, availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { DEFAULT_SPARSITY } from "../src/train/schedule.js";
import { DEFAULT_DENSE_UPDATES, denseSlices } from "../src/train/parallel-protocol.js";
import { openData } from "../src/data/index.js";
import { relaxedSimdAvailable } from "../src/kernels/layers/module.js";
import { buildModel } from "../src/train/model.js";
import type { Hyperparams } from "../src/optim/hyper.js";
import type { ThreadsCase, ThreadsResult } from "./threads-run.js";

const RUNNER = fileURLToPath(new URL("./threads-run.js", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** The PyTorch peer and the Python that has torch (SPARSECTR_BENCH_TORCH_PEER, SPARSECTR_BENCH_PYTHON on a machine laid out otherwise). */
const TORCH_PEER = process.env.SPARSECTR_BENCH_TORCH_PEER ?? fileURLToPath(new URL("../../../shared/peers/torch_dcn.py", import.meta.url));
const PYTHON = process.env.SPARSECTR_BENCH_PYTHON ?? "/usr/bin/python3";
const BATCH = 512;

/** The commit (and whether the working tree differs from it), read without touching the index. */
export function commitOf(): { commit: string | null; dirty: boolean | null } {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" });
  // A copy of the tree without its repository (a lent machine): the commit it was built from, if given.
  if (head.status !== 0) return { commit: process.env.SPARSECTR_BENCH_COMMIT ?? null, dirty: null };
  const diff = spawnSync("git", ["diff-index", "--quiet", "HEAD", "--"], { cwd: REPO, encoding: "utf8" });
  return { commit: head.stdout.trim(), dirty: diff.status === null ? null : diff.status !== 0 };
}

/** The machine, in a few words and figures. */
export function machine(): { cpu: string; cores: number; logical_cpus: number; memory_gib: number; os: string } {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? "unknown", cores: availableParallelism(), logical_cpus: c.length,
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1), os: `${process.platform} ${release()} ${arch()}`,
  };
}

/** The end of a child's output, for an error line. */
const tail = (s: string | undefined, n = 600): string => (s ?? "").trim().slice(-n);

/** One configuration in a fresh process; a failure becomes `{ error }`. */
export function runChild(c: ThreadsCase, timeoutMs: number): ChildRun {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [RUNNER, JSON.stringify(c)], { encoding: "utf8", maxBuffer: 1 << 26, timeout: timeoutMs, killSignal: "SIGKILL" });
  return childRun(r.stdout, r.stderr, r.status, r.signal, r.error, t0, timeoutMs);
}

type ChildRun = { result?: ThreadsResult; error?: string; stderr?: string; process_seconds: number };

/** Configurations in fresh processes at the same time (processes sharing the cores), each as runChild gives it. */
function runChildrenAtOnce(cases: ThreadsCase[], timeoutMs: number): Promise<ChildRun[]> {
  return Promise.all(cases.map((c) => new Promise<ChildRun>((resolve) => {
    const t0 = process.hrtime.bigint();
    execFile(process.execPath, [RUNNER, JSON.stringify(c)], { encoding: "utf8", maxBuffer: 1 << 26, timeout: timeoutMs, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      // A non-zero exit is an error here too; childRun says why from the output.
      const status = error ? (typeof error.code === "number" ? error.code : null) : 0, signal = error?.signal ?? null;
      resolve(childRun(stdout, stderr, status, signal, error && status === null && signal === null ? error : undefined, t0, timeoutMs));
    });
  })));
}

/** A child's JSON line (the last of its stdout), or why there is none. */
function childRun(stdout: string | undefined, stderr: string | undefined, status: number | null, signal: NodeJS.Signals | null, error: Error | undefined, t0: bigint, timeoutMs: number): ChildRun {
  const process_seconds = +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2);
  const last = stdout?.trim().split("\n").pop() ?? "";
  let parsed: (ThreadsResult & { error?: undefined }) | { error: string } | undefined;
  try {
    parsed = last ? JSON.parse(last) : undefined;
  } catch {
    parsed = undefined;
  }
  if (error) return { error: `${error.message}${signal ? ` (${signal}, limit ${timeoutMs / 1000} s)` : ""}`, stderr: tail(stderr), process_seconds };
  if (status !== 0 || parsed === undefined || parsed.error !== undefined) {
    const why = parsed?.error ?? (signal ? `killed by ${signal}` : `exit code ${status}`);
    return { error: why, stderr: tail(stderr) || undefined, process_seconds };
  }
  return { result: parsed, process_seconds };
}

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/**
 * `sparsectr train` as a user runs it, default flags plus `args`, in a fresh
 * process: its JSON report (the last line of stdout) and the whole
 * command's wall time (count pass, training with its validation,
 * calibration, test evaluation and outputs), or why it failed.
 */
function runCli(args: string[], timeoutMs: number): { report?: Record<string, unknown>; error?: string; wall_seconds: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, "train", ...args, "--json"], { encoding: "utf8", maxBuffer: 1 << 26, timeout: timeoutMs, killSignal: "SIGKILL" });
  const wall_seconds = +(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2);
  if (r.error || r.status !== 0) return { error: r.error?.message ?? (tail(r.stderr, 400) || `exit code ${r.status}`), wall_seconds };
  try {
    return { report: JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as Record<string, unknown>, wall_seconds };
  } catch {
    return { error: `no JSON report in its output: ${tail(r.stdout, 200)}`, wall_seconds };
  }
}

/** PyTorch's training loop alone (ids in memory, no parsing): samples/s, or why not. */
function torchLoop(model: string, threads: number, steps: number): { rows_per_sec?: number; version?: string; error?: string; distinct_rows_per_batch?: number } {
  if (!existsSync(TORCH_PEER)) return { error: `${TORCH_PEER} not present` };
  const r = spawnSync(PYTHON, [TORCH_PEER, "--model", model, "--threads", String(threads), "--steps", String(steps), "--batch", String(BATCH)], {
    encoding: "utf8", maxBuffer: 1 << 24, timeout: 600_000, killSignal: "SIGKILL",
  });
  const m = /torch (\S+) .*samples\/s=(\d+)/.exec(r.stdout ?? "");
  if (r.error || r.status !== 0 || !m) return { error: r.error?.message ?? (tail(r.stderr, 400) || `exit code ${r.status}, no samples/s in its output`) };
  const d = /distinct rows per batch: (\d+)/.exec(r.stdout);
  return { rows_per_sec: Number(m[2]), version: m[1], distinct_rows_per_batch: d ? Number(d[1]) : undefined };
}

/**
 * The dense step of a model (every dense parameter, the optimizer's step of
 * the model built for `file`), in ms: what one worker takes per batch of a
 * round, and what each worker takes of it with the step spread over
 * `workers` workers (its largest share of denseSlices).
 */
async function denseStep(model: ThreadsCase["model"], file: string, featindex: string | undefined, hyper: Hyperparams, workers: number): Promise<{ floats: number; ms: number; largest_share_ms: number }> {
  const f = await openData(file, { batchSize: BATCH, featindex });
  const m = buildModel(f.fields.length, { model, optimizer: "group-adam", hyper, seed: 1 });
  const grads = m.params.map((p) => Float32Array.from(p.value, (_, i) => Math.sin(i) * 1e-3));
  const time = (step: () => void, reps: number): number => {
    for (let k = 0; k < 20; k++) step();
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < reps; k++) step();
    return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
  };
  const ms = time(() => m.dense.forEach((d, i) => d.step(grads[i])), 200);
  const slices = denseSlices(m.dense, workers);
  const shares = slices.map((mine) => time(() => m.dense.forEach((d, i) => d.step(grads[i], {}, mine[i])), 200));
  return { floats: m.params.reduce((a, p) => a + p.value.length, 0), ms: +ms.toFixed(4), largest_share_ms: +Math.max(...shares).toFixed(4) };
}

/**
 * `npm run bench -- threads [--quick]`: how training scales with threads.
 * Per model in its paper shape (dcn: generated Criteo rows, mlp: Avazu,
 * opnn: iPinYou; 1M / 1M / 300k rows, --quick 100k / 100k / 30k),
 * group-adam with the CLI's default group lasso (l21 = sparsity 0.25 /
 * batch 512), batch 512: the data-parallel trainer (trainParallel) with
 * N = 1, 2, 4, 8 worker threads, and the deterministic trainer as the CLI
 * runs it (threads 2: prefetched reading, two-thread layer kernels;
 * threads 1: all on one thread). Each configuration runs in a fresh process
 * (bench/threads-run.ts): rows/s around the training call, wall time from
 * file on disk to trained model, test AUC on held-out generated rows,
 * feature rate, peak resident set, CPU time, and the 1-minute load average
 * as it started (the machine may be shared). PyTorch's training loop alone
 * (../shared/peers/torch_dcn.py on ids in memory, one thread and as many as
 * cores) runs before and after each model's configurations; a last line per
 * model gives the best configuration's rows/s over PyTorch's (the mean of
 * its two runs at its best thread count). The Criteo rows also train from
 * a gzip copy (input "gzip": two workers, as many as cores, and the
 * deterministic trainer): a gzip file cannot be entered at an offset, so the
 * counting pass before the timed training call (threads-run.ts) copies it
 * inflated to the OS temporary folder and the workers enter their parts in
 * the copy; input "gzip-stream" (two workers, as many as cores) is the same
 * without the copy: each worker inflates the stream from its start and
 * skips the rows before its part without parsing them. Two workers (auto,
 * sequential and async) and the
 * deterministic trainer also run with fused multiply-adds (--fma) where the
 * runtime has relaxed SIMD. A "cli" line per model runs `sparsectr train`
 * as a user does, default flags plus --threads with every core: the
 * report's rows/s (its training, validation and refit) and the whole
 * command's wall time; the ratio line gives its rows/s over PyTorch's
 * too. On 1 or 2 cores, where the CLI takes the deterministic trainer by
 * default, a second line adds --parallel. A configuration that fails gives
 * a line with its error. A "dense-step" line per model gives the time of
 * its dense step, whole and the largest worker's share with the step
 * spread over as many workers as cores: with the sequential dense updates
 * one worker alone would take N whole steps a round while the others wait.
 * A "shared-machine" line (dcn) runs two processes at once, a split worker
 * per core each, and gives their rows/s together beside one process alone
 * (more workers than cores, which no process sees: their barrier waits stop
 * spinning, train/barrier.ts). SPARSECTR_BENCH_MODELS=dcn,mlp picks models.
 */
export async function benchThreads(emit: (o: object) => void, quick: boolean): Promise<void> {
  const cores = availableParallelism();
  const info = { ...commitOf(), date: new Date().toISOString().slice(0, 10), machine: machine() };
  const only = process.env.SPARSECTR_BENCH_MODELS?.split(",");
  const hyper = { l21: DEFAULT_SPARSITY / BATCH };
  const torchSteps = quick ? 100 : 400;
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-threads-"));
  try {
    const models = [
      ["dcn", "criteo", "criteo", quick ? 100_000 : 1_000_000],
      ["mlp", "avazu", "avazu", quick ? 100_000 : 1_000_000],
      ["opnn", "ipinyou", "libsvm", quick ? 30_000 : 300_000],
    ] as const;
    for (const [model, preset, format, rows] of models) {
      if (only && !only.includes(model)) continue;
      const testRows = quick ? 20_000 : 100_000;
      const base = { bench: "threads", model, preset, ...info };
      const trainPath = join(dir, `${preset}-train`), testPath = join(dir, `${preset}-test`);
      const featindex = format === "libsvm" ? `${trainPath}.fi` : undefined;
      try {
        const g = createGenerator(synthConfig({ preset, seed: 1, scale: 0.05 }));
        await generateFiles(g, { format, start: 0, rows, out: trainPath, truth: null, featindex: featindex ?? null });
        await generateFiles(g, { format, start: rows, rows: testRows, out: testPath, truth: null, featindex: null });
      } catch (e) {
        emit({ ...base, kind: "data", error: `generating the data: ${(e as Error).message}` });
        continue;
      }

      try {
        const step = await denseStep(model, trainPath, featindex, hyper, cores);
        emit({
          ...base, kind: "dense-step", workers: cores, dense_floats: step.floats, step_ms: step.ms, largest_share_ms: step.largest_share_ms,
          serial_ms_per_round_if_one_worker_stepped: +(cores * step.ms).toFixed(3), spread_ms_per_round: +(cores * step.largest_share_ms).toFixed(3),
          note: "sequential dense updates take one step per worker's batch each round: spread over the workers (denseSlices), each takes its rows of every step",
        });
      } catch (e) {
        emit({ ...base, kind: "dense-step", error: (e as Error).message });
      }

      // PyTorch on one thread and on every core, before and after this model's configurations.
      const torchThreads = [...new Set([1, cores])];
      const torch = new Map<number, number[]>(torchThreads.map((t) => [t, []]));
      const runTorch = (when: string): void => {
        for (const threads of torchThreads) {
          const load1 = +loadavg()[0].toFixed(2);
          const t = torchLoop(model, threads, torchSteps);
          if (t.rows_per_sec !== undefined) torch.get(threads)!.push(t.rows_per_sec);
          emit({ ...base, kind: "pytorch-loop", when, threads, steps: torchSteps, batch: BATCH, load1, ...t });
        }
      };
      runTorch("before");

      type Config = [ThreadsCase["trainer"], number, ThreadsCase["dense"]?, ("gzip" | "gzip-stream")?, "fma"?];
      const configs: Config[] = [
        ["parallel", 1], ["parallel", 2], ["parallel", 4], ["parallel", 8], ["parallel", 2, "sequential"], ["parallel", 2, "sync"], ["parallel", 2, "async"], ["parallel", 4, "async"], ["deterministic", 2], ["deterministic", 1],
      ];
      // With fused multiply-adds (--fma), where the runtime has them.
      if (relaxedSimdAvailable()) configs.push(["parallel", 2, undefined, undefined, "fma"], ["parallel", 2, "sequential", undefined, "fma"], ["parallel", 2, "async", undefined, "fma"], ["deterministic", 2, undefined, undefined, "fma"]);
      // Every core (the CLI's default --threads), where there are more than 8.
      // (auto takes split there on these rows; sequential is named beside it, with its fewer, larger rounds.)
      if (cores > 8) configs.push(["parallel", cores], ["parallel", cores, "sequential"], ["parallel", cores, "async"]);
      // The Criteo rows gzipped too: copied inflated for the workers, or inflated by each worker from the stream's start.
      const gzPath = `${trainPath}.gz`;
      if (preset === "criteo") {
        try {
          await pipeline(createReadStream(trainPath), createGzip({ level: 6 }), createWriteStream(gzPath));
          // Two workers, and as many as cores where that is another count.
          for (const input of ["gzip", "gzip-stream"] as const) for (const n of cores === 2 ? [2] : [2, cores]) configs.push(["parallel", n, undefined, input]);
          configs.push(["deterministic", 2, undefined, "gzip"]);
        } catch (e) {
          emit({ ...base, kind: "data", error: `gzipping the data: ${(e as Error).message}` });
        }
      }
      const measured: { trainer: string; threads: number; dense?: string; fma: boolean; rows_per_sec: number; oversubscribed: boolean }[] = [];
      for (const [trainer, threads, dense, gzip, fma] of configs) {
        const c: ThreadsCase = { model, optimizer: "group-adam", hyper, train: gzip ? gzPath : trainPath, test: testPath, featindex, rows, trainer, threads, dense, fma: fma === "fma", inflate: gzip !== "gzip-stream" };
        // A run is allowed several times what it should take (opnn ~20k rows/s at worst), at least 5 minutes.
        const load1 = +loadavg()[0].toFixed(2);
        const r = runChild(c, Math.max(300_000, (rows / 2_000) * 1000));
        const oversubscribed = threads > cores;
        const head = {
          ...base, kind: "sparsectr", trainer, threads, ...(trainer === "parallel" ? { dense: dense ?? DEFAULT_DENSE_UPDATES } : {}), input: gzip ?? "plain", fma: fma === "fma", cores, oversubscribed,
          ...(oversubscribed ? { note: `${threads} worker threads on ${cores} cores: they take turns on the cores, so this measures contention, not scaling` } : {}),
          optimizer: "group-adam", l21: hyper.l21, batch: BATCH, load1,
        };
        if (!r.result) {
          emit({ ...head, error: r.error, stderr: r.stderr, process_seconds: r.process_seconds });
          continue;
        }
        const x = r.result, rowsPerSec = Math.round(x.rows / x.train_seconds);
        if (!gzip) measured.push({ trainer, threads, dense: x.dense_updates, fma: fma === "fma", rows_per_sec: rowsPerSec, oversubscribed });
        emit({
          ...head, ...(x.dense_updates ? { dense: x.dense_updates, dense_asked: dense ?? DEFAULT_DENSE_UPDATES } : {}), rows: x.rows, seconds: +x.train_seconds.toFixed(2), rows_per_sec: rowsPerSec,
          count_seconds: +x.count_seconds.toFixed(2), e2e_seconds: +x.e2e_seconds.toFixed(2), e2e_rows_per_sec: Math.round(x.rows / x.e2e_seconds), process_seconds: r.process_seconds,
          auc: +x.auc.toFixed(5), logloss: +x.logloss.toFixed(5), test_rows: x.test_rows,
          feature_rate: +x.feature_rate.toFixed(5), live_features: x.live_features, features: x.features,
          peak_rss_mib: +(x.max_rss_kib / 1024).toFixed(1), cpu_seconds: +x.cpu_seconds.toFixed(2),
        });
      }

      // Two processes at once on the machine (as cluster processes or a neighbour's job share it), each
      // with a worker per core, split: their waits outlast a spin, so the workers stop spinning (train/barrier.ts).
      if (preset === "criteo") {
        const c: ThreadsCase = { model, optimizer: "group-adam", hyper, train: trainPath, test: testPath, rows, trainer: "parallel", threads: cores, dense: "split", fma: false };
        const runs = await runChildrenAtOnce([c, c], 2 * Math.max(300_000, (rows / 2_000) * 1000));
        const alone = measured.find((x) => x.trainer === "parallel" && x.threads === cores && x.dense === "split" && x.fma === c.fma);
        const each = runs.map((r) => (r.result ? Math.round(r.result.rows / r.result.train_seconds) : null));
        emit({
          ...base, kind: "shared-machine", processes: 2, workers_each: cores, dense: "split", fma: c.fma, cores,
          note: `two processes at once, ${cores} workers each on ${cores} cores: their rows/s together against one process alone`,
          rows_per_sec_each: each, rows_per_sec_together: each.every((x) => x !== null) ? each.reduce((a, b) => a! + b!, 0) : null, alone_rows_per_sec: alone?.rows_per_sec ?? null,
          auc_each: runs.map((r) => (r.result ? +r.result.auc.toFixed(5) : null)),
          ...(runs.some((r) => r.error) ? { errors: runs.map((r) => r.error ?? null) } : {}),
        });
      }

      // The CLI with its default flags and every core, as the goals state it; on 1 or 2 cores, where
      // the CLI takes the deterministic trainer, also with --parallel (its data-parallel path).
      let cliRowsPerSec: number | undefined;
      for (const extra of cores > 2 ? [[]] : [[], ["--parallel"]]) {
        const cliOut = join(dir, `${preset}-cli`);
        const cliArgs = ["--train", trainPath, "--test", testPath, "--model", model, "--threads", String(cores), ...extra, "--out", cliOut, ...(featindex ? ["--featindex", featindex] : [])];
        const cli = runCli(cliArgs, Math.max(300_000, (rows / 2_000) * 1000));
        rmSync(cliOut, { recursive: true, force: true });
        const rep = cli.report, rowsPerSec = typeof rep?.rowsPerSec === "number" ? rep.rowsPerSec : undefined;
        if (extra.length === 0) cliRowsPerSec = rowsPerSec;
        emit({
          ...base, kind: "cli", args: `train --threads ${cores}${extra.map((a) => ` ${a}`).join("")}${featindex ? " --featindex" : ""} (default flags otherwise)`, cores, wall_seconds: cli.wall_seconds,
          ...(rep ? {
            trainer: rep.trainer, threads: rep.threads, dense: rep.denseUpdates ?? null, fma: rep.fma, rows: rep.rows, refit_rows: rep.refitRows, seconds: rep.seconds, rows_per_sec: rowsPerSec,
            wall_rows_per_sec: Math.round((rep.rows as number) / cli.wall_seconds), validation_auc: rep.validationAuc, best_rows: rep.bestRows, early_stopped: rep.earlyStopped,
            auc: rep.auc, logloss: rep.logloss, test_rows: rep.testRows, test_threads: rep.testThreads, feature_rate: rep.featureRate,
          } : { error: cli.error }),
        });
      }

      runTorch("after");

      const best = measured.reduce<(typeof measured)[number] | undefined>((b, x) => (b === undefined || x.rows_per_sec > b.rows_per_sec ? x : b), undefined);
      // PyTorch's figure: the mean of its before and after runs, at its best thread count.
      const means = [...torch].filter(([, v]) => v.length).map(([threads, v]) => ({ threads, rows_per_sec: Math.round(v.reduce((a, b) => a + b, 0) / v.length), runs: v }));
      const torchBest = means.reduce<(typeof means)[number] | undefined>((b, x) => (b === undefined || x.rows_per_sec > b.rows_per_sec ? x : b), undefined);
      emit({
        ...base, kind: "ratio", what: "best sparsectr configuration (rows/s around the training call, file on disk to trained model) / PyTorch's training loop alone (ids in memory; mean of its runs before and after, at its best thread count)",
        best: best ? { trainer: best.trainer, threads: best.threads, dense: best.dense, fma: best.fma, oversubscribed: best.oversubscribed } : null,
        sparsectr_rows_per_sec: best?.rows_per_sec ?? null,
        pytorch_rows_per_sec: torchBest?.rows_per_sec ?? null, pytorch_threads: torchBest?.threads ?? null, pytorch_by_threads: means,
        ratio: best && torchBest ? +(best.rows_per_sec / torchBest.rows_per_sec).toFixed(3) : null,
        cli_rows_per_sec: cliRowsPerSec ?? null, cli_ratio: cliRowsPerSec !== undefined && torchBest ? +(cliRowsPerSec / torchBest.rows_per_sec).toFixed(3) : null,
        ...(best && torchBest ? {} : { error: best ? "no PyTorch figure" : "no sparsectr configuration finished" }),
      });
      rmSync(trainPath, { force: true });
      rmSync(gzPath, { force: true });
      rmSync(testPath, { force: true });
      if (featindex) rmSync(featindex, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

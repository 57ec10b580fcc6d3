// `npm run bench -- cluster`: training with the embedding tables in a Redis
// Cluster (src/cluster). On generated Criteo-shaped rows (1M, --quick 200k;
// dcn, group-adam, one pass in file order), for three seeds (--quick one):
// the single-process run (`sparsectr train --deterministic`), then W = 2
// workers (`sparsectr train --cluster ... --rank R`, each its own process)
// against a fresh local cluster of 3 masters, for each synchronisation
// period (env SPARSECTR_BENCH_SYNC, default the trainer's; env
// SPARSECTR_BENCH_ARGS adds options to every run,
// SPARSECTR_BENCH_CLUSTER_ARGS to the workers' only, e.g. "--threads 2
// --parallel" for workers that train with threads). Per run: test
// AUC and live features against the single process; the store's CPU time
// per trained sample (the masters' user + system CPU over the run, less
// their idle rate measured just before), also without rank 0's gather of
// the whole model at the end (a cost per run, printed per row it takes:
// the training phase's figure is what a store core spends per sample in a
// run of any length), and its command time (INFO commandstats); bytes each way per sample; rows pushed per sample;
// compare-and-set conflicts; each master's memory. The goals: store CPU
// <= 2 us per sample; AUC within 0.002 and live features within 10% (means
// of the seeds). First, the store's cost of one row's merge done on the
// server in Lua and done the way src/cluster does it (./cluster-ops.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { startLocalCluster, type LocalCluster } from "../src/cluster/local-redis.js";
import { DEFAULT_SYNC_ROWS } from "../src/cluster/train.js";
import { commitOf, machine } from "./threads.js";
import { benchClusterOps } from "./cluster-ops.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");
const WORKERS = 2, MASTERS = 3;

interface Report {
  threads: number;
  auc: number; liveFeatures: number; features: number; featureRate: number; rows: number; seconds: number; rowsPerSec: number;
  tableRows: number;
  cluster?: { rowsPushed: number; bytesSent: number; bytesReceived: number; syncs: number; seconds: number; conflicts: number; calls: number; gatherStoreCpuSeconds?: number; gatherSeconds: number; sightingsFalsePositiveRate?: number };
}

/** Runs the CLI; resolves to its last JSON line. */
function cli(args: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, "train", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    p.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) reject(new Error(`sparsectr train exited with ${code}: ${err.trim().slice(-800)}`));
      else resolve(JSON.parse(last) as Report);
    });
  });
}

/** The masters' CPU seconds and command microseconds, summed, and each one's memory. */
async function storeUse(c: LocalCluster): Promise<{ cpu: number; usec: number; memory: number[] }> {
  const use = await c.masterUse();
  return { cpu: use.reduce((s, u) => s + u.cpuSeconds, 0), usec: use.reduce((s, u) => s + u.commandUsec, 0), memory: use.map((u) => u.usedMemory) };
}

export async function benchCluster(emit: (o: object) => void, quick: boolean): Promise<void> {
  const info = { bench: "cluster", ...commitOf(), date: new Date().toISOString().slice(0, 10), machine: machine(), workers: WORKERS, masters: MASTERS };
  const rows = quick ? 200_000 : 1_000_000, testRows = quick ? 20_000 : 100_000;
  const seeds = quick ? [1] : [1, 2, 3];
  const periods = (process.env.SPARSECTR_BENCH_SYNC ?? String(DEFAULT_SYNC_ROWS)).split(",").map(Number);
  await benchClusterOps(emit, info);
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-cluster-"));
  try {
    const train = join(dir, "train"), test = join(dir, "test");
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 1 }));
    await generateFiles(g, { format: "criteo", start: 0, rows, out: train, truth: null });
    await generateFiles(g, { format: "criteo", start: rows, rows: testRows, out: test, truth: null });
    const extra = process.env.SPARSECTR_BENCH_ARGS?.split(" ").filter((a) => a) ?? [];
    const workerExtra = process.env.SPARSECTR_BENCH_CLUSTER_ARGS?.split(" ").filter((a) => a) ?? [];
    const common = ["--train", train, "--test", test, "--model", "dcn", "--optimizer", "group-adam", "--val-fraction", "0", "--epochs", "1", "--shuffle", "off", "--threads", "1", "--json", ...extra];
    const sums = new Map<number, { auc: number[]; live: number[]; us: number[]; usTraining: number[] }>();
    for (const seed of seeds) {
      const single = await cli([...common, "--seed", String(seed), "--deterministic"]);
      emit({ ...info, kind: "single", seed, rows, auc: +single.auc.toFixed(5), live_features: single.liveFeatures, features: single.features, rows_per_sec: single.rowsPerSec });
      for (const k of periods) {
        const c = await startLocalCluster({ masters: MASTERS });
        try {
          const idle0 = await storeUse(c);
          await new Promise((r) => setTimeout(r, 2000));
          const idle1 = await storeUse(c);
          const idleRate = (idle1.cpu - idle0.cpu) / 2;
          const t0 = process.hrtime.bigint();
          const reports = await Promise.all(Array.from({ length: WORKERS }, (_, rank) => cli([
            ...common, "--seed", String(seed), "--cluster", c.url, "--workers", String(WORKERS), "--rank", String(rank), "--sync-every", String(k), "--cluster-run", `bench${seed}`, ...workerExtra,
          ])));
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          const use = await storeUse(c);
          const trained = reports.reduce((s, r) => s + r.rows, 0);
          const cpu = use.cpu - idle1.cpu - idleRate * seconds;
          const cl = reports.map((r) => r.cluster!);
          // Rank 0's gather of the whole model at the end, a cost per run (per row it takes), apart.
          const gather = (cl[0].gatherStoreCpuSeconds ?? 0) - idleRate * cl[0].gatherSeconds;
          const r0 = reports[0];
          const row = {
            ...info, kind: "run", seed, rows, sync_every: k, worker_args: workerExtra.join(" "), worker_threads: reports[0].threads, auc: +r0.auc.toFixed(5), auc_vs_single: +(r0.auc - single.auc).toFixed(5),
            live_features: r0.liveFeatures, live_vs_single: +(r0.liveFeatures / single.liveFeatures - 1).toFixed(4),
            store_cpu_us_per_sample: +(cpu / trained * 1e6).toFixed(3), store_cpu_us_per_sample_training: +((cpu - gather) / trained * 1e6).toFixed(3),
            gather_store_cpu_us_per_row: +(gather / reports[0].tableRows * 1e6).toFixed(3), store_command_us_per_sample: +((use.usec - idle1.usec) / trained).toFixed(3),
            store_idle_cpu_share: +(idleRate * 100).toFixed(2),
            bytes_sent_per_sample: +(cl.reduce((s, x) => s + x.bytesSent, 0) / trained).toFixed(1),
            bytes_received_per_sample: +(cl.reduce((s, x) => s + x.bytesReceived, 0) / trained).toFixed(1),
            rows_pushed_per_sample: +(cl.reduce((s, x) => s + x.rowsPushed, 0) / trained).toFixed(3),
            conflicts: cl.reduce((s, x) => s + x.conflicts, 0), syncs: cl.map((x) => x.syncs),
            sightings_false_positive_rate: cl[0].sightingsFalsePositiveRate ?? null, table_rows: reports[0].tableRows, single_table_rows: single.tableRows,
            worker_rows_per_sec: reports.map((r) => r.rowsPerSec), sync_seconds: cl.map((x) => +x.seconds.toFixed(2)), seconds: +seconds.toFixed(1),
            master_used_memory_mib: use.memory.map((m) => +(m / 2 ** 20).toFixed(1)),
            oversubscribed: `${WORKERS} workers and ${MASTERS} masters on ${machine().cores} cores`,
          };
          emit(row);
          const s = sums.get(k) ?? { auc: [], live: [], us: [], usTraining: [] };
          s.usTraining.push(row.store_cpu_us_per_sample_training);
          s.auc.push(row.auc_vs_single);
          s.live.push(row.live_vs_single);
          s.us.push(row.store_cpu_us_per_sample);
          sums.set(k, s);
        } finally {
          await c.stop();
        }
      }
    }
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    for (const [k, s] of sums) {
      emit({
        ...info, kind: "mean", rows, sync_every: k, worker_args: workerExtra.join(" "), seeds: s.auc.length, auc_vs_single: +mean(s.auc).toFixed(5), live_vs_single: +mean(s.live).toFixed(4),
        store_cpu_us_per_sample: +mean(s.us).toFixed(3), store_cpu_us_per_sample_training: +mean(s.usTraining).toFixed(3), goals: { store_us: "<= 2", auc: "within 0.002", live_features: "within 10%" },
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

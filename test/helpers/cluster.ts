// Shared set-up of the cluster tests: whether redis-server is there, a
// generated Criteo file in a temporary folder, and a model pulled from a
// run's store alone.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel, type CtrModel, type TrainSettings } from "../../src/train/model.js";
import { redisServerAvailable } from "../../src/cluster/local-redis.js";
import { ClusterStore } from "../../src/cluster/store.js";
import { ClusterSync } from "../../src/cluster/sync.js";

/** The skip reason of a test that needs a local Redis Cluster. */
export const clusterSkip = redisServerAvailable() ? false : "redis-server is not installed (CI installs it: see .ci/run)";

/** A file of `rows` generated Criteo rows (scale 0.05) in a temporary folder removed after the file's tests. */
export async function criteoFile(name: string, seed: number, rows: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `sparsectr-${name}-`)), path = join(dir, "train.txt");
  after(() => rmSync(dir, { recursive: true, force: true }));
  await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed, scale: 0.05 })), { format: "criteo", start: 0, rows, out: path, truth: null });
  return path;
}

/** A fresh model of these settings with the state of run `run`'s store (its present generation) and nothing else. */
export async function pulledModel(url: string, run: string, buckets: number, fields: number, settings: TrainSettings): Promise<CtrModel> {
  const store = await ClusterStore.connect(url, run, buckets);
  try {
    const fresh = buildModel(fields, settings);
    await new ClusterSync(store, fresh).pull();
    return fresh;
  } finally {
    await store.close();
  }
}

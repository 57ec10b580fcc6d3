// A minimal TrainRun for tests that write checkpoints without the command.
import type { TrainRun } from "../../src/train/run.js";

export function testRun(train: string[] = []): TrainRun {
  return {
    files: { train, test: [], validation: [] },
    read: { skipBadRows: false },
    plan: { train: {}, rows: 0 },
    schedule: { evalEvery: undefined, patience: 2, shuffle: false, refit: false },
    monitor: "auc", calibrate: false, fma: false,
    checkpoint: { everySeconds: 60 },
    budget: { evict: false },
    skipNonFinite: false,
  };
}

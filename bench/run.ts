import { benchOptim } from "./optim.js";
import { benchIndex } from "./index-scale.js";
import { benchData } from "./data.js";
import { benchTrain } from "./train.js";
import { benchLayers } from "./layers.js";
import { benchScale } from "./scale.js";
import { benchIo } from "./io.js";
import { benchReal } from "./real.js";
import { benchServe } from "./serve.js";
import { benchThreads } from "./threads.js";
import { benchThreadsQuality } from "./threads-quality.js";
import { benchThreadsEval } from "./threads-eval.js";
import { benchAdmission } from "./admission.js";
import { benchCluster } from "./cluster.js";

/**
 * `npm run bench [-- NAME...] [--quick]`: runs the named benchmarks (all by
 * default) and prints one JSON object per line on stdout.
 */
const BENCHES: Record<string, (emit: (o: object) => void, quick: boolean) => void | Promise<void>> = {
  optim: benchOptim,
  index: benchIndex,
  data: benchData,
  train: benchTrain,
  layers: benchLayers,
  io: benchIo,
  scale: benchScale,
  real: benchReal,
  serve: benchServe,
  threads: benchThreads,
  "threads-quality": benchThreadsQuality,
  "threads-eval": benchThreadsEval,
  cluster: benchCluster,
  admission: benchAdmission,
};

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const names = args.filter((a) => !a.startsWith("--"));
for (const n of names) {
  if (!BENCHES[n]) {
    console.error(`unknown benchmark "${n}": known are ${Object.keys(BENCHES).join(", ")}`);
    process.exit(2);
  }
}
const emit = (o: object): void => console.log(JSON.stringify({ ...o, node: process.version, time: new Date().toISOString() }));
for (const n of names.length ? names : Object.keys(BENCHES)) await BENCHES[n](emit, quick);

// The layers of src/ and the rule that imports only point down them, checked
// by `npm run lint` (dependency-cruiser). From the bottom:
//
//   util                       helpers with no project imports
//   io, math                   saved states and files; the update math (prox, moment rules)
//   kernels, data, metrics     WebAssembly kernels and their twins; readers; AUC, log loss
//   optim, nn                  optimizers, tables, dense parameters; layers
//   models                     the five CTR models
//   train                      the training loop and the trained model
//   cluster                    training with the embedding tables in a Redis Cluster
//   serve                      the model file and Predictor
//   experiments, cli, tfjs     the paper's experiments, the command, the TensorFlow.js optimizers
//
// A folder may import its own files and any folder below it; no module may
// take part in an import cycle (type imports included).
const layers = {
  util: [],
  io: ["util"],
  math: ["util"],
  kernels: ["util", "math"],
  data: ["util", "io", "metrics"],
  metrics: ["util"],
  optim: ["util", "io", "math", "kernels"],
  nn: ["util", "kernels"],
  models: ["util", "nn", "optim", "kernels"],
  train: ["util", "io", "math", "kernels", "data", "metrics", "optim", "nn", "models"],
  cluster: ["util", "io", "math", "kernels", "data", "metrics", "optim", "nn", "models", "train"],
  serve: ["util", "io", "data", "nn", "models", "train"],
  experiments: ["util", "io", "kernels", "data", "metrics", "optim", "nn", "models", "train"],
  cli: ["util", "io", "kernels", "data", "metrics", "optim", "nn", "models", "train", "cluster", "serve", "experiments"],
  tfjs: ["util", "math", "optim"],
};

const all = Object.keys(layers);

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle: split the shared part into a module both can import.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...all.map((layer) => ({
      name: `layer-${layer}`,
      comment: `src/${layer} may import only ${layers[layer].length ? layers[layer].map((l) => `src/${l}`).join(", ") : "its own files"} (see .dependency-cruiser.cjs)`,
      severity: "error",
      from: { path: `^src/${layer}/` },
      to: { path: `^src/(${all.filter((l) => l !== layer && !layers[layer].includes(l)).join("|")})/` },
    })),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/kernels/assembly/" },
  },
};

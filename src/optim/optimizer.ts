import { Arena } from "../kernels/arena.js";
import type { Backend } from "../kernels/kernels.js";
import { DenseParam } from "./dense.js";
import { SparseTable, type TableOptions } from "./table.js";
import { isOptimizerName, OPTIMIZER_NAMES, resolveHyperparams, type Hyperparams, type OptimizerName, type ResolvedHyperparams } from "./hyper.js";

/** Options of `createOptimizer`. */
export interface OptimizerOptions {
  /** Kernel implementation: "wasm" (SIMD, default) or "ts" (the plain reference). */
  backend?: Backend;
}

/** An optimizer by name with checked hyperparameters; attach it to parameters to train them. */
export interface Optimizer {
  readonly name: OptimizerName;
  readonly hyper: Readonly<ResolvedHyperparams>;
  readonly backend: Backend;
  /**
   * A dense parameter of shape.rows x shape.rowLength float32 weights starting
   * at `init` (copied). Pass an arena to put it beside other parameters.
   */
  dense(init: Float32Array, shape: { rows: number; rowLength: number }, arena?: Arena): DenseParam;
  /** A row-sparse table whose rows are created on first sight of their id. */
  table(options: TableOptions): SparseTable;
}

/**
 * Creates an optimizer: `sgd`, `momentum`, `adagrad`, `adam`, `amsgrad`,
 * `adahessian` (plain primal form), their `group-*` forms (Algorithm 1 with
 * l1, l21 and l2), or `ftrl` (group-adagrad with l21 = 0).
 */
export function createOptimizer(name: OptimizerName, hyper: Hyperparams = {}, options: OptimizerOptions = {}): Optimizer {
  if (!isOptimizerName(name)) {
    throw new TypeError(`unknown optimizer "${String(name)}": expected one of ${OPTIMIZER_NAMES.join(", ")}`);
  }
  const h = Object.freeze(resolveHyperparams(name, hyper));
  const backend = options.backend ?? "wasm";
  if (backend !== "wasm" && backend !== "ts") throw new TypeError(`unknown backend "${String(backend)}": expected "wasm" or "ts"`);
  return {
    name,
    hyper: h,
    backend,
    dense(init, shape, arena) {
      if (arena && arena.backend !== backend) throw new TypeError(`${name}: arena backend ${arena.backend} differs from the optimizer's ${backend}`);
      if (shape === null || typeof shape !== "object") throw new TypeError(`${name}: dense() needs a shape { rows, rowLength }`);
      return new DenseParam(name, h, init, shape, arena ?? new Arena(backend));
    },
    table(options) {
      return new SparseTable(name, h, options, backend);
    },
  };
}

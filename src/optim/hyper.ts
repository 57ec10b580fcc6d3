import { R_ADAGRAD, R_ADAHESSIAN, R_ADAM, R_AMSGRAD, R_MOMENTUM, R_SGD } from "../kernels/layout.js";

/** Every optimizer sparsectr knows, by the name `createOptimizer` takes. */
export const OPTIMIZER_NAMES = [
  "sgd", "momentum", "adagrad", "adam", "amsgrad", "adahessian",
  "group-sgd", "group-momentum", "group-adagrad", "group-adam", "group-amsgrad", "group-adahessian",
  "ftrl",
] as const;

export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** The norms the l21 threshold may be compared with (see math/prox.ts), in the kernels' order (P_NORM 0, 1, 2). */
export const L21_NORMS = ["raw", "scaled", "eq10"] as const;
export type L21Norm = (typeof L21_NORMS)[number];
export function isL21Norm(v: unknown): v is L21Norm {
  return (L21_NORMS as readonly unknown[]).includes(v);
}

/** The steps a lazily updated row's bias correction may use. */
export const ROW_STEPS = ["global", "per-row"] as const;
export type RowStep = (typeof ROW_STEPS)[number];
export function isRowStep(v: unknown): v is RowStep {
  return (ROW_STEPS as readonly unknown[]).includes(v);
}

/** The hyperparameters that are numbers (every one but l21Norm and rowStep). */
export const NUMERIC_HYPERPARAMS = ["lr", "beta1", "beta2", "epsilon", "momentum", "l1", "l21", "l2", "initialAccumulator"] as const;
export type NumericHyperparam = (typeof NUMERIC_HYPERPARAMS)[number];

/**
 * Hyperparameters. Unset fields take the defaults of `defaultsFor(name)`.
 * Regularisers follow TensorFlow's FTRL convention: the penalty is
 * l1 ||x||_1 + l21 sqrt(d) ||x^g||_2 + l2 ||x||_2^2, so l2 enters the update as 2 l2.
 */
export interface Hyperparams {
  /** Step size alpha. */
  lr?: number;
  /** Adam family: decay of the first moment. */
  beta1?: number;
  /** Adam family: decay of the second moment. */
  beta2?: number;
  /** Adam family: added to sqrt(V); Adagrad: V_0 (inside the root). */
  epsilon?: number;
  /** Momentum: gamma. */
  momentum?: number;
  /** l1 strength (group rules only). */
  l1?: number;
  /** Group lasso strength, multiplied by sqrt(row length) (group rules only). */
  l21?: number;
  /** l2 strength (group rules only). */
  l2?: number;
  /** Norm the l21 threshold is compared with: see math/prox.ts. */
  l21Norm?: L21Norm;
  /** Step used for bias correction and sqrt(t) of lazily updated rows. */
  rowStep?: RowStep;
  /** Adagrad and FTRL: added to V_0 (TensorFlow's initial_accumulator_value). */
  initialAccumulator?: number;
}

export type ResolvedHyperparams = Required<Hyperparams>;

/** Kernel-level description of an optimizer name. */
export interface RuleSpec {
  rule: number;
  group: boolean;
}

const RULE_OF: Record<string, number> = {
  sgd: R_SGD, momentum: R_MOMENTUM, adagrad: R_ADAGRAD, adam: R_ADAM, amsgrad: R_AMSGRAD, adahessian: R_ADAHESSIAN,
};

export function ruleSpec(name: OptimizerName): RuleSpec {
  if (name === "ftrl") return { rule: R_ADAGRAD, group: true };
  const group = name.startsWith("group-");
  return { rule: RULE_OF[group ? name.slice(6) : name], group };
}

const KEYS: readonly (keyof Hyperparams)[] = [
  "lr", "beta1", "beta2", "epsilon", "momentum", "l1", "l21", "l2", "l21Norm", "rowStep", "initialAccumulator",
];

/** Defaults as PyTorch users expect (Adam 1e-3/0.9/0.999/1e-8, Adagrad 1e-2/1e-10, FTRL as TensorFlow). */
export function defaultsFor(name: OptimizerName): ResolvedHyperparams {
  const base: ResolvedHyperparams = {
    lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, momentum: 0, l1: 0, l21: 0, l2: 0,
    l21Norm: "raw", rowStep: "global", initialAccumulator: 0,
  };
  const { rule } = ruleSpec(name);
  if (name === "ftrl") return { ...base, epsilon: 0, initialAccumulator: 0.1 };
  if (rule === R_ADAGRAD) return { ...base, lr: 1e-2, epsilon: 1e-10 };
  if (rule === R_SGD) return { ...base, lr: 1e-2 };
  if (rule === R_MOMENTUM) return { ...base, lr: 1e-2, momentum: 0.9 };
  if (rule === R_ADAHESSIAN) return { ...base, lr: 0.1, epsilon: 1e-4 };
  return base;
}

export function isOptimizerName(name: unknown): name is OptimizerName {
  return typeof name === "string" && (OPTIMIZER_NAMES as readonly string[]).includes(name);
}

/** Merges and checks hyperparameters; throws a RangeError or TypeError naming the field. */
export function resolveHyperparams(name: OptimizerName, hyper: Hyperparams = {}): ResolvedHyperparams {
  if (hyper === null || typeof hyper !== "object") throw new TypeError(`${name}: hyperparameters must be an object`);
  for (const k of Object.keys(hyper)) {
    if (!(KEYS as readonly string[]).includes(k)) {
      throw new TypeError(`${name}: unknown hyperparameter "${k}" (known: ${KEYS.join(", ")})`);
    }
  }
  // Every key is one of KEYS (checked above); an undefined value keeps the default.
  const given = Object.fromEntries(Object.entries(hyper).filter(([, v]) => v !== undefined));
  const h: ResolvedHyperparams = { ...defaultsFor(name), ...given };
  const num = (k: keyof Hyperparams, ok: (v: number) => boolean, what: string): void => {
    const v = h[k];
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
      throw new RangeError(`${name}: hyperparameter ${k} = ${String(v)} is invalid: it must be ${what}`);
    }
  };
  num("lr", (v) => v > 0, "a finite number > 0");
  num("beta1", (v) => v >= 0 && v < 1, "in [0, 1)");
  num("beta2", (v) => v >= 0 && v < 1, "in [0, 1)");
  num("epsilon", (v) => v >= 0, "a finite number >= 0");
  num("momentum", (v) => v >= 0 && v <= 1, "in [0, 1]");
  num("l1", (v) => v >= 0, "a finite number >= 0");
  num("l21", (v) => v >= 0, "a finite number >= 0");
  num("l2", (v) => v >= 0, "a finite number >= 0");
  num("initialAccumulator", (v) => v >= 0, "a finite number >= 0");
  if (!isL21Norm(h.l21Norm)) {
    throw new RangeError(`${name}: l21Norm = "${String(h.l21Norm)}" is invalid: use "raw", "scaled" or "eq10"`);
  }
  if (!isRowStep(h.rowStep)) {
    throw new RangeError(`${name}: rowStep = "${String(h.rowStep)}" is invalid: use "global" or "per-row"`);
  }
  const { rule, group } = ruleSpec(name);
  if (!group && (h.l1 !== 0 || h.l21 !== 0 || h.l2 !== 0)) {
    throw new RangeError(`${name}: l1, l21 and l2 need the group form: use "group-${name}"`);
  }
  if (name === "ftrl" && h.l21 !== 0) {
    throw new RangeError(`ftrl: l21 must be 0 (FTRL is group-adagrad with l21 = 0): use "group-adagrad" for l21`);
  }
  const adamLike = rule === R_ADAM || rule === R_AMSGRAD || rule === R_ADAHESSIAN;
  if (adamLike && h.epsilon === 0 && h.l2 === 0) {
    throw new RangeError(`${name}: epsilon must be > 0 unless l2 > 0 (P_t + 2 l2 would be 0 for a zero gradient)`);
  }
  if (rule === R_ADAGRAD && h.epsilon + h.initialAccumulator === 0 && h.l2 === 0) {
    throw new RangeError(`${name}: epsilon + initialAccumulator must be > 0 unless l2 > 0 (P_t + 2 l2 would be 0)`);
  }
  return h;
}

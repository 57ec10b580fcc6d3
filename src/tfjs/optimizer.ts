import { engine, fill, mul, Optimizer, sub, add, tidy, variable, zeros, type NamedTensorMap, type serialization, type Tensor, type Variable } from "@tensorflow/tfjs-core";
import type { ResolvedHyperparams } from "../optim/hyper.js";
import { groupShape, type VectorGroups } from "./groups.js";
import { configToOptions, isRegularized, resolveSettings, settingsToConfig, type Family, type RegularizeFilter, type Settings } from "./options.js";
import { proxConstants, proxStep } from "./prox.js";
import { stepConstants, tensorRule, type StepConstants, type TensorRule } from "./rules.js";

/** A tensor with its name: tfjs's NamedTensor (not exported by tfjs-core's index). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** The optimizer state of one variable: slot variables by suffix, in `slotNames` order. */
interface VarState {
  readonly regularized: boolean;
  readonly slots: Map<string, Variable>;
}

/**
 * The sparse-group-lasso optimizers of sparsectr as a tfjs `Optimizer`: the
 * paper's Algorithm 1 (dual accumulator z, closed-form l1 / l21 / l2 step),
 * with the moment rule of the subclass, on any tfjs backend.
 *
 * State per regularised variable: the rule's moments, `z` and `p` (P_t of the
 * variable's last update, which is P_{t-1} of its next one; a scalar for
 * GroupSGD and GroupMomentum). Variables left out by `regularize` are stepped
 * by the plain rule and hold only the moments.
 */
export abstract class GroupOptimizer extends Optimizer {
  /** sparsectr's resolved hyperparameters (`group-<rule>` names and defaults); `lr` is the initial learning rate. */
  readonly hyper: Readonly<ResolvedHyperparams>;
  /** How 1-D variables are grouped. */
  readonly vectors: VectorGroups;
  /** The regularised variables (undefined: all). */
  readonly regularize: RegularizeFilter | undefined;
  private readonly family: Family;
  private readonly rule: TensorRule;
  private readonly settings: Settings;
  private lr: number;
  private state = new Map<string, VarState>();

  protected constructor(family: Family, options: object) {
    super();
    this.family = family;
    this.rule = tensorRule(family);
    this.settings = resolveSettings(family, this.getClassName(), options);
    this.hyper = this.settings.hyper;
    this.vectors = this.settings.vectors;
    this.regularize = this.settings.regularize;
    this.lr = this.hyper.lr;
  }

  /** The step size alpha of the coming steps; may be changed between steps (P_{t-1} is stored, so this is exact). */
  get learningRate(): number { return this.lr; }
  set learningRate(lr: number) {
    if (typeof lr !== "number" || !Number.isFinite(lr) || !(lr > 0)) {
      throw new RangeError(`${this.getClassName()}: learningRate = ${String(lr)} is invalid: it must be a finite number > 0`);
    }
    this.lr = lr;
  }

  /**
   * One step of every variable with a gradient, as `{ name: gradient }` or
   * `[{ name, tensor }]`. A null or undefined gradient leaves its variable and
   * state alone (as tfjs's built-in optimizers do). The bias corrections use
   * the optimizer's step t = iterations + 1. Every variable and shape is
   * checked before any is changed.
   */
  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    const list: NamedTensor[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    const work: { x: Variable; g: Tensor; st: VarState }[] = [];
    const seen = new Set<string>();
    for (const { name, tensor: g } of list) {
      if (g == null) continue;
      if (seen.has(name)) throw new Error(`${this.getClassName()}: two gradients for variable "${name}"`);
      seen.add(name);
      const x = engine().registeredVariables[name];
      if (x == null) throw new Error(`${this.getClassName()}: no variable named "${name}" is registered`);
      if (x.dtype !== "float32" || g.dtype !== "float32") {
        throw new TypeError(`${this.getClassName()}: variable "${name}" and its gradient must be float32, got ${x.dtype} and ${g.dtype}`);
      }
      if (!sameShape(x.shape, g.shape)) {
        throw new RangeError(`${this.getClassName()}: gradient of "${name}" has shape [${g.shape}], the variable [${x.shape}]`);
      }
      work.push({ x, g, st: this.stateOf(name, x) });
    }
    const c = stepConstants(this.hyper, this.lr, this.iterations + 1);
    for (const { x, g, st } of work) tidy(() => this.update(x, g, st, c));
    this.incrementIterations();
  }

  /** The slot names of a variable, in the order `getWeights` lists them. */
  slotNames(regularized: boolean): string[] {
    return regularized ? [...this.rule.moments, "z", "p"] : [...this.rule.moments];
  }

  private update(x: Variable, g: Tensor, st: VarState, c: StepConstants): void {
    const slots = [...st.slots.values()];
    const nm = this.rule.moments.length;
    const m = slots.slice(0, nm);
    if (!st.regularized) {
      const r = this.rule.plain(c, m, x, g);
      r.moments.forEach((t, i) => m[i].assign(t));
      x.assign(r.x);
      return;
    }
    const [z, p] = slots.slice(nm);
    const r = this.rule.group(c, m, g);
    // z_t = z_{t-1} + m_t - (P_t - P_{t-1}) x_t; on a variable's first update p holds 0 (P_0 = 0).
    const z2 = sub(add(z, r.mt), mul(sub(r.P, p), x));
    const [rows, d] = groupShape(x.shape, this.vectors);
    const x2 = proxStep(z2, r.P, rows, d, proxConstants(this.hyper, d));
    r.moments.forEach((t, i) => m[i].assign(t));
    z.assign(z2);
    p.assign(r.P);
    x.assign(x2);
  }

  /** The state of variable `name`, created on its first gradient; restored slots are checked against the variable. */
  private stateOf(name: string, x: Variable): VarState {
    const st = this.state.get(name);
    if (st) {
      for (const [s, v] of st.slots) {
        const want = s === "p" && this.rule.scalarP ? [] : x.shape;
        if (!sameShape(v.shape, want)) {
          throw new RangeError(`${this.getClassName()}: slot "${name}/${s}" has shape [${v.shape}], variable "${name}" needs [${want}]`);
        }
      }
      return st;
    }
    const regularized = isRegularized(this.settings, name);
    // Only the initial moments are read from these (Adagrad's V_0); they do not depend on t.
    const c = stepConstants(this.hyper, this.lr, 1);
    const slots = new Map<string, Variable>();
    this.rule.moments.forEach((s, i) => {
      const v = this.rule.initial(i, c);
      slots.set(s, tidy(() => variable(v === 0 ? zeros(x.shape) : fill(x.shape, v), false)));
    });
    if (regularized) {
      slots.set("z", tidy(() => variable(zeros(x.shape), false)));
      slots.set("p", tidy(() => variable(zeros(this.rule.scalarP ? [] : x.shape), false)));
    }
    const made = { regularized, slots };
    this.state.set(name, made);
    return made;
  }

  /**
   * The iteration count (`iter`) and every slot variable, named
   * `<variable name>/<slot>` (`/m`, `/v`, `/vmax`, `/accumulator`,
   * `/momentum`, `/z`, `/p`). The slot tensors are the live variables, as
   * tfjs's built-in optimizers return them: clone them to keep a snapshot.
   * `iter` is a new int32 scalar each call (tfjs's `saveIterations`).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const [name, st] of this.state) for (const [s, v] of st.slots) out.push({ name: `${name}/${s}`, tensor: v });
    return out;
  }

  /**
   * Replaces the whole optimizer state by weights in the form `getWeights`
   * returns (`iter` first, then `<variable>/<slot>` in any order). Every
   * regularised variable needs all of its slots; the tensors are checked
   * before anything changes.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const cls = this.getClassName();
    if (!Array.isArray(weightValues) || weightValues.length === 0 || weightValues[0].name !== "iter") {
      throw new TypeError(`${cls}.setWeights: the first weight must be "iter", the iteration count`);
    }
    const iter = (await weightValues[0].tensor.data())[0];
    if (!Number.isInteger(iter) || iter < 0) throw new RangeError(`${cls}.setWeights: iter = ${iter} is not a step count`);
    const byVar = new Map<string, Map<string, Tensor>>();
    for (const { name, tensor } of weightValues.slice(1)) {
      const cut = name.lastIndexOf("/");
      if (cut <= 0) throw new RangeError(`${cls}.setWeights: weight "${name}" is not named <variable>/<slot>`);
      const v = name.slice(0, cut), s = name.slice(cut + 1);
      if (tensor.dtype !== "float32") throw new TypeError(`${cls}.setWeights: weight "${name}" must be float32, got ${tensor.dtype}`);
      const m = byVar.get(v) ?? new Map<string, Tensor>();
      if (m.has(s)) throw new RangeError(`${cls}.setWeights: weight "${name}" is given twice`);
      byVar.set(v, m.set(s, tensor));
    }
    for (const [v, m] of byVar) {
      const want = this.slotNames(isRegularized(this.settings, v));
      const got = [...m.keys()];
      if (got.length !== want.length || !want.every((s) => m.has(s))) {
        throw new RangeError(`${cls}.setWeights: variable "${v}" has slots [${got.join(", ")}], expected [${want.join(", ")}]`);
      }
    }
    const next = new Map<string, VarState>();
    for (const [v, m] of byVar) {
      const regularized = isRegularized(this.settings, v);
      const slots = new Map<string, Variable>();
      for (const s of this.slotNames(regularized)) slots.set(s, variable(m.get(s) as Tensor, false));
      next.set(v, { regularized, slots });
    }
    this.disposeState();
    this.state = next;
    this.iterations_ = iter;
  }

  /** Frees every slot variable; the optimizer starts afresh at its next step (the iteration count is kept). */
  override dispose(): void {
    this.disposeState();
    super.dispose();
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const v of st.slots.values()) v.dispose();
    this.state.clear();
  }

  /**
   * The hyperparameters (sparsectr's names), `vectors` and `regularize` (names
   * or `{ pattern, flags }` of a RegExp, with "_" and "%" percent-escaped so
   * that tfjs-layers' config conversion leaves them intact). A predicate
   * filter cannot be serialized: this then throws.
   */
  override getConfig(): serialization.ConfigDict {
    // The current learning rate, as tfjs's built-ins report theirs.
    return settingsToConfig(this.family, this.getClassName(), { ...this.settings, hyper: { ...this.hyper, lr: this.lr } });
  }

  /** The optimizer a `getConfig` result describes (tfjs's deserialization calls this). */
  static override fromConfig<T extends serialization.Serializable>(cls: serialization.SerializableConstructor<T>, config: serialization.ConfigDict): T {
    return new cls(configToOptions(config));
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

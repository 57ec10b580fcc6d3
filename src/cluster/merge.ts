/**
 * The merge rules of cluster training, as pure functions on bytes: what the
 * store holds after a worker pushes what it changed since its base (the
 * state it took at its last synchronisation). ./store.ts applies them
 * between a read of the stored values and a compare-and-set.
 *
 * Table rows: a push counts as if the pusher's updates since its base had
 * run after every update already stored. Per state slot:
 *   sums (z of Algorithm 1, Adagrad's V):
 *     stored + (pushed - base)
 *   decayed averages (Adam's m and v, momentum) updated n times by the pusher:
 *     pushed + beta^n (stored - base)
 *     (pushed = beta^n base + its fresh part, so this decays the stored
 *     state by the pusher's n updates and adds its fresh part)
 *   AMSGrad's running max: max(stored, pushed)
 *   z, when the rule has a first moment m (decay beta; Adam's family,
 *   momentum), also takes what the pusher's n updates would have added had
 *   they started from the stored m: update j's m was beta^j (stored_m -
 *   base_m) larger, and z adds each update's m, so
 *     z = stored + (pushed - base) + beta (1 - beta^n) / (1 - beta) (stored_m - base_m)
 *   (Adam's bias correction 1 / (1 - beta1^t) taken as 1: t is the global
 *   step, in the thousands by the time rows merge). Without this a row whose
 *   updates are split between workers loses the first moment each chain
 *   leaves behind, and l21 zeroes rows that one chain keeps.
 * That is right for a row the workers update now and then (each change was
 * computed on a copy close to the others'). A row that both the pusher and
 * other workers updated many times since the pusher's base was moved by
 * each towards the same optimum from its own stale copy: adding the changes
 * overshoots. Such a row is blended towards the average of the changes
 * weighted by the updates (federated averaging of the row):
 *   a seq + (1 - a) (base + (k (stored - base) + n (pushed - base)) / (k + n)),
 *   a = C / (C + min(k, n)), k = the others' updates, n = the pusher's,
 * C = SHARED_ROW_UPDATES (maxima keep the sequential rule).
 * In the group form of the Adam family, the z of a row both the pusher and
 * others changed is then re-encoded in the weights' space (mergePrimal):
 * its closed form gives the base's weights plus both moves, blended alike.
 * With the stored state equal to the base (no other worker changed it) each
 * gives the pushed state bit for bit: one worker trains exactly as alone.
 * Computed in float64, rounded to float32.
 *
 * A table row's record is the table's own: header (u32 last step, f32
 * learning rate, u32 updates, u32 flags), d weights, then the state slots of
 * d floats each (z, then the rule's moments; ../optim/table.ts).
 */
import { HEADER_BYTES, H_ALPHA, H_COUNT, H_TAU } from "../kernels/layout.js";
import { RULES } from "../math/rules/index.js";
import { adamP } from "../math/rules/adam.js";
import { proxWeight, shrinkFactor, softThreshold } from "../math/prox.js";
import { R_MOMENTUM } from "../math/rules/ids.js";
import { ruleSpec, type OptimizerName, type ResolvedHyperparams } from "../optim/hyper.js";

/**
 * C of the blend above: a row updated this many times by the pusher and by
 * the others since the pusher's base takes half of each rule. Measured
 * (bench cluster, 2 workers, dcn on 1M generated Criteo rows, one seed,
 * merges every 65,536 rows; 2026-12-06, 2-core AMD EPYC, the development
 * tree between commits 70492ab and 48cd485): C = 4, 32, 128 and infinity (the sequential
 * rule alone) gave test AUC -0.0030, -0.0030, -0.0041 and -0.0096 against
 * the single process, and live features -39%, -20%, -19% and -21%.
 */
export const SHARED_ROW_UPDATES = 32;

/**
 * How one state slot of a table row merges: beta = 1 for a sum, beta < 1 for a decayed
 * average, "max" for a running max; `first` is what a row's first update
 * adds once (Adagrad's initial accumulator), counted once when two workers
 * both created the row.
 */
export interface SlotMerge {
  beta: number | "max";
  first: number;
  /** z of the group form: the index of the first moment's slot whose change it takes (see the file's rule), if any. */
  carry?: number;
  /** z of the group form of an Adam-family rule (raw l21 norm, global bias correction): the slot P is taken from and the hyperparameters of the closed form (see mergePrimal). */
  primal?: { v: number; beta2: number; eps: number; l1: number; l21: number; l2: number };
}

/** The merges of a parameter's state slots: z first in the group form, then the rule's moments. */
export function slotMerges(optimizer: OptimizerName, hyper: ResolvedHyperparams, group: boolean): SlotMerge[] {
  const slots = RULES[ruleSpec(optimizer).rule].slots;
  const f = Math.fround;
  const out: SlotMerge[] = group ? [{ beta: 1, first: 0 }] : [];
  if (group && slots.includes("m")) out[0].carry = 1 + slots.indexOf("m");
  if (group && slots.includes("v") && hyper.l21Norm === "raw" && hyper.rowStep === "global") {
    // P_t = (sqrt(V_t) + eps) / alpha, V from v (AMSGrad: its running max).
    out[0].primal = { v: 1 + (slots.includes("vmax") ? slots.indexOf("vmax") : slots.indexOf("v")), beta2: hyper.beta2, eps: hyper.epsilon, l1: hyper.l1, l21: hyper.l21, l2: hyper.l2 };
  }
  for (const s of slots) {
    if (s === "V") out.push({ beta: 1, first: f(hyper.epsilon + hyper.initialAccumulator) });
    else if (s === "vmax") out.push({ beta: "max", first: 0 });
    else if (s === "v") out.push({ beta: hyper.beta2, first: 0 });
    else if (s === "m") out.push({ beta: ruleSpec(optimizer).rule === R_MOMENTUM ? hyper.momentum : hyper.beta1, first: 0 });
    else throw new Error(`internal: no merge rule for the ${s} slot of ${optimizer}`);
  }
  return out;
}

/** One float of a slot: stored g, pushed l, base b (undefined: none), the pusher's n updates. */
function mergeValue(m: SlotMerge, g: number, l: number, b: number | undefined, n: number): number {
  return m.beta === "max" ? Math.max(g, l) : mergeDecayed(m, decayOf(m, n), g, l, b);
}

/** beta^n of a decayed slot (1 for a sum): the stored change's weight after the pusher's n updates. */
function decayOf(m: SlotMerge, n: number): number {
  return m.beta === "max" || m.beta === 1 ? 1 : m.beta ** n;
}

/** mergeValue of a slot that is not a running max, its decay beta^n given. */
function mergeDecayed(m: SlotMerge, decay: number, g: number, l: number, b: number | undefined): number {
  return b === undefined ? l + decay * g - m.first : l + decay * (g - b);
}

/**
 * A table row after a push (see the file's rule for the state): updates =
 * stored + the pusher's since its base; last step = the later; learning
 * rate, flags and weights = the pusher's (group-form weights follow from the
 * state: every reader recomputes them). No base: the row is new to the
 * pusher. No stored row: the pushed record.
 */
export function mergeRecord(stored: Uint8Array | null | undefined, pushed: Uint8Array, base: Uint8Array | undefined, d: number, slots: readonly SlotMerge[], shared = SHARED_ROW_UPDATES): Buffer {
  const out = Buffer.from(pushed);
  if (!stored) return out;
  if (stored.length !== pushed.length || (base && base.length !== pushed.length)) throw new RangeError(`a stored row of ${stored.length} bytes, a pushed one of ${pushed.length}`);
  const rb = pushed.length;
  if (HEADER_BYTES + 4 * d * (1 + slots.length) !== rb) throw new RangeError(`a row of ${rb} bytes is not a header, ${d} weights and ${slots.length} slots`);
  // The records copied to aligned scratch (G stored, L pushed, B base, O out: word offsets), read and written as
  // typed arrays; out starts as the pushed record, so its rate and flags are the pusher's bit for bit.
  const W = rb >>> 2, G = 0, L = W, B = 2 * W, O = 3 * W, hasBase = base !== undefined;
  ensureRecords(rb);
  const u8 = scratchU8, f = scratchF, u = scratchU;
  u8.set(stored, 0);
  u8.set(pushed, rb);
  if (base) u8.set(base, 2 * rb);
  u8.set(pushed, 3 * rb);
  const cw = H_COUNT >>> 2;
  const n = u[L + cw] - (hasBase ? u[B + cw] : 0);
  u[O + (H_TAU >>> 2)] = Math.max(u[G + (H_TAU >>> 2)], u[L + (H_TAU >>> 2)]);
  u[O + cw] = u[G + cw] + n;
  // Updates other workers made since the pusher's base; a row both updated
  // often is blended towards the average of their changes (see SHARED_ROW_UPDATES).
  const others = u[G + cw] - (hasBase ? u[B + cw] : 0);
  const a = others === 0 || shared === Infinity ? 1 : shared / (shared + Math.min(others, n));
  const h = HEADER_BYTES >>> 2;
  for (let k = 0; k < slots.length; k++) {
    const m = slots[k], max = m.beta === "max", decay = decayOf(m, n), c = m.carry;
    // The first moment's change carried into z (see the file's rule), its factor computed once a row.
    const cb = c === undefined || n <= 0 ? 0 : slots[c].beta as number, carry = cb === 0 ? 0 : cb * (1 - cb ** n) / (1 - cb);
    for (let j = 0, p = h + d * (1 + k); j < d; j++, p++) {
      const gv = f[G + p], lv = f[L + p], bv = hasBase ? f[B + p] : undefined;
      let seq = max ? Math.max(gv, lv) : mergeDecayed(m, decay, gv, lv, bv);
      if (cb !== 0) {
        const q = h + d * (1 + c!) + j;
        seq += carry * (f[G + q] - (hasBase ? f[B + q] : 0));
      }
      if (a === 1 || max) f[O + p] = seq;
      else {
        const b0 = bv ?? 0;
        f[O + p] = a * seq + (1 - a) * (b0 + (others * (gv - b0) + n * (lv - b0)) / (others + n));
      }
    }
  }
  if (slots[0]?.primal && others > 0 && n > 0) mergePrimal(f, u, O, G, L, hasBase ? B : -1, d, slots, a, others, n);
  out.set(u8.subarray(3 * rb, 4 * rb));
  return out;
}

/** Aligned scratch of four records (rows merge one at a time on one thread), by record size. */
let scratchBytes = 0, scratchU8 = new Uint8Array(0), scratchF = new Float32Array(0), scratchU = new Uint32Array(0);
function ensureRecords(rb: number): void {
  if (scratchBytes === rb) return;
  const buf = new ArrayBuffer(4 * rb);
  scratchU8 = new Uint8Array(buf);
  scratchF = new Float32Array(buf);
  scratchU = new Uint32Array(buf);
  scratchBytes = rb;
}

/** Row scratch of mergePrimal (rows merge one at a time on one thread). */
let scratch = new Float64Array(0);

/** P_j of the record at word R's coordinate j: Adam's (sqrt(v c2) + eps) / alpha at the row's last step (0 for a row never updated); c2 = biasC2(u, R, p). */
function preconditioner(f: Float32Array, R: number, d: number, p: NonNullable<SlotMerge["primal"]>, j: number, c2: number): number {
  return adamP(f[R + (HEADER_BYTES >>> 2) + d * (1 + p.v) + j], c2, p.eps, f[R + (H_ALPHA >>> 2)]);
}

/** Adam's second bias correction 1 / (1 - beta2^tau) at the last step of the record at word R. */
function biasC2(u: Uint32Array, R: number, p: NonNullable<SlotMerge["primal"]>): number {
  const tau = u[R + (H_TAU >>> 2)], i = tau & (C2_CACHE - 1);
  // The rows merged together were last stepped at nearby steps: a direct-mapped cache of the power (its exact value).
  if (c2Tau[i] !== tau || c2Beta[i] !== p.beta2) {
    c2Tau[i] = tau;
    c2Beta[i] = p.beta2;
    c2Value[i] = 1 / (1 - p.beta2 ** tau);
  }
  return c2Value[i];
}
const C2_CACHE = 4096;
const c2Tau = new Float64Array(C2_CACHE).fill(-1), c2Beta = new Float64Array(C2_CACHE), c2Value = new Float64Array(C2_CACHE);

/** The weights Algorithm 1's closed form (../math/prox.ts) gives the state of the record at word R, into out[o..o+d). */
function weightsOf(f: Float32Array, u: Uint32Array, R: number, d: number, p: NonNullable<SlotMerge["primal"]>, out: Float64Array, o: number): void {
  if (u[R + (H_TAU >>> 2)] === 0 || !(f[R + (H_ALPHA >>> 2)] > 0)) { out.fill(0, o, o + d); return; }
  let sq = 0;
  const z = R + (HEADER_BYTES >>> 2) + d;
  for (let j = 0; j < d; j++) {
    const s = softThreshold(f[z + j], p.l1);
    out[o + j] = s;
    sq += s * s;
  }
  const k = shrinkFactor(sq, Math.sqrt(d) * p.l21), c2 = biasC2(u, R, p);
  for (let j = 0; j < d; j++) out[o + j] = proxWeight(out[o + j], k, preconditioner(f, R, d, p, j, c2) + 2 * p.l2);
}

/**
 * z of a row that the pusher and others both changed since the pusher's
 * base, re-encoded in the weights' space (the group form of an Adam-family
 * rule): the merged weights are the base's plus both moves (the stored
 * state's closed-form weights less the base's, the pushed less the base's),
 * blended as the slots are, and z becomes the one whose closed form under
 * the merged v gives them. With l1 = 0 and no l21, z_t = -P_t x_{t+1}:
 * summing two workers' changes of z instead moves the weights by
 * (P_0 (a + b) + p_a a + p_b b) / (P_0 + p_a + p_b) for moves a and b and
 * growths p_a, p_b of P, short of a + b while P grows; l21 then zeroed rows
 * the single process keeps (docs/cluster.md). A row all three states hold
 * at zero keeps the summed z (changes below the threshold add up). The
 * records are at word offsets O (out), G, L and B (none: -1) of f and u.
 */
function mergePrimal(f: Float32Array, u: Uint32Array, O: number, G: number, L: number, B: number, d: number, slots: readonly SlotMerge[], a: number, others: number, n: number): void {
  const p = slots[0].primal!;
  if (scratch.length < 4 * d) scratch = new Float64Array(4 * d);
  // The stored, pushed and base weights at 0, d and 2d; the merged ones at 3d.
  const x = scratch;
  weightsOf(f, u, G, d, p, x, 0);
  weightsOf(f, u, L, d, p, x, d);
  if (B >= 0) weightsOf(f, u, B, d, p, x, 2 * d);
  else x.fill(0, 2 * d, 3 * d);
  let any = false;
  for (let j = 0; j < d; j++) {
    const xb = x[2 * d + j], ds = x[j] - xb, dp = x[d + j] - xb;
    x[3 * d + j] = xb + a * (ds + dp) + (1 - a) * (others * ds + n * dp) / (others + n);
    if (x[3 * d + j] !== 0) any = true;
  }
  if (!any) return;
  // The inverse of the closed form: u = (P + 2 l2) x, s = u (||u|| + sqrt(d) l21) / ||u||, z = -s - l1 sign(s).
  let sq = 0;
  const c2 = biasC2(u, O, p);
  for (let j = 0; j < d; j++) {
    x[j] = (preconditioner(f, O, d, p, j, c2) + 2 * p.l2) * x[3 * d + j];
    sq += x[j] * x[j];
  }
  const nu = Math.sqrt(sq), grow = (nu + Math.sqrt(d) * p.l21) / nu, z0 = O + (HEADER_BYTES >>> 2) + d;
  for (let j = 0; j < d; j++) {
    const s = x[j] * grow;
    f[z0 + j] = -s - (s === 0 ? 0 : Math.sign(s) * p.l1);
  }
}

/**
 * How a dense parameter's floats (DenseParam.mergeable) are laid out: rows x
 * d weights, then each row's state slots of d floats each; n is the number
 * of steps the pusher took since its base.
 */
export interface DenseMerge { rows: number; d: number; slots: readonly SlotMerge[]; n: number }

/**
 * A dense parameter's floats after a push. The weights add the pusher's
 * change: stored + (pushed - base), so every worker's steps count, as one
 * process taking them in turn would (averaging the changes instead,
 * periodic model averaging, trained the dense layers as if with W times
 * fewer steps: docs/cluster.md). The moments take the table rows' rule
 * (mergeValue): a decayed average becomes pushed + beta^n (stored - base),
 * the stored change decayed by the pusher's n steps; a sum adds; a running
 * max takes the larger. Adding the decayed moments' changes instead left a
 * first moment of (2 beta^n - 1) times the base's after each merge of two
 * workers, where one chain of their steps leaves beta^2n: with it the
 * benchmark ended with about 23% fewer live features than the single
 * process, with the rule about 15% (docs/cluster.md). Each float is the
 * pushed one bit for bit when stored = base. No stored value: as if it held
 * the base (every worker starts from the same seeded weights).
 */
export function mergeDense(stored: Float32Array | undefined, pushed: Float32Array, base: Float32Array, how: DenseMerge): Float32Array {
  if (!stored) stored = base;
  if (stored.length !== pushed.length || base.length !== pushed.length) throw new RangeError(`${stored.length} stored floats, ${pushed.length} pushed, ${base.length} in the base`);
  const { rows, d, slots, n } = how, w = rows * d, per = slots.length * d;
  if (w + rows * per !== pushed.length) throw new RangeError(`${pushed.length} floats are not ${rows} x ${d} weights and ${slots.length} state slots per row`);
  const out = new Float32Array(pushed.length);
  for (let i = 0; i < w; i++) out[i] = pushed[i] + (stored[i] - base[i]);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < slots.length; k++) {
      for (let j = 0, i = w + r * per + k * d; j < d; j++, i++) out[i] = mergeValue(slots[k], stored[i], pushed[i], base[i], n);
    }
  }
  return out;
}

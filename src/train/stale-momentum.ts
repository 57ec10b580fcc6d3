/**
 * The momentum of data-parallel workers' dense steps (./parallel.ts).
 *
 * With sequential rounds each of N workers' batch gradients is computed
 * against the round's weights and stepped in turn, so a step is up to N - 1
 * steps stale; asynchronous workers are as stale. Stale steps act as an
 * implicit momentum of about 1 - 1/N (Mitliagkas, Zhang, Hadjis and Ré,
 * "Asynchrony begets momentum", 2016): on top of the optimizer's own
 * momentum beta the dense layers then train with more momentum than one
 * process does. If the effective momentum composes as
 * 1 - mu = (1 - beta')(1 - implicit) = (1 - beta') / N, keeping it at the
 * user's beta takes
 *
 *     beta' = max(0, 1 - N (1 - beta))
 *
 * (Adam's beta1 0.9: 0.8 for 2 workers, 0.6 for 4, 0 from 10). The Adam
 * family's beta1 and the momentum rule's momentum are compensated; Adagrad
 * and SGD have none. Synchronous rounds (one step with the mean gradient)
 * are not stale and keep beta.
 *
 * Evidence: `npm run bench -- threads-quality` (1M generated rows, means
 * of 3 seeds, against the deterministic trainer; 2026-12-06, 2-core AMD
 * EPYC; docs/threads.md): dcn's feature rate with 2 workers (sequential)
 * went from -5.0% (commit 3858103) to +0.8% (c705695, compensated), with 4
 * from -11.7% to -1.6%, the AUC staying within 0.001.
 */
import { ruleSpec, type Hyperparams, type OptimizerName, type ResolvedHyperparams } from "../optim/hyper.js";
import { R_ADAGRAD, R_MOMENTUM, R_SGD } from "../kernels/layout.js";

/** beta' = max(0, 1 - workers (1 - beta)); beta itself for one worker. */
export function staleMomentum(beta: number, workers: number): number {
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers = ${workers} must be a positive integer`);
  if (!(beta >= 0 && beta <= 1)) throw new RangeError(`momentum ${beta} must be in [0, 1]`);
  return workers === 1 ? beta : Math.max(0, 1 - workers * (1 - beta));
}

/**
 * The hyperparameters a stale worker's dense parameter steps with
 * (DenseParam.setStepHyper), or undefined when it keeps its own: one worker,
 * or a rule without momentum. The caller knows whether its steps are stale.
 */
export function workerMomentum(param: { readonly optimizer: OptimizerName; readonly hyper: ResolvedHyperparams }, workers: number): Hyperparams | undefined {
  const { optimizer, hyper } = param;
  if (workers === 1) return undefined;
  const { rule } = ruleSpec(optimizer);
  if (rule === R_SGD || rule === R_ADAGRAD) return undefined;
  if (rule === R_MOMENTUM) return { momentum: staleMomentum(hyper.momentum, workers) };
  return { beta1: staleMomentum(hyper.beta1, workers) };
}

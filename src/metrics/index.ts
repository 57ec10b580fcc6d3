/**
 * Evaluation metrics for click-through-rate models: exact ROC AUC and log loss,
 * each as a one-shot function and a streaming accumulator.
 * @packageDocumentation
 */
export { auc, aucSorted, AucAccumulator, checkLabel } from "./auc.js";
export type { Scores, Labels } from "./auc.js";
export { logloss, LoglossAccumulator, CompensatedSum, LOGLOSS_EPS } from "./logloss.js";

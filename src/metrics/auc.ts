/**
 * Exact ROC AUC: the probability that a random positive scores above a random
 * negative, ties counting one half (the Mann–Whitney U statistic over P * N;
 * equal to the midrank formula). O(n log n): positives and negatives are
 * sorted separately (native typed-array sorts) and merged once.
 */

/** Scores: any array of numbers (NaN is an error). */
export type Scores = ArrayLike<number>;
/** Labels: 0 or 1 per row. */
export type Labels = ArrayLike<number>;

/** Throws unless label is 0 or 1. */
export function checkLabel(label: number, row: number): void {
  if (label !== 0 && label !== 1) throw new RangeError(`label ${label} at row ${row} is not 0 or 1`);
}

/** Collects (score, label) rows, then computes their exact AUC; rows can arrive in any order and batches. */
export class AucAccumulator {
  private pos: Float64Array<ArrayBuffer> = new Float64Array(1024);
  private neg: Float64Array<ArrayBuffer> = new Float64Array(1024);
  private np = 0;
  private nn = 0;

  /** Rows seen. */
  get count(): number {
    return this.np + this.nn;
  }

  add(score: number, label: number): void {
    if (Number.isNaN(score)) throw new RangeError(`auc: score at row ${this.count} is NaN`);
    checkLabel(label, this.count);
    if (label === 1) {
      if (this.np === this.pos.length) this.pos = grow(this.pos);
      this.pos[this.np++] = score;
    } else {
      if (this.nn === this.neg.length) this.neg = grow(this.neg);
      this.neg[this.nn++] = score;
    }
  }

  addBatch(scores: Scores, labels: Labels): void {
    if (scores.length !== labels.length) throw new RangeError(`auc: ${scores.length} scores but ${labels.length} labels`);
    for (let i = 0; i < scores.length; i++) this.add(scores[i], labels[i]);
  }

  /** The AUC of the rows so far; throws when only one class is present (AUC is undefined). */
  value(): number {
    if (this.np === 0 || this.nn === 0) {
      throw new RangeError(`auc: undefined with ${this.np} positives and ${this.nn} negatives (both classes are needed)`);
    }
    // Sorting in place keeps later add() calls valid: order does not matter.
    const pos = this.pos.subarray(0, this.np).sort(), neg = this.neg.subarray(0, this.nn).sort();
    return aucSorted(pos, neg);
  }
}

function grow(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * AUC from the positives' and negatives' scores, each sorted ascending: each
 * positive beats the negatives strictly below it and half of those equal to it.
 */
export function aucSorted(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  const np = pos.length, nn = neg.length;
  let below = 0, upto = 0, num = 0;
  for (let i = 0; i < np; i++) {
    const s = pos[i];
    while (below < nn && neg[below] < s) below++;
    if (upto < below) upto = below;
    while (upto < nn && neg[upto] <= s) upto++;
    num += below + 0.5 * (upto - below);
  }
  return num / (np * nn);
}

/**
 * Exact AUC of scores against 0/1 labels (ties get half credit). Throws when
 * the lengths differ, a label is not 0 or 1, a score is NaN, or only one class
 * is present.
 */
export function auc(scores: Scores, labels: Labels): number {
  const acc = new AucAccumulator();
  acc.addBatch(scores, labels);
  return acc.value();
}

/** Streaming CTR data: readers, feature keys, vocabularies and splits. */
export { openData } from "./reader.js";
export type { DataFile, ReadOptions, ReadStats } from "./types.js";
export { prefetched, DEFAULT_PREFETCH_DEPTH } from "./prefetch.js";
export { HELD_ROWS_BYTES, heldBudget, heldRows } from "./held.js";
export type { Bags, Batch } from "./batch.js";
export type { MaxBadRows } from "./types.js";
export { FORMATS, detectFormat } from "./detect.js";
export type { Format } from "./detect.js";
export { DataError } from "./errors.js";
export { featureKey, hashKey } from "./hash.js";
export { Vocabulary, hashIds } from "./vocab.js";
export type { VocabOptions } from "./vocab.js";
export { holdoutSplit } from "./split.js";
export { forgetSeekPoints, seekPoints } from "./seek.js";
export type { Holdout, Split } from "./split.js";
export { loadSchema } from "./formats/schema.js";
export type { Schema } from "./formats/schema.js";
export { criteoBucket } from "./formats/bucket.js";

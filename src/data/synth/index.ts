/**
 * The synthetic CTR data generator: deterministic, streaming, in the formats of
 * the public datasets, with a known ground truth (see docs/generator.md).
 * @packageDocumentation
 */
export { createGenerator, Generator, P_SCALE } from "./generator.js";
export type { SynthRow } from "./generator.js";
export { synthConfig, checkConfig as checkSynthConfig } from "./config.js";
export type { SynthOptions } from "./config.js";
export { PRESETS, CRITEO, AVAZU, IPINYOU } from "./presets.js";
export type { FieldKind, FieldSpec, Preset, SynthConfig, SynthFormat, TeacherSpec, ValueStyle } from "./types.js";
export { FORMATS as SYNTH_FORMATS, csvSchema, featureOffsets, featIndexSize } from "./formats.js";
export type { CsvSchemaJson } from "./formats.js";
export { writeRows, generateFiles, StreamSink } from "./stream.js";
export type { ChunkSink, WriteRowsOptions, GenerateFilesOptions, GenerateSummary } from "./stream.js";
export { isInformative, isInformativeKey, TruthAccumulator, buildTruth, MAX_AUC_ROWS } from "./truth.js";
export type { TruthJson, TruthField, TruthStats, InformativeOptions } from "./truth.js";
export { rankSampler, AliasSampler, RejectionInversionSampler, ALIAS_MAX } from "./zipf.js";
export type { RankSampler } from "./zipf.js";

// Bounded, seeded fuzzing (issue 7, hostile inputs): byte and structure
// mutators, envelope re-sealing (a valid CRC over hostile content), and a
// driver that runs each target in a worker thread watched from the test's
// thread, so that a hang (even a synchronous endless loop), a crash or a huge
// allocation is reported with the case that caused it instead of stalling or
// killing the test run.
//
// Every case i of a target draws from rng(caseSeed(seed, i)): a failure names
// its case, and SPARSECTR_FUZZ_ONLY=target:i reruns just that case (its
// inputs are also written under the system's temporary folder). The case count
// is the target's default, or SPARSECTR_FUZZ_CASES for longer runs;
// SPARSECTR_FUZZ_SEED changes the base seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { crc32 } from "../../src/io/crc32.js";
import { rng } from "./rng.js";

/** A seeded source of choices. */
export class Rand {
  private readonly next: () => number;
  constructor(seed: number) { this.next = rng(seed); }
  /** A float in [0, 1). */
  float(): number { return this.next(); }
  /** An integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }
  /** An integer in [a, b]. */
  range(a: number, b: number): number { return a + this.int(b - a + 1); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  /** Small counts more often than large ones: 1 + floor(-ln(u) * mean). */
  count(mean: number, max: number): number { return Math.min(max, 1 + Math.floor(-Math.log(1 - this.next()) * mean)); }
}

/** The seed of case i: independent of every other case, so any case reruns alone. */
export function caseSeed(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------- byte mutators

const enc = new TextEncoder();
const b = (s: string): number[] => Array.from(enc.encode(s));

/** Bytes that matter to the readers: separators, quotes, signs, digits, NUL, 0xff. */
export const INTERESTING_BYTES = [0, 0xff, 9, 44, 10, 13, 34, 58, 32, 45, 43, 46, 48, 49, 50, 57, 0x80, 0xc0, 0x7f, 0x1f, 0x8b];
/** Short byte strings: huge and negative numbers, invalid UTF-8, a BOM, separators. */
export const INTERESTING_RUNS: number[][] = [
  b("99999999999999999999999"), b("18446744073709551616"), b("9007199254740993"), b("4294967296"), b("2147483648"),
  b("268435455"), b("99999999"), b("16777216"), b("65535"), b("-1"), b("-0"), b("+1"), b("1e308"), b("1e400"), b("-1e400"), b("NaN"), b("Infinity"), b("0x1f"), b("1.0"), b("1.5"), b("00"),
  b("-99999999999999999999999999999"), b("0:1"), b("4294967295:1"), b("999999999999:1"), b(":"), b("::"), b("\"\""), b("\"a,\"\"b\"\"\""),
  [0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xef, 0xbb, 0xbf], [0xfe, 0xff], [0],
  b("\r\n"), b("\r"), b("\t\t\t"), b(",,,"), b("\n\n\n"), b("\u00e9\u4e2d\ud83d\ude00"),
];

/** One random edit of the bytes; `others` are inputs to splice from. */
export function mutateBytes(r: Rand, input: Uint8Array, others: readonly Uint8Array[] = []): Uint8Array {
  // A copy first: a Node Buffer's slice() is a view, and seeds must stay intact.
  const data = new Uint8Array(input);
  const n = data.length;
  // Positions near the start a fifth of the time: headers and first lines decide a lot.
  const at = (): number => (r.chance(0.2) ? r.int(Math.min(n, 200) + 1) : r.int(n + 1));
  const span = (): [number, number] => {
    const s = r.int(n + 1), len = r.chance(0.8) ? r.count(8, 64) : r.int(n + 1);
    return [s, Math.min(n, s + len)];
  };
  const splice = (s: number, e: number, ins: ArrayLike<number>): Uint8Array => {
    const out = new Uint8Array(n - (e - s) + ins.length);
    out.set(data.subarray(0, s), 0);
    out.set(ins as Uint8Array, s);
    out.set(data.subarray(e), s + ins.length);
    return out;
  };
  switch (r.int(14)) {
    case 0: { // flip bits
      for (let k = r.count(1, 8); k > 0 && n > 0; k--) data[r.int(n)] ^= 1 << r.int(8);
      return data;
    }
    case 1: { // interesting bytes
      for (let k = r.count(1, 8); k > 0 && n > 0; k--) data[r.int(n)] = r.pick(INTERESTING_BYTES);
      return data;
    }
    case 2: { const [s, e] = span(); return splice(s, e, []); } // delete a range
    case 3: { const [s, e] = span(); const p = at(); return splice(p, p, data.slice(s, e)); } // duplicate a range
    case 4: { // insert random bytes
      const ins = new Uint8Array(r.count(4, 64));
      for (let i = 0; i < ins.length; i++) ins[i] = r.int(256);
      const p = at();
      return splice(p, p, ins);
    }
    case 5: { const p = at(); return splice(p, p, r.pick(INTERESTING_RUNS)); } // insert an interesting run
    case 6: { const [s, e] = span(); return splice(s, e, r.pick(INTERESTING_RUNS)); } // replace a range by one
    case 7: return data.slice(0, r.int(n + 1)); // truncate
    case 8: { // splice with another input
      const o = others.length ? r.pick(others) : data;
      const cut = r.int(n + 1), from = r.int(o.length + 1);
      const out = new Uint8Array(cut + o.length - from);
      out.set(data.subarray(0, cut));
      out.set(o.subarray(from), cut);
      return out;
    }
    case 9: { // a very long line or field
      if (r.chance(0.25)) { // many distinct fields, half the time at the end of the first line (a wide header)
        const sep = String.fromCharCode(r.chance(0.7) ? commonSeparator(data) : r.pick(SEPARATORS));
        const ins = enc.encode(sep + Array.from({ length: r.chance(0.3) ? r.range(50_000, 120_000) : r.count(100, 2000) }, (_, k) => `c${k}`).join(sep));
        const nl = data.indexOf(10);
        const p = r.chance(0.5) ? (nl < 0 ? n : nl > 0 && data[nl - 1] === 13 ? nl - 1 : nl) : at();
        return splice(p, p, ins);
      }
      const len = r.chance(0.05) ? r.range(1 << 20, 3 << 20) : r.chance(0.3) ? r.range(60_000, 70_000) : r.count(200, 5000);
      const alphabet = r.pick([b("a"), b("0123456789"), b("a,\t:1 "), b("\"x"), b("\x00"), b("\u00e9")]);
      const ins = new Uint8Array(len);
      for (let i = 0; i < len; i++) ins[i] = alphabet[i % alphabet.length];
      const p = at();
      return splice(p, p, ins);
    }
    case 10: { // a line repeated or dropped
      const lines = splitLines(data);
      if (lines.length === 0) return data;
      const k = r.chance(0.2) ? 0 : r.int(lines.length);
      if (r.chance(0.5)) lines.splice(k, 1);
      else for (let c = r.count(2, 50); c > 0; c--) lines.splice(k, 0, lines[k]);
      return joinLines(lines);
    }
    case 11: { // one field of a line changed (the first line a fifth of the time)
      const lines = splitLines(data);
      if (lines.length === 0) return data;
      const k = r.chance(0.2) ? 0 : r.int(lines.length);
      lines[k] = mutateField(r, lines[k]);
      return joinLines(lines);
    }
    case 12: { // NUL bytes
      for (let c = r.count(1, 16); c > 0 && n > 0; c--) data[r.int(n)] = 0;
      return data;
    }
    default: { // swap two ranges of lines
      const lines = splitLines(data);
      if (lines.length < 2) return data;
      const i = r.int(lines.length), j = r.int(lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return joinLines(lines);
    }
  }
}

/** Several mutations in a row (at least one). */
export function mutateManyBytes(r: Rand, data: Uint8Array, others: readonly Uint8Array[] = [], mean = 1.5): Uint8Array {
  let d = data;
  for (let k = r.count(mean, 8); k > 0; k--) d = mutateBytes(r, d, others);
  return d;
}

const SEPARATORS = [9, 44, 32, 58];

/** The separator most frequent in the first line. */
function commonSeparator(d: Uint8Array): number {
  const nl = d.indexOf(10), end = nl < 0 ? d.length : nl;
  let best = SEPARATORS[0], most = -1;
  for (const s of SEPARATORS) {
    let c = 0;
    for (let i = 0; i < end; i++) if (d[i] === s) c++;
    if (c > most) { most = c; best = s; }
  }
  return best;
}

/** Changes one field of a line (split at tabs, commas, spaces or colons). */
function mutateField(r: Rand, line: Uint8Array): Uint8Array {
  const sep = r.pick(SEPARATORS);
  const fields: Uint8Array[] = [];
  let s = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === sep) { fields.push(line.subarray(s, i)); s = i + 1; }
  }
  const k = r.int(fields.length);
  switch (r.int(7)) {
    case 0: fields[k] = new Uint8Array(0); break;
    case 1: fields[k] = Uint8Array.from(r.pick(INTERESTING_RUNS)); break;
    case 2: fields.splice(k, 1); break;
    case 3: fields.splice(k, 0, fields[k]); break;
    case 4: fields[k] = enc.encode(String(r.pick([0, 1, 2, -1, 10, 2 ** 31, 2 ** 32, 2 ** 53, 1e21, -1e21, 0.5]))); break;
    case 5: fields[k] = Uint8Array.from([34, ...fields[k], ...(r.chance(0.5) ? [34] : [])]); break;
    default: fields[k] = Uint8Array.from([...fields[k], sep, ...fields[k]]); break;
  }
  const len = fields.reduce((a, f) => a + f.length, 0) + Math.max(0, fields.length - 1);
  const out = new Uint8Array(len);
  let o = 0;
  fields.forEach((f, i) => { if (i) out[o++] = sep; out.set(f, o); o += f.length; });
  return out;
}

function splitLines(d: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 10) { out.push(d.subarray(s, i)); s = i + 1; }
  if (s < d.length) out.push(d.subarray(s));
  return out;
}

function joinLines(lines: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(lines.reduce((a, l) => a + l.length + 1, 0));
  let o = 0;
  for (const l of lines) { out.set(l, o); o += l.length; out[o++] = 10; }
  return out;
}

// ---------------------------------------------------------------- JSON mutators

/** Values a hostile header may hold in place of any field. */
export function hostileValue(r: Rand, old: unknown): unknown {
  const num = typeof old === "number" ? old : 1;
  switch (r.int(16)) {
    case 0: return null;
    case 1: return -1;
    case 2: return r.pick([2 ** 31, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, 1e21]);
    case 3: return r.pick([0, -0, 0.5, 1.5, 1e-300]);
    case 4: return num + r.pick([1, -1, 8, -8, 4, -4]);
    case 5: return num * r.pick([2, 1000, 1e9, 0.5]);
    case 6: return r.pick(["", "x", "1", "NaN", "adam", "group-adam", "dcn", "table", "dense", "checkpoint", "criteo"]);
    case 7: return r.pick([[], [1], [null], ["a", "a"], [1e9], [-1]]);
    case 8: return r.pick([{}, { a: 1 }, { length: 1e9 }]);
    case 9: return r.pick([true, false]);
    case 10: return Array.isArray(old) ? old.slice(0, r.int(old.length + 1)) : [old];
    case 11: return Array.isArray(old) && old.length ? [...old, r.pick(old)] : String(old);
    case 12: return typeof old === "string" ? old + r.pick(["x", "\u0000", "\ud800", " "]) : typeof old === "number" ? String(old) : old;
    case 13: return r.pick([2 ** 20, 2 ** 26, 2 ** 30, 1 << 10, 1025, 65536]);
    case 14: return Array.isArray(old) ? old.map((v) => (typeof v === "number" ? v * r.pick([2, 1000, 0, -1]) : v)) : num;
    default: return undefined; // deleted
  }
}

type Json = unknown;

/** Paths to every value of a JSON tree (objects' keys, arrays' indices). */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (prefix.length) out.push(prefix);
  if (out.length > 5000) return out;
  if (Array.isArray(v)) v.forEach((x, i) => { if (i < 64) paths(x, [...prefix, i], out); });
  else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) paths((v as Record<string, Json>)[k], [...prefix, k], out);
  return out;
}

/**
 * A copy of a JSON header with one to a few fields replaced by hostile values,
 * deleted, or added; `focus` names keys to prefer (sizes, counts, shapes).
 */
export function mutateJson(r: Rand, header: Json, focus: readonly string[] = []): Json {
  const h = structuredClone(header) as Json;
  const all = paths(h);
  const focused = all.filter((p) => focus.includes(String(p[p.length - 1])));
  for (let k = r.count(0.7, 4); k > 0; k--) {
    if (r.chance(0.05)) { // an unknown key at the top
      if (h && typeof h === "object" && !Array.isArray(h)) (h as Record<string, Json>)[r.pick(["extra", "__proto__", "size2"])] = hostileValue(r, 1);
      continue;
    }
    const p = focused.length && r.chance(0.6) ? r.pick(focused) : all.length ? r.pick(all) : null;
    if (!p) break;
    let parent = h as Record<string | number, Json>;
    for (let i = 0; i < p.length - 1; i++) {
      parent = parent?.[p[i]] as Record<string | number, Json>;
      if (parent === null || typeof parent !== "object") break;
    }
    if (parent === null || typeof parent !== "object") continue;
    const key = p[p.length - 1];
    const v = hostileValue(r, parent[key]);
    if (v === undefined) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else parent[key] = v;
  }
  return h;
}

// ---------------------------------------------------------------- envelopes

const MAGIC = b("SPCTR\u0000ST");

/** The header text and body of an envelope (no checks beyond the layout). */
export function openEnvelope(bytes: Uint8Array): { header: Record<string, unknown>; body: Uint8Array } {
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as Record<string, unknown>;
  const start = Math.ceil((12 + hlen) / 8) * 8;
  return { header, body: new Uint8Array(bytes.subarray(start, bytes.length - 4)) };
}

/**
 * An envelope around any header text and body, sealed with a correct CRC:
 * what a hostile (or buggy) writer could produce. `hlen` overrides the
 * recorded header length.
 */
export function sealEnvelope(headerText: string | Uint8Array, body: Uint8Array, hlen?: number): Uint8Array {
  const json = typeof headerText === "string" ? enc.encode(headerText) : headerText;
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const out = new Uint8Array(start + body.length + 4);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(8, hlen ?? json.length, true);
  out.set(json, 12);
  out.set(body, start);
  return reseal(out);
}

/** The bytes with their last four replaced by the CRC-32 of the rest. */
export function reseal(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 4) return bytes;
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

/** A body edited where loaders look: record headers, floats, keys, length. */
export function mutateBody(r: Rand, body: Uint8Array, recordBytes = 0, recordsAt = 0): Uint8Array {
  const out = new Uint8Array(body);
  const dv = new DataView(out.buffer);
  const n = out.length;
  switch (r.int(7)) {
    case 0: { // a word of a record header (step of last update, learning rate, update count, flags)
      if (recordBytes >= 16 && n > recordsAt + 16) {
        const recs = Math.floor((n - recordsAt) / recordBytes);
        const o = recordsAt + r.int(Math.max(1, recs)) * recordBytes + 4 * r.int(4);
        if (o + 4 <= n) dv.setUint32(o, r.pick([0, 1, 2, 3, 0xffffffff, 0x7fffffff, 1 << 20, r.int(2 ** 32)]), true);
      }
      return out;
    }
    case 1: { // non-finite or huge floats
      for (let k = r.count(2, 16); k > 0 && n >= 4; k--) dv.setFloat32(4 * r.int(n >> 2), r.pick([NaN, Infinity, -Infinity, 3e38, -0, 1e-45, 0]), true);
      return out;
    }
    case 2: { // a 64-bit key copied over another (duplicate ids)
      if (n >= 16) { const a = 8 * r.int(n >> 3), c = 8 * r.int(n >> 3); out.copyWithin(a, c, c + 8); }
      return out;
    }
    case 3: return out.slice(0, r.int(n + 1)); // shorter
    case 4: { // longer
      const extra = new Uint8Array(r.pick([1, 4, 8, 16, recordBytes || 24, 8 + recordBytes]));
      const o2 = new Uint8Array(n + extra.length);
      o2.set(out);
      o2.set(extra, n);
      return o2;
    }
    case 5: { // random bytes
      for (let k = r.count(2, 32); k > 0 && n > 0; k--) out[r.int(n)] = r.int(256);
      return out;
    }
    default: { // zero a range
      const s = r.int(n + 1);
      out.fill(0, s, Math.min(n, s + r.count(16, 256)));
      return out;
    }
  }
}

// ---------------------------------------------------------------- the oracle

/** Messages of internal failures, never acceptable as a refusal of input. */
export const INTERNAL_ERROR = /Cannot (read|set|convert|destructure)|of (undefined|null)\b|is not a function|is not iterable|is not a constructor|Maximum call stack|Invalid array length|Array buffer allocation failed|out of memory|Invalid typed array length|Invalid string length|memory access out of bounds|unreachable|offset is out of bounds|out of range index|Invalid (DataView|atomic)|RuntimeError/i;
/** Words that in a message usually betray an unchecked value; allowed when the message quotes the bad input. */
const SUSPECT = /\b(undefined|null|NaN)\b/;
const QUOTED_SUSPECT = /(\b(is|got|of|holds|optimizer|model|version|kind|format|entry)|[=([{:,]) ?(undefined|null|NaN)\b|"[^"]*\b(undefined|null|NaN)\b[^"]*"|\/(undefined|null|NaN)\b/g;

/**
 * Why an error is not a clear refusal, or null when it is one: an Error (not
 * some other thrown value) whose message is not an internal failure, names
 * `names` (one of them), and uses "undefined"/"null"/"NaN" only where it
 * quotes the bad input.
 */
export function unclear(e: unknown, names: readonly string[]): string | null {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  const m = `${e.name}: ${e.message}`;
  if (INTERNAL_ERROR.test(m)) return `an internal error: ${m}`;
  if (SUSPECT.test(m.replace(QUOTED_SUSPECT, ""))) return `an unclear message: ${m}`;
  if (names.length && !names.some((n) => e.message.includes(n))) return `the message does not name ${names.join(" or ")}: ${m}`;
  return null;
}

// ---------------------------------------------------------------- the driver

/** One fuzz target: inputs from a seeded source, run, and judged. */
export interface FuzzTarget<C> {
  name: string;
  /** Default case count (SPARSECTR_FUZZ_CASES overrides it). */
  cases: number;
  setup(): Promise<C> | C;
  /**
   * One case: builds its inputs from r and runs them. Returns the inputs (to
   * write out on a failure) and the run, which resolves (success) or throws
   * (judged by `judge`); it may also throw AssertionError for a wrong success.
   */
  make(ctx: C, r: Rand, i: number): { files: Record<string, Uint8Array | string>; run: () => Promise<string | void> | string | void };
  /** Why a thrown error is not a clear refusal (null: it is one). */
  judge(e: unknown, ctx: C): string | null;
  /** Checks on the whole run (e.g. enough cases got past the checksum). */
  summary?(report: FuzzReport): void;
}

/** What a target's run met. */
export interface FuzzReport {
  target: string;
  cases: number;
  ok: number;
  refused: number;
  /** Refusals by the start of their message (numbers dropped). */
  kinds: Record<string, number>;
  /** Success outcomes by the label the run returned. */
  labels: Record<string, number>;
  failures: { i: number; seed: number; problem: string; dir: string }[];
  slowestMs: number;
  slowestCase: number;
  seconds: number;
  /** Growth of the peak resident set over the run, MB. */
  peakRssGrowthMb: number;
  /** Largest rise of the peak resident set in one case, MB, and that case. */
  worstCaseRssMb: number;
  worstRssCase: number;
}

const SLOW_MS = 2000;
const HANG_MS = 20_000;
const MAX_GROWTH_MB = 1024;
/** Inputs are at most a few MB: no case needs more than this much more memory at its peak. */
const MAX_CASE_RISE_MB = 256;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name}=${v} must be a non-negative integer`);
  return n;
}

/**
 * Registers one test per target (in the test's thread) that runs the target
 * in a worker thread (this same module, re-imported there) and fails on any
 * unclear error, slow case, hang, crash or large memory growth.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fuzzTargets(moduleUrl: string, targets: FuzzTarget<any>[], baseSeed = 0x5eed): void {
  const seed = envInt("SPARSECTR_FUZZ_SEED") ?? baseSeed;
  const only = process.env.SPARSECTR_FUZZ_ONLY ?? "";
  const [onlyTarget, onlyCase] = only.split(":");
  if (!isMainThread) {
    const wd = workerData as { fuzzTarget?: string; cases: number; seed: number; only?: number } | null;
    const t = targets.find((x) => x.name === wd?.fuzzTarget);
    if (t && wd) void runTarget(t, wd.cases, wd.seed, wd.only);
    return;
  }
  for (const t of targets) {
    if (onlyTarget && onlyTarget !== t.name) continue;
    const cases = envInt("SPARSECTR_FUZZ_CASES") ?? t.cases;
    const oneCase = onlyCase !== undefined && onlyCase !== "" ? Number(onlyCase) : undefined;
    test(`fuzz ${t.name}: ${oneCase !== undefined ? `case ${oneCase}` : `${cases} cases`} (seed ${seed})`, async () => {
      const rep = await supervise(moduleUrl, t.name, cases, seed, oneCase);
      console.log(`fuzz ${t.name}: ${rep.cases} cases in ${rep.seconds.toFixed(1)} s: ${rep.ok} succeeded, ${rep.refused} refused; slowest case ${rep.slowestCase} ${rep.slowestMs.toFixed(0)} ms; peak RSS +${rep.peakRssGrowthMb.toFixed(0)} MB (largest rise ${rep.worstCaseRssMb.toFixed(0)} MB in case ${rep.worstRssCase})`);
      const top = Object.entries(rep.kinds).sort((a, c) => c[1] - a[1]).slice(0, 12);
      for (const [k, n] of top) console.log(`  ${String(n).padStart(5)} x ${k}`);
      for (const [k, n] of Object.entries(rep.labels)) console.log(`  ${String(n).padStart(5)} x ok: ${k}`);
      for (const f of rep.failures) console.log(`FAILED case ${f.i} (SPARSECTR_FUZZ_ONLY=${t.name}:${f.i}, inputs in ${f.dir}): ${f.problem}`);
      if (rep.failures.length) assert.fail(`${rep.failures.length}${rep.failures.length === 20 ? "+" : ""} failing case(s); the first: case ${rep.failures[0].i} (SPARSECTR_FUZZ_ONLY=${t.name}:${rep.failures[0].i}): ${rep.failures[0].problem}`);
      assert.ok(rep.peakRssGrowthMb < MAX_GROWTH_MB, `peak resident set grew by ${rep.peakRssGrowthMb.toFixed(0)} MB (case ${rep.worstRssCase} alone ${rep.worstCaseRssMb.toFixed(0)} MB)`);
      if (oneCase === undefined) t.summary?.(rep);
    });
  }
}

type WorkerMessage = { k: "case"; i: number } | { k: "done"; report: FuzzReport } | { k: "setup" };

function supervise(moduleUrl: string, target: string, cases: number, seed: number, only?: number): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(fileURLToPath(moduleUrl), {
      workerData: { fuzzTarget: target, cases, seed, only },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
      stdout: false,
      stderr: false,
    });
    let current = -1, last = Date.now(), settled = false, setupDone = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      f();
    };
    const where = (): string => (current >= 0 ? `case ${current} (SPARSECTR_FUZZ_ONLY=${target}:${current}, inputs in ${failDir(target, current)})` : "setup");
    const timer = setInterval(() => {
      const limit = setupDone ? HANG_MS : 10 * HANG_MS;
      if (Date.now() - last > limit) {
        finish(() => reject(new Error(`fuzz ${target}: ${where()} made no progress for ${limit / 1000} s: a hang`)));
        void w.terminate();
      }
    }, 250);
    w.on("message", (m: WorkerMessage) => {
      last = Date.now();
      if (m.k === "case") current = m.i;
      else if (m.k === "setup") setupDone = true;
      else finish(() => resolve(m.report));
    });
    w.on("error", (e) => finish(() => reject(new Error(`fuzz ${target}: ${where()} crashed the worker: ${e.stack ?? String(e)}`))));
    w.on("exit", (code) => finish(() => reject(new Error(`fuzz ${target}: the worker exited (code ${code}) during ${where()}`))));
  });
}

/** Where a failing case's inputs are written. */
export function failDir(target: string, i: number): string {
  return join(tmpdir(), "sparsectr-fuzz-failures", `${target}-${i}`);
}

function kindOf(e: unknown): string {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return m.replace(/\/[^\s:]*\//g, "/").replace(/\d+/g, "N").slice(0, 90);
}

async function runTarget<C>(t: FuzzTarget<C>, cases: number, seed: number, only?: number): Promise<void> {
  const port = parentPort!;
  const ctx = await t.setup();
  port.postMessage({ k: "setup" });
  const rep: FuzzReport = {
    target: t.name, cases: 0, ok: 0, refused: 0, kinds: {}, labels: {}, failures: [],
    slowestMs: 0, slowestCase: -1, seconds: 0, peakRssGrowthMb: 0, worstCaseRssMb: 0, worstRssCase: -1,
  };
  const rss0 = process.resourceUsage().maxRSS;
  let rssPrev = rss0;
  const t0 = performance.now();
  for (let i = only ?? 0; i < (only !== undefined ? only + 1 : cases); i++) {
    port.postMessage({ k: "case", i });
    const s = caseSeed(seed, i);
    const r = new Rand(s);
    let files: Record<string, Uint8Array | string> = {};
    let problem: string | null = null;
    const c0 = performance.now();
    try {
      const made = t.make(ctx, r, i);
      files = made.files;
      const label = await made.run();
      rep.ok++;
      const l = label || "success";
      rep.labels[l] = (rep.labels[l] ?? 0) + 1;
    } catch (e) {
      if (e instanceof assert.AssertionError) problem = `a wrong success: ${e.message}`;
      else {
        problem = t.judge(e, ctx);
        if (problem === null) {
          if (process.env.SPARSECTR_FUZZ_VERBOSE) console.log(`case ${i}: ${e instanceof Error ? e.message.slice(0, 300) : String(e)}`);
          rep.refused++;
          const k = kindOf(e);
          rep.kinds[k] = (rep.kinds[k] ?? 0) + 1;
        }
      }
    }
    const ms = performance.now() - c0;
    if (ms > rep.slowestMs) { rep.slowestMs = ms; rep.slowestCase = i; }
    if (ms > SLOW_MS && problem === null) problem = `took ${ms.toFixed(0)} ms (limit ${SLOW_MS})`;
    const rss = process.resourceUsage().maxRSS, rise = (rss - rssPrev) / 1024;
    if (rise > rep.worstCaseRssMb) { rep.worstCaseRssMb = rise; rep.worstRssCase = i; }
    if (rise > MAX_CASE_RISE_MB && problem === null) problem = `raised the peak resident set by ${rise.toFixed(0)} MB (limit ${MAX_CASE_RISE_MB})`;
    rssPrev = rss;
    if (problem !== null) {
      const dir = failDir(t.name, i);
      try {
        mkdirSync(dir, { recursive: true });
        for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
      } catch { /* the report still names the case */ }
      if (rep.failures.length < 20) rep.failures.push({ i, seed: s, problem: problem.slice(0, 600), dir });
    }
    rep.cases++;
  }
  rep.seconds = (performance.now() - t0) / 1000;
  rep.peakRssGrowthMb = (process.resourceUsage().maxRSS - rss0) / 1024;
  port.postMessage({ k: "done", report: rep });
}

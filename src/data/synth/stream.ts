/**
 * The streaming driver: rows go out in chunks of about 1 MiB, and each chunk
 * waits for the destination to drain (backpressure), so memory stays flat for
 * any row count. Beside the data: the true probabilities (`.prob`), the truth
 * (`.truth.json`), and the format's side file (libsvm featindex, csv schema).
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { createGzip } from "node:zlib";
import { writeFileAtomic } from "../../io/atomic.js";
import { ByteWriter } from "./bytes.js";
import { csvSchema, featIndexSize, rowFormat, writeFeatIndex } from "./formats.js";
import type { Generator } from "./generator.js";
import { buildTruth, TruthAccumulator, type TruthJson } from "./truth.js";
import type { SynthFormat } from "./types.js";

/** Receives chunks of output; a returned promise is awaited before the next chunk. */
export type ChunkSink = (chunk: Uint8Array) => void | Promise<void>;

export interface WriteRowsOptions {
  /** Write the format's header line (avazu, csv) first (default true). */
  header?: boolean;
  /** Receives the `.prob` text: one probability per row. */
  prob?: ChunkSink;
  /** Receives every row's probability and label. */
  truth?: TruthAccumulator;
  /** Bytes per chunk (default 1 MiB). */
  chunkBytes?: number;
}

const TWO53 = 2 ** 53;

/** Writes rows start .. start + count - 1 of g in a format (see {@link Generator.writeRows}). */
export async function writeRows(g: Generator, format: SynthFormat, start: number, count: number, sink: ChunkSink, opts: WriteRowsOptions = {}): Promise<void> {
  checkRange(start, count);
  const fmt = rowFormat(format, g);
  const w = new ByteWriter(Math.max(opts.chunkBytes ?? 1 << 20, 2 * fmt.maxRowBytes, 4096));
  const pw = opts.prob ? new ByteWriter(1 << 18) : undefined;
  const truth = opts.truth;
  if ((opts.header ?? true) && fmt.header !== undefined) w.text(fmt.header);
  const end = start + count;
  for (let i = start; i < end; i++) {
    if (!w.room(fmt.maxRowBytes)) await sink(w.take());
    if (pw && !pw.room(12)) await opts.prob!(pw.take());
    g.fill(i);
    fmt.row(w, g, i);
    if (pw) {
      pw.nano(g.q);
      pw.byte(10);
    }
    truth?.add(g.q, g.label);
  }
  if (w.pos > 0) await sink(w.take());
  if (pw && pw.pos > 0) await opts.prob!(pw.take());
}

function checkRange(start: number, count: number): void {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`start row ${start} must be a non-negative safe integer`);
  if (!Number.isSafeInteger(count) || count < 0 || start + count > TWO53) throw new RangeError(`row count ${count} must be a non-negative integer with start + count <= 2^53`);
}

/** A Writable as a ChunkSink: waits for 'drain' when the stream's buffer is full, fails on the stream's error. */
export class StreamSink {
  private error: Error | undefined;
  /** Settles when the stream closes or fails (one listener for the stream's life, not one per wait). */
  private readonly broken: Promise<void>;

  constructor(readonly stream: Writable, private readonly done: Promise<void>) {
    this.broken = new Promise((resolve) => {
      stream.once("close", resolve);
      stream.on("error", (e: Error) => { this.error ??= e; resolve(); });
    });
    done.catch((e: Error) => { this.error ??= e; });
  }

  /** Opens a file (gzip when the path ends in .gz) or stdout for "-". */
  static open(path: string, gzipLevel = 6): StreamSink {
    if (path === "-") return new StreamSink(process.stdout, Promise.resolve());
    const file = createWriteStream(path);
    const closed = new Promise<void>((resolve, reject) => { file.once("close", resolve); file.once("error", reject); });
    if (!path.endsWith(".gz")) return new StreamSink(file, closed);
    const gz = createGzip({ level: gzipLevel });
    gz.pipe(file);
    gz.on("error", (e) => file.destroy(e));
    file.on("error", (e) => gz.destroy(e));
    return new StreamSink(gz, closed);
  }

  readonly write: ChunkSink = async (chunk) => {
    if (this.error) throw this.error;
    if (!this.stream.write(chunk)) {
      await Promise.race([once(this.stream, "drain").catch(() => undefined), this.broken]);
      if (this.error) throw this.error;
    }
  };

  /** Abandons the stream after a failure (never stdout). */
  destroy(): void {
    if (this.stream !== process.stdout) this.stream.destroy();
  }

  /** Ends the stream and waits until the bytes are in the file. */
  async end(): Promise<void> {
    if (this.error) throw this.error;
    if (this.stream === process.stdout) {
      await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
      return;
    }
    this.stream.end();
    await this.done;
    if (this.error) throw this.error;
  }
}

/** Options of {@link generateFiles}. */
export interface GenerateFilesOptions {
  format: SynthFormat;
  start: number;
  rows: number;
  /** Data file ("-" = stdout; a .gz suffix compresses). */
  out: string;
  /** Base of `.truth.json` and `.prob` (default: out, unless out is stdout); null: none. */
  truth?: string | null;
  /** libsvm feature dictionary path (default `<out>.featindex`); null: none. */
  featindex?: string | null;
  /** Refuse a featindex longer than this (default 5M lines). */
  maxFeatindex?: number;
  /** gzip level 0-9 (default 6). */
  gzipLevel?: number;
}

/** What {@link generateFiles} wrote. */
export interface GenerateSummary {
  rows: number;
  seconds: number;
  files: TruthJson["files"] & { truth?: string };
  truth?: TruthJson;
}

/** Writes a data file and its side files; the truth last, when everything else is complete. */
export async function generateFiles(g: Generator, o: GenerateFilesOptions): Promise<GenerateSummary> {
  checkRange(o.start, o.rows);
  const files: GenerateSummary["files"] = {};
  const toStdout = o.out === "-";
  const truthBase = o.truth === undefined ? (toStdout ? null : o.out) : o.truth;
  const featPath = o.format !== "libsvm" ? null : o.featindex === undefined ? (toStdout ? null : `${o.out}.featindex`) : o.featindex;
  if (featPath !== null) {
    const lines = featIndexSize(g.config.fields), max = o.maxFeatindex ?? 5_000_000;
    if (lines > max) {
      throw new RangeError(`the featindex would have ${lines} lines (over ${max}): use a smaller --scale, or --no-featindex (indices stay field offset + 1 + key)`);
    }
  }
  const t0 = performance.now();
  const data = StreamSink.open(o.out, o.gzipLevel);
  if (!toStdout) files.data = o.out;
  let prob: StreamSink | undefined;
  if (truthBase !== null) {
    prob = StreamSink.open(`${truthBase}.prob`);
    files.prob = `${truthBase}.prob`;
  }
  const acc = truthBase !== null ? new TruthAccumulator(o.rows) : undefined;
  try {
    await writeRows(g, o.format, o.start, o.rows, data.write, { prob: prob?.write, truth: acc });
    await data.end();
    await prob?.end();
  } catch (e) {
    data.destroy();
    prob?.destroy();
    throw e;
  }
  if (featPath !== null) {
    const fi = StreamSink.open(featPath);
    await writeFeatIndex(g, fi.write);
    await fi.end();
    files.featindex = featPath;
  }
  if (o.format === "csv" && !toStdout) {
    const path = `${o.out}.schema.json`;
    writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(csvSchema(g.config.fields), null, 2) + "\n"));
    files.schema = path;
  }
  const summary: GenerateSummary = { rows: o.rows, seconds: (performance.now() - t0) / 1000, files };
  if (acc && truthBase !== null) {
    const truth = buildTruth(g, o.format, o.start, acc.finish(), { ...files });
    const path = `${truthBase}.truth.json`;
    writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(truth, null, 1) + "\n"));
    summary.files.truth = path;
    summary.truth = truth;
  }
  return summary;
}

// One streaming pass over the rows of a DataFile's files, in batches.
import type { Batch } from "./batch.js";
import { BatchAssembler } from "./assemble.js";
import { BadRows } from "./badrows.js";
import { DataError, RowError } from "./errors.js";
import { lineBlocks } from "./lines.js";
import { readHeader } from "./probe.js";
import { seekStart } from "./seek.js";
import { fileChunks } from "./source.js";
import type { RowParser } from "./formats/parser.js";
import type { DataFile, MaxBadRows, ReadStats } from "./types.js";

/** What a pass needs of an opened DataFile beyond its public fields. */
export interface PassPlan {
  /** A fresh parser for file `part` (it reads that file's header, if any). */
  makeParser(part: number): Promise<RowParser>;
  batchSize: number;
  /** Skip and count malformed rows (up to `limit`) instead of failing. */
  skip: boolean;
  limit: MaxBadRows;
  onSkip?: (e: DataError) => void;
}

/**
 * The rows of file.paths in order, in batches of plan.batchSize (a batch
 * never spans two files: each file's last batch may be short), those with
 * index in [range.start, range.end) over the files' concatenation. Each
 * batch carries its file's index (`part`), each row its line in that file.
 * file.stats is this pass's, updated as it goes. With seek points in the
 * file's options (ReadOptions.seek) and a start past row 0, the pass starts
 * at the best point (data/seek.ts): the files before its file and the bytes
 * before it are not read (a header-bound parser reads its file's header
 * line on its own); what it yields, counts and throws is the same.
 */
export async function* pass(plan: PassPlan, range: { start?: number; end?: number }, file: DataFile): AsyncGenerator<Batch, ReadStats> {
  // Header-bound parsers learn their fields on the header line: take the counts the file was opened with.
  const F = file.fields.length, N = file.numeric.length;
  const start = range.start ?? 0, end = range.end ?? Infinity;
  const stats: ReadStats = { rows: 0, skipped: 0, firstBad: [], seen: 0 };
  file.stats = stats;
  const bad = plan.skip ? new BadRows(plan.limit, stats, plan.onSkip) : undefined;
  const asm = new BatchAssembler(plan.batchSize, F, N, 0);
  const last = file.paths.length - 1;
  const from = await seekStart(file.options.seek, start, file);
  // The rows before the point are before the range: only their count matters.
  if (from !== undefined) stats.seen = from.row;
  files: for (let part = from?.part ?? 0; part <= last; part++) {
    const path = file.paths[part];
    const parser = await plan.makeParser(part);
    let bag = parser.bag;
    asm.setPart(part);
    let headerDone = !parser.hasHeader;
    const at = from !== undefined && from.part === part ? from : undefined;
    if (at !== undefined && !headerDone) {
      // The header line is before the point: read it on its own.
      await readHeader(path, parser);
      headerDone = true;
      bag = parser.bag;
      if (parser.fields.length !== F || parser.numeric.length !== N) throw changed(path, 1);
    }
    for await (const blk of lineBlocks(fileChunks(at?.inflated ?? path, at?.byte ?? 0), parser.quoted, path, at?.line ?? 1)) {
      for (let k = 0; k < blk.count; k++) {
        const line = blk.firstLine + k, s = blk.starts[k], e = blk.ends[k];
        if (!headerDone) {
          try {
            parser.header(blk.buf, s, e);
          } catch (err) {
            if (err instanceof RowError) throw new DataError(path, line, err.column, err.reason);
            throw err;
          }
          headerDone = true;
          bag = parser.bag; // a header-bound parser makes its bag with its fields
          if (parser.fields.length !== F || parser.numeric.length !== N) throw changed(path, line);
          continue;
        }
        const idx = stats.seen++;
        if (idx < start) continue;
        if (idx >= end) break files;
        let label: number;
        try {
          if (s === e) throw new RowError(undefined, "empty line");
          const r = asm.rows;
          // In the bag layout the keys go after the batch's keys so far (which may grow first).
          const ko = asm.bagged ? asm.keyOffset(path, line) : 2 * F * r;
          const batch = asm.batch;
          label = parser.parse(blk.buf, s, e, batch.keyWords, ko, batch.numeric, N * r);
        } catch (err) {
          if (!(err instanceof RowError)) throw err;
          const de = new DataError(path, line, err.column, err.reason);
          if (bad === undefined) throw de;
          bad.skip(de);
          continue;
        }
        stats.rows++;
        if (bad !== undefined) bad.read();
        if (asm.commit(label, line, path, bag)) yield asm.take(stats.seen);
      }
    }
    // A batch never spans two files.
    if (part < last) {
      const b = asm.takeRest(stats.seen);
      if (b !== null) yield b;
    }
  }
  bad?.end();
  // A pass that stopped at the range's end has counted the first row past it.
  const b = asm.takeRest(Math.min(stats.seen, end));
  if (b !== null) yield b;
  return stats;
}

/** The error of a file whose header no longer gives the fields it was opened with. */
function changed(path: string, line: number): DataError {
  return new DataError(path, line, undefined, "the header changed since the file was opened");
}

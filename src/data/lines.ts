import { DataError } from "./errors.js";

/**
 * Splits a stream of byte chunks into lines without copying each line: yields
 * blocks of line boundaries over one buffer. "\n" ends a line; a "\r" before it
 * is dropped (CRLF files); a last line without a newline counts; with `quote`
 * set, newlines inside quoted fields do not end a line (RFC 4180 CSV).
 */
export interface LineBlock {
  buf: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
  /** 1-based line number of the block's first line. */
  firstLine: number;
  /** Byte offset in the stream of `buf[0]` (a line of the block starts at `offset + starts[k]`). */
  offset: number;
}

const MAX_LINE = 64 << 20;

/**
 * The lines of a stream of chunks, as above; a line over 64 MiB is a DataError
 * located by `name` (the file's). Lines are numbered from `firstLine` (a
 * stream that starts at a line in the middle of a file numbers its lines as
 * in the file); block offsets count from the stream's first byte.
 */
export async function* lineBlocks(chunks: AsyncIterable<Buffer>, quote = false, name = "input", firstLine = 1): AsyncGenerator<LineBlock> {
  // The start of an unfinished line: the chunks it spans, joined only once the
  // line ends (joining at every chunk made a long line cost quadratic time).
  let carry: Buffer[] = [], carryLen = 0;
  let line = firstLine;
  // Bytes of the chunks before the current one: the carry is their last carryLen.
  let consumed = 0;
  let starts: Int32Array = new Int32Array(1 << 14), ends: Int32Array = new Int32Array(1 << 14);
  let inQuote = false;
  const tooLong = (at: number): DataError => new DataError(name, at, undefined, `the line is longer than ${MAX_LINE} bytes: not a text file of rows, or a runaway quoted field`);
  for await (const chunk of chunks) {
    if (carryLen > 0) {
      // Does the chunk end the line? If not, keep it and go on.
      let closes = false;
      if (!quote) closes = chunk.indexOf(10) >= 0;
      else {
        let q: boolean = inQuote;
        for (let i = 0; i < chunk.length && !closes; i++) {
          const c = chunk[i];
          if (c === 34) q = !q;
          else if (c === 10 && !q) closes = true;
        }
        if (!closes) inQuote = q;
      }
      if (!closes) {
        carry.push(chunk);
        carryLen += chunk.length;
        consumed += chunk.length;
        if (carryLen > MAX_LINE) throw tooLong(line);
        continue;
      }
    }
    // The unfinished line is joined with the chunk's head up to its newline only, a
    // block of its own, and the rest of the chunk is a block without a copy (joining
    // the whole chunk copied every byte of the stream once). Quoted CSV joins it all.
    const pieces: [Buffer, number, number][] = [];
    if (carryLen > 0 && !quote) {
      const nl = chunk.indexOf(10);
      pieces.push([Buffer.concat([...carry, chunk.subarray(0, nl + 1)]), consumed - carryLen, carryLen]);
      if (nl + 1 < chunk.length) pieces.push([chunk.subarray(nl + 1), consumed + nl + 1, 0]);
    } else pieces.push([carryLen ? Buffer.concat([...carry, chunk]) : chunk, consumed - carryLen, carryLen]);
    consumed += chunk.length;
    for (const [buf, offset, scanFrom] of pieces) {
      let count = 0, s = 0;
      // Quote state carries over the part of the line already scanned.
      let i = scanFrom;
      if (!quote) {
        for (;;) {
          const nl = buf.indexOf(10, i);
          if (nl < 0) break;
          if (count === starts.length) ({ starts, ends } = grow(starts, ends));
          starts[count] = s;
          ends[count] = nl > s && buf[nl - 1] === 13 ? nl - 1 : nl;
          count++;
          s = i = nl + 1;
        }
      } else {
        for (; i < buf.length; i++) {
          const c = buf[i];
          if (c === 34) inQuote = !inQuote;
          else if (c === 10 && !inQuote) {
            if (count === starts.length) ({ starts, ends } = grow(starts, ends));
            starts[count] = s;
            ends[count] = i > s && buf[i - 1] === 13 ? i - 1 : i;
            count++;
            s = i + 1;
          }
        }
      }
      carry = s < buf.length ? [Buffer.from(buf.subarray(s))] : [];
      carryLen = buf.length - s;
      if (carryLen > MAX_LINE) throw tooLong(line + count);
      if (count > 0) {
        yield { buf, starts, ends, count, firstLine: line, offset };
        line += count;
      }
    }
  }
  if (carryLen > 0) {
    const last = carry.length === 1 ? carry[0] : Buffer.concat(carry);
    const e = last[last.length - 1] === 13 ? last.length - 1 : last.length;
    yield { buf: last, starts: Int32Array.of(0), ends: Int32Array.of(e), count: 1, firstLine: line, offset: consumed - carryLen };
  }
}

function grow(a: Int32Array, b: Int32Array): { starts: Int32Array; ends: Int32Array } {
  const s = new Int32Array(a.length * 2), e = new Int32Array(b.length * 2);
  s.set(a);
  e.set(b);
  return { starts: s, ends: e };
}

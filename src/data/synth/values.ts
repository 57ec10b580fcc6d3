/**
 * Spelling of field values: rank -> text (written straight as bytes on the hot
 * path) and text -> rank (to answer "is this value informative?" from a file's
 * text). Every spelling is a bijection of the field's ranks, so a vocabulary
 * of V ranks is exactly V distinct strings.
 */
import { ByteWriter } from "./bytes.js";
import { HourClock } from "./clock.js";
import { mix, permute, STREAM, streamPrefix, unpermute, word } from "./hash.js";
import type { FieldSpec } from "./types.js";

const INT = 0, HOUR = 1, HEX8 = 2, DEC = 3, U32 = 4, IP = 5, MD5 = 6;
const STYLES = { hex8: HEX8, dec: DEC, u32: U32, ip: IP, md5: MD5 } as const;
const encoder = new TextEncoder();
const FORBIDDEN = /[\t\n\r,"\s]/;

/** Spells the values of one field. */
export class FieldCodec {
  /** Longest spelling in bytes (bounds the row size). */
  readonly maxLength: number;
  private readonly style: number;
  private readonly codeBytes: Uint8Array[];
  private readonly codeText: string[];
  private readonly codeRank = new Map<string, number>();
  private readonly base: number;
  private readonly key: number;
  private readonly prefix: number;

  /**
   * @param spec the field
   * @param field its position (seeds its bijection)
   * @param seed the config's seed key
   * @param clock the clock of `hour` fields
   */
  /** `extent`: the ids the field spells (its vocabulary, or more on a drifting day: see drift.ts). */
  constructor(private readonly spec: FieldSpec, field: number, seed: number, private readonly clock: HourClock, private readonly extent = spec.vocab) {
    this.style = spec.kind === "integer" ? INT : spec.kind === "hour" ? HOUR : STYLES[spec.style ?? "hex8"];
    if (this.style === undefined) throw new RangeError(`field ${spec.name}: unknown style ${JSON.stringify(spec.style)}`);
    this.codeText = spec.kind === "categorical" ? (spec.codes ?? []).slice(0, spec.vocab) : [];
    this.codeBytes = this.codeText.map((c) => encoder.encode(c));
    this.base = spec.base ?? 0;
    this.prefix = streamPrefix(seed, field, STREAM.values);
    this.key = word(this.prefix, 0);
    const rest = spec.vocab - this.codeText.length;
    if (this.style === IP && rest > 1 << 24) throw new RangeError(`field ${spec.name}: the ip style spells at most 2^24 values, vocab is ${spec.vocab}`);
    if (this.style === DEC && !Number.isSafeInteger(this.base + rest)) throw new RangeError(`field ${spec.name}: dec values must be safe integers`);
    this.codeText.forEach((c, r) => {
      if (c === "" || FORBIDDEN.test(c)) throw new RangeError(`field ${spec.name}: code ${JSON.stringify(c)} is empty or has a separator, quote or space`);
      if (this.codeRank.has(c)) throw new RangeError(`field ${spec.name}: code ${JSON.stringify(c)} appears twice`);
      this.codeRank.set(c, r);
    });
    // A code that is also the spelling of a later rank would merge two values.
    for (const c of this.codeText) {
      if (this.styleDecode(c) >= 0) throw new RangeError(`field ${spec.name}: code ${JSON.stringify(c)} collides with a ${spec.style ?? "hex8"} value`);
    }
    this.maxLength = this.computeMaxLength();
  }

  private computeMaxLength(): number {
    const v = this.spec.vocab;
    const codes = this.codeBytes.reduce((m, c) => Math.max(m, c.length), 0);
    switch (this.style) {
      case INT: return String(Math.max(0, v - 1)).length;
      case HOUR: return 8;
      case HEX8: return Math.max(codes, 8);
      case DEC: return Math.max(codes, String(this.base).length, String(this.base + v).length);
      case U32: return Math.max(codes, 10);
      case IP: return Math.max(codes, 13);
      default: return Math.max(codes, 32);
    }
  }

  /** Writes rank's spelling (rank in [0, vocab); for `hour`, the hour index). */
  put(w: ByteWriter, rank: number): void {
    switch (this.style) {
      case INT: w.uint(rank); return;
      case HOUR: w.bytes(this.clock.bytes(rank)); return;
    }
    const nc = this.codeBytes.length;
    if (rank < nc) { w.bytes(this.codeBytes[rank]); return; }
    const j = rank - nc;
    switch (this.style) {
      case HEX8: w.hex8(permute(j, 32, this.key)); return;
      case DEC: w.int(this.base + j); return;
      default: w.text(this.styleText(j));
    }
  }

  /** The spelling of a rank. */
  text(rank: number): string {
    if (this.style === INT) return String(rank);
    if (this.style === HOUR) return this.clock.text(rank);
    if (rank < this.codeText.length) return this.codeText[rank];
    return this.styleText(rank - this.codeText.length);
  }

  private styleText(j: number): string {
    switch (this.style) {
      case HEX8: return hex8(permute(j, 32, this.key));
      case DEC: return String(this.base + j);
      case U32: return String(permute(j, 32, this.key));
      case IP: {
        const x = permute(j, 24, this.key);
        return `${x >>> 16}.${(x >>> 8) & 255}.${x & 255}.*`;
      }
      default: {
        const x = permute(j, 32, this.key), p = mix(this.prefix, x);
        return hex8(x) + hex8(word(p, 1)) + hex8(word(p, 2)) + hex8(word(p, 3));
      }
    }
  }

  /** The rank of a spelling, or -1 when the text is not a value of this field. */
  decode(text: string): number {
    if (this.style === INT) {
      if (!/^(0|[1-9]\d{0,15})$/.test(text)) return -1;
      const v = Number(text);
      return v < this.spec.vocab ? v : -1;
    }
    if (this.style === HOUR) return this.clock.index(text);
    const r = this.codeRank.get(text);
    if (r !== undefined) return r;
    const j = this.styleDecode(text);
    return j < 0 ? -1 : j + this.codeText.length;
  }

  /** j of a style spelling within the field's range, else -1 (checked by re-spelling). */
  private styleDecode(text: string): number {
    let j = -1;
    switch (this.style) {
      case HEX8: case MD5:
        if (/^[0-9a-f]{8}/.test(text)) j = unpermute(parseInt(text.slice(0, 8), 16), 32, this.key);
        break;
      case DEC:
        if (/^-?\d{1,16}$/.test(text)) j = Number(text) - this.base;
        break;
      case U32:
        if (/^\d{1,10}$/.test(text) && Number(text) < 2 ** 32) j = unpermute(Number(text), 32, this.key);
        break;
      case IP: {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\*$/.exec(text);
        if (m) j = unpermute((Number(m[1]) << 16) | (Number(m[2]) << 8) | Number(m[3]), 24, this.key);
        break;
      }
    }
    if (j < 0 || j >= this.extent - this.codeText.length) return -1;
    return this.styleText(j) === text ? j : -1;
  }
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, "0");
}

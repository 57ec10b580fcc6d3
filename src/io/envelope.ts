import { crc32 } from "./crc32.js";

const MAGIC = "SPCTR\u0000ST";
const MAX_HEADER = 1 << 20;

/**
 * A saved state: 8-byte magic, u32 header length, JSON header, zero padding to
 * 8 bytes, the binary body, then a u32 CRC-32 of everything before it. Loaders
 * check sizes against the header before allocating anything. With `into`,
 * see {@link encodeEnvelopeInto}.
 */
export function encodeEnvelope(header: Record<string, unknown>, parts: readonly Uint8Array[], into?: Uint8Array, seal = true): Uint8Array {
  return encodeEnvelopeInto(header, parts.map((p) => p.length), (k, dest) => dest.set(parts[k]), into, seal);
}

/**
 * The bytes of {@link encodeEnvelope} whose body parts, of `sizes` bytes,
 * `fill` writes in place (part k into `dest`, 8-byte aligned in its buffer):
 * a state copied out of memory once, not into parts and then again into
 * the envelope. With `into` (an earlier state's bytes, no longer needed),
 * the bytes are written over its buffer when they fit there, else into a
 * new buffer with a quarter more room, so that copies of a growing state
 * (the best state of a run, kept at each evaluation) reuse memory already
 * paged in: a copy into fresh memory pays a page fault every 4 KiB, several
 * times the cost of the copy itself. With `seal` false the CRC is left
 * to {@link sealEnvelope} (its 4 bytes zero until then): a copy taken while
 * training waits is sealed later, or never when it is never read back.
 */
export function encodeEnvelopeInto(header: Record<string, unknown>, sizes: readonly number[], fill: (k: number, dest: Uint8Array) => void, into?: Uint8Array, seal = true): Uint8Array {
  const head = envelopeHead(header);
  const out = room(head.length + sizes.reduce((a, b) => a + b, 0) + 4, into);
  out.set(head);
  let o = head.length;
  sizes.forEach((n, k) => {
    fill(k, out.subarray(o, o + n));
    o += n;
  });
  if (seal) sealEnvelope(out);
  else new DataView(out.buffer, out.byteOffset).setUint32(o, 0, true);
  return out;
}

/** Writes the CRC of a state's bytes (encodeEnvelopeInto without `seal`) into its last 4 bytes. */
export function sealEnvelope(bytes: Uint8Array): void {
  const o = bytes.length - 4;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(o, crc32(bytes.subarray(0, o)), true);
}

/**
 * `total` bytes at the start of `into`'s buffer when `into` starts it (as
 * the bytes this module returns do) and they fit; else new, a quarter more
 * when `into` was given. The whole buffer may be written over: it must hold
 * nothing else that is still needed.
 */
function room(total: number, into: Uint8Array | undefined): Uint8Array {
  if (into === undefined) return new Uint8Array(total);
  if (into.byteOffset === 0 && into.buffer instanceof ArrayBuffer && into.buffer.byteLength >= total) return new Uint8Array(into.buffer, 0, total);
  return new Uint8Array(new ArrayBuffer(Math.ceil(total * 1.25)), 0, total);
}

/**
 * The bytes of {@link encodeEnvelope} as a list of chunks (the parts
 * themselves, not copies), for writing a large state without holding it twice.
 */
export function envelopeChunks(header: Record<string, unknown>, parts: readonly Uint8Array[]): Uint8Array[] {
  const head = envelopeHead(header);
  let crc = crc32(head);
  // Empty parts are skipped: Node's native zlib.crc32 returns 0, not the running
  // value, for an empty array over a zero-length buffer (an empty table's ids).
  for (const p of parts) if (p.length > 0) crc = crc32(p, crc);
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, crc, true);
  return [head, ...parts, tail];
}

/** The bytes before a state's body: magic, header length, header, zero padding to 8 bytes. */
function envelopeHead(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil((12 + json.length) / 8) * 8);
  for (let i = 0; i < 8; i++) head[i] = MAGIC.charCodeAt(i);
  new DataView(head.buffer).setUint32(8, json.length, true);
  head.set(json, 12);
  return head;
}

/** The header and body of a saved state; throws naming what is wrong. */
export function decodeEnvelope(bytes: Uint8Array, what: string): { header: Record<string, unknown>; body: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`);
  // A Node Buffer's slice() is a view, not a copy: work on a plain Uint8Array so
  // that the loaders' slice().buffer holds exactly the bytes sliced.
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16) throw new RangeError(`${what}: ${bytes.length} bytes is too short to be a saved state`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new RangeError(`${what}: not a sparsectr saved state (bad magic)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(8, true);
  if (hlen > MAX_HEADER || 12 + hlen + 4 > bytes.length) throw new RangeError(`${what}: header length ${hlen} does not fit the ${bytes.length} bytes given`);
  const stored = dv.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) throw new RangeError(`${what}: checksum mismatch (stored ${stored}, computed ${actual}): the state is corrupt or truncated`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + hlen)));
  } catch (e) {
    throw new RangeError(`${what}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new RangeError(`${what}: header is not a JSON object`);
  const bodyStart = Math.ceil((12 + hlen) / 8) * 8;
  if (bodyStart > bytes.length - 4) throw new RangeError(`${what}: body start ${bodyStart} lies past the end`);
  return { header: header as Record<string, unknown>, body: bytes.subarray(bodyStart, bytes.length - 4) };
}

/** Reads a header field that must be a non-negative safe integer at most max. */
export function intField(h: Record<string, unknown>, key: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = h[key];
  if (v === undefined) throw new RangeError(`${what}: header field "${key}" is missing (an integer in [0, ${max}])`);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${what}: header field "${key}" = ${JSON.stringify(v)} is not an integer in [0, ${max}]`);
  }
  return v;
}

import zlib from "node:zlib";

/**
 * CRC-32 (IEEE 802.3, as zlib and PNG), reflected polynomial 0xedb88320.
 * Eight bytes per step with eight derived tables ("slicing by 8"): T[0] is
 * the classic byte table, T[k][b] advances T[k-1][b] by one more zero byte.
 */
const T = (() => {
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  }
  return t;
})();

/** CRC-32 of bytes, continuing from `crc` when given: Node's native one when it has it (20.15+), else {@link crc32Ts}. */
export const crc32: (bytes: Uint8Array, crc?: number) => number = typeof zlib.crc32 === "function"
  // Node's returns 0 for empty input whatever the running value: an empty part continues nothing.
  ? (bytes, crc = 0) => (bytes.length === 0 ? crc >>> 0 : zlib.crc32(bytes, crc))
  : crc32Ts;

/** The TypeScript CRC-32 (about 600 MB/s here; the native one is several times faster). */
export function crc32Ts(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  let i = 0;
  const n8 = bytes.length - 8;
  for (; i <= n8; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)]
      ^ T[768 + bytes[i + 4]] ^ T[512 + bytes[i + 5]] ^ T[256 + bytes[i + 6]] ^ T[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

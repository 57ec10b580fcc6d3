// CRC-32: the sliced TypeScript version and the one in use agree with the
// bit-by-bit definition on every length and alignment, and continue a CRC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32, crc32Ts } from "../../src/io/crc32.js";
import { rng } from "../helpers/rng.js";

function bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

test("crc32: known values, every length 0..80 at several offsets, continuation", () => {
  const enc = new TextEncoder();
  assert.equal(crc32Ts(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32Ts(new Uint8Array(0)), 0);
  // An empty piece continues the running value unchanged.
  assert.equal(crc32(new Uint8Array(0), 0xcbf43926), 0xcbf43926);
  assert.equal(crc32Ts(new Uint8Array(0), 0xcbf43926), 0xcbf43926);
  const r = rng(3), buf = Uint8Array.from({ length: 200 }, () => Math.floor(r() * 256));
  for (let off = 0; off < 9; off++) {
    for (let n = 0; n <= 80; n++) {
      const x = buf.subarray(off, off + n), want = bitwise(x);
      assert.equal(crc32Ts(x), want, `ts, offset ${off}, length ${n}`);
      assert.equal(crc32(x), want, `in use, offset ${off}, length ${n}`);
      const cut = n >> 1;
      assert.equal(crc32Ts(x.subarray(cut), crc32Ts(x.subarray(0, cut))), want);
      assert.equal(crc32(x.subarray(cut), crc32(x.subarray(0, cut))), want);
    }
  }
});

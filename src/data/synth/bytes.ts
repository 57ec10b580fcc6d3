/**
 * An append-only byte buffer for the row writers. Writing digits and hex
 * straight into bytes avoids building a string per value (the generator's
 * output is tens of gigabytes at full Criteo scale).
 */

const HEX = new TextEncoder().encode("0123456789abcdef");
const encoder = new TextEncoder();

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;

  /** @param capacity bytes per chunk; a row must fit in what {@link room} asks for. */
  constructor(readonly capacity = 1 << 20) {
    this.buf = new Uint8Array(capacity);
  }

  /** True when `n` more bytes fit in the current chunk. */
  room(n: number): boolean {
    return this.pos + n <= this.buf.length;
  }

  /**
   * The bytes written so far, as a chunk that stays valid (the writer moves on
   * to a fresh buffer, since streams keep references to what they are given).
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(this.capacity);
    this.pos = 0;
    return out;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  bytes(src: Uint8Array): void {
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** ASCII/UTF-8 text (for headers and side files, not the hot path). */
  text(s: string): void {
    this.bytes(encoder.encode(s));
  }

  /** A non-negative safe integer in decimal. */
  uint(n: number): void {
    let len = 1;
    for (let t = 10; t <= n; t *= 10) len++;
    const buf = this.buf;
    let p = this.pos + len;
    this.pos = p;
    if (n < 2147483648) {
      let v = n | 0;
      do {
        const q = (v / 10) | 0;
        buf[--p] = 48 + v - q * 10;
        v = q;
      } while (v > 0);
    } else {
      let v = n;
      do {
        const q = Math.floor(v / 10);
        buf[--p] = 48 + (v - q * 10);
        v = q;
      } while (v > 0);
    }
  }

  /** A safe integer in decimal, with a minus sign when negative. */
  int(n: number): void {
    if (n < 0) {
      this.buf[this.pos++] = 45;
      this.uint(-n);
    } else this.uint(n);
  }

  /** A 32-bit word as 8 lowercase hex digits. */
  hex8(x: number): void {
    const buf = this.buf, p = this.pos;
    for (let i = 7; i >= 0; i--) {
      buf[p + i] = HEX[x & 15];
      x >>>= 4;
    }
    this.pos = p + 8;
  }

  /**
   * A probability q / 1e9 (q an integer in [1, 1e9)) as "0." and q's nine
   * digits without trailing zeros: the shortest decimal that parses back to
   * exactly the double q / 1e9.
   */
  nano(q: number): void {
    const buf = this.buf;
    buf[this.pos] = 48;
    buf[this.pos + 1] = 46;
    let end = 9;
    let v = q;
    while (v % 10 === 0) { v /= 10; end--; }
    let p = this.pos + 2 + end;
    this.pos = p;
    for (let i = 0; i < end; i++) {
      const r = v % 10;
      buf[--p] = 48 + r;
      v = (v - r) / 10;
    }
  }
}

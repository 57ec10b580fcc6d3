import { crc32, crc32Ts } from "../src/io/crc32.js";

/**
 * `npm run bench -- io`: the CRC-32 every saved state and checkpoint is
 * checked with, on 256 MiB (32 MiB with --quick): the one in use (Node's
 * zlib.crc32 when present) and the TypeScript fallback. MB/s, best of 3.
 */
export function benchIo(emit: (o: object) => void, quick: boolean): void {
  const bytes = new Uint8Array((quick ? 32 : 256) << 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  for (const [name, f] of [["in-use", crc32], ["typescript", crc32Ts]] as const) {
    let best = Infinity, value = 0;
    for (let r = 0; r < 3; r++) {
      const t = process.hrtime.bigint();
      value = f(bytes);
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
    }
    emit({ bench: "crc32", implementation: name, native: name === "in-use" && crc32 !== crc32Ts, bytes: bytes.length, mb_per_sec: Math.round(bytes.length / 1e6 / best), crc: value });
  }
}

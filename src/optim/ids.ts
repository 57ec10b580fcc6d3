import type { Heap } from "../kernels/heap.js";

/**
 * Feature ids: unsigned 64-bit keys. BigUint64Array is the native form (hashed
 * features); Uint32Array, non-negative Int32Array, Float64Array or number[]
 * of safe integers, and bigint[] are accepted too. BigInt64Array is read as
 * the same 64 bits unsigned.
 */
export type FeatureIds =
  | BigUint64Array | BigInt64Array | Uint32Array | Int32Array | Float64Array
  | readonly number[] | readonly bigint[];

const TWO32 = 2 ** 32;

/** Splits one id into its low and high 32 bits; throws on an invalid id. */
export function idToParts(name: string, id: number | bigint): [number, number] {
  if (typeof id === "bigint") {
    if (id < 0n || id >= 1n << 64n) throw new RangeError(`${name}: id ${id} is outside [0, 2^64)`);
    return [Number(id & 0xffffffffn), Number(id >> 32n)];
  }
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
    throw new RangeError(`${name}: id ${String(id)} must be a non-negative safe integer or a bigint`);
  }
  return [id >>> 0, Math.floor(id / TWO32)];
}

/** Writes ids as u64 at the heap address ptr (8-byte aligned). */
export function writeIds(name: string, ids: FeatureIds, heap: Heap, ptr: number): void {
  const n = ids.length;
  if (ids instanceof BigUint64Array || ids instanceof BigInt64Array) {
    heap.u64.set(new BigUint64Array(ids.buffer, ids.byteOffset, n), ptr >>> 3);
    return;
  }
  const u = heap.u32, o = ptr >>> 2;
  if (ids instanceof Uint32Array) {
    for (let i = 0; i < n; i++) { u[o + 2 * i] = ids[i]; u[o + 2 * i + 1] = 0; }
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = (ids as ArrayLike<number | bigint>)[i];
    if (typeof v === "number" && v >= 0 && v < TWO32 && Number.isInteger(v)) {
      u[o + 2 * i] = v;
      u[o + 2 * i + 1] = 0;
    } else {
      let parts: [number, number];
      try {
        parts = idToParts(name, v);
      } catch (e) {
        throw new RangeError(`${(e as Error).message} (position ${i})`);
      }
      u[o + 2 * i] = parts[0];
      u[o + 2 * i + 1] = parts[1];
    }
  }
}

/** Arrays of ids one after another, in one array. */
export function joinIds(parts: readonly BigUint64Array[]): BigUint64Array {
  const out = new BigUint64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

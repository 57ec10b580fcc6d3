import { HEAP_BASE } from "./layout.js";

const PAGE = 65536;
export const MAX_PAGES = 65536; // 4 GiB: the wasm32 limit of one memory
const ALIGN = 16;

/**
 * A first-fit allocator over one WebAssembly memory, run from JavaScript.
 * Allocation is rare (parameters, index growth, scratch growth), so a sorted
 * free list is enough. Typed-array views are re-made whenever the memory grows,
 * because growing detaches the old buffer: never keep a view across a call
 * that may allocate.
 */
export class Heap {
  readonly memory: WebAssembly.Memory;
  private top = HEAP_BASE;
  private readonly sizes = new Map<number, number>();
  private free: { ptr: number; size: number }[] = [];
  private buf: ArrayBuffer;
  private _f32!: Float32Array;
  private _u32!: Uint32Array;
  private _i32!: Int32Array;
  private _u8!: Uint8Array;
  private _f64!: Float64Array;
  private _u64!: BigUint64Array;

  constructor(memory?: WebAssembly.Memory) {
    this.memory = memory ?? new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES });
    this.buf = this.memory.buffer;
    this.remap();
  }

  private remap(): void {
    const b = this.memory.buffer;
    this.buf = b;
    this._f32 = new Float32Array(b);
    this._u32 = new Uint32Array(b);
    this._i32 = new Int32Array(b);
    this._u8 = new Uint8Array(b);
    this._f64 = new Float64Array(b);
    this._u64 = new BigUint64Array(b);
  }

  private fresh(): void {
    if (this.memory.buffer !== this.buf) this.remap();
  }

  get f32(): Float32Array { this.fresh(); return this._f32; }
  get u32(): Uint32Array { this.fresh(); return this._u32; }
  get i32(): Int32Array { this.fresh(); return this._i32; }
  get u8(): Uint8Array { this.fresh(); return this._u8; }
  get f64(): Float64Array { this.fresh(); return this._f64; }
  get u64(): BigUint64Array { this.fresh(); return this._u64; }

  /** Bytes of memory currently reserved from the system. */
  get byteLength(): number { return this.memory.buffer.byteLength; }

  /** Allocates `bytes` zero-filled bytes aligned to 16; returns the address. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let ptr = -1;
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i];
      if (f.size < size) continue;
      ptr = f.ptr;
      if (f.size === size) this.free.splice(i, 1);
      else { f.ptr += size; f.size -= size; }
      break;
    }
    if (ptr >= 0) {
      this.u8.fill(0, ptr, ptr + size);
    } else {
      // Above the top the memory was never handed out, so it is still zero
      // (a table's new 4 MiB row chunks skip a pass over fresh pages).
      ptr = this.top;
      const end = ptr + size;
      const need = Math.ceil(end / PAGE);
      const have = this.memory.buffer.byteLength / PAGE;
      if (need > MAX_PAGES) {
        throw new RangeError(
          `out of WebAssembly memory: ${end} bytes needed in one memory, the limit is 4 GiB`,
        );
      }
      if (need > have) this.memory.grow(Math.max(need - have, Math.min(have, MAX_PAGES - have)));
      this.top = end;
    }
    this.sizes.set(ptr, size);
    return ptr;
  }

  /** Returns a block to the free list, merging it with free neighbours. */
  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`heap: release of unknown block ${ptr}`);
    this.sizes.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i].ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, size });
    if (i + 1 < this.free.length && ptr + size === this.free[i + 1].ptr) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].ptr + this.free[i - 1].size === ptr) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
    }
  }

  /** Size in bytes of an allocated block. */
  sizeOf(ptr: number): number {
    const s = this.sizes.get(ptr);
    if (s === undefined) throw new Error(`heap: unknown block ${ptr}`);
    return s;
  }
}

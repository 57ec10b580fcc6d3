// The WebAssembly boundary: the interfaces generated from the compiler's
// declarations (src/kernels/generated) list every function export of the
// compiled modules with its parameter count, and bindExports refuses an
// instance that lacks one, naming it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { bindExports } from "../../src/kernels/bind.js";
import { kernelModule, kernelModuleExports } from "../../src/kernels/wasm.js";
import { KERNEL_MODULE_FUNCTIONS, type KernelModule } from "../../src/kernels/generated/kernel-exports.js";
import { LAYER_MODULE_FUNCTIONS } from "../../src/kernels/generated/layer-exports.js";
import { SHARED_KERNEL_MODULE_FUNCTIONS } from "../../src/kernels/generated/shared-kernel-exports.js";
import { COUNTS_MODULE_FUNCTIONS } from "../../src/kernels/generated/counts-exports.js";

const source = (name: string): string => readFileSync(new URL(`../../../src/kernels/generated/${name}`, import.meta.url), "utf8");

/** name -> parameter count, from a generated interface's text. */
function declared(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [, name, params] of text.matchAll(/^ {2}(\w+)\(([^)]*)\): \w+;$/gm)) out.set(name, params.trim() ? params.split(",").length : 0);
  return out;
}

for (const [file, wasm, names] of [
  ["kernel-exports.ts", "kernels.wasm", KERNEL_MODULE_FUNCTIONS],
  ["layer-exports.ts", "layers.wasm", LAYER_MODULE_FUNCTIONS],
  ["shared-kernel-exports.ts", "kernels-shared.wasm", SHARED_KERNEL_MODULE_FUNCTIONS],
  ["counts-exports.ts", "counts.wasm", COUNTS_MODULE_FUNCTIONS],
] as const) {
  test(`${file} lists every function export of dist/${wasm} with its parameter count`, () => {
    const module = new WebAssembly.Module(readFileSync(new URL(`../../${wasm}`, import.meta.url)));
    const compiled = WebAssembly.Module.exports(module).filter((e) => e.kind === "function").map((e) => e.name).sort();
    assert.deepEqual([...names].sort(), compiled);
    const shared = wasm !== "kernels.wasm";
    const memory = new WebAssembly.Memory(shared ? { initial: 2, maximum: 65536, shared: true } : { initial: 2 });
    const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("abort"); } } });
    const counts = declared(source(file));
    assert.equal(counts.size, names.length);
    for (const n of names) {
      const fn = instance.exports[n];
      assert.ok(typeof fn === "function", n);
      assert.equal(fn.length, counts.get(n), `${n}: parameter count`);
    }
  });
}

test("dist/counts.wasm holds no static data: an instance over the admission counts' memory writes nothing into it", () => {
  const module = new WebAssembly.Module(readFileSync(new URL("../../counts.wasm", import.meta.url)));
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true }), bytes = new Uint8Array(memory.buffer);
  bytes.fill(0xa5);
  new WebAssembly.Instance(module, { env: { memory } });
  assert.ok(bytes.every((b) => b === 0xa5), "an instance changed its memory when it started");
});

test("bindExports refuses an instance without a listed function, naming it and the fix", () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const ex = new WebAssembly.Instance(kernelModule(false), { env: { memory, abort: () => undefined } }).exports;
  const stale: WebAssembly.Exports = Object.fromEntries(Object.entries(ex).filter(([k]) => k !== "updateSparse"));
  assert.throws(() => bindExports<KernelModule>(stale, KERNEL_MODULE_FUNCTIONS, "kernels.wasm"),
    /^Error: sparsectr: kernels\.wasm lacks the function export\(s\) updateSparse; rebuild it with `npm run build`$/);
  assert.equal(typeof kernelModuleExports(memory).updateSparse, "function");
});

// Compiles the AssemblyScript kernels with the npm-installed compiler only (no
// system toolchain):
// - dist/kernels.wasm: the table kernels (and every other kernel, for tests);
// - dist/kernels-shared.wasm: the same over a shared memory, for the tables
//   (another thread looks up the next batch's ids in their index);
// - dist/layers.wasm: the matrix products and layer kernels over a shared memory
//   (one memory, two threads);
// - dist/layers-fma.wasm: the same with relaxed SIMD, whose products fuse each
//   multiply-add (loaded only when asked for and when the runtime has it).
import asc from "assemblyscript/asc";
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });

const common = [
  "--optimizeLevel", "3",
  "--shrinkLevel", "0",
  "--noAssert",
  "--runtime", "stub",
  "--importMemory",
  "--noExportMemory",
  "--memoryBase", "32768",
];
const shared = ["--sharedMemory", "--maximumMemory", "65536"];

const builds = [
  ["src/kernels/assembly/index.ts", "dist/kernels.wasm", ["--enable", "simd"]],
  ["src/kernels/assembly/index.ts", "dist/kernels-shared.wasm", [...shared, "--enable", "simd,threads"]],
  ["src/kernels/assembly/layers-index.ts", "dist/layers.wasm", [...shared, "--enable", "simd,threads"]],
  ["src/kernels/assembly/layers-index.ts", "dist/layers-fma.wasm", [...shared, "--enable", "simd,threads,relaxed-simd"]],
];

for (const [entry, out, flags] of builds) {
  const { error, stderr } = await asc.main([entry, "--outFile", out, ...common, ...flags]);
  if (error) {
    console.error(stderr.toString());
    console.error(`${out}: ${error.message}`);
    process.exit(1);
  }
}

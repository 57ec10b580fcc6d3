// Compiles the AssemblyScript kernels to dist/kernels.wasm with the npm-installed
// compiler only (no system toolchain).
import asc from "assemblyscript/asc";
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const { error, stderr } = await asc.main([
  "src/kernels/assembly/index.ts",
  "--outFile", "dist/kernels.wasm",
  "--optimizeLevel", "3",
  "--shrinkLevel", "0",
  "--noAssert",
  "--runtime", "stub",
  "--importMemory",
  "--noExportMemory",
  "--memoryBase", "32768",
  "--enable", "simd",
]);
if (error) {
  console.error(stderr.toString());
  console.error(error.message);
  process.exit(1);
}

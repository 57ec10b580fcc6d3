/**
 * Binds a WebAssembly instance's exports to the interface generated from the
 * compiler's declarations (src/kernels/generated), after checking that every
 * listed function is there: the one place where untyped exports become typed.
 */

/** The exports typed as T, or an error naming the module and what it lacks (a stale build). */
export function bindExports<T>(exports: WebAssembly.Exports, functions: readonly (keyof T & string)[], module: string): T {
  const missing = functions.filter((name) => typeof exports[name] !== "function");
  if (!exportsAll<T>(exports, missing)) {
    throw new Error(`sparsectr: ${module} lacks the function export(s) ${missing.join(", ")}; rebuild it with \`npm run build\``);
  }
  return exports;
}

function exportsAll<T>(exports: WebAssembly.Exports, missing: readonly string[]): exports is WebAssembly.Exports & T {
  return missing.length === 0;
}

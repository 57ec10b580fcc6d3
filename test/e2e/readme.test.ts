// The README's quick start runs as written and prints what it claims.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

test("the README quick start runs and prints the claimed results", () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const readme = readFileSync(root + "README.md", "utf8");
  const block = /## Quick start\s+```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README has a js block under Quick start");
  // Inside the package folder, "sparsectr" resolves to this package itself.
  const file = root + "dist/readme-quick-start.mjs";
  writeFileSync(file, block[1]);
  try {
    const out = execFileSync(process.execPath, [file], { encoding: "utf8" });
    assert.match(out, /^1 live of 2$/m);
    assert.match(out, /^true Float32Array\(4\) \[ 0, 0, 0, 0 \]$/m);
    assert.match(out, /\[ [0-9.]+, [0-9.]+, 0, 0 \] 1$/m);
  } finally {
    rmSync(file, { force: true });
  }
});

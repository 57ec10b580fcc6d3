// `sparsectr demo` runs with no data and shows the point of the library:
// group-adam keeps a small fraction of the features at an AUC close to adam's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("demo (small): both models learn the teacher, group-adam is far sparser at a close AUC", () => {
  const r = spawnSync(process.execPath, [CLI, "demo", "--rows", "30000", "--test-rows", "10000", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout.trim());
  const [adam, group] = rep.results;
  assert.equal(adam.optimizer, "adam");
  assert.ok(rep.bayesAuc > 0.7, `Bayes AUC ${rep.bayesAuc}`);
  assert.ok(adam.auc > 0.65 && adam.auc < rep.bayesAuc, `adam AUC ${adam.auc}`);
  assert.ok(group.auc > adam.auc - 0.02, `group-adam AUC ${group.auc} vs adam ${adam.auc}`);
  assert.equal(adam.featureRate, 1);
  assert.ok(group.featureRate < 0.1, `feature rate ${group.featureRate}`);
  assert.ok(group.modelBytes * 5 < adam.modelBytes);
});

// CtrModel.liveFeatures against a brute-force walk of the tables' rows: a
// feature lives while any of its rows (deepfm: first-order weight, embedding)
// is not all zeros; the fields' OOV rows are not features.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openData } from "../../src/index.js";
import { buildModel, type CtrModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { oovKey } from "../../src/train/admission.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt");

function brute(m: CtrModel, oov: Set<bigint>): number {
  const ids = new Set<bigint>();
  for (const t of m.tables) for (const id of t.ids()) ids.add(id);
  let live = 0;
  for (const id of ids) if (!oov.has(id) && m.tables.some((t) => t.get(id)?.some((v) => v !== 0))) live++;
  return live;
}

test("liveFeatures equals a brute-force count, with several tables and with OOV rows", { skip: !have && "shared data not present" }, async () => {
  const train = await openData(join(SHARED, "criteo/train.txt"), { batchSize: 256 });
  const F = train.fields.length, oov = new Set(Array.from({ length: F }, (_, f) => oovKey(f)));
  for (const model of ["deepfm", "dcn"] as const) {
    for (const minCount of [1, 2]) {
      const m = buildModel(F, {
        model, optimizer: "group-adam", hyper: { l21: 2e-3 }, seed: 5, batch: 256, minCount,
        modelConfig: model === "deepfm" ? { hidden: [16] } : { hidden: [16], crossLayers: 1 },
      });
      await trainModel(m, train);
      const what = `${model}, minCount ${minCount}`;
      const live = m.liveFeatures, expected = brute(m, oov);
      assert.equal(live, expected, `${what}: live features`);
      // The cases the count must tell apart are there: zero rows, and (with admission) live OOV rows.
      assert.ok(live > 0 && live < m.tables[0].size, `${what}: ${live} live of ${m.tables[0].size} rows`);
      if (minCount > 1) assert.ok([...oov].some((k) => m.tables.some((t) => t.get(k)?.some((v) => v !== 0))), `${what}: a live OOV row`);
      if (m.tables.length > 1) {
        // Rows zero in one table and live in the other count once.
        const [a, b] = m.tables;
        const mixed = Array.from(a.ids()).filter((id) => !oov.has(id) && a.isZero(id) !== b.isZero(id)).length;
        assert.ok(mixed > 0, `${what}: features live in only one table`);
        assert.ok(live < a.liveRows + b.liveRows, `${what}: features live in both tables count once`);
      }
    }
  }
});

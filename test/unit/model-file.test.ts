// The serving model's tables (encodeModel): per table exactly the ids whose
// rows are live, ascending, each with its row's weights, checked against a
// brute-force walk of every id (has/isZero/get), with zero rows made by
// pruning, ids beyond 2^32, a table with no live row, and more live rows
// than one lookup piece (65,536).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEnvelope } from "../../src/io/envelope.js";
import { buildModel } from "../../src/train/model.js";
import { encodeModel } from "../../src/serve/model-file.js";
import type { SparseTable } from "../../src/optim/table.js";
import { rng } from "../helpers/rng.js";

const FIELDS = 4;

test("encodeModel writes each table's live ids ascending with their weights, as a brute-force walk of the ids finds them", () => {
  const m = buildModel(FIELDS, { model: "deepfm", optimizer: "group-adam", seed: 5, minCount: 1, modelConfig: { hidden: [8], embedding: 3 } });
  const r = rng(11);
  const tables = m.tables as SparseTable[];
  // Table 0: 150,000 ids (small and beyond 2^32, in no order), a third of them pruned to zero; any other table: no rows.
  const ids = BigUint64Array.from({ length: 150_000 }, (_, i) => BigInt(Math.floor(r() * 2 ** (i % 2 ? 52 : 20))) * 7n + BigInt(i));
  tables[0].gather(ids);
  tables[0].step(ids, Float32Array.from({ length: ids.length * tables[0].rowLength }, () => r() - 0.5));
  tables[0].pruneToTopRows(100_000);
  const spec = { format: "criteo" as const, fields: Array.from({ length: FIELDS }, (_, i) => `f${i}`) };
  const { header, body } = decodeEnvelope(encodeModel(m, spec), "model");
  const shapes = header.tables as { rowLength: number; rows: number }[];
  let o = m.params.reduce((a, p) => a + p.value.length * 4, 0);
  tables.forEach((t, k) => {
    const want = Array.from(t.ids()).filter((id) => t.has(id) && !t.isZero(id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.equal(shapes[k].rows, want.length, `table ${k}: live rows`);
    assert.equal(want.length, t.liveRows);
    const keys = new BigUint64Array(body.slice(o, (o += want.length * 8)).buffer);
    const w = new Float32Array(body.slice(o, (o += want.length * t.rowLength * 4)).buffer);
    assert.deepEqual(Array.from(keys), want, `table ${k}: the live ids, ascending`);
    want.forEach((id, i) => assert.deepEqual(w.subarray(i * t.rowLength, (i + 1) * t.rowLength), t.get(id), `table ${k}: weights of id ${id}`));
  });
  assert.equal(o, body.length, "nothing after the tables");
  assert.ok(tables[0].liveRows > 65_536 && tables[0].zeroRows > 0, `${tables[0].liveRows} live and ${tables[0].zeroRows} zero rows`);
});

// The generator's daily drift: day 0 is the stream without drift; on day d
// the share of values taken over by new ids follows 1 - (1 - churn)^d, the
// new ids were never spelled before their day, the teacher scores the row's
// values consistently (probabilityOf of the row's ids is its probability),
// and what is informative moves: values of a churned rank carry another
// rank's weight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createGenerator, synthConfig } from "../../src/data/synth/index.js";
import { driftsField } from "../../src/data/synth/drift.js";

const base = { preset: "criteo", seed: 3, scale: 0.01 } as const;

test("day 0 is the undrifted stream, row for row", () => {
  const a = createGenerator(synthConfig(base)), b = createGenerator(synthConfig({ ...base, drift: { day: 0, churn: 0.5 } }));
  for (let i = 0; i < 500; i++) assert.deepEqual(b.row(i), a.row(i));
});

test("on day d about 1 - (1 - churn)^d of the drifting values are new ids, spelled as no earlier day spells them", () => {
  const cfg = (day: number) => synthConfig({ ...base, drift: { day, churn: 0.2 } });
  const g0 = createGenerator(synthConfig(base));
  const seenBefore = new Set<string>();
  for (const day of [0, 1, 2]) {
    const g = createGenerator(cfg(day));
    const drifting = g.config.fields.flatMap((f, i) => (driftsField(f) ? [i] : []));
    assert.ok(drifting.length >= 20, "criteo's categorical fields drift");
    let values = 0, fresh = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const r = g.row(i), r0 = g0.row(i);
      // The same popularity draw: only the ids of drifting fields may change.
      g.config.fields.forEach((_, f) => { if (!drifting.includes(f)) assert.equal(r.ranks[f], r0.ranks[f]); });
      for (const f of drifting) {
        if (r.ranks[f] < 0) continue;
        values++;
        const V = g.config.fields[f].vocab;
        if (r.ranks[f] >= V) {
          fresh++;
          assert.equal(r.ranks[f] % V, r0.ranks[f], "a new id replaces its popularity rank");
          assert.ok(!seenBefore.has(`${f}:${r.values[f]}`) || Math.floor(r.ranks[f] / V) < day, "a new id of day d is not spelled on an earlier day");
        }
        seen.add(`${f}:${r.values[f]}`);
        // The teacher scores the row's values: probabilityOf agrees with the row.
      }
      assert.equal(g.probabilityOf(r.ranks), r.p, `row ${i} of day ${day}`);
    }
    const expected = 1 - (1 - 0.2) ** day;
    assert.ok(Math.abs(fresh / values - expected) < 0.03, `day ${day}: ${(fresh / values).toFixed(3)} of the values are new, expected about ${expected.toFixed(3)}`);
    for (const s of seen) seenBefore.add(s);
  }
});

test("a value taken over on day k keeps its new id on later days unless a later day takes it over again", () => {
  const day = (d: number) => createGenerator(synthConfig({ ...base, drift: { day: d, churn: 0.2 } }));
  const g1 = day(1), g2 = day(2);
  let kept = 0, retaken = 0;
  for (let i = 0; i < 3000; i++) {
    const a = g1.row(i), b = g2.row(i);
    a.ranks.forEach((id1, f) => {
      const V = g1.config.fields[f].vocab;
      if (!driftsField(g1.config.fields[f]) || id1 < V) return;
      if (b.ranks[f] === id1) { kept++; assert.equal(b.values[f], a.values[f]); } else { retaken++; assert.equal(Math.floor(b.ranks[f] / V), 2, `row ${i} field ${f}`); }
    });
  }
  assert.ok(kept > 0 && retaken > 0, `kept ${kept}, taken over again ${retaken}`);
});

test("what is informative moves with the drift: churned values carry other ranks' weights, the rest keep theirs", () => {
  const g0 = createGenerator(synthConfig(base)), g1 = createGenerator(synthConfig({ ...base, drift: { day: 1, churn: 0.03 } }));
  let moved = 0, kept = 0;
  for (let i = 0; i < 3000; i++) {
    const a = g0.row(i), b = g1.row(i);
    if (a.ranks.every((r, f) => r === b.ranks[f])) { assert.equal(b.p, a.p); kept++; } else if (b.p !== a.p) moved++;
  }
  assert.ok(kept > 100 && moved > 100, `rows with every value kept: ${kept}; rows whose probability moved: ${moved}`);
});

test("drift settings are checked", () => {
  assert.throws(() => synthConfig({ ...base, drift: { day: 1.5 } }), /drift day 1.5 must be an integer/);
  assert.throws(() => synthConfig({ ...base, drift: { day: 1, churn: 2 } }), /drift churn 2 must be in \[0, 1\]/);
});

// CtrModel.deferAdmission (the data-parallel trainer converts its workers'
// shared counts while they score): the counts are taken once, when the
// model's counts or its inputs are first read, whichever comes first, and
// the inputs then route with them; counts set meanwhile (setAdmission) take
// the run's budget from the deferred ones and replace them, and none set
// drop them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel } from "../../src/train/model.js";
import { Admission } from "../../src/train/admission.js";

const FIELDS = 5;
const model = () => buildModel(FIELDS, { model: "lr", optimizer: "group-adam", hyper: {}, seed: 1, minCount: 2 });

test("the inputs read first take the deferred counts, once, and route with them", () => {
  const m = model(), a = new Admission(2, FIELDS);
  let taken = 0;
  m.deferAdmission(() => { taken++; return a; });
  assert.equal(taken, 0, "nothing is taken before a read");
  assert.equal(m.inputs.admission, a, "the inputs route with the deferred counts");
  assert.equal(taken, 1);
  assert.equal(m.admission, a);
  assert.equal(m.inputs.admission, a);
  assert.equal(taken, 1, "taken once");
});

test("the counts read first take them too; counts set meanwhile take their budget and replace them", () => {
  const m = model(), a = new Admission(2, FIELDS), b = new Admission(2, FIELDS);
  let taken = 0;
  m.deferAdmission(() => { taken++; return a; });
  assert.equal(m.admission, a);
  assert.equal(m.inputs.admission, a);
  assert.equal(taken, 1);
  const c = new Admission(2, FIELDS);
  c.maxBytes = 12345;
  m.deferAdmission(() => { taken++; return c; });
  m.setAdmission(b);
  assert.equal(taken, 2, "counts set take the deferred ones first, for the run's budget");
  assert.equal(b.maxBytes, 12345);
  assert.equal(m.inputs.admission, b, "the counts set stay");
  assert.equal(m.admission, b);
  assert.equal(taken, 2);
  // No counts set (none to take a budget from): the deferred ones are dropped, never taken.
  m.deferAdmission(() => { taken++; return c; });
  m.setAdmission(undefined);
  assert.equal(m.admission, undefined);
  assert.equal(m.inputs.admission, undefined);
  assert.equal(taken, 2);
});

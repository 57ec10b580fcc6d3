/**
 * `npm run bench -- admission`: the cost of counting and routing the
 * training keys for feature admission (--min-count 2), per key, on one
 * thread: the plain counts (train/admission.ts: the deterministic
 * trainer's) with the counts' kernel (kernels/assembly/counts.ts
 * countPlain) and in JavaScript (slots taken over, sized for every key so
 * that they never grow: as many as the plain counts end with), and the shared counts (train/shared-counts.ts:
 * the data-parallel workers') in JavaScript (no piece) and with the kernel
 * (a piece). The keys are those
 * of generated Criteo rows (400k; 50k with --quick), batch by batch as a
 * trainer routes them; every way must admit and route the same keys (the
 * lines say so). Each way runs 5 times over fresh counts; the median counts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, generateFiles, synthConfig } from "../src/data/synth/index.js";
import { openData } from "../src/data/index.js";
import { Admission } from "../src/train/admission.js";
import { SharedAdmission } from "../src/train/shared-admission.js";
import { commitOf, machine } from "./threads.js";

const BATCH = 512, MIN_COUNT = 2, RUNS = 5;

export async function benchAdmission(emit: (o: object) => void, quick: boolean): Promise<void> {
  const rows = quick ? 50_000 : 400_000;
  const base = { bench: "admission", preset: "criteo", rows, min_count: MIN_COUNT, ...commitOf(), date: new Date().toISOString().slice(0, 10), machine: machine() };
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-admission-"));
  try {
    const path = join(dir, "criteo");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 1, scale: 0.05 })), { format: "criteo", start: 0, rows, out: path, truth: null, featindex: null });
    const file = await openData(path, { batchSize: BATCH });
    const batches: Uint32Array[] = [];
    for await (const b of file.batches()) batches.push(b.keyWords.slice(0, 2 * b.keys.length));
    const keys = batches.reduce((a, w) => a + w.length / 2, 0), fields = file.fields.length;
    type Counts = Pick<Admission, "route" | "seen" | "admitted" | "routed"> & Partial<Pick<SharedAdmission, "room" | "makeRoom">>;
    const ways: [string, () => Counts][] = [
      ["plain", () => new Admission(MIN_COUNT, fields)],
      // Counted in JavaScript: slots taken over (Admission.fromSlots) have no kernel; as many as the plain counts end with (no grow).
      ["plain-js", () => Admission.fromSlots(MIN_COUNT, fields, new Uint32Array(3 * slotsAtEnd))],
      ["shared", () => SharedAdmission.create(MIN_COUNT, fields)],
      ["shared-kernel", () => SharedAdmission.create(MIN_COUNT, fields, undefined, undefined, 1)],
    ];
    let first: string | undefined, slotsAtEnd = 4;
    const perKey: Record<string, number> = {};
    for (const [way, make] of ways) {
      const ms: number[] = [];
      let figures = "";
      for (let run = 0; run < RUNS; run++) {
        const a = make(), out = new Uint32Array(2 * BATCH * fields);
        const t0 = process.hrtime.bigint();
        for (const w of batches) {
          if (out.length < w.length) throw new Error("a batch holds more keys than rows x fields");
          // Shared counts grow only while no thread routes: as a trainer's coordinator does at a park, with room for 4 batches.
          if (a.room?.(w.length / 2) === false) a.makeRoom!(w.length / 2, (4 * w.length) / 2);
          a.route(w, w.length / 2, out, undefined, true);
        }
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        figures = `${a.seen} ${a.admitted} ${a.routed}`;
        if (a instanceof Admission && way === "plain") slotsAtEnd = a.bytes / 12;
      }
      first ??= figures;
      const median = ms.sort((x, y) => x - y)[RUNS >> 1];
      perKey[way] = (median * 1e6) / keys;
      const [seen, admitted, routed] = figures.split(" ").map(Number);
      emit({
        ...base, kind: "route", way, keys, ms: +median.toFixed(1), ns_per_key: +perKey[way].toFixed(1), runs_ms: ms.map((x) => +x.toFixed(1)),
        seen, admitted, routed, same_as_plain: figures === first,
      });
    }
    emit({ ...base, kind: "ratio", shared_kernel_over_shared_js: +(perKey.shared / perKey["shared-kernel"]).toFixed(2), plain_kernel_over_plain_js: +(perKey["plain-js"] / perKey.plain).toFixed(2) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

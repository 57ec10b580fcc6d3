import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openData, Vocabulary } from "../src/index.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/**
 * `npm run bench -- data`: generated files of 2M rows (Criteo TSV, Avazu CSV,
 * iPinYou-shaped libsvm) read on one core: rows/s parsed and hashed into
 * feature keys, and rows/s with the vocabulary as well; then the vocabulary's
 * index bytes per distinct key at 20M keys.
 */
export async function benchData(emit: (o: object) => void, quick: boolean): Promise<void> {
  const rows = quick ? 200_000 : 2_000_000;
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-bench-"));
  try {
    for (const [preset, format, ext] of [["criteo", "criteo", "txt"], ["avazu", "avazu", "csv"], ["ipinyou", "libsvm", "svm"]] as const) {
      const out = join(dir, `${preset}.${ext}`);
      const g0 = process.hrtime.bigint();
      const gen = spawnSync(process.execPath, [CLI, "generate", "--preset", preset, "--format", format, "--rows", String(rows), "--seed", "1", "--out", out, "--no-truth"], { encoding: "utf8" });
      if (gen.status !== 0) throw new Error(`generate ${preset}: ${gen.stderr}`);
      const genSecs = Number(process.hrtime.bigint() - g0) / 1e9;
      const featindex = format === "libsvm" ? `${out}.featindex` : undefined;
      const parse = await timePass(out, featindex, false);
      const encode = await timePass(out, featindex, true);
      emit({
        bench: "data", format, rows, fields: parse.fields, file_bytes: statSync(out).size,
        generate_rows_per_sec: Math.round(rows / genSecs),
        parse_rows_per_sec: Math.round(rows / parse.secs), parse_mb_per_sec: +(statSync(out).size / parse.secs / 1e6).toFixed(1),
        parse_vocab_rows_per_sec: Math.round(rows / encode.secs), distinct_features: encode.keys,
        target_criteo_rows_per_sec: format === "criteo" ? 500_000 : undefined,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const keys = quick ? 2_000_000 : 20_000_000;
  const voc = new Vocabulary({ fields: 1 });
  const batch = 1 << 16, w = new Uint32Array(2 * batch), ids = new Uint32Array(batch);
  let x = 0x12345678;
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < keys; done += batch) {
    for (let i = 0; i < batch; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      w[2 * i] = x;
      w[2 * i + 1] = done + i;
    }
    voc.encode(w, batch, ids);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  emit({
    bench: "vocab-index", distinct_keys: voc.keys, index_bytes: voc.bytes, bytes_per_key: +(voc.bytes / voc.keys).toFixed(2),
    inserts_per_sec: Math.round(voc.keys / secs), target_bytes_per_key: 24,
  });
}

async function timePass(path: string, featindex: string | undefined, vocab: boolean): Promise<{ secs: number; fields: number; keys: number }> {
  const file = await openData(path, { featindex, batchSize: 512 });
  const F = file.fields.length;
  const voc = new Vocabulary({ fields: F });
  const ids = new Uint32Array(512 * F);
  const t0 = process.hrtime.bigint();
  for await (const b of file.batches()) if (vocab) voc.encode(b.keyWords, b.rows * F, ids);
  return { secs: Number(process.hrtime.bigint() - t0) / 1e9, fields: F, keys: voc.keys };
}

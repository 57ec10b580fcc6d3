// `sparsectr serve` end to end: scores over HTTP (raw lines, JSON, NDJSON)
// equal `predict`'s bit for bit, in every input format; /health and /metrics
// count what happened; reloads under load lose no request; hostile requests
// get a clear 4xx or a timeout and the server keeps serving; SIGTERM drains.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, mkdtempSync, rmSync, copyFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openData, type Format } from "../../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { writeFileAtomic } from "../../src/io/atomic.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { exportModel, Predictor } from "../../src/serve/model-file.js";
import { loadServedModel } from "../../src/serve/served-model.js";

const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sparsectr-serve-http-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const CRITEO_COLUMNS = ["label", ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)];

/** Trains a small model on generated rows and writes its model file; returns the file and the test rows. */
async function makeModel(name: string, preset: string, format: Format, model: "dcn" | "lr", seed: number): Promise<{ path: string; test: string }> {
  const g = createGenerator(synthConfig({ preset, seed: 7, scale: 0.02 }));
  const train = join(dir, `${name}.train`), testPath = join(dir, `${name}.test`);
  await generateFiles(g, { format, start: 0, rows: 2000, out: train, truth: null, featindex: format === "libsvm" ? `${train}.featindex` : null });
  await generateFiles(g, { format, start: 2000, rows: 300, out: testPath, truth: null, featindex: null });
  const opts = { format, ...(format === "csv" ? { schema: `${train}.schema.json` } : {}), ...(format === "libsvm" ? { featindex: `${train}.featindex` } : {}) };
  const file = await openData(train, opts);
  const m = buildModel(file.fields.length, { model, optimizer: "group-adam", hyper: { lr: 0.01, l21: 1e-4 }, seed, batch: 64, modelConfig: model === "dcn" ? { embedding: 4, hidden: [16] } : undefined });
  await trainModel(m, file);
  const path = join(dir, `${name}.sparsectr`);
  exportModel(m, { format, fields: file.fields, ...(file.schema ? { schema: file.schema } : {}), ...(opts.featindex ? { featindex: opts.featindex } : {}) }, path);
  return { path, test: testPath };
}

/** The scores `predict` computes: the model file's Predictor over openData's batches. */
async function expected(model: string, data: string): Promise<number[]> {
  const p = Predictor.load(model);
  const file = await openData(data, { format: p.input.format, schema: p.input.schema as string | undefined, featindex: p.input.featindex, batchSize: 4096 });
  const out: number[] = [];
  for await (const b of file.batches()) out.push(...p.predict(b));
  return out;
}

const A = await makeModel("a", "criteo", "criteo", "dcn", 1);
const B = await makeModel("b", "criteo", "criteo", "dcn", 2);
const ROWS = readFileSync(A.test, "utf8").replace(/\n$/, "").split("\n");
const SCORES_A = await expected(A.path, A.test), SCORES_B = await expected(B.path, A.test);
const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A criteo line as a JSON object: integer columns as numbers where that spells them the same, empty cells absent. */
function criteoObject(line: string): Record<string, string | number> {
  const o: Record<string, string | number> = {};
  line.split("\t").forEach((v, k) => {
    if (v === "") return;
    o[CRITEO_COLUMNS[k]] = k >= 1 && k <= 13 && String(Number(v)) === v ? Number(v) : v;
  });
  return o;
}

interface Server { port: number; proc: ChildProcess; stderr: () => string; exited: Promise<number | null>; stop: () => Promise<number | null> }

/** Starts `sparsectr serve` on an ephemeral port; the port is read from its first line of output. */
async function serve(model: string, ...args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [CLI, "serve", "--model", model, "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  proc.stderr!.on("data", (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no port within 15 s: ${err}`)), 15_000);
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { port, proc, stderr: () => err, exited, stop: () => { proc.kill("SIGTERM"); return exited; } };
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string }

function call(port: number, method: string, path: string, body?: string | Buffer, type = "text/plain"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent: false, headers: body === undefined ? {} : { "Content-Type": type } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function scores(port: number, body: string, type = "text/plain"): Promise<{ scores: number[]; sha: string }> {
  const r = await call(port, "POST", "/predict", body, type);
  assert.equal(r.status, 200, r.text);
  return { scores: (JSON.parse(r.text) as { scores: number[] }).scores, sha: String(r.headers["x-model-sha256"]) };
}

/** The samples of a Prometheus text exposition, by `name{labels}`; every line checked against the format. */
async function metrics(port: number): Promise<Map<string, number>> {
  const r = await call(port, "GET", "/metrics");
  assert.equal(r.status, 200);
  assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>(), typed = new Set<string>();
  for (const line of r.text.trimEnd().split("\n")) {
    const t = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
    if (t) { typed.add(t[1]); continue; }
    if (line.startsWith("# HELP ")) continue;
    const m = /^(\w+)(\{(?:\w+="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    assert.ok(typed.has(m[1]) || typed.has(m[1].replace(/_(bucket|sum|count)$/, "")), `no TYPE for ${m[1]}`);
    out.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return out;
}

const metric = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

async function until(what: string, f: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test("scores over HTTP equal predict's bit for bit: raw lines, JSON objects, NDJSON, one row or many", { timeout: 30_000 }, async () => {
  // predict prints the same float64s to 9 digits.
  const cli = spawnSync(process.execPath, [CLI, "predict", "--model", A.path, "--data", A.test], { encoding: "utf8" });
  assert.equal(cli.status, 0, cli.stderr);
  assert.deepEqual(cli.stdout.trim().split("\n"), SCORES_A.map((s) => s.toPrecision(9)));
  // One scoring thread: the whole-file bodies (over 16 KiB) are scored there, single rows on the HTTP thread.
  const s = await serve(A.path, "--threads", "1");
  try {
    assert.deepStrictEqual((await scores(s.port, ROWS.join("\n") + "\n")).scores, SCORES_A);
    assert.deepStrictEqual((await scores(s.port, ROWS.join("\r\n"), "text/plain; charset=utf-8")).scores, SCORES_A);
    const objects = ROWS.map(criteoObject);
    assert.deepStrictEqual((await scores(s.port, JSON.stringify(objects), "application/json")).scores, SCORES_A);
    assert.deepStrictEqual((await scores(s.port, objects.map((o) => JSON.stringify(o)).join("\n") + "\n", "application/x-ndjson")).scores, SCORES_A);
    for (let i = 0; i < 10; i++) {
      assert.deepStrictEqual((await scores(s.port, ROWS[i])).scores, [SCORES_A[i]], `row ${i} alone`);
      assert.deepStrictEqual((await scores(s.port, JSON.stringify(objects[i]), "application/json")).scores, [SCORES_A[i]], `row ${i} as one object`);
    }
    assert.deepStrictEqual((await scores(s.port, "")).scores, []);
    // A bad row in a body scored by the thread: the same 400, naming it.
    const bad = await call(s.port, "POST", "/predict", ROWS.join("\n") + "\n0\tx", "text/plain");
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.text) as { error: string }).error, /^row 301, field I1: "x" is not an integer$/);
    assert.deepStrictEqual((await scores(s.port, ROWS.join("\n"))).scores, SCORES_A);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test("other formats (avazu with its header, libsvm with a featindex, csv with a schema): lines and objects score as predict", { timeout: 30_000 }, async () => {
  const cases = [
    await makeModel("avazu", "avazu", "avazu", "lr", 3),
    await makeModel("ipinyou", "ipinyou", "libsvm", "lr", 4),
    await makeModel("csv", "criteo", "csv", "lr", 5),
  ];
  for (const c of cases) {
    const m = await loadServedModel(c.path), want = await expected(c.path, c.test);
    const text = readFileSync(c.test);
    const got = m.predictor.predict(await m.rows.parse(text, 1000));
    assert.deepStrictEqual(Array.from(got), want, `${m.rows.format}: raw lines`);
    // The same rows as objects of column -> value, built here from the lines.
    const lines = text.toString("utf8").trim().split("\n");
    let objects: Record<string, string | number>[];
    if (m.rows.format === "libsvm") {
      const dict = new Map<string, [string, string]>();
      for (const l of readFileSync(`${c.path.replace(/\.sparsectr$/, ".train")}.featindex`, "utf8").trim().split("\n")) {
        const [fv, index] = l.split("\t"), colon = fv.indexOf(":");
        dict.set(index, [fv.slice(0, colon), fv.slice(colon + 1)]);
      }
      objects = lines.map((l) => Object.fromEntries(l.split(" ").slice(1).map((t) => dict.get(t.split(":")[0])!)));
    } else {
      const header = lines.shift()!.split(",");
      objects = lines.map((l) => Object.fromEntries(l.split(",").map((v, k) => [header[k], /^[1-9]\d*$/.test(v) ? Number(v) : v])));
    }
    const parsed = await m.rows.parse(m.objects.text(objects), 1000);
    assert.deepStrictEqual(Array.from(m.predictor.predict(parsed)), want, `${m.rows.format}: objects`);
    assert.throws(() => m.objects.text([objects[0], { ...objects[1], nonsense: "1" }]), /request:2: column nonsense: unknown column "nonsense"/);
  }
});

test("/health and /metrics: the model's identity, and counters that move by what was sent", { timeout: 30_000 }, async () => {
  const s = await serve(A.path);
  try {
    const h = await call(s.port, "GET", "/health");
    assert.equal(h.status, 200);
    const health = JSON.parse(h.text) as { status: string; model: { sha256: string; features: number; fields: number; model: string; format: string } };
    assert.equal(health.status, "ok");
    assert.equal(health.model.sha256, sha(A.path));
    assert.equal(health.model.features, Predictor.load(A.path).features);
    assert.deepEqual([health.model.fields, health.model.model, health.model.format], [39, "dcn", "criteo"]);
    const before = await metrics(s.port);
    assert.ok([...before.keys()].some((k) => k.startsWith(`sparsectr_serve_model_info{path="${A.path}",sha256="${sha(A.path)}",mtime="`)), "model_info with path, sha256 and mtime");
    for (let i = 0; i < 5; i++) await scores(s.port, ROWS.slice(7 * i, 7 * i + 7).join("\n"));
    assert.equal((await call(s.port, "POST", "/predict", "1\t2\n", "text/plain")).status, 400);
    assert.equal((await call(s.port, "POST", "/predict", "{", "application/json")).status, 400);
    assert.equal((await call(s.port, "GET", "/nowhere")).status, 404);
    const after = await metrics(s.port);
    const moved = (key: string): number => metric(after, key) - metric(before, key);
    assert.equal(moved('sparsectr_serve_requests_total{path="/predict",code="200"}'), 5);
    assert.equal(moved('sparsectr_serve_requests_total{path="/predict",code="400"}'), 2);
    assert.equal(moved('sparsectr_serve_requests_total{path="other",code="404"}'), 1);
    assert.equal(moved("sparsectr_serve_rows_scored_total"), 35);
    assert.equal(moved('sparsectr_serve_errors_total{kind="bad_row"}'), 1);
    assert.equal(moved('sparsectr_serve_errors_total{kind="bad_json"}'), 1);
    assert.equal(moved('sparsectr_serve_errors_total{kind="not_found"}'), 1);
    const h2 = "sparsectr_serve_request_duration_seconds";
    assert.equal(moved(`${h2}_count`), 7);
    assert.equal(metric(after, `${h2}_bucket{le="+Inf"}`), metric(after, `${h2}_count`));
    assert.ok(moved(`${h2}_sum`) > 0);
    const buckets = [...after].filter(([k]) => k.startsWith(`${h2}_bucket`)).map(([, v]) => v);
    assert.ok(buckets.length > 5 && buckets.every((v, i) => i === 0 || v >= buckets[i - 1]), "cumulative buckets");
    for (const r of ["loaded", "unchanged", "failed"]) assert.equal(metric(after, `sparsectr_serve_model_reloads_total{result="${r}"}`), 0);
    assert.ok(metric(after, "process_resident_memory_bytes") > 0);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test("reloads while requests are in flight: every request answered 200 by one whole model; a damaged file keeps the old one", { timeout: 30_000 }, async () => {
  const served = join(dir, "served.sparsectr");
  copyFileSync(A.path, served);
  const shaA = sha(A.path), shaB = sha(B.path);
  // Two scoring threads take the 200-row bodies, the HTTP thread the 10-row ones.
  const s = await serve(served, "--reload-debounce-ms", "20", "--threads", "2");
  try {
    let stop = false, answered = 0;
    const seen = new Set<string>();
    // Four clients, each sending 200-row and 10-row requests in turn, back to back.
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (let i = 0; !stop; i++) {
        const from = (c * 7 + i) % 100, n = i % 2 ? 10 : 200;
        const r = await scores(s.port, ROWS.slice(from, from + n).join("\n"));
        assert.ok(r.sha === shaA || r.sha === shaB, r.sha);
        assert.deepStrictEqual(r.scores, (r.sha === shaA ? SCORES_A : SCORES_B).slice(from, from + n), "one model for the whole request");
        seen.add(r.sha);
        answered++;
      }
    });
    const reloads = async (): Promise<number> => metric(await metrics(s.port), 'sparsectr_serve_model_reloads_total{result="loaded"}');
    for (let k = 1; k <= 6; k++) {
      await sleep(150);
      writeFileAtomic(served, readFileSync(k % 2 ? B.path : A.path));
      await until(`reload ${k}`, async () => (await reloads()) >= k);
    }
    // The last file written (A) serves the requests that follow.
    assert.equal((await scores(s.port, ROWS[0])).sha, shaA);
    // A damaged file: the reload fails, the old model goes on.
    const bytes = readFileSync(B.path);
    writeFileAtomic(served, bytes.subarray(0, bytes.length >> 1));
    await until("the failed reload", async () => metric(await metrics(s.port), 'sparsectr_serve_model_reloads_total{result="failed"}') === 1);
    await sleep(100);
    stop = true;
    await Promise.all(clients);
    assert.ok(answered > 20, `${answered} requests`);
    assert.deepEqual([...seen].sort(), [shaA, shaB].sort());
    const r = await scores(s.port, ROWS.slice(0, 50).join("\n"));
    assert.equal(r.sha, shaA);
    assert.deepStrictEqual(r.scores, SCORES_A.slice(0, 50));
    const health = JSON.parse((await call(s.port, "GET", "/health")).text) as { reloads: { failed: number; lastError: string } };
    assert.equal(health.reloads.failed, 1);
    assert.match(health.reloads.lastError, /checksum mismatch|does not fit|truncated/);
    const m = await metrics(s.port);
    assert.equal(metric(m, 'sparsectr_serve_requests_total{path="/predict",code="200"}'), answered + 2);
    assert.equal([...m.keys()].filter((k) => /^sparsectr_serve_requests_total\{path="\/predict",code="(?!200)/.test(k)).length, 0);
    assert.match(s.stderr(), /reload \(file changed\): failed, still serving/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

/** A raw connection that sends `head` and stalls: what comes back, and when the server closes it. */
function stall(port: number, head: string): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now(), sock = connect(port, "127.0.0.1", () => sock.write(head));
    let text = "";
    sock.on("data", (c: Buffer) => { text += c.toString(); });
    sock.on("close", () => resolve({ text, ms: Date.now() - t0 }));
    sock.on("error", reject);
    setTimeout(() => { sock.destroy(); reject(new Error("the server never closed a stalled connection")); }, 10_000);
  });
}

test("hostile requests get a clear 4xx or a timeout, and the server keeps serving", { timeout: 30_000 }, async () => {
  const s = await serve(A.path, "--max-body-bytes", "65536", "--max-rows", "50", "--headers-timeout-ms", "600", "--request-timeout-ms", "1200");
  const healthy = async (): Promise<void> => {
    assert.deepStrictEqual((await scores(s.port, ROWS.slice(0, 3).join("\n"))).scores, SCORES_A.slice(0, 3));
  };
  const refused = async (status: number, message: RegExp, body: string | Buffer, type = "text/plain"): Promise<void> => {
    const r = await call(s.port, "POST", "/predict", body, type);
    assert.equal(r.status, status, r.text);
    assert.match((JSON.parse(r.text) as { error: string }).error, message);
    await healthy();
  };
  try {
    await refused(413, /larger than 65536 bytes/, Buffer.alloc(70_000, "a"));
    // Without a Content-Length (chunked): refused once the bytes pass the limit.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/predict", agent: false, headers: { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" } }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on("error", reject);
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(20_000, "b"));
      req.end();
    });
    assert.equal(chunked, 413);
    await healthy();
    const many = [...ROWS.slice(0, 51)];
    await refused(413, /more than 50 rows/, many.join("\n"));
    await refused(413, /more than 50 rows/, JSON.stringify(many.map(criteoObject)), "application/json");
    await refused(400, /malformed JSON/, '[{"I1": 1,', "application/json");
    await refused(400, /^row 2: malformed JSON/, '{"I1": 1}\n{"I1": \n', "application/x-ndjson");
    await refused(400, /^row 2, field C99: unknown column "C99"/, JSON.stringify([criteoObject(ROWS[0]), { C99: "x" }]), "application/json");
    await refused(400, /^row 1, field I3: "abc" is not an integer/, JSON.stringify({ I3: "abc" }), "application/json");
    await refused(400, /^row 1, field C2: an object is not a value/, JSON.stringify({ C2: { a: 1 } }), "application/json");
    await refused(400, /^row 3, field I4: row has 4 columns/, [ROWS[0], ROWS[1], "0\t1\t2\t3"].join("\n"));
    await refused(400, /^row 2: is an array/, "[{}, [1, 2]]", "application/json");
    await refused(415, /content type "application\/xml"/, "<row/>", "application/xml");
    assert.equal((await call(s.port, "GET", "/predict")).status, 405);
    // Slow senders: headers that never end, a body that never comes.
    const headers = await stall(s.port, "POST /predict HTTP/1.1\r\nHost: x\r\n");
    assert.match(headers.text, /^HTTP\/1\.1 408 /);
    assert.ok(headers.ms < 5000, `${headers.ms} ms`);
    const body = await stall(s.port, `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n${ROWS[0]}`);
    assert.match(body.text, /^HTTP\/1\.1 408 /);
    assert.ok(body.ms < 5000, `${body.ms} ms`);
    await healthy();
    const m = await metrics(s.port);
    for (const [kind, n] of [["too_large", 2], ["too_many_rows", 2], ["bad_json", 2], ["bad_row", 5], ["media_type", 1], ["method", 1], ["timeout", 2]] as const) {
      assert.equal(metric(m, `sparsectr_serve_errors_total{kind="${kind}"}`), n, kind);
    }
    assert.equal(metric(m, 'sparsectr_serve_requests_total{path="/predict",code="408"}'), 1);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test("SIGHUP reloads (with --no-watch); SIGTERM stops accepting and finishes the request in flight", { timeout: 30_000 }, async () => {
  const served = join(dir, "hup.sparsectr");
  copyFileSync(A.path, served);
  const s = await serve(served, "--no-watch", "--reload-poll-ms", "0");
  writeFileAtomic(served, readFileSync(B.path));
  await sleep(300);
  assert.equal((await scores(s.port, ROWS[0])).sha, sha(A.path), "no reload without the watch");
  s.proc.kill("SIGHUP");
  await until("the SIGHUP reload", async () => (await scores(s.port, ROWS[0])).sha === sha(B.path));
  assert.deepStrictEqual((await scores(s.port, ROWS.slice(0, 20).join("\n"))).scores, SCORES_B.slice(0, 20));
  // A request whose body is half sent when SIGTERM comes.
  const body = ROWS.slice(0, 40).join("\n"), half = body.length >> 1;
  let sent!: () => void;
  const halfSent = new Promise<void>((resolve) => { sent = resolve; });
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/predict", agent: false, headers: { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => { text += c.toString(); });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.write(body.slice(0, half), () => sent());
    void halfSent.then(async () => {
      await sleep(100);
      s.proc.kill("SIGTERM");
      await until("the listener closed", () => call(s.port, "GET", "/health").then(() => false, (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED"));
      req.end(body.slice(half));
    });
  });
  const r = await reply;
  assert.equal(r.status, 200, r.text);
  assert.deepStrictEqual((JSON.parse(r.text) as { scores: number[] }).scores, SCORES_B.slice(0, 40));
  assert.equal(await s.exited, 0);
  assert.match(s.stderr(), /SIGTERM: finishing the requests in flight[\s\S]*closed/);
});

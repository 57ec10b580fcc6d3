// The scoring server's metrics and their Prometheus text exposition
// (format 0.0.4): counters, gauges and one latency histogram.

/** Labels of one series. */
export type Labels = Readonly<Record<string, string>>;

/** A metric's series by their label sets. */
class Family {
  readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge") {}

  /** Adds to (counter) or sets (gauge) the series of `labels`. */
  add(labels: Labels, by: number): void {
    const key = labelText(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  set(labels: Labels, value: number): void {
    this.series.set(labelText(labels), { labels, value });
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const s of this.series.values()) out.push(`${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

/** Upper bounds (seconds) of the latency histogram's buckets. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * The metrics of `sparsectr serve`, all prefixed `sparsectr_serve_`:
 * requests by path and status code, rows scored, errors by kind, the
 * latency histogram of /predict, requests in flight, the model served
 * (an info gauge labelled with its path, sha256 and mtime, its features,
 * its load time) and reloads by result; and the process's resident memory.
 */
export class ServeMetrics {
  readonly requests = new Family("sparsectr_serve_requests_total", "HTTP requests answered, by path and status code.", "counter");
  readonly rows = new Family("sparsectr_serve_rows_scored_total", "Rows scored by /predict.", "counter");
  readonly errors = new Family("sparsectr_serve_errors_total", "Requests refused or failed, by kind (bad_row, bad_json, too_large, too_many_rows, media_type, not_found, method, timeout, bad_request, aborted, internal).", "counter");
  readonly inflight = new Family("sparsectr_serve_requests_in_flight", "Requests being answered.", "gauge");
  readonly model = new Family("sparsectr_serve_model_info", "The model file served (1), labelled with its path, sha256 and mtime.", "gauge");
  readonly features = new Family("sparsectr_serve_model_features", "Live features of the model served.", "gauge");
  readonly loadedAt = new Family("sparsectr_serve_model_loaded_timestamp_seconds", "When the model served was loaded (Unix time).", "gauge");
  readonly reloads = new Family("sparsectr_serve_model_reloads_total", "Model reloads by result: loaded (a new model), unchanged (same sha256), failed (the old model kept).", "counter");
  private readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  private latencySum = 0;
  private latencyCount = 0;

  constructor() {
    this.inflight.set({}, 0);
    this.rows.add({}, 0);
    for (const result of ["loaded", "unchanged", "failed"]) this.reloads.add({ result }, 0);
  }

  /** One /predict request's duration in seconds. */
  observe(seconds: number): void {
    for (let b = 0; b < LATENCY_BUCKETS.length; b++) if (seconds <= LATENCY_BUCKETS[b]) this.buckets[b]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  /** The model now served. */
  serving(m: { path: string; sha256: string; mtimeMs: number; features: number; loadedAt: number }): void {
    this.model.series.clear();
    this.model.set({ path: m.path, sha256: m.sha256, mtime: new Date(m.mtimeMs).toISOString() }, 1);
    this.features.set({}, m.features);
    this.loadedAt.set({}, m.loadedAt / 1000);
  }

  /** Reloads so far with this result. */
  reloadCount(result: "loaded" | "unchanged" | "failed"): number {
    return this.reloads.series.get(labelText({ result }))?.value ?? 0;
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    for (const f of [this.requests, this.rows, this.errors, this.inflight]) f.render(out);
    const h = "sparsectr_serve_request_duration_seconds";
    out.push(`# HELP ${h} Duration of /predict requests, from the request's arrival to the response's end.`, `# TYPE ${h} histogram`);
    LATENCY_BUCKETS.forEach((le, b) => out.push(`${h}_bucket{le="${le}"} ${this.buckets[b]}`));
    out.push(`${h}_bucket{le="+Inf"} ${this.latencyCount}`, `${h}_sum ${num(this.latencySum)}`, `${h}_count ${this.latencyCount}`);
    for (const f of [this.model, this.features, this.loadedAt, this.reloads]) f.render(out);
    out.push("# HELP process_resident_memory_bytes Resident memory size in bytes.", "# TYPE process_resident_memory_bytes gauge", `process_resident_memory_bytes ${process.memoryUsage.rss()}`);
    return out.join("\n") + "\n";
  }
}

/** `{a="x",b="y"}` with values escaped (backslash, quote, newline); "" for no labels. */
function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

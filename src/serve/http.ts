// The HTTP scoring server: routes (/predict, /health, /metrics), limits and
// timeouts, metrics accounting, model reloads and graceful shutdown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { ServeMetrics } from "./metrics.js";
import { ModelHolder, type ReloadEvent } from "./model-watch.js";
import { bodyKind, discard, HttpError, readBody, scoreBody } from "./requests.js";
import { ScorePool } from "./score-pool.js";
import { loadServedModel, type InputOverrides, type ServedModel } from "./served-model.js";

/** Settings of the server (the command's options). */
export interface ServeOptions {
  host: string;
  /** 0: an ephemeral port (see `address`). */
  port: number;
  maxBodyBytes: number;
  maxRows: number;
  /** Time to receive a request's headers, then the whole request (ms): past it, 408 and the connection closed. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Reload when the model file changes (besides `reload()`, e.g. on SIGHUP). */
  watch: boolean;
  debounceMs: number;
  pollMs: number;
  overrides?: InputOverrides;
  /** Scoring threads for bodies of INLINE_BYTES or more (0: every body is scored on the HTTP thread). */
  threads: number;
  /** Log lines (reloads); default none. */
  log?: (line: string) => void;
}

/** One request being answered: what its metrics need, counted once. */
interface Exchange {
  path: string;
  t0: number;
  res: ServerResponse;
  counted: boolean;
}

/** Bodies smaller than this are scored on the HTTP thread, also with scoring threads (a thread hop costs more than their rows). */
export const INLINE_BYTES = 16 << 10;

const ROUTES = new Map([["/predict", "POST"], ["/health", "GET"], ["/metrics", "GET"]]);

/** `sparsectr serve`'s server: load the model, then `start`; `close` drains it. */
export class ScoringServer {
  readonly metrics = new ServeMetrics();
  readonly holder: ModelHolder;
  private readonly server: Server;
  private readonly active = new Map<Socket, Exchange>();
  private closing = false;
  private lastError: string | undefined;
  private readonly started = Date.now();
  /** Most bytes of a refused body read and dropped before answering (more: the connection is closed unread). */
  private readonly drainCap: number;
  private pool: ScorePool | undefined;

  private constructor(model: ServedModel, private readonly o: ServeOptions) {
    this.drainCap = Math.max(4 * o.maxBodyBytes, 1 << 20);
    this.holder = new ModelHolder(model, (path) => loadServedModel(path, o.overrides, o.threads > 0), (e) => this.reloaded(e));
    this.metrics.serving(model);
    this.server = createServer({
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      // How often the timeouts are checked (Node's default, 30 s, would let a stalled sender hold far longer).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, o.headersTimeoutMs / 4)),
      noDelay: true,
    }, (req, res) => { void this.handle(req, res); });
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
  }

  /** Loads the model file, listens, and watches the file when asked. */
  static async start(modelPath: string, o: ServeOptions): Promise<ScoringServer> {
    if (!(o.headersTimeoutMs > 0 && o.requestTimeoutMs >= o.headersTimeoutMs)) throw new RangeError(`the headers timeout (${o.headersTimeoutMs} ms) must be positive and at most the request timeout (${o.requestTimeoutMs} ms)`);
    if (!(Number.isSafeInteger(o.threads) && o.threads >= 0)) throw new RangeError(`threads ${o.threads} must be an integer >= 0`);
    const s = new ScoringServer(await loadServedModel(modelPath, o.overrides, o.threads > 0), o);
    if (o.threads > 0) s.pool = await ScorePool.start(o.threads, s.holder.current, o.overrides ?? {}, (line) => o.log?.(line));
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(o.port, o.host, () => { s.server.off("error", reject); resolve(); });
    });
    if (o.watch) s.holder.watch({ debounceMs: o.debounceMs, pollMs: o.pollMs });
    return s;
  }

  /** The bound address (the port chosen when asked for 0). */
  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Loads the model file again (SIGHUP); the old model serves until the new one is ready, and stays on failure. */
  reload(reason = "reload"): Promise<ReloadEvent> {
    return this.holder.reload(reason);
  }

  /**
   * Stops accepting connections, lets the requests in flight finish (their
   * connections then close), and resolves once all are closed; connections
   * still open after graceMs are cut.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    this.holder.close();
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => this.server.closeAllConnections(), graceMs);
      this.server.close(() => { clearTimeout(cut); resolve(); });
      this.server.closeIdleConnections();
    });
    await this.pool?.close();
  }

  private reloaded(e: ReloadEvent): void {
    this.metrics.reloads.add({ result: e.result }, 1);
    if (e.result === "loaded") {
      this.pool?.setModel(e.model);
      this.metrics.serving(e.model);
    }
    if (e.result === "failed") this.lastError = e.error;
    const what = e.result === "failed" ? `failed, still serving sha256 ${e.model.sha256.slice(0, 12)}: ${e.error}` : `${e.result} sha256 ${e.model.sha256.slice(0, 12)} (${e.model.features} features) in ${e.seconds.toFixed(3)} s`;
    this.o.log?.(`reload (${e.reason}): ${what}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const x: Exchange = { path: ROUTES.has(path) ? path : "other", t0: performance.now(), res, counted: false };
    this.active.set(req.socket, x);
    this.metrics.inflight.add({}, 1);
    res.once("close", () => {
      this.metrics.inflight.add({}, -1);
      if (this.active.get(req.socket) === x) this.active.delete(req.socket);
      if (!x.counted) this.count(x, res.writableFinished ? String(res.statusCode) : undefined, res.writableFinished ? undefined : "aborted");
    });
    try {
      const method = ROUTES.get(path);
      if (method === undefined) throw new HttpError(404, "not_found", `no ${path}: the routes are POST /predict, GET /health, GET /metrics`);
      if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
        res.setHeader("Allow", method === "GET" ? "GET, HEAD" : method);
        throw new HttpError(405, "method", `${path} takes ${method}, not ${req.method}`);
      }
      if (path === "/predict") await this.predict(req, res);
      else if (path === "/health") this.send(req, res, 200, "application/json", JSON.stringify(this.health()));
      else this.send(req, res, 200, "text/plain; version=0.0.4; charset=utf-8", this.metrics.render());
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, "internal", `internal error: ${(e as Error).message}`);
      if (err.kind !== "aborted") this.metrics.errors.add({ kind: err.kind }, 1);
      if (err.status === 500) this.o.log?.(`${path}: ${(e as Error).stack ?? String(e)}`);
      // The body left unread is read first (see readBody): the answer then reaches the client.
      await discard(req, this.drainCap);
      this.send(req, res, err.status, "application/json", JSON.stringify({ error: err.message }));
    }
  }

  private async predict(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const kind = bodyKind(req.headers["content-type"]);
    if (kind === undefined) throw new HttpError(415, "media_type", `content type ${JSON.stringify(req.headers["content-type"])} is not one of text/plain (rows in the model's ${this.holder.current.rows.format} format), application/json, application/x-ndjson`);
    const body = await readBody(req, this.o.maxBodyBytes, this.drainCap);
    // The model current once the body is in scores the whole request, whatever reloads follow:
    // scoring threads take it only when they serve that model.
    const m = this.holder.current;
    const scores = this.pool && body.length >= INLINE_BYTES && this.pool.serves(m.sha256)
      ? await this.pool.score(kind, body, this.o.maxRows)
      : await scoreBody(m, kind, body, this.o.maxRows);
    this.metrics.rows.add({}, scores.length);
    res.setHeader("X-Model-Sha256", m.sha256);
    this.send(req, res, 200, "application/json", `{"scores":${JSON.stringify(Array.from(scores))}}`);
  }

  private health(): object {
    const m = this.holder.current, p = m.predictor;
    const count = (result: "loaded" | "unchanged" | "failed"): number => this.metrics.reloadCount(result);
    return {
      status: this.closing ? "closing" : "ok",
      model: {
        path: m.path, sha256: m.sha256, bytes: m.bytes, mtime: new Date(m.mtimeMs).toISOString(), loadedAt: new Date(m.loadedAt).toISOString(),
        model: p.modelName, format: m.rows.format, fields: p.input.fields.length, features: m.features,
      },
      threads: this.o.threads,
      reloads: { loaded: count("loaded"), unchanged: count("unchanged"), failed: count("failed"), ...(this.lastError ? { lastError: this.lastError } : {}) },
      uptimeSeconds: (Date.now() - this.started) / 1000,
    };
  }

  /** Answers; a connection whose request body was not read whole, or a server closing, is closed after it. */
  private send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
    if (res.headersSent || res.destroyed || req.socket.destroyed) return;
    const unread = !req.complete && (req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0);
    if (this.closing || unread) res.setHeader("Connection", "close");
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  /** Counts a finished exchange once: its status code (undefined: none sent), error kind, /predict latency. */
  private count(x: Exchange, code: string | undefined, kind?: string): void {
    x.counted = true;
    if (code !== undefined) this.metrics.requests.add({ path: x.path, code }, 1);
    if (kind !== undefined) this.metrics.errors.add({ kind }, 1);
    if (x.path === "/predict") this.metrics.observe((performance.now() - x.t0) / 1000);
  }

  /**
   * Malformed requests and timeouts (headers or body too slow): a 408 or 400
   * where no response has begun on the connection, then it is closed.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const x = this.active.get(socket);
    if (err.code !== "ECONNRESET" && err.code !== "EPIPE") {
      const [status, kind, text] = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "timeout", "Request Timeout"]
        : err.code === "HPE_HEADER_OVERFLOW" ? [431, "bad_request", "Request Header Fields Too Large"] : [400, "bad_request", "Bad Request"];
      if (socket.writable && !(x && x.res.headersSent)) {
        const body = JSON.stringify({ error: status === 408 ? "the request was not received in time" : `malformed HTTP request: ${err.message}` });
        socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        if (x) this.count(x, String(status), kind);
        else {
          this.metrics.requests.add({ path: "other", code: String(status) }, 1);
          this.metrics.errors.add({ kind }, 1);
        }
      } else if (x && !x.counted) this.count(x, undefined, kind);
    }
    socket.destroy();
  }
}

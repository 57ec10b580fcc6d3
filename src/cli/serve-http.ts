/**
 * `sparsectr serve`: the HTTP scoring server on a model file, reloaded on
 * SIGHUP and when the file changes, drained on SIGINT/SIGTERM.
 */
import { FORMATS, type Format } from "../data/detect.js";
import { ScoringServer } from "../serve/http.js";
import { num, str, UsageError, type Command, type OptionSpec, type ParsedArgs } from "./args.js";

const OPTIONS: readonly OptionSpec[] = [
  { name: "model", type: "string", help: "model file (model.sparsectr, from train --out or export)" },
  { name: "port", type: "string", help: "TCP port (0: any free port, printed)", default: "8080" },
  { name: "host", type: "string", help: "address to listen on", default: "127.0.0.1" },
  { name: "max-body-bytes", type: "string", help: "largest request body (larger: 413)", default: String(16 << 20) },
  { name: "max-rows", type: "string", help: "most rows in one request (more: 413)", default: "100000" },
  { name: "headers-timeout-ms", type: "string", help: "time to receive a request's headers (then 408, connection closed)", default: "10000" },
  { name: "request-timeout-ms", type: "string", help: "time to receive a whole request (then 408, connection closed)", default: "30000" },
  { name: "keep-alive-timeout-ms", type: "string", help: "idle keep-alive connections are closed after this", default: "5000" },
  { name: "threads", type: "string", help: "scoring threads for bodies of 16 KiB or more, each with a copy of the model (0: all on the HTTP thread)", default: "0" },
  { name: "no-watch", type: "boolean", help: "do not reload when the model file changes (SIGHUP still does)" },
  { name: "reload-debounce-ms", type: "string", help: "quiet time after a change of the model file before reloading", default: "200" },
  { name: "reload-poll-ms", type: "string", help: "re-stat the model file this often, for changes the watch misses (0: never)", default: "2000" },
  { name: "format", type: "string", help: "override the model's input format" },
  { name: "schema", type: "string", help: "override the csv schema" },
  { name: "featindex", type: "string", help: "override the libsvm featindex" },
];

export const serveHttp: Command = {
  name: "serve",
  summary: "score over HTTP: POST /predict, GET /health, GET /metrics; reloads the model file on change or SIGHUP",
  usage: "serve --model model.sparsectr [--port 8080] [--host 127.0.0.1]",
  options: OPTIONS,
  run,
};

async function run(a: ParsedArgs): Promise<number> {
  if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
  const model = str(a, "model");
  if (!model) throw new UsageError("--model FILE is required");
  const format = str(a, "format");
  if (format !== undefined && !FORMATS.some((f) => f === format)) throw new UsageError(`option --format = ${format} is not one of ${FORMATS.join(", ")}`);
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = num(a, name, true);
    if (v < min || v > max) throw new UsageError(`option --${name} = ${v} must be in [${min}, ${max}]`);
    return v;
  };
  const log = (line: string): void => { process.stderr.write(`sparsectr serve: ${line}\n`); };
  const server = await ScoringServer.start(model, {
    host: str(a, "host")!, port: int("port", 0, 65535),
    maxBodyBytes: int("max-body-bytes", 1), maxRows: int("max-rows", 1, 1 << 24),
    headersTimeoutMs: int("headers-timeout-ms", 1), requestTimeoutMs: int("request-timeout-ms", 1), keepAliveTimeoutMs: int("keep-alive-timeout-ms", 1),
    threads: int("threads", 0, 64),
    watch: a.values["no-watch"] !== true, debounceMs: int("reload-debounce-ms", 0), pollMs: int("reload-poll-ms", 0),
    overrides: { format: format as Format | undefined, schema: str(a, "schema"), featindex: str(a, "featindex") },
    log,
  });
  const { host, port } = server.address();
  const m = server.holder.current;
  process.stdout.write(`listening on http://${host.includes(":") ? `[${host}]` : host}:${port}\n`);
  log(`model ${m.path}: ${m.predictor.modelName}, ${m.rows.format}, ${m.features} features, sha256 ${m.sha256.slice(0, 12)}`);
  const onHup = (): void => { void server.reload("SIGHUP"); };
  process.on("SIGHUP", onHup);
  // The first SIGINT/SIGTERM drains; a second one ends at once.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  log(`${signal}: finishing the requests in flight`);
  const again = (): void => process.exit(130);
  process.once("SIGINT", again);
  process.once("SIGTERM", again);
  await server.close();
  process.off("SIGHUP", onHup);
  log("closed");
  return 0;
}

/**
 * Starts and stops a local Redis Cluster of redis-server child processes on
 * loopback, for the tests, the benchmark and local trials. The cluster is
 * built with CLUSTER commands rather than redis-cli (which refuses fewer than
 * three masters), so one-master clusters work too; every child is killed on
 * stop() or, failing that, when this process exits.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { serverUse, type ServerUse } from "./store.js";

export interface LocalClusterOptions {
  /** Number of masters (>= 1); the 16384 slots are split evenly between them. */
  masters: number;
  /** Replicas per master (default 0). */
  replicasPerMaster?: number;
  /** Per-node maxmemory in bytes, with maxmemory-policy noeviction. */
  maxmemoryBytes?: number;
  /** Working folder; default a fresh mkdtemp under os.tmpdir(), removed on stop(). */
  dir?: string;
  /** First port (nodes take basePort, basePort+1, ...); default free ports in 20000-29999. */
  basePort?: number;
  /** Bound on the whole start-up (default 20000 ms). */
  startTimeoutMs?: number;
  /** The server command (default "redis-server", resolved on PATH). */
  redisServer?: string;
}

export interface LocalCluster {
  /** Every node as started: the masters first, then the replicas (roles do not follow a failover). */
  readonly nodes: { host: string; port: number; role: "master" | "replica"; pid: number }[];
  /** "redis://127.0.0.1:P1,127.0.0.1:P2,...": the masters, in the form --cluster takes. */
  readonly url: string;
  /** Sends a signal (default SIGKILL) to the node on this port, e.g. to fail a master over; waitForState asks other nodes from then on. */
  kill(port: number, signal?: NodeJS.Signals): void;
  /** Polls CLUSTER INFO on a live node until ok(info) holds (default timeout: startTimeoutMs). */
  waitForState(ok: (info: string) => boolean, timeoutMs?: number): Promise<void>;
  /** SIGTERM every child (SIGKILL after 3 s), waits for them, removes the folder if it made it. */
  stop(): Promise<void>;
  /** What each live master has used so far (INFO), in the order of `nodes`. */
  masterUse(): Promise<ServerUse[]>;
}

const HOST = "127.0.0.1";
const SLOTS = 16384;

/** True when `cmd --version` runs. */
export function redisServerAvailable(cmd = "redis-server"): boolean {
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore", timeout: 5000 });
  return r.error === undefined && r.status === 0;
}

// Children alive in this process, killed on 'exit' by one listener, registered while any live.
const live = new Set<ChildProcess>();
function killLive(): void {
  for (const c of live) c.kill("SIGKILL");
}
function track(c: ChildProcess): void {
  if (live.size === 0) process.on("exit", killLive);
  live.add(c);
  const untrack = () => {
    live.delete(c);
    if (live.size === 0) process.off("exit", killLive);
  };
  c.once("exit", untrack);
  c.once("error", () => { if (c.pid === undefined) untrack(); }); // it never started

}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** n ports in 20000-29999 that the OS lets us listen on, each with its bus port (+10000) free too. */
async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 2000) throw new Error(`local redis cluster: no ${n} free port pairs in 20000-29999`);
    const p = 20000 + Math.floor(Math.random() * 10000);
    if (!out.includes(p) && (await portFree(p)) && (await portFree(p + 10000))) out.push(p);
  }
  return out;
}

async function logTail(dir: string, port: number, lines = 15): Promise<string> {
  const text = await readFile(join(dir, `${port}.log`), "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n") || "(empty log)";
}

function client(port: number): Redis {
  const c = new Redis({
    host: HOST, port, lazyConnect: true, retryStrategy: () => null,
    maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000, commandTimeout: 3000,
  });
  c.on("error", () => {}); // failures surface as rejected commands
  return c;
}

async function cmd(c: Redis, ...args: (string | number)[]): Promise<string> {
  const [name, ...rest] = args;
  return String(await c.call(String(name), ...rest));
}

interface Node { port: number; role: "master" | "replica"; master: number; child: ChildProcess; exited: string | null }

/**
 * Starts the cluster and resolves once every node reports cluster_state:ok with all slots
 * assigned (and every replica's link to its master is up). On a failure, stops what it started.
 */
export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      // Ports we picked ourselves may be taken between the check and the bind: pick again.
      const raced = o.basePort === undefined && e instanceof Error && e.message.includes("Address already in use");
      if (!raced || attempt === 3) throw e;
    }
  }
}

async function startOnce(o: LocalClusterOptions): Promise<LocalCluster> {
  const masters = o.masters, perMaster = o.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError(`masters = ${masters} is not an integer >= 1`);
  if (!Number.isInteger(perMaster) || perMaster < 0) throw new RangeError(`replicasPerMaster = ${perMaster} is not an integer >= 0`);
  const timeoutMs = o.startTimeoutMs ?? 20000, server = o.redisServer ?? "redis-server";
  const n = masters * (1 + perMaster);
  const base = o.basePort;
  const ports = base !== undefined ? Array.from({ length: n }, (_, i) => base + i) : await freePorts(n);
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), "sparsectr-redis-")));
  const nodes = ports.map((port, i): Node => {
    const args = [
      "--port", String(port), "--bind", HOST, "--cluster-enabled", "yes",
      "--dir", dir, "--cluster-config-file", `nodes-${port}.conf`, "--appendonly", "no", "--save", "",
      "--daemonize", "no", "--protected-mode", "no", "--cluster-node-timeout", "2000",
      "--cluster-replica-validity-factor", "0", "--logfile", join(dir, `${port}.log`),
      // A lone node learns no address of its own (CLUSTER SLOTS would give host ""): announce it.
      "--cluster-announce-ip", HOST,
      // A replica's first sync would otherwise wait 5 s for more replicas to join it.
      "--repl-diskless-sync-delay", "0",
    ];
    if (o.maxmemoryBytes !== undefined) args.push("--maxmemory", String(o.maxmemoryBytes), "--maxmemory-policy", "noeviction");
    const x: Node = {
      port, role: i < masters ? "master" : "replica", master: i < masters ? i : (i - masters) % masters,
      child: spawn(server, args, { stdio: "ignore" }), exited: null,
    };
    x.child.on("error", (e) => { x.exited = `failed to start: ${e.message}`; });
    x.child.once("exit", (code, sig) => { x.exited = `exited (${sig ?? `code ${code}`})`; });
    x.child.unref(); // a forgotten stop() must not hold the process open; the 'exit' hook kills it
    track(x.child);
    return x;
  });
  const killed = new Set<number>();
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => (stopped ??= (async () => {
    await Promise.all(nodes.map((x) => new Promise<void>((resolve) => {
      const c = x.child;
      if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.ref();
      const t = setTimeout(() => c.kill("SIGKILL"), 3000);
      c.once("exit", () => { clearTimeout(t); resolve(); });
      c.kill("SIGTERM");
    })));
    if (ownDir) await rm(dir, { recursive: true, force: true });
  })());

  const start = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const clients = nodes.map((x) => client(x.port));
    try {
      // Polls check() on node x until it holds; a child's early exit or the deadline ends it with a log tail.
      const until = async (what: string, x: Node, check: () => Promise<boolean>): Promise<void> => {
        for (;;) {
          const dead = nodes.find((y) => y.exited !== null);
          if (dead) throw new Error(`local redis cluster: redis-server on port ${dead.port} ${dead.exited} while waiting for ${what}; log tail:\n${await logTail(dir, dead.port)}`);
          if (await check().catch(() => false)) return;
          if (Date.now() > deadline) throw new Error(`local redis cluster: timed out after ${timeoutMs} ms waiting for ${what} on port ${x.port}; log tail:\n${await logTail(dir, x.port)}`);
          await sleep(50);
        }
      };
      await Promise.all(nodes.map((x, i) => until("PING", x, async () => {
        if (clients[i].status !== "ready") { clients[i].disconnect(); clients[i] = client(x.port); await clients[i].connect(); }
        return (await cmd(clients[i], "PING")) === "PONG";
      })));
      for (let i = 0; i < masters; i++) {
        await cmd(clients[i], "CLUSTER", "ADDSLOTSRANGE", Math.floor((i * SLOTS) / masters), Math.floor(((i + 1) * SLOTS) / masters) - 1);
      }
      for (const x of nodes.slice(1)) await cmd(clients[0], "CLUSTER", "MEET", HOST, x.port);
      await Promise.all(nodes.map((x, i) => until(`CLUSTER NODES to list all ${n} nodes`, x, async () => {
        const lines = (await cmd(clients[i], "CLUSTER", "NODES")).trim().split("\n");
        return lines.length === n && lines.every((l) => !/handshake|noaddr/.test(l));
      })));
      const ids = await Promise.all(clients.slice(0, masters).map((c) => cmd(c, "CLUSTER", "MYID")));
      for (let i = masters; i < n; i++) await cmd(clients[i], "CLUSTER", "REPLICATE", ids[nodes[i].master]);
      await Promise.all(nodes.map((x, i) => until("cluster_state:ok and cluster_slots_assigned:16384", x, async () => {
        const info = await cmd(clients[i], "CLUSTER", "INFO");
        return info.includes("cluster_state:ok") && info.includes(`cluster_slots_assigned:${SLOTS}`);
      })));
      await Promise.all(nodes.filter((x) => x.role === "replica").map((x) => until("master_link_status:up", x, async () =>
        (await cmd(clients[nodes.indexOf(x)], "INFO", "replication")).includes("master_link_status:up"))));
    } finally {
      for (const c of clients) c.disconnect();
    }
  };

  try {
    await start();
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    nodes: nodes.map((x) => ({ host: HOST, port: x.port, role: x.role, pid: x.child.pid ?? -1 })),
    url: "redis://" + nodes.filter((x) => x.role === "master").map((x) => `${HOST}:${x.port}`).join(","),
    kill(port: number, signal: NodeJS.Signals = "SIGKILL"): void {
      const x = nodes.find((y) => y.port === port);
      if (!x) throw new RangeError(`no local redis node on port ${port}`);
      killed.add(port);
      x.child.kill(signal);
    },
    async waitForState(ok: (info: string) => boolean, waitMs = timeoutMs): Promise<void> {
      const deadline = Date.now() + waitMs;
      let last = "(no reply)";
      for (;;) {
        const x = nodes.find((y) => y.exited === null && !killed.has(y.port));
        if (!x) throw new Error("local redis cluster: no live node to ask for CLUSTER INFO");
        const c = client(x.port);
        try {
          await c.connect();
          last = await cmd(c, "CLUSTER", "INFO");
          if (ok(last)) return;
        } catch (e) {
          last = `(port ${x.port}: ${e instanceof Error ? e.message : String(e)})`;
        } finally {
          c.disconnect();
        }
        if (Date.now() > deadline) throw new Error(`local redis cluster: timed out after ${waitMs} ms waiting for a cluster state; last CLUSTER INFO on port ${x.port}:\n${last.trim()}`);
        await sleep(100);
      }
    },
    stop,
    async masterUse(): Promise<ServerUse[]> {
      const out: ServerUse[] = [];
      for (const x of nodes.filter((y) => y.role === "master" && !killed.has(y.port))) {
        const c = client(x.port);
        try {
          await c.connect();
          out.push(serverUse(await cmd(c, "INFO", "everything")));
        } finally {
          c.disconnect();
        }
      }
      return out;
    },
  };
}

// The local Redis Cluster used by the cluster tests and the benchmark: it
// starts with any number of masters (one included), spreads keys over every
// master, fails a killed master over to its replica without losing its keys,
// honours maxmemory, and leaves no process or folder behind on stop().
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Cluster, Redis } from "ioredis";
import { redisServerAvailable, startLocalCluster, type LocalCluster } from "../../src/cluster/local-redis.js";

const skip = redisServerAvailable() ? false : "redis-server is not installed (CI installs it: see .ci/run)";

function clusterClient(c: LocalCluster): Cluster {
  const masters = c.nodes.filter((x) => x.role === "master").map(({ host, port }) => ({ host, port }));
  const client = new Cluster(masters, { clusterRetryStrategy: (times) => (times > 50 ? null : 100) });
  client.on("error", () => {}); // a killed node's errors surface as rejected commands
  return client;
}

async function direct<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    return await f(r);
  } finally {
    r.disconnect();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A cluster's folder, read from a node's CONFIG GET dir. */
const dirOf = (port: number) => direct(port, async (r) => String(((await r.config("GET", "dir")) as string[])[1]));

test("local redis: 3 masters share 100 keys; stop() ends every child and removes the folder", { skip }, async () => {
  const c = await startLocalCluster({ masters: 3 });
  let dir = "";
  try {
    assert.equal(c.nodes.length, 3);
    assert.match(c.url, /^redis:\/\/127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/);
    dir = await dirOf(c.nodes[0].port);
    assert.ok(existsSync(dir));
    const client = clusterClient(c);
    try {
      for (let i = 0; i < 100; i++) await client.set(`key:${i}`, `value ${i}`);
      for (let i = 0; i < 100; i++) assert.equal(await client.get(`key:${i}`), `value ${i}`);
    } finally {
      client.disconnect();
    }
    const sizes = await Promise.all(c.nodes.map((x) => direct(x.port, (r) => r.dbsize())));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 100);
    for (const s of sizes) assert.ok(s > 0, `every master holds some keys: ${sizes.join(", ")}`);
  } finally {
    await c.stop();
  }
  for (const x of c.nodes) assert.equal(alive(x.pid), false, `redis-server ${x.pid} on ${x.port} still running`);
  assert.equal(existsSync(dir), false, `${dir} was not removed`);
});

test("local redis: a 1-master cluster serves all 16384 slots", { skip }, async () => {
  const c = await startLocalCluster({ masters: 1 });
  try {
    const info = await direct(c.nodes[0].port, (r) => r.call("CLUSTER", "INFO"));
    assert.match(String(info), /cluster_slots_assigned:16384/);
    assert.match(String(info), /cluster_known_nodes:1\b/);
    const client = clusterClient(c);
    try {
      for (let i = 0; i < 50; i++) await client.set(`one:${i}`, String(i));
      assert.equal(await client.get("one:49"), "49");
    } finally {
      client.disconnect();
    }
    assert.equal(await direct(c.nodes[0].port, (r) => r.dbsize()), 50);
  } finally {
    await c.stop();
  }
});

test("local redis: a SIGKILLed master fails over to its replica and its keys stay readable", { skip, timeout: 120_000 }, async (t) => {
  const c = await startLocalCluster({ masters: 3, replicasPerMaster: 1 });
  try {
    assert.deepEqual(c.nodes.map((x) => x.role), ["master", "master", "master", "replica", "replica", "replica"]);
    const client = clusterClient(c);
    try {
      for (let i = 0; i < 100; i++) {
        // SET and WAIT in one pipeline share the key's node connection: the replica has the write.
        const res = await client.pipeline().set(`fo:${i}`, `v${i}`).call("WAIT", "1", "1000").exec();
        assert.deepEqual(res?.map(([e]) => e), [null, null]);
        assert.equal(res?.[1][1], 1, `WAIT after fo:${i}`);
      }
      const victim = c.nodes[1];
      const held = await direct(victim.port, (r) => r.keys("fo:*"));
      assert.ok(held.length > 0);
      const t0 = Date.now();
      c.kill(victim.port, "SIGKILL");
      // Bounds, not the subject: failover takes 3-4 s here (node timeout 2 s, then the election), but a
      // full suite's load on 2 cores once took the replica's promotion past 10 s, and once its elections
      // failed for more than 30 s (the current epoch at 9: each retry waits twice the 4 s auth timeout).
      await c.waitForState((info) => info.includes("cluster_state:fail"), 30000);
      await c.waitForState((info) => info.includes("cluster_state:ok"), 60000);
      const failoverMs = Date.now() - t0;
      const promoted = c.nodes[4]; // the replica of masters[1]
      assert.match(await direct(promoted.port, async (r) => String(await r.call("ROLE"))), /^master/);
      for (const k of held) assert.equal(await client.get(k), `v${k.slice(3)}`, k);
      t.diagnostic(`failover after SIGKILL: cluster_state ok again in ${failoverMs} ms`);
    } finally {
      client.disconnect();
    }
  } finally {
    await c.stop();
  }
});

test("local redis: maxmemory 4 MiB refuses writes past it with OOM", { skip }, async () => {
  const c = await startLocalCluster({ masters: 1, maxmemoryBytes: 4 * 1024 * 1024 });
  try {
    const client = clusterClient(c);
    const value = "x".repeat(64 * 1024);
    try {
      await assert.rejects(async () => {
        for (let i = 0; i < 200; i++) await client.set(`big:${i}`, value);
      }, (e: unknown) => e instanceof Error && e.message.includes("OOM"));
      assert.ok((await client.dbsize()) > 0);
    } finally {
      client.disconnect();
    }
  } finally {
    await c.stop();
  }
});

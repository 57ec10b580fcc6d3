// The store's cost of one row's merge, two ways (part of `npm run bench --
// cluster`): (a) the merge arithmetic in a Lua script on the server (read
// the stored record, add the pushed change, write it back: what a design
// with server-side updates does), (b) the design of src/cluster: HMGET of
// the stored records, the merge on the client, and the compare-and-set
// (ClusterStore.mergeRows). One master; 100 rows of 144 bytes (d = 8,
// group-adam) per call; the server's CPU time (INFO cpu) and command time
// (INFO commandstats) per row.
import { Redis } from "ioredis";
import { startLocalCluster } from "../src/cluster/local-redis.js";
import { ClusterStore } from "../src/cluster/store.js";
import { slotMerges } from "../src/cluster/merge.js";
import { resolveHyperparams } from "../src/optim/hyper.js";

/** Adds pushed - base to every float after the 16-byte header of each stored record. */
const LUA_MERGE = `
local rb = tonumber(ARGV[1])
local fmt = '<' .. string.rep('f', (rb - 16) / 4)
for i = 2, #ARGV, 3 do
  local id, l, b = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local g = redis.call('HGET', KEYS[1], id)
  local m = l
  if g then
    local gv = { struct.unpack(fmt, g, 17) }
    local lv = { struct.unpack(fmt, l, 17) }
    local bv = { struct.unpack(fmt, b, 17) }
    local mv = {}
    for k = 1, #lv - 1 do mv[k] = gv[k] + (lv[k] - bv[k]) end
    m = string.sub(l, 1, 16) .. struct.pack(fmt, unpack(mv))
  end
  redis.call('HSET', KEYS[1], id, m)
end
return #ARGV
`;

export async function benchClusterOps(emit: (o: object) => void, info: object): Promise<void> {
  const c = await startLocalCluster({ masters: 1 });
  const node = new Redis({ host: c.nodes[0].host, port: c.nodes[0].port });
  const store = await ClusterStore.connect(c.url, "ops", 400);
  try {
    const d = 8, rb = 16 + 4 * d * 4, rows = 100, calls = 400;
    const slots = slotMerges("group-adam", resolveHyperparams("group-adam", {}), true);
    const record = (): Buffer => {
      const b = Buffer.alloc(rb);
      for (let p = 16; p < rb; p += 4) b.writeFloatLE(Math.random(), p);
      b.writeUInt32LE(3, 8);
      return b;
    };
    const ids = Array.from({ length: rows }, (_, i) => { const b = Buffer.alloc(8); b.writeUInt32LE(i * 7919 + 1); return b; });
    const use = async (): Promise<{ cpu: number; usec: number }> => {
      const [u] = await c.masterUse();
      return { cpu: u.cpuSeconds, usec: u.commandUsec };
    };
    node.defineCommand("luaMerge", { numberOfKeys: 1, lua: LUA_MERGE });
    const lua = node as unknown as { luaMerge(key: string, ...a: (string | Buffer)[]): Promise<number> };
    const ways: [string, (k: number) => Promise<unknown>][] = [
      ["lua merge on the server", (k) => lua.luaMerge(`l{${k}}`, String(rb), ...ids.flatMap((id) => [id, record(), record()]))],
      ["hmget, merge on the client, compare-and-set", (k) => store.mergeRows(0, k, d, slots, ids, ids.map(() => record()), ids.map(() => record()))],
    ];
    for (const [way, call] of ways) {
      for (let k = 0; k < calls; k++) await call(k); // the rows exist: every later merge reads a stored record
      const u0 = await use();
      for (let k = 0; k < calls; k++) await call(k);
      const u1 = await use();
      emit({ ...info, kind: "store-op", way, rows_per_call: rows, record_bytes: rb, store_cpu_us_per_row: +((u1.cpu - u0.cpu) / (rows * calls) * 1e6).toFixed(2), store_command_us_per_row: +((u1.usec - u0.usec) / (rows * calls)).toFixed(2) });
    }
  } finally {
    node.disconnect();
    await store.close();
    await c.stop();
  }
}

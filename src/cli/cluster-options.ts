/**
 * The options of `sparsectr train` that make a run one worker of a cluster
 * run (--cluster, --workers, --rank, --sync-every, --sync-dense-every,
 * --cluster-run, --sightings-bytes), and their
 * resolution into ClusterOptions (../cluster/train.ts), also for `--resume`
 * of a cluster run's checkpoint.
 */
import { checkClusterOptions, DEFAULT_BUCKETS, DEFAULT_DENSE_SYNC_ROWS, DEFAULT_SYNC_ROWS, type ClusterOptions } from "../cluster/train.js";
import { checkRunName, parseClusterUrl } from "../cluster/store.js";
import type { ClusterRecord } from "../train/checkpoint.js";
import { bytes, num, str, UsageError, type OptionSpec, type ParsedArgs } from "./args.js";

export const CLUSTER_OPTIONS: readonly OptionSpec[] = [
  { name: "cluster", type: "string", help: "train as one worker of a cluster run with the embedding tables in this Redis Cluster (redis://host:port[,host:port...]): each worker trains its part of the rows (with its threads, as --threads says) and merges its changes with the store every --sync-every rows; rank 0 writes the model and, with --out, checkpoints the whole run (Ctrl-C on it pauses the run; --resume DIR --cluster URL continues it; see docs/cluster.md)" },
  { name: "workers", type: "string", help: "with --cluster: the workers of the run (each started with the same options and its own --rank)", default: "1" },
  { name: "rank", type: "string", help: "with --cluster: this worker's rank, 0 to workers - 1; it trains that part of the training rows", default: "0" },
  { name: "sync-every", type: "string", help: "with --cluster: training rows between a worker's merges with the store", default: String(DEFAULT_SYNC_ROWS) },
  { name: "sync-dense-every", type: "string", help: "with --cluster: training rows between a worker's merges of its dense layers", default: String(DEFAULT_DENSE_SYNC_ROWS) },
  { name: "cluster-run", type: "string", help: "with --cluster: the run's name (its keys in the cluster are sctr:NAME:*)", default: "sparsectr" },
  { name: "sightings-bytes", type: "string", help: "with --cluster and --min-count above 1: bytes of the run's filter of the features the workers counted, exchanged at each merge: a feature another worker counted counts one sighting more (a power of two, suffixes K, M; 0: each worker counts alone)", default: "4M" },
];

/** The names of the options above, but --cluster: given without --cluster they are an error. */
const WITH_CLUSTER = CLUSTER_OPTIONS.map((o) => o.name).filter((n) => n !== "cluster");

/** The cluster options of a command line, or undefined without --cluster. */
export function clusterOf(a: ParsedArgs): ClusterOptions | undefined {
  const url = str(a, "cluster");
  if (url === undefined) {
    const stray = WITH_CLUSTER.filter((n) => a.values[n] !== undefined);
    if (stray.length) throw new UsageError(`${stray.map((n) => "--" + n).join(", ")} only go with --cluster`);
    return undefined;
  }
  const run = str(a, "cluster-run")!;
  const o = { url, workers: num(a, "workers", true), rank: num(a, "rank", true), syncEveryRows: num(a, "sync-every", true), syncDenseEveryRows: num(a, "sync-dense-every", true), run, buckets: DEFAULT_BUCKETS, sightingsBytes: bytes(a, "sightings-bytes") };
  try {
    parseClusterUrl(url);
    checkRunName(run);
    checkClusterOptions(o);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return o;
}

/**
 * The cluster options of `--resume DIR [--cluster URL]`: a cluster run's
 * checkpoint (its record) is resumed by rank 0 with --cluster (the store's
 * nodes, which may have changed), the rest from the record; a finished run
 * or one of a single process takes no --cluster.
 */
export function resumedCluster(record: ClusterRecord | undefined, finished: boolean, url: string | undefined): ClusterOptions | undefined {
  if (url === undefined) {
    if (record && !finished) throw new UsageError(`the checkpoint is of cluster run "${record.run}": resume it with --cluster redis://host:port[,host:port...] (and start ranks 1 to ${record.workers - 1} again with their commands)`);
    return undefined;
  }
  if (finished) throw new UsageError("--cluster: the run has finished; --resume without --cluster re-evaluates it");
  if (!record) throw new UsageError("--cluster: the checkpoint is not of a cluster run");
  try {
    parseClusterUrl(url);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { url, workers: record.workers, rank: 0, syncEveryRows: record.syncEveryRows, syncDenseEveryRows: record.syncDenseEveryRows, run: record.run, buckets: record.buckets, sightingsBytes: record.sightingsBytes };
}

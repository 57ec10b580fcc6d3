/**
 * Fault injection for the crash-safety tests, read once from the environment
 * variable SPARSECTR_FAULTS (comma-separated; unset in normal use):
 * - `write-pause=MS`: every atomic write sleeps MS milliseconds after writing
 *   half of its bytes (so a test can kill the process in the middle of one);
 * - `write-fail=N:BYTES`: the N-th atomic write of the process (1-based) fails
 *   like a full disk (ENOSPC) after BYTES bytes.
 */
export interface Faults {
  writePauseMs: number;
  failWrite?: { call: number; afterBytes: number };
}

let parsed: Faults | undefined;

export function faults(): Faults {
  if (parsed) return parsed;
  const f: Faults = { writePauseMs: 0 };
  for (const item of (process.env.SPARSECTR_FAULTS ?? "").split(",").filter((x) => x !== "")) {
    const [k, v] = item.split("=");
    if (k === "write-pause" && /^\d+$/.test(v)) f.writePauseMs = Number(v);
    else if (k === "write-fail" && /^\d+:\d+$/.test(v)) {
      const [call, afterBytes] = v.split(":").map(Number);
      f.failWrite = { call, afterBytes };
    } else throw new Error(`SPARSECTR_FAULTS: cannot read "${item}" (use write-pause=MS or write-fail=N:BYTES)`);
  }
  parsed = f;
  return f;
}

/** Blocks the thread for ms milliseconds (no event loop turn: the write is in progress). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

#!/bin/bash
# `npm run bench -- threads` on a machine without Node (a lent 16-core
# device): the Node binary and the built dist/ travel in .device/ and dist/
# (scripts/device-prepare.sh makes them). Writes the bench's JSON lines to
# $OUT/threads.jsonl (and its stderr to $OUT/threads.err). Models:
# SPARSECTR_BENCH_MODELS (default all three); SPARSECTR_BENCH_QUICK=1 for
# the bench's --quick sizes.
set -euo pipefail
out=${OUT:-/tmp/sparsectr-device}
mkdir -p "$out"
xz -dc .device/node.xz > "$out/node"
chmod +x "$out/node"
# The Python whose torch the peer needs: python3 on the PATH, else /usr/bin/python3.
py=/usr/bin/python3
for c in "$(command -v python3 || true)" /usr/bin/python3; do
  if [ -n "$c" ] && "$c" -c 'import torch' 2>/dev/null; then py=$c; break; fi
done
export SPARSECTR_BENCH_PYTHON="$py" SPARSECTR_BENCH_TORCH_PEER="$PWD/.device/torch_dcn.py" SPARSECTR_BENCH_COMMIT="$(cat .device/commit)"
"$out/node" --version > "$out/threads.err"
nproc >> "$out/threads.err"
"$py" -c 'import torch; print("torch", torch.__version__)' >> "$out/threads.err" 2>&1 || true
# The threads bench alone (dist/bench/run.js would load every bench and its npm packages).
"$out/node" --input-type=module -e '
const { benchThreads } = await import(process.cwd() + "/dist/bench/threads.js");
await benchThreads((o) => process.stdout.write(JSON.stringify({ ...o, node: process.version, time: new Date().toISOString() }) + "\n"), process.env.SPARSECTR_BENCH_QUICK === "1");
' > "$out/threads.jsonl" 2>> "$out/threads.err"
rm -f "$out/node"

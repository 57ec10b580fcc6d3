#!/bin/bash
# Makes what scripts/device-threads.sh needs on a machine without Node:
# builds dist/, and puts this machine's Node binary (xz) and the PyTorch
# peer into .device/ (ignored by git: .git/info/exclude). Then, with the
# device tool: run command "bash scripts/device-threads.sh", carry
# ["dist", ".device"].
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build
mkdir -p .device
xz -T0 -6 -c "$(command -v node)" > .device/node.xz
cp ../shared/peers/torch_dcn.py .device/torch_dcn.py
# The commit dist/ was built from (the copy on the device has no repository), marked when the tree differs from it.
echo "$(git rev-parse --short HEAD)$(git diff-index --quiet HEAD -- || echo -dirty)" > .device/commit
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
du -sh .device dist

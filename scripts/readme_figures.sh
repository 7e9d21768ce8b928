#!/usr/bin/env bash
# The pictures of README.md and docs/insight.md, drawn from the demo's run (`make demo` first)
# into docs/figures/: five of `tinycnn visualize`'s pictures of test image 0 and a screenshot of
# the report's top, taken in headless Chromium. The report itself goes to RUN_DIR/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-runs/seed_cnn}
tinycnn=.venv/bin/tinycnn
out=docs/figures
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$tinycnn" visualize "$RUN_DIR" --image 0 --out "$work"
for name in filters feature_maps_01_conv1 handmade_filters grad_cam filter_patterns_conv2; do
    cp "$work/$name.png" "$out/$name.png"
done
"$tinycnn" report "$RUN_DIR" --screenshot "$out/report.png"
ls -l "$out"

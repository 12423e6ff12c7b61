#!/usr/bin/env bash
# The main job: install, build, and explain the demo image with the bundled shapes-clip model.
# Opens AtMan Studio when a display is available and the GUI is built; otherwise runs the CLI
# equivalent and writes docs-style outputs to out/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
build="$root/build"
models="${ATMAN_MODELS:-$root/../shared/models}"
image="$root/../shared/data/shapes-eval/012.png"
labels="$root/resources/labels/shapes.txt"
target="a photo of a white square"

"$build/app/atman" info
if [ -x "$build/app/atman-studio" ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$build/app/atman-studio" --model "$models/shapes-clip" --image "$image" --target "$target"
fi
[ -x "$build/app/atman-studio" ] && echo "run: no display found: running the CLI equivalent instead"
mkdir -p "$root/out"
for mode in single correlated; do
  "$build/app/atman" explain --model "$models/shapes-clip" --image "$image" --labels-file "$labels" \
    --target "$target" --mode "$mode" --kappa 0.7 \
    --json "$root/out/demo-$mode.json" --csv "$root/out/demo-$mode.csv" --png "$root/out/demo-$mode.png"
done
echo "run: wrote out/demo-{single,correlated}.{json,csv,png}"

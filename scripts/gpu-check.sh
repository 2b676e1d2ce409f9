#!/usr/bin/env bash
# The GPU check: everything the CUDA code paths need proven, in one short run on a GPU machine that has
# python3 with a CUDA torch, nvcc, cmake and g++, but no Node (docs/install.md, "Checking a GPU machine").
#
#   scripts/gpu-check.sh pack [BUNDLE]       here: bundle Node (xz), dist/, bin/, the prebuilt binaries
#                                            (CPU and CUDA variants), the sources for a fallback CUDA build,
#                                            the runtime node_modules and test/gpu into BUNDLE
#                                            (default .cache/gpu-check/bundle.tar.xz)
#   scripts/gpu-check.sh run BUNDLE [OUTDIR] there: unpack, then run the checks; everything goes to OUTDIR
#                                            (default $OUT)
#   scripts/gpu-check.sh --dry-run [OUTDIR]  here: pack, unpack and run the same steps on the CPU
#                                            (RK_GPU_DEVICE=cpu, a small CPU bench), to test the script itself
#
# On the GPU machine the loader uses the prebuilt CUDA variant when python3's torch is exactly the one it was
# built for (package.json libtorch.cudaCheckVersion, cu130), and otherwise builds from the bundled sources
# with that machine's nvcc (minutes, once). The checks (each one's output in OUTDIR, a line per step in
# OUTDIR/summary.txt; a failing step does not stop the others, the exit code says whether any failed):
#   machine.txt      nvidia-smi, python3's torch and CUDA, the bundle's versions
#   doctor.txt/json  which binary and variant the loader chose, and the CUDA devices it sees
#   gpu-tests.txt    test/gpu/*.test.js: tensors on cuda, the distillation step vs the CPU, the fused step
#                    with bf16 autocast + channels-last, NaN skipping, checkpoint/resume, the parity fixtures
#                    on the device, CUDA graphs
#   bench.json       reviewkd bench --device cuda --batch 128,512 --json
#   bench-graphs.json the same with --cuda-graphs
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "gpu-check: $*" >&2; exit 2; }

pack() {
  local bundle="${1:-$here/.cache/gpu-check/bundle.tar.xz}"
  command -v node >/dev/null || die "pack needs node on PATH"
  [ -f "$here/dist/index.js" ] || die "no dist/: run node scripts/setup.js first"
  [ -f "$here/binaries/cuda/prebuilds/linux-x64/reviewkd.node" ] || die "no prebuilt CUDA variant: run node scripts/prebuild.js first"
  local stage
  stage="$(mktemp -d)"
  mkdir -p "$stage/app/test" "$(dirname "$bundle")"
  # -1: within 5 % of -6's size (28.5 vs 27.1 MB for node 20) in a tenth of the time on a busy machine.
  xz -T0 -1 -c "$(command -v node)" > "$stage/node.xz" || die "xz of node failed"
  # The package as npm would ship it, plus the tests of this check and the runtime dependencies.
  (cd "$here" && tar -cf - --exclude='*.map' package.json bin dist binaries native CMakeLists.txt scripts/gpu-check.sh) | tar -xf - -C "$stage/app"
  (cd "$here" && tar -cf - test/gpu test/helpers.js test/train-helpers.js) | tar -xf - -C "$stage/app"
  # node_modules without what only builds this repository (TypeScript, type packages, prebuildify).
  (cd "$here" && tar -cf - --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/prebuildify' \
    --exclude='node_modules/.cache' node_modules) | tar -xf - -C "$stage/app"
  (cd "$stage" && XZ_OPT='-T0 -1' tar -cJf "$bundle.tmp" node.xz app) || die "tar failed"
  mv "$bundle.tmp" "$bundle"
  rm -rf "$stage"
  echo "gpu-check: bundle $bundle ($(du -h "$bundle" | cut -f1))" >&2
  echo "$bundle"
}

run_checks() {
  local bundle="$1" out="$2" device="$3"
  [ -f "$bundle" ] || die "no bundle at $bundle"
  [ -n "$out" ] || die "no output folder: pass OUTDIR or set OUT"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  local work
  work="$(mktemp -d)"
  tar -xJf "$bundle" -C "$work" || die "cannot unpack $bundle"
  mkdir -p "$work/bin"
  xz -dc "$work/node.xz" > "$work/bin/node" && chmod +x "$work/bin/node" || die "cannot unpack node"
  export PATH="$work/bin:$PATH"
  local app="$work/app" failed=0
  : > "$out/summary.txt"
  step() {  # step NAME OUTFILE COMMAND...: runs it in the app folder, records the time and the exit code
    local name="$1" file="$2"
    shift 2
    local t0=$SECONDS
    (cd "$app" && "$@") > "$out/$file" 2> "$out/$file.stderr"
    local rc=$?
    echo "$name: exit $rc, $((SECONDS - t0)) s -> $file" | tee -a "$out/summary.txt" >&2
    [ $rc -eq 0 ] || failed=1
  }
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "device under test: $device"
    echo "node: $(node --version) (bundled)"
    echo "reviewkd: $(node -p "require('$app/package.json').version")"
    echo "--- nvidia-smi"
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    echo "--- python3 torch"
    python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>&1
    echo "--- build tools"
    for t in nvcc cmake g++; do printf '%s: %s\n' "$t" "$(command -v $t || echo missing)"; done
  } > "$out/machine.txt" 2>&1
  step doctor doctor.txt node bin/reviewkd.js doctor
  step doctor-json doctor.json node bin/reviewkd.js doctor --json
  step gpu-tests gpu-tests.txt env RK_GPU_DEVICE="$device" node node_modules/mocha/bin/mocha.js --no-config --reporter spec --timeout 600000 'test/gpu/*.test.js'
  if [ "$device" = cpu ]; then
    step bench bench.json node bin/reviewkd.js bench --device cpu --pair resnet56-resnet20 --batch 8 --steps 1 --repeats 1 --json
  else
    step bench bench.json node bin/reviewkd.js bench --device "$device" --batch 128,512 --json
    step bench-graphs bench-graphs.json node bin/reviewkd.js bench --device "$device" --batch 128,512 --cuda-graphs --json
  fi
  rm -rf "$work"
  echo "gpu-check: results in $out ($([ $failed -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED'))" >&2
  return $failed
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  run)
    shift
    [ $# -ge 1 ] || die "usage: scripts/gpu-check.sh run BUNDLE [OUTDIR]"
    run_checks "$1" "${2:-${OUT:-}}" cuda ;;
  --dry-run)
    shift
    out="${1:-${OUT:-$(mktemp -d)}}"
    # With the CI stage's CUDA torch venv (scripts/cuda-venv.js, cached) first on PATH, the unpacked bundle
    # loads its prebuilt CUDA variant on this GPU-less machine, as on the GPU machine; else the CPU variant.
    if venv="$(cd "$here" && node scripts/cuda-venv.js 2>/dev/null)" && [ -x "$venv/bin/python3" ]; then export PATH="$venv/bin:$PATH"; fi
    bundle="$(pack "$(mktemp -d)/bundle.tar.xz")" || exit 1
    run_checks "$bundle" "$out" cpu
    rc=$?
    rm -rf "$(dirname "$bundle")"
    exit $rc ;;
  *) die "usage: scripts/gpu-check.sh pack [BUNDLE] | run BUNDLE [OUTDIR] | --dry-run [OUTDIR]" ;;
esac

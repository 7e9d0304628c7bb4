#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#   1. the xunit suite, `dotnet test Deepbox.sln -c Release`, four times: with every instruction set the machine has,
#      then with AVX-512 switched off (the generated kernels' Vector256 branches), with AVX2 off (.NET 10 takes FMA
#      with it: the kernels' 128-bit ladder with unfused multiply-adds, as on an x86-64-v2 CPU) and with every hardware
#      intrinsic off (the ladder on emulated vectors, the activations' scalar path): each path a user's machine may
#      take runs every test here;
#   2. tests/consumer/run.sh: packs Deepbox and Deepbox.Onnx and builds and runs a user's project against them, outside
#      the repo;
#   3. tests/aot/run.sh: publishes the sample with NativeAOT, with no trim/AOT warning, and compares its transcript.
# Each script check counts as one test. Ends with one line "N passed, N failed": the four runs' counts read from their
# TRX results, plus the script checks. Exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="$(mktemp -d "${TMPDIR:-/tmp}/deepbox-test-results.XXXXXX")"
trap 'rm -rf "$results"' EXIT

passed=0
failed=0
suite_status=0
# run_suite NAME [VARIABLE=VALUE...]: the xunit suite with those variables set (runtime knobs the test host inherits);
# adds its TRX counts to the totals.
run_suite() {
  local name="$1" status=0 p f tp tf counters trx
  shift
  echo "test: the xunit suite, $name"
  env "$@" dotnet test Deepbox.sln -c Release "${build[@]}" --logger "trx;LogFilePrefix=$name" --results-directory "$results/$name" || status=$?
  p=0
  f=0
  for trx in "$results/$name"/*.trx; do
    [ -e "$trx" ] || continue
    counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)"
    tp="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
    tf="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
    p=$((p + ${tp:-0}))
    f=$((f + ${tf:-0}))
  done
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    # The build or the test host failed before any failure was recorded: count that as a failure.
    echo "test: dotnet test ($name) failed (exit $status) with no failed test recorded" >&2
    f=1
  fi
  echo "test: $name: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
  [ "$status" -eq 0 ] || suite_status=$status
}

build=()
run_suite all-isas
build=(--no-build) # the same binaries; only what the JIT may use changes
run_suite no-avx512 DOTNET_EnableAVX512=0 # .NET 10's knob; DOTNET_EnableAVX512F is ignored
run_suite no-avx2 DOTNET_EnableAVX2=0
run_suite no-simd DOTNET_EnableHWIntrinsic=0

for check in tests/consumer/run.sh tests/aot/run.sh; do
  echo "test: $check"
  if bash "$check"; then
    passed=$((passed + 1))
  else
    echo "test: $check failed" >&2
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$suite_status" -eq 0 ]

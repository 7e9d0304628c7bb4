#!/usr/bin/env bash
# Runs issue 7's benchmark suite end to end and writes the report:
#   restore -> patch TorchSharp's native library -> build -> agreement check of every peer -> the npm deepbox peer
#   -> single-core FMA peak -> BenchmarkDotNet (Deepbox, libtorch, ONNX Runtime) -> docs/benchmarks.md
#
# Usage: benchmarks/run.sh [--quick] [--filter GLOB]... [--results DIR] [--out FILE] [-- BENCHMARKDOTNET ARGS]
#   --quick        BenchmarkDotNet's short job (3 warm-ups, 3 iterations) and short Node timings: a smoke run
#   --filter GLOB  only the matching benchmarks, BenchmarkDotNet's glob on Deepbox.Benchmarks.Suites.<workload>.<peer>
#                  (workloads W0_Rnn, S16_Lstm, W1_Lstm, ...; peers Deepbox, Deepbox_2T, LibTorch_1T, LibTorch_2T, OnnxRuntime_1T,
#                  OnnxRuntime_2T, Npm_deepbox), e.g. --filter '*S16*'; the decaying-state row is Decay_Lstm
#                  (Deepbox and a control only: --filter '*Decay*'); one W1 model called by one caller and by two
#                  at once is W1_Concurrent (OneCaller, TwoCallers: --filter '*W1_Concurrent*'); the gate activations'
#                  chains are Activation_Chains, and W1_Lstm_Lengths's control with every sequence of one length is
#                  W1_Lstm_EqualLengths (both: times in BenchmarkDotNet's own tables, not the report). A filtered run writes
#                  its report beside its results instead of overwriting docs/benchmarks.md (unless --out says where).
#   --results DIR  where the run's files go (default benchmarks/artifacts/results; emptied first)
#   --out FILE     where the report goes
#
# Needs the .NET 10 SDK, Node.js 20 or later with npm, and python3 (for tools/patch_glibcxx.py); on Debian, run as root,
# missing Debian packages are installed. Packages come from NuGet and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

command_line="benchmarks/run.sh"
for a in "$@"; do
  case "$a" in
    *[!A-Za-z0-9_./=-]*) command_line+=" '${a//\'/\'\\\'\'}'" ;;
    *) command_line+=" $a" ;;
  esac
done

quick=()
filters=()
results="benchmarks/artifacts/results"
out=()
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick); shift ;;
    --filter) filters+=(--filter "$2"); shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --out) out=(--out "$2"); shift 2 ;;
    --) shift; passthrough=(-- "$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if ! command -v dotnet >/dev/null 2>&1; then
  echo "run.sh: the .NET SDK (10.0) is required" >&2
  exit 1
fi
command -v python3 >/dev/null 2>&1 || tests/prerequisites.sh python3-minimal
{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || tests/prerequisites.sh nodejs npm
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

project=benchmarks/Deepbox.Benchmarks/Deepbox.Benchmarks.csproj
step() { printf '\n== %s\n' "$*"; }

step "restore"
dotnet restore "$project"

# TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and asks for GLIBCXX_3.4.32, which
# Debian 12 lacks; the one symbol of that version is never called, so the requirement is made weak (tools/patch_glibcxx.py
# explains). Patched in the NuGet cache, before the build copies it next to the benchmarks; idempotent.
step "patch TorchSharp's native library"
torchsharp_version="$(sed -n 's/.*PackageVersion Include="TorchSharp" Version="\([^"]*\)".*/\1/p' Directory.Packages.props)"
packages="${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')}"
native="${packages%/}/torchsharp/${torchsharp_version}/runtimes/linux-x64/native/libLibTorchSharp.so"
if [ ! -f "$native" ]; then
  echo "run.sh: $native not found after the restore" >&2
  exit 1
fi
python3 tools/patch_glibcxx.py "$native"

step "build"
dotnet build "$project" -c Release --no-restore -v quiet -nologo
bench=(dotnet benchmarks/Deepbox.Benchmarks/bin/Release/net10.0/linux-x64/Deepbox.Benchmarks.dll)

rm -rf "$results"
mkdir -p "$results"

step "agreement check: every peer against Deepbox (1e-4)"
# A peer that disagrees (libtorch 2.10's oneDNN LSTM on Zen 5 for small sizes, for one) is not timed: its benchmark's
# setup refuses it, and the report shows its difference and "failed". The run goes on and writes the report.
check_status=0
"${bench[@]}" check "${filters[@]}" --results "$results" || check_status=$?
if [ "$check_status" -ne 0 ]; then
  echo "run.sh: some peer disagrees with Deepbox (above); it is reported, not timed, and the run goes on" >&2
fi

step "deepbox from npm (Node $(node --version))"
(cd benchmarks/deepbox && npm ci --no-audit --no-fund --loglevel=error)
"${bench[@]}" fixtures "${filters[@]}" --results "$results"
node benchmarks/deepbox/bench.mjs --fixtures "$results/fixtures" --out "$results/npm.json" "${quick[@]}" "${filters[@]}"

step "single-core FMA peak"
"${bench[@]}" peak --results "$results"

step "BenchmarkDotNet: Deepbox, libtorch, ONNX Runtime"
status=0
"${bench[@]}" bench "${quick[@]}" "${filters[@]}" --results "$results" "${passthrough[@]}" || status=$?

step "report"
"${bench[@]}" report "${filters[@]}" --results "$results" "${out[@]}" --command "$command_line"
exit "$status"

#!/usr/bin/env bash
# Publishes samples/RecurrentLayers with NativeAOT for linux-x64 and checks that the publish has no trim or AOT
# warning (IL2xxx/IL3xxx), that the native binary takes the hardware-accelerated Vector256 path, and that it prints
# the very transcript `dotnet run` prints (all but the line naming the vector path). Installs the native toolchain NativeAOT links with when it is missing.
# Prints "aot: ok" (exit 0) or says what went wrong (exit 1).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project="$repo/samples/RecurrentLayers/RecurrentLayers.csproj"
work="$(mktemp -d "${TMPDIR:-/tmp}/deepbox-aot.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

fail() {
  echo "aot: FAILED: $*" >&2
  exit 1
}

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || fail "this check publishes for linux-x64 and runs the binary: it needs a Linux x86-64 machine"
# The sample sets no instruction set: the package's build file (imported by samples/Directory.Build.targets, as NuGet
# imports it into a user's project) chooses x86-64-v3, so the binary does not start on a CPU without AVX2.
grep -qw avx2 /proc/cpuinfo || fail "this CPU has no AVX2, so the x86-64-v3 binary cannot run here"

# NativeAOT's prerequisites on Debian: a C toolchain to link with (the SDK takes clang where it is on the PATH, else
# gcc) and zlib's headers (.NET 10 links the zlib it ships, libz.a, and falls back to the system's only without it).
bash "$repo/tests/prerequisites.sh" gcc binutils zlib1g-dev || fail "NativeAOT's native toolchain is missing"

echo "aot: publishing samples/RecurrentLayers with NativeAOT for linux-x64"
log="$work/publish.log"
# The native compiler's intermediates go to the temp folder, so it runs every time and its warnings are always seen
# (an up-to-date native object in obj/ would skip it and print none). TrimmerSingleWarn=false shows each warning in
# full instead of one per assembly.
if ! dotnet publish "$project" -c Release -r linux-x64 -o "$work/publish" --nologo \
  -p:NativeIntermediateOutputPath="$work/native-obj/" -p:NativeOutputPath="$work/native-bin/" -p:TrimmerSingleWarn=false \
  >"$log" 2>&1; then
  cat "$log" >&2
  fail "dotnet publish failed"
fi
il_warnings="$(grep -E 'warning IL[23][0-9]{3}' "$log" | sort -u || true)"
if [ -n "$il_warnings" ]; then
  echo "$il_warnings" >&2
  fail "the publish has $(grep -c . <<<"$il_warnings") trim/AOT warning(s)"
fi
other_warnings="$(grep -E ': warning [A-Z]+[0-9]+' "$log" | sort -u || true)"
if [ -n "$other_warnings" ]; then
  echo "$other_warnings" >&2
  fail "the publish has warnings"
fi

grep -q "Deepbox: NativeAOT compiles RecurrentLayers for x86-64-v3" "$log" \
  || fail "the publish did not say that Deepbox's build file chose x86-64-v3 (a default publish must not run emulated vectors)"

binary="$work/publish/RecurrentLayers"
[ -x "$binary" ] || fail "the publish wrote no native binary at publish/RecurrentLayers"
native="$("$binary")" || fail "the native binary exited with an error"
grep -qxF "Vector path: Vector256 blocks, hardware-accelerated" <<<"$native" \
  || fail "the native binary does not take the hardware-accelerated Vector256 path: $(grep '^Vector path' <<<"$native" || echo 'no Vector path line')"

jit="$(dotnet run --project "$project" -c Release)" || fail "dotnet run of the sample failed"
# Every line but the vector path must be the same: the binary is compiled for x86-64-v3 (AVX2, no AVX-512), while the
# JIT may take the 16-float branches, which give the same bits.
if [ "$(grep -v '^Vector path' <<<"$native")" != "$(grep -v '^Vector path' <<<"$jit")" ]; then
  diff <(echo "$jit") <(echo "$native") >&2 || true
  fail "the native binary's transcript differs from dotnet run's (diff above: < dotnet run, > native)"
fi

size="$(stat -c %s "$binary")"
echo "aot: ok (no IL warnings; native binary $((size / 1024)) KiB; its $(grep -c '' <<<"$native") lines of output equal dotnet run's but the vector path; Vector256 hardware-accelerated)"

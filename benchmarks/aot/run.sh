#!/usr/bin/env bash
# Reproduces the README's NativeAOT table: packs Deepbox, publishes Program.cs as a package user would with NativeAOT
# for linux-x64 four times (the compiler's default with the package's build file switched off, the default now, and
# IlcInstructionSet x86-64-v2 and x86-64-v4), then runs each binary twice, alternating.
# Usage: benchmarks/aot/run.sh [STEPS [TRAINING_STEPS]]   (defaults 200000 and 600; the switched-off default runs a
# tenth of each). DEEPBOX_REPO=DIR packs another checkout's Deepbox instead of this one's: the table's "before" row is
# the "none" row (or "v2", the same path there) of a checkout of commit fd8e829, where the compiler's default still
# ran emulated Vector256 (measured again so: Step 30,763-31,394 ns, 20 training steps 1.28-1.29 s)
#   git worktree add ../deepbox-before fd8e829 && DEEPBOX_REPO=../deepbox-before benchmarks/aot/run.sh 20000 20
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${DEEPBOX_REPO:-$here/../..}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/deepbox-aot-table.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 NUGET_PACKAGES="$work/packages"
steps="${1:-200000}"
training="${2:-600}"

version="$(dotnet msbuild "$repo/src/Deepbox.Runtime/Deepbox.Runtime.csproj" -getProperty:PackageVersion)"
dotnet pack "$repo/src/Deepbox.Runtime/Deepbox.Runtime.csproj" -c Release -o "$work/feed" --nologo -v:q
mkdir -p "$work/app"
sed "s/@DEEPBOX_VERSION@/$version/" "$here/Everyday.csproj.in" >"$work/app/Everyday.csproj"
cp "$here/Program.cs" "$work/app/Program.cs"
cat >"$work/app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="Deepbox" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML

isolate=(-p:ImportDirectoryBuildProps=false -p:ImportDirectoryBuildTargets=false -p:ImportDirectoryPackagesProps=false)
declare -A flags=([none]="-p:DeepboxInstructionSet=none" [default]="" [v2]="-p:IlcInstructionSet=x86-64-v2" [v4]="-p:IlcInstructionSet=x86-64-v4")
for v in none default v2 v4; do
  echo "aot-table: publishing ($v)"
  # shellcheck disable=SC2086
  dotnet publish "$work/app/Everyday.csproj" -c Release -r linux-x64 -o "$work/out-$v" -p:IntermediateOutputPath="$work/obj-$v/" \
    --nologo -v:q "${isolate[@]}" ${flags[$v]} >/dev/null
done

grep -m1 "model name" /proc/cpuinfo || true
grep -m1 "cpu family" /proc/cpuinfo || true
for round in 1 2; do
  for v in none default v2 v4; do
    if [ "$v" = none ]; then
      echo "$v: $("$work/out-$v/Everyday" $((steps / 10)) $((training / 10)) | tr '\n' ' ')"
    else
      echo "$v: $("$work/out-$v/Everyday" "$steps" "$training" | tr '\n' ' ')"
    fi
  done
done

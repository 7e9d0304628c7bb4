#!/usr/bin/env bash
# Regenerates tests/Deepbox.Tests/Fixtures with libtorch: restores TorchSharp and libtorch, makes TorchSharp's native
# library loadable on Debian 12 (tools/patch_glibcxx.py, on the package in the NuGet cache, before the first build
# copies it to bin/), builds tools/TorchFixtures and runs it. Exits non-zero if any step or the round trip fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
project="$here/TorchFixtures.csproj"

dotnet restore "$project"

# The TorchSharp version is the one Directory.Packages.props pins.
version="$(sed -n 's/.*PackageVersion Include="TorchSharp" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props")"
packages="${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')}"
native="${packages%/}/torchsharp/$version/runtimes/linux-x64/native/libLibTorchSharp.so"
if [ ! -f "$native" ]; then
    echo "run.sh: $native not found after restore" >&2
    exit 1
fi
python3 "$root/tools/patch_glibcxx.py" "$native"

dotnet build "$project" -c Release --no-restore -nologo -v quiet
dotnet "$here/bin/Release/net10.0/linux-x64/TorchFixtures.dll" "$root/tests/Deepbox.Tests/Fixtures"

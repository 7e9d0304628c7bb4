#!/usr/bin/env bash
# Accepts the generated code the snapshot tests last saw: every Snapshots/*.received.cs (written beside its
# *.verified.cs when the generated code changed) replaces its verified file. Review the diff first:
#   git diff --no-index tests/Deepbox.Tests/Snapshots/X.verified.cs tests/Deepbox.Tests/Snapshots/X.received.cs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/Deepbox.Tests/Snapshots"
accepted=0
for received in *.received.cs; do
  [ -e "$received" ] || continue
  mv -- "$received" "${received%.received.cs}.verified.cs"
  echo "accepted ${received%.received.cs}.verified.cs"
  accepted=$((accepted + 1))
done
echo "$accepted snapshot(s) accepted"

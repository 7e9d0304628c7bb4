#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#   1. the xunit suite, `dotnet test Deepbox.sln -c Release`;
#   2. tests/consumer/run.sh: packs Deepbox and builds and runs a user's project against the package, outside the repo;
#   3. tests/aot/run.sh: publishes the sample with NativeAOT, with no trim/AOT warning, and compares its transcript.
# Each script check counts as one test. Ends with one line "N passed, N failed": the suite's counts read from its TRX
# results, plus the script checks. Exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="$(mktemp -d "${TMPDIR:-/tmp}/deepbox-test-results.XXXXXX")"
trap 'rm -rf "$results"' EXIT

suite_status=0
dotnet test Deepbox.sln -c Release --logger "trx;LogFilePrefix=tests" --results-directory "$results" || suite_status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)"
  p="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  f="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$suite_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or the test host failed before any failure was recorded: count that as a failure.
  echo "test: dotnet test failed (exit $suite_status) with no failed test recorded" >&2
  failed=$((failed + 1))
fi

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

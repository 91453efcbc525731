#!/usr/bin/env bash
# The date-sensitive tests, run as if the suite started at 23:30 in the test retailers' zone
# (Europe/Helsinki, UTC+2 in December) on each day of one week, and once at 00:30 (when the UTC
# date is still the day before). A test that reads the clock without pinning it fails here on
# some day. Extra arguments go to pytest. See tests/conftest.py (TEST_NOW).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
# Everything that deals in business dates: bonuses, points, campaigns, runs, portal, the browser flow.
PATHS=(tests/campaigns tests/customers tests/optimizer tests/e2e tests/reliability/test_security.py
       tests/test_workflow_browser_free.py)
# Not the pure engine's tests: optimizer/engine never reads the calendar (dates are its arguments;
# it reads only perf_counter for durations), and its 100k-customer cases would cost minutes per day.
SKIP=(--ignore=tests/optimizer/engine)
WHEN=(2026-12-07T23:30:00+02:00 2026-12-08T23:30:00+02:00 2026-12-09T23:30:00+02:00
      2026-12-10T23:30:00+02:00 2026-12-11T23:30:00+02:00 2026-12-12T23:30:00+02:00
      2026-12-13T23:30:00+02:00 2026-12-08T00:30:00+02:00)
for when in "${WHEN[@]}"; do
    echo "== TEST_NOW=$when ($(date -d "$when" +%A))"
    TEST_NOW=$when "$PYTEST" -q "${PATHS[@]}" "${SKIP[@]}" "$@"
done

#!/usr/bin/env bash
# Regenerate the reference reports in reports/: the quickstart as measured for the README (a fresh sweep and
# its two variant rows, about 11 minutes on a 2-core CPU; pass --no-run to rebuild the report from an
# existing results/quickstart) and the paper's own tables from its transcribed numbers; then the small JSON-only copy of the quickstart's run
# store that tests/report/test_report_regression.py recomputes the report from.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-run" ]; then
  python -m harness sweep experiments/quickstart.yaml --workers 2 --out results --no-report
  python -m harness sweep experiments/quickstart_variants.yaml --workers 2 --out results --no-report
fi
rm -rf reports/quickstart reports/paper
python -m harness report results/quickstart --out reports/quickstart
python -m harness report --paper-only --out reports/paper
python reports/snapshot_store.py results/quickstart tests/assets/quickstart_store

#!/usr/bin/env bash
# Run the whole suite; a run that executes no test is a failure (pytest exit 5), not a pass.
set -uo pipefail
py="${1:-.venv/bin/python}"
shift || true
"$py" -m pytest -ra "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-tests: pytest collected no tests; failing on purpose" >&2
    exit 1
fi
exit "$rc"

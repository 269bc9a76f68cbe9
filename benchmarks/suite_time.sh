#!/usr/bin/env bash
# Time the whole test suite exactly as CI runs it (`./course test`), and the slowest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
start=$(date +%s)
status=0
./course test --durations=15 2>&1 | tee benchmarks/results/suite.log || status=$?
echo "whole suite: $(( $(date +%s) - start )) s (exit $status)" | tee -a benchmarks/results/suite.log
exit $status

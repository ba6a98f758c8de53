#!/usr/bin/env bash
# Checks a results folder that `make bench-quick` (the main job, shortened)
# just wrote, as a user would find it: every planned run has its row and none
# failed, the CSVs have rows, every chart is there as PNG and SVG, and
# report.html carries its answer, its summary table, its charts and sections
# (harness/test-report.sh then opens it in a browser). It asserts no figure:
# how fast this machine was is the sweep's output, not a test's verdict.
#
# usage: tests/main-job.sh RESULTS_DIR
set -uo pipefail

dir=${1:?usage: tests/main-job.sh RESULTS_DIR}
passed=0
failed=0

check() { # what, then the command that must succeed
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "main job: FAIL: $what" >&2
    fi
}

rows() { # data rows of a CSV (its header not counted)
    [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0
}

# the column named $2 of every data row of CSV $1
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          c { print $c }' "$1"
}

check "the folder $dir exists" test -d "$dir"
planned=$(sed -n 's/^runs: //p' "$dir/meta.txt" 2>/dev/null)
check "meta.txt names the planned runs" test -n "$planned"
check "runs.csv has a row for each of the $planned planned runs" test "$(rows "$dir/runs.csv")" = "${planned:-x}"
check "no run failed (runs.csv status)" test -z "$(column "$dir/runs.csv" status | grep -v '^ok$')"
for f in summary.csv latency.csv timeline.csv requests.csv model.csv; do
    check "$f has rows" test "$(rows "$dir/$f")" -gt 0
done
engines=$(sed -n 's/^engines: //p' "$dir/meta.txt" 2>/dev/null)
for e in $engines; do
    check "summary.csv has a point of $e" grep -q "^$e," "$dir/summary.csv"
done
for chart in throughput latency spectrum cost efficiency timeline; do
    check "$chart.png is a PNG" bash -c "head -c 8 '$dir/$chart.png' | od -An -tx1 | grep -q '89 50 4e 47'"
    check "$chart.svg is an SVG" grep -q '<svg' "$dir/$chart.svg"
done
check "report.html holds the six charts" test "$(grep -o '<svg' "$dir/report.html" | wc -l)" -ge 6
for section in 'What the runs say' 'Machine and command' 'Charts' 'Load points'; do
    check "report.html has its section '$section'" grep -q "<h2>$section" "$dir/report.html"
done
check "report.html opens with its answer" grep -q '<section id="answer">' "$dir/report.html"
check "report.html has its summary table" grep -q '<table id="summary">' "$dir/report.html"
check "report.html ends" grep -q '</html>' "$dir/report.html"

echo "main job: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# `make test-report`, and `make test` on the quick sweep's folder: draws a
# results folder (by default a fresh copy of the fixture in
# tests/fixtures/results, under build/test-report/), opens its report.html in
# headless Chromium at 1280 x 800, fails if a chart, an image or a referenced
# element is missing, a script raised an error, or the answer and the summary
# table are not on the first screen or the first chart not within the
# second, and saves beside the report a screenshot of the first screen
# (report-first-screen.png) and of the whole page (report-screenshot.png).
#
# usage: harness/test-report.sh OVERLAP_BIN|- [RESULTS_DIR]
#        (- checks the folder's report.html as it is, without redrawing)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "test-report: chromium is missing (make test-report installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 2 ]; then
    dir=$(realpath "$2")
else
    dir=$src/build/test-report/results
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    cp -r "$src/tests/fixtures/results" "$dir"
fi
if [ "$1" != - ]; then
    "$(realpath "$1")" plot "$dir" --scripts "$src/plots"
fi

chrome() {
    # --no-sandbox: Chromium's sandbox refuses to start as root
    "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 "$@"
}

# A page of our own frames the report and looks inside it (a file:// page may
# read another only with --allow-file-access-from-files); it writes what it
# found into its title, which --dump-dom prints once the page has settled.
cat >"$tmp/check.html" <<HTML
<!DOCTYPE html><html><head><title>not checked</title></head><body>
<iframe id="report" src="file://$dir/report.html" style="width:1280px;height:800px;border:0"></iframe>
<script>
const frame = document.getElementById('report');
frame.addEventListener('load', () => {
  const d = frame.contentDocument, problems = [];
  if (!d) { document.title = 'checked height=0 problems=the report cannot be read'; return; }
  d.querySelectorAll('img').forEach(i => {
    if (!i.complete || i.naturalWidth === 0) problems.push('a missing image ' + i.src);
  });
  d.querySelectorAll('[src], link[href]').forEach(e => {
    if (e.tagName !== 'IMG') problems.push('an external reference ' + e.outerHTML.slice(0, 80));
  });
  d.querySelectorAll('use').forEach(u => {
    const ref = u.getAttribute('xlink:href') || u.getAttribute('href') || '';
    if (ref.startsWith('#') && !d.getElementById(ref.slice(1))) problems.push('no element ' + ref);
  });
  const charts = d.querySelectorAll('figure > svg');
  if (charts.length !== 6) problems.push(charts.length + ' charts instead of 6');
  charts.forEach(s => {
    const box = s.getBoundingClientRect();
    if (box.width < 400 || box.height < 200) problems.push('a chart drawn ' + box.width + 'x' + box.height);
  });
  if (d.body.innerText.includes('missing)')) problems.push('the report says a chart is missing');
  // the answer and the summary table on the first screen, the first chart within the second
  const answer = d.getElementById('answer'), summary = d.getElementById('summary');
  if (!answer || answer.innerText.trim().length < 100) problems.push('no answer paragraph');
  else if (answer.getBoundingClientRect().bottom > 800) problems.push('the answer runs past the first screen');
  if (!summary || summary.querySelectorAll('tr').length < 2) problems.push('no summary table');
  else if (summary.getBoundingClientRect().bottom > 800) problems.push('the summary table runs past the first screen');
  if (charts.length && charts[0].getBoundingClientRect().top > 1600) problems.push('the first chart starts past the second screen');
  document.title = 'checked height=' + d.documentElement.scrollHeight +
    ' problems=' + (problems.join('; ') || 'none');
});
</script></body></html>
HTML
dom=$(chrome --allow-file-access-from-files --virtual-time-budget=10000 --dump-dom \
    "file://$tmp/check.html" 2>"$tmp/check.log")
title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' <<<"$dom" | head -1)
height=$(sed -n 's/^checked height=\([0-9]*\) .*/\1/p' <<<"$title")
problems=${title#*problems=}
shot="$dir/report-screenshot.png"
chrome --screenshot="$shot" --window-size=1280,"${height:-4000}" \
    "file://$dir/report.html" 2>"$tmp/shot.log" >/dev/null
first="$dir/report-first-screen.png"
chrome --screenshot="$first" --window-size=1280,800 \
    "file://$dir/report.html" 2>>"$tmp/shot.log" >/dev/null

status=0
if [ -z "$height" ] || [ "$height" -lt 1000 ]; then
    echo "test-report: the report was not checked (page title: '$title')" >&2
    status=1
elif [ "$problems" != none ]; then
    echo "test-report: $problems" >&2
    status=1
fi
# script errors and failed loads, as Chromium logs them
if grep -h 'CONSOLE' "$tmp/check.log" "$tmp/shot.log" | grep -i 'error\|uncaught\|failed'; then
    echo "test-report: the page logged errors (above)" >&2
    status=1
fi
if [ ! -s "$shot" ] || [ ! -s "$first" ]; then
    echo "test-report: no screenshot" >&2
    status=1
fi
[ $status -eq 0 ] && echo "test-report: report.html checked; first screen: $first; full page, ${height}px high: $shot"
exit $status

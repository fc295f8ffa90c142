#!/usr/bin/env bash
# Installs the real shipper clients the tests drive into a private
# directory ($1, under the target dir): a Python virtualenv and a
# node_modules. Versions are pinned; a stamp records what was installed, so
# a second run does nothing. Parallel test processes take turns (flock).
set -euo pipefail
dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
stamp="$dir/installed"
wanted="$(cat "$here/requirements.txt" "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
rm -rf "$dir/venv" "$dir/node"
python3 -m venv "$dir/venv"
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
mkdir -p "$dir/node"
cp "$here/package.json" "$here/package-lock.json" "$dir/node/"
(cd "$dir/node" && npm ci --no-audit --no-fund --loglevel=error)
echo "$wanted" >"$stamp"

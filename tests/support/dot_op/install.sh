#!/usr/bin/env bash
# Installs the third test OP (django-oauth-toolkit, requirements.txt beside this file,
# every package pinned) into target/dot-venv; does nothing when that venv already has
# exactly these requirements. Run by scripts/test.
set -euo pipefail
cd "$(dirname "$0")/../../.."
venv=target/dot-venv
req=tests/support/dot_op/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
  "$venv/bin/python" -c 'import oauth2_provider, gunicorn, django' 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null || {
  echo "python3 (with its venv module) is required for the django-oauth-toolkit test OP" >&2
  exit 1
}
echo "== installing django-oauth-toolkit (PyPI) into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
# --no-deps: requirements.txt pins the whole tree, so nothing unpinned comes in.
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
"$venv/bin/pip" check --disable-pip-version-check >/dev/null
echo "$want" > "$stamp"

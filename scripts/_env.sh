# Shared by scripts/test and scripts/demo: find Python 3.13 and build a virtualenv.
# shellcheck shell=bash

find_python313() {
  # 1. a python3.13 on PATH that really is 3.13 (pyenv shims fail unless the version is selected)
  local candidate
  for candidate in python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  # 2. any 3.13 installed under pyenv
  local root
  root="${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}"
  for candidate in "$root"/versions/3.13*/bin/python3.13; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Python 3.13 not found: install it (e.g. 'pyenv install 3.13') and try again" >&2
  return 1
}

# ensure_venv DIR REQUIREMENTS_FILE...: create DIR with Python 3.13 and install the files,
# skipping the install when nothing in them changed since the last successful one.
ensure_venv() {
  local venv="$1"
  shift
  local python stamp want
  python="$(find_python313)"
  if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv with $python"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  want="$(cat "$@" requirements/constraints.txt | sha256sum | cut -c1-16)"
  stamp="$venv/.meterlink-requirements"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing $* into $venv (a few minutes on a fresh machine)"
    local args=()
    for f in "$@"; do args+=(-r "$f"); done
    "$venv/bin/python" -m pip install --quiet -c requirements/constraints.txt "${args[@]}"
    echo "$want" >"$stamp"
  fi
}

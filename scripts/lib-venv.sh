# The project's virtual environment, installed quietly: pip's and setuptools' chatter goes to
# .venv/install.log and is shown only when the install fails.
# Usage (bash): source scripts/lib-venv.sh; venv_install '.[test]'
venv_install() {
  local spec=$1 log=.venv/install.log
  [ -x .venv/bin/python ] || python3 -m venv .venv
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e "$spec"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: installing the project into .venv failed (log above, also in $log)" >&2
    return 1
  fi
}

#!/bin/sh
# Print the path of the first Python that can run the course (3.11 or newer), trying each name
# given (default: python3.11 python3.12 python3.13 python3), then pyenv's versions of the same
# names. Exit 1, printing nothing, when none works. Used by the Makefile and .ci/run:
#   sh tools/find-python.sh              # the default choice
#   sh tools/find-python.sh python3.13   # that version, or nothing
[ $# -eq 0 ] && set -- python3.11 python3.12 python3.13 python3
supported='import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'
for name in "$@"; do
  # a pyenv shim exists for every installed version but fails unless that version is active:
  # running it is the only honest test
  if path=$(command -v "$name" 2>/dev/null) && "$path" -c "$supported" 2>/dev/null; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
  root=${PYENV_ROOT:-$HOME/.pyenv}
  for path in "$root"/versions/*/bin/"$name"; do
    if [ -x "$path" ] && "$path" -c "$supported" 2>/dev/null; then
      echo "$path"
      exit 0
    fi
  done
done
exit 1

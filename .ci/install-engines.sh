#!/usr/bin/env bash
# Install the system parts that the tests need, idempotently:
#   - a PostgreSQL server (initdb/pg_ctl/postgres) from Debian's `postgresql`
#   - a Java runtime >= 17 for Spark 4.x (Debian's `default-jre-headless`)
#   - a Chromium for the catalog site's browser tests (Debian's `chromium`; Playwright,
#     from the test extra, drives this binary: it downloads no browser of its own)
# Needs root or sudo only when something is missing.
# Python packages (duckdb, psycopg, pyspark, sqlglot, playwright) come from the project's
# Python requirements, not from here. Safe to run repeatedly; prints one line.
set -euo pipefail

start=$(date +%s)
need=()

have_pg() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && return 0
    done
    return 1
}

java_major() {  # prints the major version of `java` on PATH/JAVA_HOME, or 0
    local j=java
    [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && j="$JAVA_HOME/bin/java"
    command -v "$j" >/dev/null 2>&1 || { echo 0; return; }
    "$j" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

have_chromium() {
    command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
}

have_pg || need+=(postgresql)
have_chromium || need+=(chromium)
jm=$(java_major); jm=${jm:-0}
[ "$jm" -ge 17 ] 2>/dev/null || need+=(default-jre-headless)
# CDPC_FORCE_ENGINE_INSTALL=1 runs the apt step even when both are present.
[ "${CDPC_FORCE_ENGINE_INSTALL:-}" = 1 ] && need=(postgresql default-jre-headless chromium)

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { $SUDO apt-get update -qq && \
           $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "install-engines: apt-get install ${need[*]} failed" >&2
        exit 1
    fi
    rm -f "$log"
fi

have_pg || { echo "install-engines: no PostgreSQL server binaries after install" >&2; exit 1; }
jm=$(java_major)
[ "${jm:-0}" -ge 17 ] 2>/dev/null || { echo "install-engines: no Java >= 17 after install (found ${jm:-none})" >&2; exit 1; }

have_chromium || { echo "install-engines: no chromium after install" >&2; exit 1; }

pgv=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 | cut -d/ -f5)
# Debian's wrapper script may print shell noise on stderr; the version is the last field of stdout
chv=$({ chromium --version 2>/dev/null || /usr/bin/chromium --version 2>/dev/null; } | awk '{print $2; exit}')
echo "install-engines: postgres ${pgv}, java ${jm}, chromium ${chv:-unknown}; installed: ${need[*]:-nothing}; took $(( $(date +%s) - start ))s"

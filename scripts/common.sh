# Shared preconditions of the scripts/*.sh commands (sourced, not run).
# Functions only; each prints what it does and stops the script with a clear message on failure.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"

ensure_venv() {
    # Stale = requirements changed since the last install (a stamp holds their checksum).
    local stamp="$VENV/.requirements.sha256" sum
    sum="$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        compile_translations
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating the virtualenv in .venv"
        python3 -m venv "$VENV"
    fi
    echo "Installing requirements-dev.txt into .venv"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO_ROOT/requirements-dev.txt"
    echo "$sum" > "$stamp"
    compile_translations
}

TRANSLATIONS="$REPO_ROOT/shared/translations"

compile_translations() {
    # The nynorsk and English catalogues are kept as .po files; the services read the compiled .mo beside them.
    "$VENV/bin/pybabel" compile --use-fuzzy -d "$TRANSLATIONS"
}

ensure_node_modules() {
    # The local OpenID provider (deploy/oidc/provider.mjs): oidc-provider 8.8.x, which runs on Node 18 (Debian 12's)
    # and newer; installed from package-lock.json with `npm ci` when missing or changed (a stamp holds its checksum).
    local stamp="$REPO_ROOT/node_modules/.package-lock.sha256" sum
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
        || { echo "Node.js 18 or newer is needed (found $(node --version)); Debian 12's nodejs is 18" >&2; exit 1; }
    sum="$(sha256sum "$REPO_ROOT/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        return 0
    fi
    echo "Installing the Node packages (npm ci)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$sum" > "$stamp"
}

ensure_stack() {
    # What the whole system needs on this machine (run, test, soak): system packages (arguments go to
    # install-system-deps.sh), .venv, the OpenID provider's Node packages and a running broker.
    bash "$REPO_ROOT/scripts/install-system-deps.sh" "$@"
    ensure_venv
    ensure_node_modules
    ensure_broker
}

# broker_action: prints what to do about RabbitMQ -- "running", "start" or "install".
# Inputs are overridable so the decision is testable without touching the machine's broker:
#   RABBITMQ_SERVER_CMD (default rabbitmq-server), RABBITMQCTL (default rabbitmqctl).
broker_action() {
    local server="${RABBITMQ_SERVER_CMD:-rabbitmq-server}" ctl="${RABBITMQCTL:-rabbitmqctl}"
    if ! command -v "$server" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$server" ]; then
        echo install
    elif "$ctl" -q status >/dev/null 2>&1; then
        echo running
    else
        echo start
    fi
}

wait_for_broker() {
    local ctl="${RABBITMQCTL:-rabbitmqctl}"
    echo "Waiting for RabbitMQ"
    # `rabbitmqctl await_startup` returns once the node is booted (or fails fast if none is starting).
    for _ in $(seq 1 60); do
        if "$ctl" -q await_startup --timeout 10 >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    echo "RabbitMQ did not start within two minutes; see /var/log/rabbitmq/" >&2
    exit 1
}

ensure_broker() {
    local action
    action="$(broker_action)"
    if [ "$action" = install ]; then
        bash "$REPO_ROOT/scripts/install-system-deps.sh"
        action="$(broker_action)"
    fi
    if [ "$action" = start ]; then
        echo "Starting RabbitMQ (rabbitmq-server -detached)"
        "${RABBITMQ_SERVER_CMD:-rabbitmq-server}" -detached
    fi
    wait_for_broker
}

ensure_postgresql() {
    # The tests need PostgreSQL on 127.0.0.1:5432 (user postgres, trust); start the machine's cluster if down.
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        bash "$REPO_ROOT/scripts/install-system-deps.sh" --with-postgresql
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "Starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2
        exit 1
    fi
    # A fresh Debian cluster asks for a password over TCP; the tests connect as postgres without one.
    if ! psql -h 127.0.0.1 -U postgres -w -Atc 'SELECT 1' postgres >/dev/null 2>&1; then
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        echo "Allowing the local test user: 'host all postgres 127.0.0.1/32 trust' at the top of $hba"
        sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
}

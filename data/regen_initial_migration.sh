#!/usr/bin/env bash
# Regenerate data/migrations/versions/0001_initial_schema.py from data/models.py.
# Only while no release has shipped the schema; afterwards, add a new revision instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f data/migrations/versions/0001_initial_schema.py
.venv/bin/alembic -x "url=sqlite:///$tmp/gen.db" revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
sed -i 's/^Revises: *$/Revises: (none)/' data/migrations/versions/0001_initial_schema.py
.venv/bin/ruff check --fix -q data/migrations || true
.venv/bin/ruff format -q data/migrations
rm -rf "$tmp"
echo "regenerated data/migrations/versions/0001_initial_schema.py"

#!/bin/sh
# Run once by the PostgreSQL image's entrypoint after customers.sql: sets the password of the
# role Gatehouse connects with, from the customers_password secret.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$(cat /run/secrets/customers_password)" <<'SQL'
ALTER ROLE gatehouse_app PASSWORD :'app_password';
SQL

"""Query a database through Gatehouse with psycopg 3.

The only change from a direct connection: the host and port are the gateway's PostgreSQL
listener, the database name is the Gatehouse connection, and the password is your Gatehouse key
(the real database password stays in the gateway). Every statement is authorized by policy;
rows come back masked.

    GATEHOUSE_KEY=ghk_... python3 examples/python/psycopg_example.py "SELECT * FROM customers LIMIT 5"

Environment (defaults in brackets): GATEHOUSE_KEY (required), GATEHOUSE_PG_HOST [127.0.0.1],
GATEHOUSE_PG_PORT [15432], GATEHOUSE_PG_DATABASE [app], GATEHOUSE_PG_USER [agent].
Exit codes: 0 ok, 1 the statement failed (denied by policy, held for review, SQL error), 2 usage.
"""
import os
import sys

import psycopg


def main() -> int:
    key = os.environ.get("GATEHOUSE_KEY")
    if not key:
        print("set GATEHOUSE_KEY to your Gatehouse key (gatehouse keys create --user <you>)", file=sys.stderr)
        return 2
    sql = " ".join(sys.argv[1:]) or "SELECT * FROM customers LIMIT 5"
    params = dict(
        host=os.environ.get("GATEHOUSE_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("GATEHOUSE_PG_PORT", "15432")),
        dbname=os.environ.get("GATEHOUSE_PG_DATABASE", "app"),
        user=os.environ.get("GATEHOUSE_PG_USER", "agent"),
        password=key,
        application_name="gatehouse-psycopg-example",
    )
    with psycopg.connect(**params) as conn:
        # A justification is shown to approvers when a statement is held for review.
        conn.execute("SET gatehouse.justification = 'psycopg example'")
        try:
            cur = conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege as e:
            # SQLSTATE 42501: denied by a policy (named in the message), or held for a review
            # that was not approved in time (re-run the statement once it is approved).
            print(f"Gatehouse refused the statement: {e.diag.message_primary}", file=sys.stderr)
            return 1
        except psycopg.Error as e:
            print(f"error: {e.diag.sqlstate} {e.diag.message_primary}", file=sys.stderr)
            return 1
        if cur.description is None:
            print(cur.statusmessage)
            return 0
        print(" | ".join(col.name for col in cur.description))
        for row in cur:
            print(" | ".join("" if v is None else str(v) for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

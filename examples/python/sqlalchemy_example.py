"""Query a database through Gatehouse with SQLAlchemy.

The engine URL names the gateway's PostgreSQL listener, the Gatehouse connection as database and
your Gatehouse key as password. Uses psycopg 3 with SQLAlchemy 2, psycopg2 with SQLAlchemy 1.4.

    GATEHOUSE_KEY=ghk_... python3 examples/python/sqlalchemy_example.py "SELECT * FROM customers LIMIT 5"

Environment (defaults in brackets): GATEHOUSE_KEY (required), GATEHOUSE_PG_HOST [127.0.0.1],
GATEHOUSE_PG_PORT [15432], GATEHOUSE_PG_DATABASE [app], GATEHOUSE_PG_USER [agent].
Exit codes: 0 ok, 1 the statement failed (denied by policy, held for review, SQL error), 2 usage.
"""
import os
import sys

import sqlalchemy
from sqlalchemy.engine import URL


def main() -> int:
    key = os.environ.get("GATEHOUSE_KEY")
    if not key:
        print("set GATEHOUSE_KEY to your Gatehouse key (gatehouse keys create --user <you>)", file=sys.stderr)
        return 2
    sql = " ".join(sys.argv[1:]) or "SELECT * FROM customers LIMIT 5"
    driver = "postgresql+psycopg" if int(sqlalchemy.__version__.split(".")[0]) >= 2 else "postgresql+psycopg2"
    url = URL.create(
        driver,
        username=os.environ.get("GATEHOUSE_PG_USER", "agent"),
        password=key,  # URL.create quotes it; never log the URL with the password
        host=os.environ.get("GATEHOUSE_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("GATEHOUSE_PG_PORT", "15432")),
        database=os.environ.get("GATEHOUSE_PG_DATABASE", "app"),
    )
    engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            try:
                result = conn.execute(sqlalchemy.text(sql))
            except sqlalchemy.exc.DBAPIError as e:
                code = getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None)
                message = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
                if code == "42501":
                    print(f"Gatehouse refused the statement: {message}", file=sys.stderr)
                else:
                    print(f"error: {code} {message}", file=sys.stderr)
                return 1
            if not result.returns_rows:
                print(f"{result.rowcount} row(s) affected")
                conn.commit()
                return 0
            print(" | ".join(result.keys()))
            for row in result:
                print(" | ".join("" if v is None else str(v) for v in row))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command-line message for each way a connection fails (pure logic: the driver's errors built by hand;
the integration tier meets the real ones)."""

from __future__ import annotations

import pymysql
import pytest
from pydantic import SecretStr

from shared.db.connection import unavailable
from shared.settings import CommonSettings

SETTINGS = CommonSettings(db_host="db.internal", db_port=3307, db_user="app", db_password=SecretStr("s3cret-pw"))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            pymysql.err.OperationalError(1049, "Unknown database 'eu'"),
            "database 'eu' does not exist on MySQL at db.internal:3307: `vitalsync db migrate --database eu` "
            "creates it (as a user allowed to) and applies the migrations, or set VITALSYNC_DB_NAME to an existing one",
        ),
        (
            pymysql.err.OperationalError(1045, "Access denied for user 'app'@'10.0.0.5' (using password: YES)"),
            "MySQL at db.internal:3307 refused user app (wrong user or password): set VITALSYNC_DB_USER and "
            "VITALSYNC_DB_PASSWORD",
        ),
        (
            pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db.internal'"),
            "cannot connect to MySQL at db.internal:3307 as app (OperationalError: Can't connect to MySQL server "
            "on 'db.internal'); start it with `vitalsync stack up` or set VITALSYNC_DB_HOST/PORT/USER/PASSWORD",
        ),
        (
            TimeoutError(),
            "cannot connect to MySQL at db.internal:3307 as app (TimeoutError); start it with "
            "`vitalsync stack up` or set VITALSYNC_DB_HOST/PORT/USER/PASSWORD",
        ),
    ],
)
def test_message_names_the_cause_and_the_fix(error: BaseException, expected: str) -> None:
    message = str(unavailable(SETTINGS, "eu", error))
    assert message == expected
    assert "s3cret-pw" not in message


def test_database_access_denied_suggests_the_grant() -> None:
    error = pymysql.err.OperationalError(1044, "Access denied for user 'app'@'%' to database 'eu'")
    message = str(unavailable(SETTINGS, "eu", error))
    assert message.startswith("MySQL at db.internal:3307 does not let user app use database 'eu', or it does not exist")
    assert "GRANT ALL ON `eu`.* TO 'app'" in message

import os

import pytest

# Powertools reads these when lassodrop.observability is first imported, which happens while tests are
# collected, before any fixture runs; the fixture below sets them again for each test.
_POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "lassodrop",
    "POWERTOOLS_METRICS_NAMESPACE": "Lassodrop",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
for _name, _value in _POWERTOOLS_ENV.items():
    os.environ.setdefault(_name, _value)

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.emulator",
    "tests.fixtures.retry",
]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up real credentials or a real region from the machine."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        **_POWERTOOLS_ENV,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AUDIOLASSO_API_KEY", raising=False)

"""Which AudioLasso the embedded stack's functions are pointed at, and how."""

from lassodrop_local.runner.embedded import EmbeddedStack, Provider, function_overrides


def test_the_real_service_gets_the_signed_url_hosts_from_the_environment() -> None:
    env = {"AUDIOLASSO_API_KEY": "al_real", "AUDIOLASSO_SIGNED_URL_HOSTS": " *.r2.cloudflarestorage.com "}

    provider = EmbeddedStack(lambda _name, _line: None, env=env)._start_provider()

    assert provider == Provider(
        "al_real", "https://audiolasso.dev", allow_local=False, signed_url_hosts="*.r2.cloudflarestorage.com"
    )
    assert function_overrides(provider)["AUDIOLASSO_SIGNED_URL_HOSTS"] == "*.r2.cloudflarestorage.com"


def test_the_emulator_needs_no_storage_hosts() -> None:
    overrides = function_overrides(Provider("al_local_key", "http://127.0.0.1:9", allow_local=True))

    assert overrides["AUDIOLASSO_SIGNED_URL_HOSTS"] == ""

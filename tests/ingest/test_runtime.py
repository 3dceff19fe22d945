"""runtime.py: the API key read from Secrets Manager (cached), clients built lazily and once."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from lassodrop.audiolasso import UnsafeUrlError
from lassodrop.runtime import ApiSettings, AwsClients, ClientFactory, ConfigError, read_api_key

API_ENV = {"AUDIOLASSO_BASE_URL": "https://audiolasso.dev", "API_KEY_SECRET_ARN": "arn:secret"}


@pytest.fixture
def secret_arn() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("secretsmanager").create_secret(Name="key", SecretString=" al_first \n")["ARN"]


def test_the_api_key_is_read_once_and_cached(secret_arn: str) -> None:
    first = read_api_key(secret_arn)
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="al_second")

    assert first == read_api_key(secret_arn) == "al_first"


def test_an_empty_secret_is_a_configuration_error(secret_arn: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="   ")

    with pytest.raises(ConfigError, match=secret_arn):
        read_api_key(secret_arn)


def test_the_client_is_reused_until_the_key_rotates() -> None:
    keys = iter(["al_one", "al_one", "al_two"])
    factory = ClientFactory(
        ApiSettings("http://127.0.0.1:9", "arn:secret", allow_local=True), lambda _: next(keys)
    )

    first, same, rotated = factory(), factory(), factory()

    assert first is same
    assert rotated is not first


def test_injected_clients_replace_the_lazy_ones() -> None:
    fake_s3 = object()
    clients = AwsClients(s3=fake_s3)

    assert clients.s3 is fake_s3


def test_every_aws_client_comes_from_the_given_session() -> None:
    with mock_aws():
        session = boto3.session.Session(region_name="eu-west-3")
        clients = AwsClients(session)

        regions = {name: getattr(clients, name).meta.region_name for name in ("s3", "sqs", "events")}

    assert regions == dict.fromkeys(("s3", "sqs", "events"), "eu-west-3")


def test_every_aws_client_goes_to_the_given_endpoint() -> None:
    session = boto3.session.Session(region_name="eu-west-3")
    clients = AwsClients(session, endpoint_url="http://127.0.0.1:5000")

    built = [clients.s3, clients.sqs, clients.events, clients.dynamodb.meta.client, clients.client("lambda")]

    assert {client.meta.endpoint_url for client in built} == {"http://127.0.0.1:5000"}


def test_signed_url_hosts_are_read_as_a_comma_separated_list_without_blanks() -> None:
    env = {**API_ENV, "AUDIOLASSO_SIGNED_URL_HOSTS": " *.r2.cloudflarestorage.com, ,bucket.s3.amazonaws.com,"}

    settings = ApiSettings.from_env(env)

    assert settings.signed_url_hosts == ("*.r2.cloudflarestorage.com", "bucket.s3.amazonaws.com")


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_signed_url_hosts_means_only_the_service_host(value: str | None) -> None:
    env = API_ENV if value is None else {**API_ENV, "AUDIOLASSO_SIGNED_URL_HOSTS": value}

    assert ApiSettings.from_env(env).signed_url_hosts == ()


def test_a_malformed_signed_url_host_is_a_configuration_error_naming_the_variable() -> None:
    env = {**API_ENV, "AUDIOLASSO_SIGNED_URL_HOSTS": "https://bucket.s3.amazonaws.com"}

    with pytest.raises(ConfigError, match="AUDIOLASSO_SIGNED_URL_HOSTS"):
        ApiSettings.from_env(env)


def test_the_built_client_accepts_signed_urls_on_the_configured_hosts_only() -> None:
    settings = ApiSettings.from_env({**API_ENV, "AUDIOLASSO_SIGNED_URL_HOSTS": "*.r2.cloudflarestorage.com"})

    client = ClientFactory(settings, lambda _: "al_key")()

    assert client.urls.check_signed("https://acct.r2.cloudflarestorage.com/u?sig=1")
    with pytest.raises(UnsafeUrlError):
        client.urls.check_api("https://acct.r2.cloudflarestorage.com/v1/queue/requests/req_1/status")


def test_a_refresh_reads_the_secret_past_its_cache_and_says_whether_the_key_changed(secret_arn: str) -> None:
    factory = ClientFactory(ApiSettings("http://127.0.0.1:9", secret_arn, allow_local=True))
    first = factory()
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="al_second")

    cached = factory()
    changed = factory.refresh()
    unchanged = factory.refresh()

    assert cached is first
    assert (changed, unchanged) == (True, False)
    assert factory() is not first
    assert read_api_key(secret_arn) == "al_second"  # the cache now holds the corrected key too

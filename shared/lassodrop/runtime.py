"""What the functions that call AudioLasso share at run time: AWS clients built lazily once, the API key from
Secrets Manager (cached by Powertools parameters) and an AudioLassoClient built from configuration."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from lassodrop.audiolasso import AudioLassoClient, InvalidInputError, StorageHosts

# A rotated key is picked up within this many seconds without a cold start.
SECRET_MAX_AGE_SECONDS = 300


class ConfigError(ValueError):
    """A missing or malformed environment variable; the message names it."""


def require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set")
    return value


def read_int(env: Mapping[str, str], name: str, *, default: int, low: int, high: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")
    return value


def read_bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


def read_host_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of storage host names or "*.domain" patterns; blank entries are ignored."""
    hosts = tuple(entry.strip() for entry in env.get(name, "").split(",") if entry.strip())
    try:
        StorageHosts(hosts)
    except InvalidInputError as error:
        raise ConfigError(f"{name}: {error}") from None
    return hosts


@dataclass(frozen=True)
class ApiSettings:
    """Where AudioLasso is, where its key lives, and which storage hosts may serve its signed URLs."""

    base_url: str
    api_key_secret_arn: str
    allow_local: bool = False
    signed_url_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ApiSettings":
        return cls(
            base_url=require(env, "AUDIOLASSO_BASE_URL"),
            api_key_secret_arn=require(env, "API_KEY_SECRET_ARN"),
            allow_local=read_bool(env, "AUDIOLASSO_ALLOW_LOCAL", default=False),
            signed_url_hosts=read_host_list(env, "AUDIOLASSO_SIGNED_URL_HOSTS"),
        )


class AwsClients:
    """boto3 clients from one session, each built on first use and then reused; tests pass in their own.

    `endpoint_url` sends every client to one endpoint instead of AWS's (a moto server, locally).
    """

    def __init__(
        self, session: boto3.session.Session | None = None, *, endpoint_url: str | None = None, **clients: Any
    ) -> None:
        self._session = session
        self.endpoint_url = endpoint_url
        self.__dict__.update(clients)  # an injected client takes the place of the cached_property

    @cached_property
    def session(self) -> boto3.session.Session:
        return self._session or boto3.session.Session()

    @property
    def region(self) -> str:
        """The session's region, which every client is built for (in Lambda, AWS_REGION)."""
        return self.session.region_name

    def client(self, service: str) -> Any:
        """A new client for any AWS service, from the session and at `endpoint_url` when one is given."""
        return self.session.client(service, endpoint_url=self.endpoint_url)

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def dynamodb(self) -> Any:
        return self.session.resource("dynamodb", endpoint_url=self.endpoint_url)

    def table(self, name: str) -> Any:
        return self.dynamodb.Table(name)


def read_api_key(secret_arn: str) -> str:
    """The AudioLasso key: the secret's string, cached by Powertools for SECRET_MAX_AGE_SECONDS."""
    return _api_key(secret_arn, parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS))


def fetch_api_key(secret_arn: str) -> str:
    """The key as the secret holds it now, past the cache (which it refreshes for `read_api_key`)."""
    value = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=True)
    return _api_key(secret_arn, value)


def _api_key(secret_arn: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"the secret {secret_arn} holds no API key string")
    return value.strip()


class ClientFactory:
    """Hands out an AudioLassoClient for the current key, rebuilding it only when the key was rotated."""

    def __init__(
        self,
        settings: ApiSettings,
        read_key: Callable[[str], str] = read_api_key,
        fetch_key: Callable[[str], str] = fetch_api_key,
    ) -> None:
        self._settings = settings
        self._read_key = read_key
        self._fetch_key = fetch_key
        self._client: AudioLassoClient | None = None
        self._key: str | None = None

    def __call__(self) -> AudioLassoClient:
        return self._client_for(self._read_key(self._settings.api_key_secret_arn))

    def refresh(self) -> bool:
        """Re-read the key past its cache; True when it differs from the one in use (the next client uses it).

        Called once when AudioLasso refuses the key (401) or its scopes (403): a key corrected in the secret
        is then used at once instead of after the cache's SECRET_MAX_AGE_SECONDS.
        """
        previous = self._key
        self._client_for(self._fetch_key(self._settings.api_key_secret_arn))
        return self._key != previous

    def _client_for(self, key: str) -> AudioLassoClient:
        if self._client is None or key != self._key:
            self._client = build_client(self._settings, key)
            self._key = key
        return self._client


def build_client(settings: ApiSettings, api_key: str) -> AudioLassoClient:
    return AudioLassoClient(
        api_key,
        settings.base_url,
        allow_local=settings.allow_local,
        signed_url_hosts=settings.signed_url_hosts,
    )

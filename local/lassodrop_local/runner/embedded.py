"""The embedded stack: moto's server plays AWS, the emulator (or the real service) plays AudioLasso, the
stack is created from template.yaml, and the runtime runs every function as the template declares it."""

import logging
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from moto.server import ThreadedMotoServer

from lassodrop.audiolasso import AudioLassoError
from lassodrop.audiolasso.urls import UrlPolicy
from lassodrop.runtime import ConfigError, read_host_list
from lassodrop_local.emulator.server import EmulatorServer
from lassodrop_local.runner.runtime import Runtime
from lassodrop_local.runner.sandbox import LogSink
from lassodrop_local.runner.spec import FunctionSpec, SandboxSettings, SqsMapping
from lassodrop_local.stack import FunctionConfig, StackInfo, clients_for_moto, create_stack
from lassodrop_local.template import TEMPLATE_PATH, load_template

LOCAL_API_KEY = "al_local_key"
# Locally a job takes seconds, so checks are due after seconds too (the template's 30 s suits real jobs).
FIRST_CHECK_DELAY_SECONDS = "1"
EMULATOR_MAX_CHECK_DELAY_SECONDS = "2"
SERVICE_MAX_CHECK_DELAY_SECONDS = "10"
# Long enough to see the provider's "queued" and "processing" stages go by.
EMULATOR_QUEUE_SECONDS = 1.0
EMULATOR_RUN_SECONDS = 2.0


@dataclass(frozen=True)
class Provider:
    """Where the functions find AudioLasso."""

    api_key: str
    base_url: str
    allow_local: bool
    signed_url_hosts: str = ""


def function_overrides(provider: Provider) -> dict[str, str]:
    """What the local stack changes in the functions' environment (only where a function declares it)."""
    local = provider.allow_local
    return {
        "AUDIOLASSO_BASE_URL": provider.base_url,
        "AUDIOLASSO_ALLOW_LOCAL": "true" if local else "false",
        "AUDIOLASSO_SIGNED_URL_HOSTS": provider.signed_url_hosts,
        "FIRST_CHECK_DELAY_SECONDS": FIRST_CHECK_DELAY_SECONDS,
        "MAX_CHECK_DELAY_SECONDS": EMULATOR_MAX_CHECK_DELAY_SECONDS
        if local
        else SERVICE_MAX_CHECK_DELAY_SECONDS,
    }


def function_bindings(
    info: StackInfo, overrides: Mapping[str, str]
) -> list[tuple[FunctionSpec, SqsMapping | None]]:
    return [_binding(config, overrides) for config in info.functions.values()]


def _binding(config: FunctionConfig, overrides: Mapping[str, str]) -> tuple[FunctionSpec, SqsMapping | None]:
    if len(config.event_sources) > 1:
        raise ValueError(f"{config.logical_id}: the local runtime supports one event source per function")
    environment = {**config.environment}
    environment.update({name: value for name, value in overrides.items() if name in config.environment})
    spec = FunctionSpec(
        name=config.function_name,
        code_dir=config.code_dir,
        handler=config.handler,
        layers=config.layer_dirs,
        environment=environment,
        timeout=config.timeout,
        memory_size=config.memory_size,
    )
    mapping = None
    for source in config.event_sources:
        mapping = SqsMapping(
            queue_url=source.queue_url,
            queue_arn=source.queue_arn,
            batch_size=source.batch_size,
            maximum_concurrency=source.maximum_concurrency,
            report_batch_item_failures=source.report_batch_item_failures,
        )
    return spec, mapping


class EmbeddedStack:
    """Everything `lassodrop run` needs, started in order and stopped in reverse (also on Ctrl-C)."""

    def __init__(
        self, sink: LogSink, *, template_path: Path = TEMPLATE_PATH, env: Mapping[str, str] | None = None
    ):
        self._sink = sink
        self._template_path = template_path
        self._env = os.environ if env is None else env
        self._exit = ExitStack()
        self.clients = clients_for_moto()
        self.info: StackInfo | None = None
        self.provider: Provider | None = None
        self.runtime: Runtime | None = None

    def __enter__(self) -> "EmbeddedStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        endpoint = self._start_moto()
        self.clients = clients_for_moto(endpoint)
        self.provider = self._start_provider()
        self.info = create_stack(
            self.clients, api_key=self.provider.api_key, template_path=self._template_path
        )
        bindings = function_bindings(self.info, function_overrides(self.provider))
        settings = SandboxSettings(region=self.clients.region, endpoint_url=endpoint)
        self.runtime = self._exit.enter_context(Runtime(bindings, settings, sink=self._sink))

    def stop(self) -> None:
        self._exit.close()

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def _start_moto(self) -> str:
        # werkzeug logs every request at INFO; the progress display is the useful output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto's backends live in this process: start from an empty account even if another server ran here.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        return endpoint

    def _start_provider(self) -> Provider:
        service = service_provider(self._env, self._template_path)
        if service is not None:
            return service
        emulator = EmulatorServer(
            api_keys=(LOCAL_API_KEY,), queue_seconds=EMULATOR_QUEUE_SECONDS, run_seconds=EMULATOR_RUN_SECONDS
        )
        self._exit.enter_context(emulator)
        return Provider(LOCAL_API_KEY, emulator.base_url, allow_local=True)


class ProviderConfigError(ValueError):
    """The environment names the real service in a way the functions would refuse."""


def service_provider(env: Mapping[str, str], template_path: Path = TEMPLATE_PATH) -> Provider | None:
    """The real AudioLasso when AUDIOLASSO_API_KEY is set, checked as the functions' client will check it;
    None means the emulator."""
    api_key = env.get("AUDIOLASSO_API_KEY", "").strip()
    if not api_key:
        return None
    base_url = env.get("AUDIOLASSO_BASE_URL", "").strip() or _template_default_base_url(template_path)
    # The layer's own checks, so the run fails here, once and plainly, rather than in every invocation.
    try:
        hosts = read_host_list(env, "AUDIOLASSO_SIGNED_URL_HOSTS")
        UrlPolicy(base_url, signed_url_hosts=hosts)
    except ConfigError as exc:
        raise ProviderConfigError(str(exc)) from exc
    except AudioLassoError as exc:
        raise ProviderConfigError(f"AUDIOLASSO_BASE_URL {base_url}: {exc.message}") from exc
    signed_url_hosts = ",".join(hosts)
    return Provider(api_key, base_url, allow_local=False, signed_url_hosts=signed_url_hosts)


def _template_default_base_url(template_path: Path) -> str:
    return str(load_template(template_path)["Parameters"]["AudioLassoBaseUrl"]["Default"])

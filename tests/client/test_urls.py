import pytest

from lassodrop.audiolasso import UnsafeUrlError, UrlPolicy

BASE = "https://audiolasso.dev"


@pytest.mark.parametrize(
    "url",
    [
        "https://audiolasso.dev/v1/queue/requests/req_1/status",
        "https://files.audiolasso.dev/uploads/file_1?sig=abc",
        "https://AudioLasso.dev./outputs/x.wav",
        "https://audiolasso.dev:8443/v1/models",
    ],
)
def test_https_urls_on_the_service_host_or_its_subdomains_are_accepted(url: str) -> None:
    assert UrlPolicy(BASE).check(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://audiolasso.dev/v1/models",
        "ftp://audiolasso.dev/file",
        "file:///etc/passwd",
        "//audiolasso.dev/v1/models",
    ],
)
def test_non_https_urls_are_refused_without_allow_local(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/uploads/file_1",
        "https://audiolasso.dev.evil.example/x",
        "https://evilaudiolasso.dev/x",
        "https://audiolasso.dev@evil.example/x",
        "https://user:pass@audiolasso.dev/x",
        "https://audiolasso.dev\\@evil.example/x",
        "https://audiolasso.dev /x",
    ],
)
def test_foreign_hosts_and_disguised_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.5/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
    ],
)
def test_loopback_private_and_link_local_addresses_are_refused_without_allow_local(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check(url)


def test_private_address_is_refused_even_when_listed_as_an_extra_host() -> None:
    policy = UrlPolicy(BASE, extra_hosts=["10.0.0.5"])

    with pytest.raises(UnsafeUrlError):
        policy.check("https://10.0.0.5/x")


def test_allow_local_accepts_http_on_loopback_for_the_local_stack() -> None:
    policy = UrlPolicy("http://127.0.0.1:8080", allow_local=True)

    assert policy.check("http://127.0.0.1:8080/uploads/file_1?sig=x")
    assert policy.check("http://localhost:9000/outputs/req_1/target.wav")


def test_allow_local_still_refuses_foreign_public_hosts() -> None:
    policy = UrlPolicy("http://127.0.0.1:8080", allow_local=True)

    with pytest.raises(UnsafeUrlError):
        policy.check("http://evil.example/x")


def test_extra_hosts_extend_the_allow_list() -> None:
    policy = UrlPolicy(BASE, extra_hosts=["uploads.storage.example"])

    assert policy.check("https://bucket.uploads.storage.example/file_1?sig=x")


def test_a_plain_http_base_url_is_refused_without_allow_local() -> None:
    with pytest.raises(UnsafeUrlError):
        UrlPolicy("http://audiolasso.dev")

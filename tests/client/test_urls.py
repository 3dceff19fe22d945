import pytest

from lassodrop.audiolasso import InvalidInputError, UnsafeUrlError, UrlPolicy

BASE = "https://audiolasso.dev"
STORAGE_HOSTS = ["bucket.s3.amazonaws.com", "*.r2.cloudflarestorage.com"]


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
    policy = UrlPolicy(BASE)

    assert policy.check_api(url) == url
    assert policy.check_signed(url) == url


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
        UrlPolicy(BASE).check_api(url)
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check_signed(url)


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
        UrlPolicy(BASE).check_api(url)
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check_signed(url)


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
        UrlPolicy(BASE).check_api(url)
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(BASE).check_signed(url)


def test_private_address_is_refused_even_when_listed_as_a_storage_host() -> None:
    policy = UrlPolicy(BASE, signed_url_hosts=["10.0.0.5"])

    with pytest.raises(UnsafeUrlError):
        policy.check_signed("https://10.0.0.5/x")


def test_allow_local_accepts_http_on_loopback_for_the_local_stack() -> None:
    policy = UrlPolicy("http://127.0.0.1:8080", allow_local=True)

    assert policy.check_signed("http://127.0.0.1:8080/uploads/file_1?sig=x")
    assert policy.check_signed("http://localhost:9000/outputs/req_1/target.wav")
    assert policy.check_api("http://127.0.0.1:8080/v1/queue/requests/req_1/status")


def test_allow_local_still_refuses_foreign_public_hosts() -> None:
    policy = UrlPolicy("http://127.0.0.1:8080", allow_local=True)

    with pytest.raises(UnsafeUrlError):
        policy.check_signed("http://evil.example/x")


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/file_1?sig=x",
        "https://BUCKET.s3.amazonaws.com./file_1?sig=x",
        "https://acct.r2.cloudflarestorage.com/file_1?sig=x",
        "https://a.b.r2.cloudflarestorage.com/outputs/target.wav?sig=x",
    ],
)
def test_signed_urls_on_a_configured_storage_host_are_accepted(url: str) -> None:
    policy = UrlPolicy(BASE, signed_url_hosts=STORAGE_HOSTS)

    assert policy.check_signed(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/v1/queue/requests/req_1/status",
        "https://acct.r2.cloudflarestorage.com/v1/queue/requests/req_1/result",
    ],
)
def test_a_storage_host_is_never_allowed_to_receive_the_api_key(url: str) -> None:
    policy = UrlPolicy(BASE, signed_url_hosts=STORAGE_HOSTS)

    with pytest.raises(UnsafeUrlError):
        policy.check_api(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://other.s3.amazonaws.com/file_1",
        "https://s3.amazonaws.com/bucket/file_1",
        "https://sub.bucket.s3.amazonaws.com/file_1",
        "https://r2.cloudflarestorage.com/file_1",
        "https://acct.r2.cloudflarestorage.com.evil.example/file_1",
        "https://evilr2.cloudflarestorage.com/file_1",
    ],
)
def test_signed_urls_outside_the_exact_names_and_patterns_are_refused(url: str) -> None:
    policy = UrlPolicy(BASE, signed_url_hosts=STORAGE_HOSTS)

    with pytest.raises(UnsafeUrlError):
        policy.check_signed(url)


@pytest.mark.parametrize("allow_local", [False, True])
def test_plain_http_on_a_storage_host_is_refused_even_for_the_local_stack(allow_local: bool) -> None:
    policy = UrlPolicy(BASE, allow_local=allow_local, signed_url_hosts=STORAGE_HOSTS)

    with pytest.raises(UnsafeUrlError):
        policy.check_signed("http://bucket.s3.amazonaws.com/file_1?sig=x")


@pytest.mark.parametrize(
    "entry", ["*.com", "*", "https://bucket.example.com", "bucket.example.com:443", "b*.example.com", "a b"]
)
def test_storage_host_entries_that_are_not_names_or_narrow_patterns_are_refused(entry: str) -> None:
    with pytest.raises(InvalidInputError, match="signed URL host"):
        UrlPolicy(BASE, signed_url_hosts=[entry])


def test_a_single_string_of_storage_hosts_is_refused_instead_of_split_into_letters() -> None:
    with pytest.raises(InvalidInputError):
        UrlPolicy(BASE, signed_url_hosts="bucket.s3.amazonaws.com")


def test_a_plain_http_base_url_is_refused_without_allow_local() -> None:
    with pytest.raises(UnsafeUrlError):
        UrlPolicy("http://audiolasso.dev")

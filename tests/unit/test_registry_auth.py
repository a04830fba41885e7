"""Registry credentials: Docker's config.json, the docker credential-helper protocol (a real helper
program on PATH), WWW-Authenticate parsing, and secrets that never show in repr or str."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship._http import Client
from goship.errors import RegistryError
from goship.image.auth import (
    Authenticator,
    Challenge,
    Credentials,
    credentials_for,
    docker_config_path,
    is_loopback,
    load_docker_config,
    parse_www_authenticate,
    registry_key,
    scope,
)
from goship.image.registry import Registry

SECRET = "hunter2-Very-Secret"

HELPER = r"""#!/bin/sh
# A docker credential helper for tests: logs what it was asked, answers from a fixed table.
[ "$1" = get ] || { echo "unsupported action $1" >&2; exit 2; }
server=$(cat)
printf '%s\n' "$server" >> "$HELPER_LOG"
case "$server" in
  helper.example.com) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"hunter2-Very-Secret"}' "$server" ;;
  tokens.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"hunter2-Very-Secret"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hub-user","Secret":"hunter2-Very-Secret"}' "$server" ;;
  broken.example.com) echo "keychain locked" >&2; exit 3 ;;
  garbage.example.com) echo "not json" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with its own DOCKER_CONFIG and docker-credential-test first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-test"
    helper.write_text(HELPER)
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (tmp_path / "docker").mkdir()
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "HOME": str(tmp_path / "home"),
        "HELPER_LOG": str(tmp_path / "helper.log"),
    }


def write_config(env: dict[str, str], config: object) -> Path:
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.write_text(json.dumps(config))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ----------------------------------------------------------------------------- config.json


def test_docker_config_lives_under_docker_config_or_home() -> None:
    assert docker_config_path({"DOCKER_CONFIG": "/etc/dc"}) == Path("/etc/dc/config.json")
    assert docker_config_path({"HOME": "/home/ada"}) == Path("/home/ada/.docker/config.json")


def test_auth_field_is_base64_of_user_colon_password(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"registry.example.com": {"auth": b64(f"ada:{SECRET}")}}})
    creds = credentials_for("registry.example.com", env=env)
    assert creds is not None
    assert (creds.username, creds.password, creds.identity_token) == ("ada", SECRET, "")
    assert creds.source == str(Path(env["DOCKER_CONFIG"]) / "config.json")


def test_a_password_may_itself_hold_colons(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"registry.example.com": {"auth": b64("ada:pa:ss:word")}}})
    creds = credentials_for("registry.example.com", env=env)
    assert creds is not None and creds.password == "pa:ss:word"


def test_username_and_password_fields_and_identity_tokens_are_read(env: dict[str, str]) -> None:
    write_config(
        env,
        {
            "auths": {
                "https://plain.example.com/v2/": {"username": "bob", "password": SECRET},
                "oauth.example.com": {"identitytoken": SECRET},
            }
        },
    )
    plain = credentials_for("plain.example.com", env=env)
    oauth = credentials_for("oauth.example.com", env=env)
    assert plain is not None and (plain.username, plain.password) == ("bob", SECRET)
    assert oauth is not None and (oauth.username, oauth.identity_token) == ("", SECRET)


def test_keys_with_scheme_and_path_match_the_bare_host(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"http://localhost:5000/v1/": {"auth": b64("ada:x")}}})
    assert credentials_for("localhost:5000", env=env) is not None
    assert credentials_for("localhost:5001", env=env) is None


def test_docker_hub_aliases_share_one_entry(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"https://index.docker.io/v1/": {"auth": b64("hub:x")}}})
    for host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        creds = credentials_for(host, env=env)
        assert creds is not None and creds.username == "hub"


def test_registry_key_normalises_hosts() -> None:
    assert registry_key("HTTPS://Ghcr.IO/v2/") == "ghcr.io"
    assert registry_key("localhost:5000") == "localhost:5000"
    assert registry_key("docker.io") == "index.docker.io"


def test_a_missing_config_means_anonymous(env: dict[str, str]) -> None:
    assert credentials_for("registry.example.com", env=env) is None


def test_an_empty_entry_is_not_credentials(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"registry.example.com": {}}})
    assert credentials_for("registry.example.com", env=env) is None


def test_a_broken_config_is_a_registry_error_naming_the_file(env: dict[str, str]) -> None:
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.write_text("{not json")
    with pytest.raises(RegistryError, match=f"cannot read the Docker config {path}: expected a JSON object"):
        credentials_for("registry.example.com", env=env)


def test_bad_base64_names_the_entry_but_never_its_value(env: dict[str, str]) -> None:
    bad = "%%" + SECRET
    write_config(env, {"auths": {"registry.example.com": {"auth": bad}}})
    with pytest.raises(RegistryError) as caught:
        credentials_for("registry.example.com", env=env)
    assert "auths['registry.example.com'].auth is not base64" in caught.value.message
    assert SECRET not in f"{caught.value} {caught.value.hint} {caught.value.__cause__}"


def test_auth_without_a_colon_is_refused(env: dict[str, str]) -> None:
    write_config(env, {"auths": {"registry.example.com": {"auth": b64(SECRET)}}})
    with pytest.raises(RegistryError, match="decodes without a ':'") as caught:
        credentials_for("registry.example.com", env=env)
    assert SECRET not in str(caught.value)


# ----------------------------------------------------------------------------- credential helpers


def test_cred_helpers_run_the_helper_with_the_host_on_stdin(env: dict[str, str]) -> None:
    write_config(env, {"credHelpers": {"helper.example.com": "test"}})
    creds = credentials_for("helper.example.com", env=env)
    assert creds is not None
    assert (creds.username, creds.password, creds.source) == ("helper-user", SECRET, "docker-credential-test")
    assert Path(env["HELPER_LOG"]).read_text() == "helper.example.com\n"


def test_the_helper_username_token_means_an_identity_token(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "test"})
    creds = credentials_for("tokens.example.com", env=env)
    assert creds is not None and (creds.username, creds.identity_token) == ("", SECRET)


def test_creds_store_answers_for_every_host_and_docker_hub_is_asked_by_its_key(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "test"})
    hub = credentials_for("docker.io", env=env)
    assert hub is not None and hub.username == "hub-user"
    assert Path(env["HELPER_LOG"]).read_text() == "https://index.docker.io/v1/\n"


def test_not_found_in_the_helper_falls_back_to_auths(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "test", "auths": {"other.example.com": {"auth": b64("ada:x")}}})
    creds = credentials_for("other.example.com", env=env)
    assert creds is not None and creds.username == "ada"
    assert credentials_for("nowhere.example.com", env=env) is None


def test_cred_helpers_win_over_creds_store(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "missing", "credHelpers": {"helper.example.com": "test"}})
    creds = credentials_for("helper.example.com", env=env)
    assert creds is not None and creds.username == "helper-user"


def test_a_failing_helper_is_an_error_with_its_stderr(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "test"})
    with pytest.raises(RegistryError) as caught:
        credentials_for("broken.example.com", env=env)
    assert (
        caught.value.message
        == "docker-credential-test get failed for broken.example.com (exit 3): keychain locked"
    )
    assert (
        caught.value.hint
        == "run 'echo broken.example.com | docker-credential-test get' to see what the helper says"
    )


def test_a_helper_answering_garbage_is_an_error(env: dict[str, str]) -> None:
    write_config(env, {"credsStore": "test"})
    with pytest.raises(RegistryError, match=r"answered for garbage\.example\.com with something other than"):
        credentials_for("garbage.example.com", env=env)


def test_a_missing_helper_says_which_program_to_install(env: dict[str, str]) -> None:
    write_config(env, {"credHelpers": {"ghcr.io": "nonexistent"}})
    with pytest.raises(RegistryError) as caught:
        credentials_for("ghcr.io", env=env)
    assert "docker-credential-nonexistent" in caught.value.message
    assert caught.value.hint == (
        "install docker-credential-nonexistent or remove it from credHelpers/credsStore in the Docker config"
    )


def test_load_docker_config_keeps_helpers_by_host(env: dict[str, str]) -> None:
    path = write_config(env, {"credHelpers": {"https://GHCR.io": "pass"}, "credsStore": "desktop"})
    config = load_docker_config(path)
    assert (dict(config.cred_helpers), config.creds_store) == ({"ghcr.io": "pass"}, "desktop")


# ----------------------------------------------------------------------------- WWW-Authenticate


def test_a_bearer_challenge_with_a_comma_inside_the_scope() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:team/orders:pull,push"'
    )
    assert parse_www_authenticate(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "registry.example.com",
                "scope": "repository:team/orders:pull,push",
            },
        )
    ]


def test_several_challenges_escapes_bare_tokens_and_case() -> None:
    header = (
        'Basic realm="Registry \\"R\\"", charset=UTF-8, BEARER Realm=https://a/t , error="insufficient_scope"'
    )
    assert parse_www_authenticate(header) == [
        Challenge("basic", {"realm": 'Registry "R"', "charset": "UTF-8"}),
        Challenge("bearer", {"realm": "https://a/t", "error": "insufficient_scope"}),
    ]


def test_a_challenge_without_parameters_and_an_empty_header() -> None:
    assert parse_www_authenticate("Negotiate") == [Challenge("negotiate", {})]
    assert parse_www_authenticate("") == []


_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_names = st.sampled_from(["realm", "service", "scope", "error", "x-extra"])


@given(st.dictionaries(_names, _values, max_size=4), st.sampled_from(["Bearer", "Basic", "bearer"]))
def test_quoted_parameters_round_trip(params: dict[str, str], scheme: str) -> None:
    quoted = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    assert parse_www_authenticate(f"{scheme} {quoted}") == [Challenge(scheme.lower(), params)]


def test_scope_spelling() -> None:
    assert scope("team/orders", "pull", "push") == "repository:team/orders:pull,push"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:5000", True),
        ("127.0.0.1:5000", True),
        ("127.45.6.7", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("registry.example.com", False),
        ("localhost.example.com:5000", False),
        ("[2001:db8::1]:443", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# ----------------------------------------------------------------------------- secrets stay hidden


def test_credentials_hide_their_secrets_in_repr_and_str() -> None:
    for creds in (Credentials("ada", SECRET, source="config.json"), Credentials(identity_token=SECRET)):
        for shown in (repr(creds), str(creds), f"{creds}", f"{[creds]}"):
            assert SECRET not in shown
            assert "<hidden>" in shown
    assert repr(Credentials("ada", SECRET)) == "Credentials(username='ada', password=<hidden>, source='')"


def test_the_config_the_authenticator_and_the_registry_hide_secrets(env: dict[str, str]) -> None:
    path = write_config(env, {"auths": {"r.example.com": {"auth": b64(f"ada:{SECRET}")}}})
    config = load_docker_config(path)
    creds = credentials_for("r.example.com", env=env)
    with Client() as http:
        auth = Authenticator("r.example.com", creds, client=http, clock=lambda: 0.0)
        registry = Registry("r.example.com", credentials=creds, client=http)
        for shown in (repr(config), str(config), repr(auth), repr(registry)):
            assert SECRET not in shown
            assert "ada" in shown

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clusters.kubeconfig import (
    Credentials,
    KubeconfigError,
    in_cluster_credentials,
    list_contexts,
    parse_kubeconfig,
)
from clusters.tests.pem import b64, certificate_pem, key_pem

CA_DATA = b64(certificate_pem("ca"))
CERT_DATA = b64(certificate_pem("rampart-reader"))
KEY_DATA = b64(key_pem("rampart-reader")).encode()
NEVER = "must never run a command or read a file on the worker"


def kubeconfig(
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    current: str | None = "prod",
    extra_contexts: list[dict[str, Any]] | None = None,
    extra_users: list[dict[str, Any]] | None = None,
) -> str:
    """Two clusters, two readers, two contexts; `cluster`/`user` replace the prod ones."""
    prod_cluster = {
        "server": "https://prod.example.com:6443",
        "certificate-authority-data": CA_DATA,
    }
    staging = {"cluster": "staging-cluster", "user": "staging-reader"}
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "prod-cluster", "cluster": prod_cluster if cluster is None else cluster},
            {"name": "staging-cluster", "cluster": {"server": "https://staging.example.com"}},
        ],
        "users": [
            {"name": "prod-reader", "user": {"token": "prod-token"} if user is None else user},
            {"name": "staging-reader", "user": {"token": "staging-token"}},
            *(extra_users or []),
        ],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod-cluster", "user": "prod-reader"}},
            {"name": "staging", "context": staging},
            *(extra_contexts or []),
        ],
    }
    if current:
        config["current-context"] = current
    return yaml.safe_dump(config)


def refusal(*, allow_exec: bool = False, **parts: Any) -> str:
    """The message a person sees when their kubeconfig is refused."""
    with pytest.raises(KubeconfigError) as raised:
        parse_kubeconfig(kubeconfig(**parts), allow_exec=allow_exec)
    return str(raised.value)


def test_it_reads_the_current_context() -> None:
    credentials = parse_kubeconfig(kubeconfig())

    assert credentials.server == "https://prod.example.com:6443"
    assert credentials.token == "prod-token"
    assert credentials.ca_data == CA_DATA
    assert credentials.context == "prod"
    assert credentials.insecure_skip_tls_verify is False


def test_it_selects_a_named_context() -> None:
    credentials = parse_kubeconfig(kubeconfig(), context="staging")

    assert credentials.server == "https://staging.example.com"
    assert credentials.token == "staging-token"
    assert credentials.ca_data is None


def test_it_lists_available_contexts_for_an_unknown_one() -> None:
    with pytest.raises(KubeconfigError, match="no context named 'qa'; available: prod, staging"):
        parse_kubeconfig(kubeconfig(), context="qa")


def test_it_asks_for_a_context_when_there_is_no_current_one() -> None:
    with pytest.raises(KubeconfigError, match="no current-context; choose one of: prod, staging"):
        parse_kubeconfig(kubeconfig(current=None))


def test_it_lists_contexts_in_file_order() -> None:
    assert list_contexts(kubeconfig()) == ["prod", "staging"]


def test_it_rejects_text_that_is_not_yaml() -> None:
    with pytest.raises(KubeconfigError, match="not valid YAML"):
        parse_kubeconfig("clusters: [unclosed")


def test_it_rejects_yaml_that_is_not_a_mapping() -> None:
    with pytest.raises(KubeconfigError, match="not a YAML mapping"):
        parse_kubeconfig("- just\n- a list\n")


def test_it_rejects_a_kubeconfig_without_contexts() -> None:
    with pytest.raises(KubeconfigError, match="defines no contexts"):
        parse_kubeconfig("apiVersion: v1\nkind: Config\nclusters: []\n")


def test_it_rejects_a_context_without_a_user() -> None:
    text = kubeconfig(extra_contexts=[{"name": "half", "context": {"cluster": "prod-cluster"}}])
    with pytest.raises(KubeconfigError, match="context 'half' names no user"):
        parse_kubeconfig(text, context="half")


def test_it_rejects_a_context_without_a_cluster() -> None:
    text = kubeconfig(extra_contexts=[{"name": "half", "context": {"user": "prod-reader"}}])
    with pytest.raises(KubeconfigError, match="context 'half' names no cluster"):
        parse_kubeconfig(text, context="half")


def test_it_rejects_a_context_naming_an_undefined_cluster() -> None:
    context = {"name": "ghost", "context": {"cluster": "nowhere", "user": "prod-reader"}}
    with pytest.raises(KubeconfigError, match="cluster 'nowhere', which is undefined"):
        parse_kubeconfig(kubeconfig(extra_contexts=[context]), context="ghost")


def test_it_rejects_a_cluster_without_a_server() -> None:
    assert "has no server URL" in refusal(cluster={"certificate-authority-data": CA_DATA})


def test_it_rejects_plain_http_to_a_remote_server() -> None:
    message = refusal(cluster={"server": "http://prod.example.com:8080"})
    assert "must use https" in message


@pytest.mark.parametrize("server", ["http://127.0.0.1:8001", "http://localhost:8080"])
def test_it_accepts_plain_http_to_localhost(server: str) -> None:
    assert parse_kubeconfig(kubeconfig(cluster={"server": server})).server == server


def test_it_reads_inline_client_certificates() -> None:
    user = {"client-certificate-data": CERT_DATA, "client-key-data": KEY_DATA.decode()}
    credentials = parse_kubeconfig(kubeconfig(user=user))

    assert credentials.token is None
    assert credentials.client_key_pem is not None
    assert b"PRIVATE KEY" in credentials.client_key_pem


def test_it_requires_the_key_with_the_certificate() -> None:
    assert "both client-certificate-data and client-key-data" in refusal(
        user={"client-certificate-data": CERT_DATA}
    )


def test_it_rejects_a_user_without_a_usable_credential() -> None:
    assert "has no usable credential" in refusal(user={})


def test_it_rejects_basic_auth_which_kubernetes_removed() -> None:
    message = refusal(user={"username": "admin", "password": "hunter2"})
    assert "basic authentication" in message
    assert "hunter2" not in message


def test_it_rejects_certificate_data_that_is_not_base64() -> None:
    message = refusal(
        cluster={"server": "https://x.example.com", "certificate-authority-data": "%%"}
    )
    assert "certificate-authority-data` is not valid base64" in message


def test_it_keeps_tls_settings() -> None:
    cluster = {
        "server": "https://10.0.0.1",
        "insecure-skip-tls-verify": True,
        "tls-server-name": "kubernetes.default",
    }
    credentials = parse_kubeconfig(kubeconfig(cluster=cluster))

    assert credentials.insecure_skip_tls_verify is True
    assert credentials.tls_server_name == "kubernetes.default"


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ({"exec": {"command": "aws", "args": ["eks", "get-token"]}}, "exec"),
        ({"auth-provider": {"name": "gcp"}}, "auth-provider"),
        ({"tokenFile": "/var/run/token"}, "tokenFile"),
        ({"client-certificate": "/home/me/cert.pem", "client-key-data": "x"}, "client-certificate"),
        ({"token": "t", "client-key": "/home/me/key.pem"}, "client-key"),
        ({"token": "t", "password-file": "/etc/passwd"}, "password-file"),
    ],
)
def test_it_refuses_users_that_run_commands_or_read_files(user: dict[str, Any], key: str) -> None:
    message = refusal(user=user)

    assert NEVER in message
    assert f"`{key}`" in message


@pytest.mark.parametrize("key", ["certificate-authority", "ca-file", "someFile"])
def test_it_refuses_clusters_that_read_files(key: str) -> None:
    message = refusal(cluster={"server": "https://prod.example.com", key: "/etc/ca.pem"})

    assert NEVER in message
    assert f"`{key}`" in message


def test_it_explains_exec_is_unsupported_even_when_allowed() -> None:
    message = refusal(user={"exec": {"command": "gke-gcloud-auth-plugin"}}, allow_exec=True)

    assert "does not run credential plugins or read files" in message
    assert "`exec`" in message


def test_it_ignores_plugins_of_contexts_it_does_not_use() -> None:
    other_user = {"name": "eks-admin", "user": {"exec": {"command": "aws"}}}
    other_context = {"name": "eks", "context": {"cluster": "staging-cluster", "user": "eks-admin"}}
    text = kubeconfig(extra_users=[other_user], extra_contexts=[other_context])

    assert parse_kubeconfig(text).token == "prod-token"
    with pytest.raises(KubeconfigError, match=NEVER):
        parse_kubeconfig(text, context="eks")


def test_it_round_trips_credentials_through_json() -> None:
    credentials = parse_kubeconfig(kubeconfig())

    assert Credentials.from_json(credentials.to_json()) == credentials


def test_it_rejects_stored_json_with_unknown_fields() -> None:
    with pytest.raises(KubeconfigError, match="unknown fields: password"):
        Credentials.from_json(b'{"server": "https://x", "password": "p"}')


def test_it_keeps_secrets_out_of_repr() -> None:
    user = {"client-certificate-data": CERT_DATA, "client-key-data": KEY_DATA.decode()}
    text = repr(parse_kubeconfig(kubeconfig(user=user)))
    assert KEY_DATA.decode() not in text
    assert "prod-token" not in repr(parse_kubeconfig(kubeconfig()))


def test_it_reads_the_pods_own_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    credentials = in_cluster_credentials(tmp_path, env)

    assert credentials.server == "https://10.96.0.1:443"
    assert credentials.token == "sa-token"
    assert credentials.ca_pem == b"-----BEGIN CERTIFICATE-----\n"


def test_it_brackets_an_ipv6_service_address(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}

    assert in_cluster_credentials(tmp_path, env).server == "https://[fd00::1]:443"


def test_it_says_when_not_running_in_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="not running inside a Kubernetes pod"):
        in_cluster_credentials(tmp_path, {})
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(KubeconfigError, match="no service-account token"):
        in_cluster_credentials(tmp_path, env)

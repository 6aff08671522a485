"""Hostile kubeconfigs, built in code: what a careless or malicious upload looks like.

Each case is the file's bytes, a fragment the one-line refusal must contain, and the secrets it
must never echo. `parse` is False for cases only registration refuses (the server's address
policy needs settings and DNS; parsing is pure).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clusters.tests.pem import b64, certificate_pem, key_pem

TOKEN = "hostile-corpus-token-4f1c9a7e2b6d"
PASSWORD = "hunter2-in-the-url-9c3e"
CA = b64(certificate_pem("hostile-ca"))
CERT = b64(certificate_pem("hostile-reader"))
KEY = b64(key_pem("hostile-reader"))
# Looks like a certificate to a `b"CERTIFICATE" in pem` test; is not one.
FAKE_PEM = b64(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    refusal: str
    secrets: tuple[str, ...] = (TOKEN,)
    parse: bool = True  # refused by parse_kubeconfig itself, not only by registration

    @property
    def text(self) -> str | None:
        """The case as pasted text, when it can be pasted (valid UTF-8 without NUL)."""
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        pasteable = text.strip() and "\x00" not in text
        return text if pasteable and not self.data.startswith(codecs.BOM_UTF8) else None


def kubeconfig(
    *,
    server: str = '"https://kube.example.com:6443"',
    cluster_extra: str = "",
    user: str | None = None,
    current: str = "prod",
    contexts: str | None = None,
    clusters: str | None = None,
    users: str | None = None,
    head: str = "",
) -> str:
    """A kubeconfig as YAML text, so any byte of it can be made hostile."""
    user = user if user is not None else f"    token: {TOKEN}\n"
    clusters = (
        clusters
        if clusters is not None
        else (f"- name: prod\n  cluster:\n    server: {server}\n{cluster_extra}")
    )
    users = users if users is not None else f"- name: reader\n  user:\n{user}"
    contexts = (
        contexts
        if contexts is not None
        else ("- name: prod\n  context:\n    cluster: prod\n    user: reader\n")
    )
    return (
        f"{head}apiVersion: v1\nkind: Config\ncurrent-context: {current}\n"
        f"clusters:\n{clusters}users:\n{users}contexts:\n{contexts}"
    )


def _case(id: str, text: str, refusal: str, **options: object) -> Case:
    return Case(id, text.encode("utf-8"), refusal, **options)  # type: ignore[arg-type]


def _laughs(levels: int = 9, width: int = 9) -> str:
    """A billion-laughs anchor chain: `l8` stands for width**levels strings."""
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _encrypted_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    return b64(pem)


def _user_with(field: str) -> str:
    return f"    {field}\n"


def _pem_user(cert: str, key: str) -> str:
    return f"    client-certificate-data: {cert}\n    client-key-data: {key}\n"


def cases() -> list[Case]:
    valid = kubeconfig()
    utf16 = valid.encode("utf-16")  # with a BOM
    deep_list = "[" * 10_000 + "]" * 10_000
    deep_map = "".join(f"{'  ' * depth}a{depth}:\n" for depth in range(60)) + "  " * 60 + "x\n"
    many_aliases = 'anchor: &a "x"\nrefs: [' + ", ".join(["*a"] * 150) + "]\n"
    no_url = "user name or password"
    return [
        # Encodings and sizes
        Case("latin-1", valid.replace("prod", "pr\u00e9d").encode("latin-1"), "not UTF-8"),
        Case("utf-16-le-bom", utf16, "UTF-16"),
        Case("utf-16-be-bom", codecs.BOM_UTF16_BE + valid.encode("utf-16-be"), "UTF-16"),
        Case("utf-32-bom", valid.encode("utf-32"), "UTF-32"),
        Case("utf-16-without-bom", valid.encode("utf-16-le"), "NUL"),
        Case("binary", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not UTF-8"),
        Case("oversized", (valid + "#" * 600_000 + "\n").encode(), "larger than 524,288"),
        Case("empty", b"", "empty"),
        # YAML structure
        _case("deeply-nested-list", f"clusters: {deep_list}\n", "nested more than 20 levels"),
        _case("deeply-nested-mapping", deep_map, "nested more than 20 levels"),
        _case(
            "alias-bomb-in-current-context",
            _laughs() + valid.replace("current-context: prod", "current-context: *l8"),
            "aliases",
        ),
        _case(
            "alias-bomb-in-a-context-name",
            _laughs() + valid.replace("- name: prod\n  context:", "- name: *l8\n  context:"),
            "aliases",
        ),
        _case("small-alias-bomb", _laughs(6, 9) + valid, "expands to more than"),
        _case("too-many-aliases", many_aliases + valid, "more than 100 aliases"),
        _case("recursive-alias", "loop: &loop [*loop]\n" + valid, "contains itself"),
        _case("duplicate-top-level-key", valid + "users: []\n", "twice in one mapping"),
        _case(
            "duplicate-token-key",
            kubeconfig(user=f"    token: {TOKEN}\n    token: other-token-value\n"),
            "twice in one mapping",
        ),
        _case(
            "duplicate-context-names",
            kubeconfig(
                contexts="- name: prod\n  context: {cluster: prod, user: reader}\n"
                "- name: prod\n  context: {cluster: prod, user: reader}\n"
            ),
            "defines 'prod' twice",
        ),
        _case(
            "duplicate-cluster-names",
            kubeconfig(
                clusters='- name: prod\n  cluster: {server: "https://a.example.com"}\n'
                '- name: prod\n  cluster: {server: "https://b.example.com"}\n'
            ),
            "defines 'prod' twice",
        ),
        _case(
            "duplicate-user-names",
            kubeconfig(
                users=f"- name: reader\n  user: {{token: {TOKEN}}}\n"
                "- name: reader\n  user: {token: second-token-value}\n"
            ),
            "defines 'reader' twice",
        ),
        _case("integer-key", kubeconfig(cluster_extra="    1: one\n"), "key that is not a string"),
        _case("complex-key", "? [a, b]\n: c\n" + valid, "key that is not a string"),
        _case("two-documents", valid + "---\n" + valid, "not valid YAML"),
        _case("unclosed-flow", "clusters: [unclosed\n", "not valid YAML"),
        _case(
            "undefined-alias-quoting-the-token",
            kubeconfig(user=f"    token: *{TOKEN}\n"),
            "not valid YAML",
        ),
        _case(
            "unknown-tag-quoting-the-token",
            kubeconfig(user=f"    token: !{TOKEN} x\n"),
            "not valid YAML",
        ),
        _case("top-level-list", "- clusters\n- users\n", "not a YAML mapping"),
        # Field types
        _case(
            "current-context-a-list",
            valid.replace("current-context: prod", "current-context: [a, b]"),
            "`current-context` must be a string",
        ),
        _case(
            "contexts-a-mapping",
            kubeconfig(contexts="  prod: {cluster: prod}\n"),
            "`contexts` must be a list",
        ),
        _case(
            "context-name-a-number",
            kubeconfig(contexts="- name: 42\n  context: {cluster: prod, user: reader}\n"),
            "must be a string",
        ),
        _case(
            "context-name-300-characters",
            kubeconfig(
                contexts=f"- name: {'c' * 300}\n  context: {{cluster: prod, user: reader}}\n"
            ),
            "at most 200",
        ),
        _case(
            "context-name-with-a-newline",
            kubeconfig(
                contexts='- name: "prod\\nevil"\n  context: {cluster: prod, user: reader}\n'
            ),
            "line break or control character",
        ),
        _case(
            "server-a-list",
            kubeconfig(server="[https://a, https://b]"),
            "`server` must be a string",
        ),
        _case(
            "token-a-number",
            kubeconfig(user="    token: 12345678901234\n"),
            "`token` must be a string",
        ),
        _case(
            "token-binary",
            kubeconfig(user="    token: !!binary aGVsbG8=\n"),
            "`token` must be a string",
        ),
        _case(
            "skip-verify-a-string",
            kubeconfig(cluster_extra='    insecure-skip-tls-verify: "yes"\n'),
            "must be true or false",
        ),
        _case(
            "user-a-list",
            kubeconfig(users="- name: reader\n  user: [token]\n"),
            "must be a mapping",
        ),
        _case("cluster-entry-a-string", kubeconfig(clusters="- prod\n"), "needs a name"),
        _case("exec-a-string", kubeconfig(user="    exec: gcloud\n"), "`exec` must be a mapping"),
        # Tokens
        _case("token-with-nul", kubeconfig(user=f'    token: "{TOKEN}\\0x"\n'), "NUL character"),
        _case(
            "token-with-lf",
            kubeconfig(user=f'    token: "{TOKEN}\\nX-Injected: 1"\n'),
            "line break",
        ),
        _case(
            "token-with-crlf",
            kubeconfig(user=f'    token: "{TOKEN}\\r\\nX-Injected: 1"\n'),
            "line break",
        ),
        _case(
            "token-two-line-literal",
            kubeconfig(user=f"    token: |\n      {TOKEN[:16]}\n      {TOKEN[16:]}\n"),
            "line break",
            secrets=(TOKEN[:16], TOKEN[16:]),
        ),
        _case(
            "token-one-line-literal",
            kubeconfig(user=f"    token: |\n      {TOKEN}\n"),
            "line break",
        ),
        _case(
            "token-with-tab", kubeconfig(user=f'    token: "{TOKEN}\\tx"\n'), "control character"
        ),
        _case(
            "token-with-del", kubeconfig(user=f'    token: "{TOKEN}\\x7f"\n'), "control character"
        ),
        _case("token-with-space", kubeconfig(user=f'    token: "{TOKEN} x"\n'), "contains a space"),
        _case("token-not-ascii", kubeconfig(user=f'    token: "{TOKEN}\u00e9"\n'), "outside ASCII"),
        _case(
            "token-20k",
            kubeconfig(user=f"    token: {'t' * 20_000}\n"),
            "at most 16,384",
            secrets=("t" * 20_000,),
        ),
        # Server URLs
        _case(
            "server-with-crlf",
            kubeconfig(server='"https://kube.example.com\\r\\nX-Injected: 1"'),
            "line break or control character",
        ),
        _case(
            "server-with-tab",
            kubeconfig(server='"https://kube\\t.example.com"'),
            "line break or control character",
        ),
        _case("server-with-a-space", kubeconfig(server='" https://kube.example.com"'), "space"),
        _case("port-99999", kubeconfig(server="https://kube.example.com:99999"), "from 1 to 65535"),
        _case("port-0", kubeconfig(server="https://kube.example.com:0"), "from 1 to 65535"),
        _case(
            "port-not-a-number",
            kubeconfig(server="https://kube.example.com:https"),
            "from 1 to 65535",
        ),
        _case("port-empty", kubeconfig(server='"https://kube.example.com:"'), "from 1 to 65535"),
        _case(
            "userinfo-user-and-password",
            kubeconfig(server=f"https://admin:{PASSWORD}@kube.example.com"),
            no_url,
            secrets=(TOKEN, PASSWORD),
        ),
        _case(
            "userinfo-token-as-user",
            kubeconfig(server=f"https://{PASSWORD}@kube.example.com"),
            no_url,
            secrets=(TOKEN, PASSWORD),
        ),
        _case("scheme-ftp", kubeconfig(server="ftp://kube.example.com"), "must be an https://"),
        _case("plain-http-remote", kubeconfig(server="http://kube.example.com"), "must use https"),
        _case("query-string", kubeconfig(server="https://kube.example.com/?token=x"), "?query"),
        _case(
            "server-400-characters",
            kubeconfig(server="https://" + "k" * 400 + ".example.com"),
            "longer than 300",
        ),
        _case("unbalanced-ipv6", kubeconfig(server='"https://[fd00::1"'), "not a valid URL"),
        _case("host-not-ascii", kubeconfig(server="https://k\u00fcbe.example.com"), "ASCII"),
        _case("no-host", kubeconfig(server="https://:6443"), "not a URL"),
        _case(
            "host-with-underscore-and-bang",
            kubeconfig(server='"https://kube!.example.com"'),
            "not a valid name",
        ),
        # TLS material
        _case(
            "skip-verify-with-a-ca",
            kubeconfig(
                cluster_extra="    insecure-skip-tls-verify: true\n"
                f"    certificate-authority-data: {CA}\n"
            ),
            "kubectl refuses this too",
        ),
        _case(
            "ca-that-is-a-key",
            kubeconfig(cluster_extra=f"    certificate-authority-data: {KEY}\n"),
            "does not decode to a PEM certificate",
            secrets=(TOKEN, KEY),
        ),
        _case(
            "ca-that-is-text",
            kubeconfig(
                cluster_extra=f"    certificate-authority-data: {b64(b'not a certificate')}\n"
            ),
            "does not decode to a PEM certificate",
        ),
        _case(
            "ca-fake-pem",
            kubeconfig(cluster_extra=f"    certificate-authority-data: {FAKE_PEM}\n"),
            "does not decode to a PEM certificate",
        ),
        _case(
            "ca-not-base64",
            kubeconfig(cluster_extra="    certificate-authority-data: '%%%'\n"),
            "not valid base64",
        ),
        _case(
            "key-that-is-a-certificate",
            kubeconfig(user=_pem_user(CERT, CERT)),
            "does not decode to a PEM private key",
            secrets=(CERT,),
        ),
        _case(
            "key-encrypted",
            kubeconfig(user=_pem_user(CERT, _encrypted_key())),
            "encrypted key",
            secrets=(),
        ),
        _case(
            "key-of-another-certificate",
            kubeconfig(user=_pem_user(CERT, b64(key_pem("someone-else")))),
            "is not the key of",
            secrets=(KEY,),
        ),
        _case(
            "certificate-that-is-a-key",
            kubeconfig(user=_pem_user(KEY, KEY)),
            "does not decode to a PEM certificate",
            secrets=(KEY,),
        ),
        _case(
            "tls-server-name-with-a-space",
            kubeconfig(cluster_extra="    tls-server-name: 'kube example'\n"),
            "not a host name",
        ),
        # Plugins and files (refused before, kept in the corpus)
        _case(
            "exec-plugin",
            kubeconfig(user="    exec: {command: /bin/sh, args: ['-c', 'id']}\n"),
            "runs a command",
            secrets=(),
        ),
        _case(
            "token-file",
            kubeconfig(user="    tokenFile: /etc/shadow\n"),
            "reads a file",
            secrets=(),
        ),
        *address_cases(),
    ]


# The metadata address in every spelling the C library accepts, and its neighbours.
METADATA_SPELLINGS = {
    "dotted": "169.254.169.254",
    "decimal": "2852039166",
    "hex": "0xa9fea9fe",
    "octal": "0251.0376.0251.0376",
    "mixed-two-parts": "169.254.43518",
    "hex-octets": "0xa9.0xfe.0xa9.0xfe",
    "ipv4-mapped": "[::ffff:169.254.169.254]",
    "ipv4-mapped-hex": "[::ffff:a9fe:a9fe]",
    "nat64": "[64:ff9b::a9fe:a9fe]",
    "6to4": "[2002:a9fe:a9fe::1]",
    "aws-ipv6": "[fd00:ec2::254]",
    "gcp-name": "metadata.google.internal",
    "gcp-name-trailing-dot": "metadata.google.internal.",
    "gcp-short-name": "metadata",
    "gcp-name-uppercase": "METADATA.Google.Internal",
    "alibaba": "100.100.100.200",
}
OTHER_REFUSED = {
    "unspecified": ("0.0.0.0", "unspecified"),  # noqa: S104
    "unspecified-short": ("0", "unspecified"),
    "unspecified-ipv6": ("[::]", "unspecified"),
    "multicast": ("224.0.0.1", "multicast"),
    "multicast-ipv6": ("[ff02::1]", "multicast"),
    "broadcast": ("255.255.255.255", "broadcast"),
    "link-local": ("169.254.10.20", "link-local"),
    "link-local-ipv6": ("[fe80::1]", "link-local"),
    "reserved": ("240.0.0.1", "reserved"),
}


def address_cases() -> list[Case]:
    built = [
        _case(
            f"metadata-{name}",
            kubeconfig(server=f'"https://{host}:443"'),
            "metadata",
            parse=False,
        )
        for name, host in METADATA_SPELLINGS.items()
    ]
    built += [
        _case(f"address-{name}", kubeconfig(server=f'"https://{host}:6443"'), word, parse=False)
        for name, (host, word) in OTHER_REFUSED.items()
    ]
    return built

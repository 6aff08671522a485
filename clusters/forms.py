"""Forms of the clusters app: registration, bundle uploads and the fleet's filters."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile

from clusters.kubeconfig import MAX_KUBECONFIG_BYTES, KubeconfigError, decode_kubeconfig
from clusters.models import Cluster, CollectionRun, ProviderKind, ProviderLink
from clusters.provider_links import LinkRequest

BUNDLE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value: a re-rendered form must not echo credentials."""

    def format_value(self, value: Any) -> None:
        return None


class ClusterRegisterForm(forms.Form):
    name = forms.SlugField(
        max_length=100,
        help_text="Lowercase letters, digits and dashes; it appears in URLs and reports.",
    )
    environment = forms.CharField(
        max_length=40, required=False, help_text="For example production, staging or dev."
    )
    description = forms.CharField(max_length=300, required=False)
    owners = forms.CharField(
        required=False,
        help_text="Comma-separated email addresses; they receive this cluster's regressions.",
    )
    source_kind = forms.ChoiceField(
        label="Source",
        choices=Cluster.SourceKind.choices,
        initial=Cluster.SourceKind.KUBECONFIG,
        widget=forms.RadioSelect,
    )
    kubeconfig = forms.CharField(
        label="Kubeconfig",
        required=False,
        widget=SecretTextarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste it here or choose a file below. It is stored encrypted and never "
        "shown again; exec and auth-provider plugins and file references are refused.",
    )
    kubeconfig_file = forms.FileField(label="Kubeconfig file", required=False)
    context = forms.CharField(
        max_length=200, required=False, help_text="Leave empty for the current-context."
    )
    bundle = forms.FileField(
        label="Evidence bundle",
        required=False,
        help_text="A .tar.gz or .zip of `kubectl get KIND -A -o json` outputs plus version.json.",
    )

    def clean_owners(self) -> list[str]:
        raw = self.cleaned_data.get("owners", "")
        return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("source_kind")
        if kind == Cluster.SourceKind.KUBECONFIG:
            upload = data.get("kubeconfig_file")
            if upload:
                data["kubeconfig"] = _read_kubeconfig(upload)
            if not data.get("kubeconfig"):
                self.add_error("kubeconfig", "Paste a kubeconfig or choose a kubeconfig file.")
        elif kind == Cluster.SourceKind.BUNDLE:
            bundle = data.get("bundle")
            if not bundle:
                self.add_error("bundle", "Choose an evidence bundle (.tar.gz or .zip).")
            elif not _is_bundle_name(bundle.name):
                self.add_error("bundle", "The evidence bundle must be a .tar.gz or .zip file.")
        return data


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(label="Evidence bundle")

    def clean_bundle(self) -> UploadedFile:
        bundle = self.cleaned_data["bundle"]
        if not _is_bundle_name(bundle.name):
            raise forms.ValidationError("The evidence bundle must be a .tar.gz or .zip file.")
        return bundle


class ProviderLinkForm(forms.Form):
    """A cluster's provider link. Keys are write-only: the form never renders one back."""

    kind = forms.ChoiceField(
        label="Provider", choices=ProviderKind.choices, widget=forms.RadioSelect
    )
    project = forms.CharField(
        label="GKE project", max_length=100, required=False, help_text="The project id (GKE only)."
    )
    location = forms.CharField(
        max_length=100, help_text="GKE: the region or zone; EKS: the region (eu-west-1)."
    )
    name = forms.CharField(label="Cluster name at the provider", max_length=100)
    credentials_kind = forms.ChoiceField(
        label="Credentials",
        choices=ProviderLink.Credentials.choices,
        initial=ProviderLink.Credentials.AMBIENT,
        widget=forms.RadioSelect,
    )
    key_json = forms.CharField(
        label="Google service-account key (JSON)",
        required=False,
        widget=SecretTextarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        help_text="GKE: a key of a service account holding Kubernetes Engine Cluster Viewer. "
        "Stored encrypted and never shown again; leave empty to keep the stored key.",
    )
    key_file = forms.FileField(label="…or the key file", required=False)
    access_key_id = forms.CharField(label="AWS access key id", max_length=128, required=False)
    secret_access_key = forms.CharField(
        label="AWS secret access key",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="EKS: a key allowed eks:DescribeCluster, ListNodegroups and DescribeNodegroup. "
        "Stored encrypted and never shown again; leave empty to keep the stored key.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("key_file")
        if upload:
            if (upload.size or 0) > MAX_KUBECONFIG_BYTES:
                self.add_error("key_file", "This file is too large to be a service-account key.")
            else:
                try:
                    data["key_json"] = upload.read().decode("utf-8")
                except UnicodeDecodeError:
                    self.add_error("key_file", "This file is not a JSON key (UTF-8).")
        if data.get("kind") == ProviderKind.GKE and not data.get("project"):
            self.add_error("project", "A GKE link needs the project id.")
        return data

    def link_request(self) -> LinkRequest:
        data = self.cleaned_data
        return LinkRequest(
            kind=data["kind"],
            project=data.get("project", "").strip(),
            location=data["location"].strip(),
            name=data["name"].strip(),
            credentials_kind=data["credentials_kind"],
            key_json=data.get("key_json") or "",
            access_key_id=data.get("access_key_id", "").strip(),
            secret_access_key=data.get("secret_access_key") or "",
        )


class ProviderDocumentForm(forms.Form):
    kind = forms.ChoiceField(label="Provider", choices=ProviderKind.choices)
    document = forms.FileField(
        label="Provider JSON",
        help_text="GKE: `gcloud container clusters describe NAME --format=json`; EKS: "
        "`aws eks describe-cluster` with a `nodegroups` list of `describe-nodegroup` outputs.",
    )

    def clean_document(self) -> UploadedFile:
        document = self.cleaned_data["document"]
        if not (document.name or "").lower().endswith(".json"):
            raise forms.ValidationError("The provider description must be a .json file.")
        return document


class NodeBenchmarkForm(forms.Form):
    results = forms.FileField(
        label="kube-bench results",
        help_text="What `kube-bench run --json` printed on one node (.json).",
    )
    node = forms.CharField(
        label="Node",
        required=False,
        max_length=253,
        help_text="The node it ran on; empty: the file's name without .json.",
    )

    def clean_results(self) -> UploadedFile:
        results = self.cleaned_data["results"]
        if not (results.name or "").lower().endswith(".json"):
            raise forms.ValidationError("kube-bench results must be a .json file.")
        return results


def _is_bundle_name(name: str | None) -> bool:
    return (name or "").lower().endswith(BUNDLE_SUFFIXES)


def _read_kubeconfig(upload: UploadedFile) -> str:
    # The same limit and decoding as `register_cluster --kubeconfig`: read one byte past the
    # limit at most, so a huge file is refused without being read.
    try:
        return decode_kubeconfig(upload.read(MAX_KUBECONFIG_BYTES + 1))
    except KubeconfigError as exc:
        raise forms.ValidationError({"kubeconfig_file": str(exc)}) from None


NEVER_COLLECTED = "never"
SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "score": ("latest_evaluation__score", "name"),
    "-score": ("-latest_evaluation__score", "name"),
}


class FleetFilterForm(forms.Form):
    """GET filters of the fleet page; invalid values are dropped rather than shown as errors."""

    q = forms.CharField(label="Name", required=False, max_length=100)
    environment = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        label="Latest run",
        required=False,
        choices=[("", "Any"), *CollectionRun.Status.choices, (NEVER_COLLECTED, "Never collected")],
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("name", "Name, A to Z"),
            ("-name", "Name, Z to A"),
            ("score", "Score, lowest first"),
            ("-score", "Score, highest first"),
        ],
    )

    def __init__(self, *args: Any, environments: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["environment"])
        field.choices = [("", "Any")] + [(e, e) for e in environments]

    def filters(self) -> dict[str, str]:
        """The valid filters as strings; an absent or invalid one is ''."""
        self.is_valid()
        return {name: str(self.cleaned_data.get(name) or "") for name in self.fields}

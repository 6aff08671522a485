#!/usr/bin/env bash
# Collect a Rampart evidence bundle from a cluster with kubectl and read-only rights.
#
# Writes one `kubectl get <resource> -o json` file per resource Rampart reads, plus
# version.json (GET /version), optionally gke-cluster.json, and collection-errors.txt listing
# what could not be listed; then packs it as <context>-<date>.tar.gz for upload into Rampart.
# It talks only to the API server through kubectl (and to the GKE API through gcloud when
# GKE_CLUSTER and GKE_LOCATION are set); it never reads Secrets or ConfigMaps.
#
# The read-only ClusterRole it needs: deploy/kubernetes/rampart-reader-rbac.yaml.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: collect-bundle.sh [-c CONTEXT] [-o OUTPUT_DIR] [-k]

Collect a Rampart evidence bundle from the cluster of a kubectl context.

  -c CONTEXT     kubectl context to use (default: the current context)
  -o OUTPUT_DIR  where to write <context>-<date>.tar.gz (default: the current directory)
  -k             keep the uncompressed bundle directory next to the archive
  -h             show this help

Environment:
  KUBECTL        kubectl binary (default: kubectl)
  GKE_CLUSTER, GKE_LOCATION [, GKE_PROJECT]
                 also save `gcloud container clusters describe` as gke-cluster.json
  REQUEST_TIMEOUT  per-request timeout passed to kubectl (default: 120s)

Resources the credentials may not list, or that the cluster does not serve, are skipped and
recorded in collection-errors.txt; Rampart reports the checks that need them as unknown.
Add-ons (Trivy Operator, Cilium, Calico) are listed only when the cluster's API discovery
serves their group; otherwise they are recorded as not served without asking.
EOF
}

KUBECTL=${KUBECTL:-kubectl}
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-120s}
context=""
output_dir="."
keep=0
while getopts ":c:o:kh" option; do
    case "$option" in
        c) context=$OPTARG ;;
        o) output_dir=$OPTARG ;;
        k) keep=1 ;;
        h) usage; exit 0 ;;
        :) echo "collect-bundle.sh: -$OPTARG needs a value" >&2; usage >&2; exit 2 ;;
        *) echo "collect-bundle.sh: unknown option -$OPTARG" >&2; usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ "$#" -gt 0 ]; then
    echo "collect-bundle.sh: unexpected argument: $1" >&2
    usage >&2
    exit 2
fi

command -v "$KUBECTL" >/dev/null 2>&1 || { echo "collect-bundle.sh: $KUBECTL not found" >&2; exit 1; }
if [ -z "$context" ]; then
    context=$("$KUBECTL" config current-context 2>/dev/null) || {
        echo "collect-bundle.sh: no current kubectl context; pass -c CONTEXT" >&2
        exit 1
    }
fi
kube() {
    "$KUBECTL" --context "$context" --request-timeout "$REQUEST_TIMEOUT" "$@"
}

# The resources Rampart reads: keep in step with RESOURCES in clusters/resources.py.
# Each line: <file name (resource key)> <resource.group for kubectl> <namespaced|cluster>
# [<group/version> of an add-on, listed only when API discovery serves it]
RESOURCES="
namespaces namespaces cluster
nodes nodes cluster
pods pods namespaced
services services namespaced
serviceaccounts serviceaccounts namespaced
deployments deployments.apps namespaced
statefulsets statefulsets.apps namespaced
daemonsets daemonsets.apps namespaced
replicasets replicasets.apps namespaced
jobs jobs.batch namespaced
cronjobs cronjobs.batch namespaced
networkpolicies networkpolicies.networking.k8s.io namespaced
ingresses ingresses.networking.k8s.io namespaced
roles roles.rbac.authorization.k8s.io namespaced
clusterroles clusterroles.rbac.authorization.k8s.io cluster
rolebindings rolebindings.rbac.authorization.k8s.io namespaced
clusterrolebindings clusterrolebindings.rbac.authorization.k8s.io cluster
validatingwebhookconfigurations validatingwebhookconfigurations.admissionregistration.k8s.io cluster
mutatingwebhookconfigurations mutatingwebhookconfigurations.admissionregistration.k8s.io cluster
validatingadmissionpolicies validatingadmissionpolicies.v1.admissionregistration.k8s.io cluster
validatingadmissionpolicybindings validatingadmissionpolicybindings.v1.admissionregistration.k8s.io cluster
runtimeclasses runtimeclasses.node.k8s.io cluster
customresourcedefinitions customresourcedefinitions.apiextensions.k8s.io cluster
vulnerabilityreports vulnerabilityreports.aquasecurity.github.io namespaced aquasecurity.github.io/v1alpha1
ciliumnetworkpolicies.cilium.io ciliumnetworkpolicies.cilium.io namespaced cilium.io/v2
ciliumclusterwidenetworkpolicies.cilium.io ciliumclusterwidenetworkpolicies.cilium.io cluster cilium.io/v2
networkpolicies.crd.projectcalico.org networkpolicies.crd.projectcalico.org namespaced crd.projectcalico.org/v1
globalnetworkpolicies.crd.projectcalico.org globalnetworkpolicies.crd.projectcalico.org cluster crd.projectcalico.org/v1
networkpolicies.projectcalico.org networkpolicies.projectcalico.org namespaced projectcalico.org/v3
globalnetworkpolicies.projectcalico.org globalnetworkpolicies.projectcalico.org cluster projectcalico.org/v3
"

safe_context=$(printf '%s' "$context" | tr -c 'A-Za-z0-9._-' '_')
stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="${safe_context}-${stamp}"
mkdir -p "$output_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/rampart-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
bundle="$work/$name"
mkdir "$bundle"
errors="$bundle/collection-errors.txt"
: >"$errors"

# Record a resource that could not be collected: key, forbidden|not_served|error, message.
record_error() {
    local key=$1 stderr_file=$2 status
    if grep -qiE 'forbidden|unauthorized' "$stderr_file"; then
        status=forbidden
    elif grep -qiE "doesn't have a resource type|the server could not find the requested resource|no matches for kind" "$stderr_file"; then
        status=not_served
    else
        status=error
    fi
    printf '%s\t%s\t%s\n' "$key" "$status" "$(tr '\n\t' '  ' <"$stderr_file" | sed 's/ *$//')" >>"$errors"
    echo "  $key: $status" >&2
}

echo "Collecting from context '$context' into $name" >&2
if kube get --raw /version >"$bundle/version.json" 2>"$work/stderr"; then
    echo "  version: $(grep -o '"gitVersion": *"[^"]*"' "$bundle/version.json" | head -n1)" >&2
else
    rm -f "$bundle/version.json"
    record_error version "$work/stderr"
fi

# The groups the cluster serves (GET /apis), compacted; empty when discovery cannot be read,
# and then every add-on is tried and a "doesn't have a resource type" error says not served.
discovery=$(kube get --raw /apis 2>/dev/null | tr -d ' \n\t' || true)

echo "$RESOURCES" | while read -r key resource scope addon; do
    [ -n "$key" ] || continue
    if [ -n "$addon" ] && [ -n "$discovery" ] &&
        ! printf '%s' "$discovery" | grep -Fq "\"groupVersion\":\"$addon\""; then
        printf '%s\tnot_served\t%s\n' "$key" "$addon is not served by this cluster (API discovery)" >>"$errors"
        echo "  $key: not_served" >&2
        continue
    fi
    scope_args=()
    [ "$scope" = namespaced ] && scope_args=(--all-namespaces)
    # --chunk-size pages through large lists (kubectl's default is 500 per request).
    # ${a[@]+"${a[@]}"}: an empty array under `set -u` on bash 3.2 (macOS).
    if kube get "$resource" ${scope_args[@]+"${scope_args[@]}"} --chunk-size=500 -o json \
        >"$work/$key.json" 2>"$work/stderr"; then
        mv "$work/$key.json" "$bundle/$key.json"
        echo "  $key: ok" >&2
    else
        rm -f "$work/$key.json"
        record_error "$key" "$work/stderr"
    fi
done

if [ -n "${GKE_CLUSTER:-}" ] && [ -n "${GKE_LOCATION:-}" ]; then
    if command -v gcloud >/dev/null 2>&1; then
        project_args=()
        [ -n "${GKE_PROJECT:-}" ] && project_args=(--project "$GKE_PROJECT")
        if gcloud container clusters describe "$GKE_CLUSTER" --location "$GKE_LOCATION" \
            ${project_args[@]+"${project_args[@]}"} --format=json >"$bundle/gke-cluster.json" 2>"$work/stderr"; then
            echo "  gke-cluster: ok" >&2
        else
            rm -f "$bundle/gke-cluster.json"
            record_error gke-cluster "$work/stderr"
        fi
    else
        echo "  gke-cluster: gcloud not found, skipped" >&2
        printf 'gke-cluster\terror\tgcloud not found\n' >>"$errors"
    fi
fi

[ -s "$errors" ] || rm -f "$errors"
archive="$output_dir/$name.tar.gz"
tar -C "$work" -czf "$archive" "$name"
if [ "$keep" -eq 1 ]; then
    cp -R "$bundle" "$output_dir/"
fi
echo "Wrote $archive" >&2
if [ -f "$errors" ]; then
    echo "Not collected (Rampart will report their checks as unknown):" >&2
    cut -f1,2 "$errors" | sed 's/^/  /' >&2
fi

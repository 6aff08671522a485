"""EKS provider checks: the cluster's endpoint, encryption, logs, access mode, version, nodes.

From `describe_cluster`'s `cluster` (REST names, camelCase, as boto3 and `aws eks
describe-cluster` return them) with its managed node groups; cited to the Amazon EKS Best
Practices Guide. Node groups are judged one by one and listed as `NodeGroup` objects. EKS's
own version calendar (`describe_cluster_versions`) judges support when it was read; without
it the upstream calendar does, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from clusters.inventory import JSON, Inventory
from clusters.providers import EKS_CLUSTER, provider_document, provider_entry
from posture.checks.base import Affected, Area, Check, CheckContext, Evaluate, Outcome, Severity
from posture.checks.base import check as base_check
from posture.checks.guides import EKS_BP
from posture.checks.provider_fields import ABSENT, at, details_summary, fact, observed
from posture.release_catalog import get_catalog
from posture.release_schema import SupportStatus
from posture.release_versions import parse_version

EKS_NEEDS = (EKS_CLUSTER.key,)
VPC = "resourcesVpcConfig"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
REQUIRED_LOGS = ("api", "audit", "authenticator")
# AL2 EKS-optimized AMIs reached end of support on 2025-11-26 (awslabs/amazon-eks-ami#2545).
AL2_END_OF_SUPPORT = "2025-11-26"

ENDPOINT_PRIVATE = EKS_BP(
    "Make the EKS Cluster Endpoint private", title="Identity and Access Management"
)
KMS_SECRETS = EKS_BP(
    "Use AWS KMS for envelope encryption of Kubernetes secrets", title="Data encryption"
)
AUDIT_LOGS = EKS_BP("Enable audit logs", title="Auditing and logging")
ACCESS_MANAGER = EKS_BP(
    "Cluster Access Manager (authentication mode API)", title="Identity and Access Management"
)
UP_TO_DATE = EKS_BP("Keep your cluster up-to-date", title="Cluster upgrades")
NODE_SKEW = EKS_BP(
    "Ensure managed node groups are on the same version as the control plane",
    title="Cluster upgrades",
)
CONTAINER_OS = EKS_BP(
    "Use an OS optimized for running containers", title="Protecting the infrastructure"
)
REPLACE_NODES = EKS_BP(
    "Treat your infrastructure as immutable and automate the replacement of your worker nodes",
    title="Protecting the infrastructure",
)


def eks_check(**fields: Any) -> Callable[[Evaluate], Check]:
    """`@check` for an EKS provider check: needs the EKS description, EKS clusters only."""
    return base_check(needs=EKS_NEEDS, distributions=("eks",), **fields)


def eks_cluster(inventory: Inventory) -> JSON:
    return provider_document(inventory, "eks")


def _failed(cluster: JSON, detail: str) -> Outcome:
    return Outcome.failed([Affected("Cluster", "", str(cluster.get("name") or ""), detail)], detail)


def _nodegroups(cluster: JSON) -> list[JSON]:
    return [group for group in cluster.get("nodegroups") or [] if isinstance(group, dict)]


def _group_name(group: JSON) -> str:
    return str(group.get("nodegroupName") or "")


def _judge_groups(
    cluster: JSON, judge: Callable[[JSON], str | None], *, passed: str, failed: str
) -> Outcome:
    groups = _nodegroups(cluster)
    if not groups:
        return Outcome.not_applicable(
            "no managed node groups (nodes from Fargate, Karpenter or self-managed groups are "
            "judged from the Kubernetes API)"
        )
    affected, judged, skipped = [], 0, []
    for group in groups:
        detail = judge(group)
        if detail is None:
            skipped.append(_group_name(group))
            continue
        judged += 1
        if detail:
            affected.append(Affected("NodeGroup", "", _group_name(group), detail))
    tail = f" ({len(skipped)} node groups not judged: {', '.join(skipped)})" if skipped else ""
    if affected:
        return Outcome.failed(
            affected, details_summary(failed, affected, judged, "node groups") + tail
        )
    if not judged:
        return Outcome.unknown(f"no node group could be judged{tail}")
    return Outcome.passed(passed + tail)


@eks_check(
    id="provider.eks_public_endpoint",
    title="The EKS API endpoint is public and open to any address",
    area=Area.NETWORK,
    severity=Severity.CRITICAL,
    rationale=(
        "By default the EKS API endpoint is public to 0.0.0.0/0: one leaked credential or an "
        "unauthenticated API bug is reachable from the whole internet."
    ),
    remediation=(
        "aws eks update-cluster-config --name NAME --resources-vpc-config "
        "endpointPublicAccess=false,endpointPrivateAccess=true (or publicAccessCidrs=CIDR,...)"
    ),
    references=(ENDPOINT_PRIVATE,),
)
def public_endpoint(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    public = at(cluster, f"{VPC}.endpointPublicAccess")
    if public is not True:
        return Outcome.passed(fact(f"{VPC}.endpointPublicAccess", public))
    cidrs = at(cluster, f"{VPC}.publicAccessCidrs")
    blocks = [str(block) for block in cidrs] if isinstance(cidrs, list) else []
    open_blocks = [block for block in blocks if block in OPEN_CIDRS]
    if not blocks or open_blocks:
        return _failed(
            cluster,
            f"{fact(f'{VPC}.endpointPublicAccess', True)} with "
            f"{observed(f'{VPC}.publicAccessCidrs', cidrs, 'specific CIDR blocks, not 0.0.0.0/0')}",
        )
    return Outcome.passed(
        f"public endpoint limited to {VPC}.publicAccessCidrs = {', '.join(blocks)}"
    )


@eks_check(
    id="provider.eks_private_endpoint",
    title="Private endpoint access is off",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "Without the private endpoint, kubelets and pods reach the API server over the "
        "internet through the public endpoint, whose CIDRs must then admit them."
    ),
    remediation=(
        "aws eks update-cluster-config --name NAME --resources-vpc-config "
        "endpointPrivateAccess=true"
    ),
    references=(ENDPOINT_PRIVATE,),
)
def private_endpoint(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    value = at(cluster, f"{VPC}.endpointPrivateAccess")
    if value is True:
        return Outcome.passed(fact(f"{VPC}.endpointPrivateAccess", value))
    return _failed(cluster, observed(f"{VPC}.endpointPrivateAccess", value, "true"))


@eks_check(
    id="provider.eks_secrets_encryption",
    title="Secrets are not envelope-encrypted with a KMS key",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "Envelope encryption wraps each Secret's data key with a KMS key you control: a copy "
        "of etcd does not yield the Secrets, and disabling the key revokes them."
    ),
    remediation=(
        "aws eks associate-encryption-config --cluster-name NAME --encryption-config "
        '\'[{"resources":["secrets"],"provider":{"keyArn":"arn:aws:kms:..."}}]\''
    ),
    references=(KMS_SECRETS,),
)
def secrets_encryption(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    configs = cluster.get("encryptionConfig")
    for config in configs if isinstance(configs, list) else []:
        key = at(config, "provider.keyArn")
        if "secrets" in (config.get("resources") or []) and isinstance(key, str) and key:
            return Outcome.passed(f"encryptionConfig[].resources includes secrets, keyArn {key}")
    return _failed(
        cluster,
        observed(
            "encryptionConfig",
            configs if configs is not None else ABSENT,
            'an entry with resources ["secrets"] and provider.keyArn',
        ),
    )


@eks_check(
    id="provider.eks_control_plane_logging",
    title="Control-plane audit, API or authenticator logs are not exported",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "EKS keeps control-plane logs only when their export to CloudWatch Logs is enabled: "
        "without the audit log nobody can tell who changed what, or who read which Secret."
    ),
    remediation=(
        "aws eks update-cluster-config --name NAME --logging "
        '\'{"clusterLogging":[{"types":["api","audit","authenticator"],"enabled":true}]}\''
    ),
    references=(AUDIT_LOGS,),
)
def control_plane_logging(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    enabled: set[str] = set()
    for setup in (
        at(cluster, "logging.clusterLogging")
        if isinstance(at(cluster, "logging.clusterLogging"), list)
        else []
    ):
        if isinstance(setup, dict) and setup.get("enabled") is True:
            enabled.update(str(kind) for kind in setup.get("types") or [])
    missing = [kind for kind in REQUIRED_LOGS if kind not in enabled]
    shown_enabled = ", ".join(sorted(enabled)) or "none"
    if missing:
        return _failed(
            cluster,
            f"logging.clusterLogging enables {shown_enabled}; missing {', '.join(missing)} "
            f"(expected at least {', '.join(REQUIRED_LOGS)})",
        )
    return Outcome.passed(f"logging.clusterLogging enables {shown_enabled}")


@eks_check(
    id="provider.eks_authentication_mode",
    title="Cluster access is still granted through the aws-auth ConfigMap",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "The aws-auth ConfigMap (deprecated) maps IAM principals to groups from inside the "
        "cluster: anyone who can edit it in kube-system grants themselves access, and a typo "
        "locks everyone out. Access entries (authentication mode API) keep the mapping in the "
        "EKS API, audited in CloudTrail."
    ),
    remediation=(
        "Create access entries for every aws-auth mapping, then aws eks update-cluster-config "
        "--name NAME --access-config authenticationMode=API (through API_AND_CONFIG_MAP)."
    ),
    references=(ACCESS_MANAGER,),
)
def authentication_mode(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    mode = at(cluster, "accessConfig.authenticationMode")
    if mode == "API":
        return Outcome.passed(
            fact("accessConfig.authenticationMode", mode) + ": access entries only"
        )
    meaning = {
        "API_AND_CONFIG_MAP": "access entries, and the aws-auth ConfigMap is still honoured",
        "CONFIG_MAP": "the aws-auth ConfigMap only",
    }.get(str(mode), "the aws-auth ConfigMap (clusters from before access entries)")
    return _failed(
        cluster, f"{observed('accessConfig.authenticationMode', mode, '"API"')}: {meaning}"
    )


def _version_entry(inventory: Inventory, version: str) -> JSON | None:
    """EKS's own record of this version (describe_cluster_versions), None when not read."""
    extra = (provider_entry(inventory, "eks") or {}).get("clusterVersions")
    rows = extra.get("clusterVersions") if isinstance(extra, dict) else extra
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and str(row.get("clusterVersion")) == version:
            return row
    return None


def _today(context: CheckContext) -> date:
    return context.today or date.today()


@eks_check(
    id="provider.eks_version_support",
    title="The EKS Kubernetes version is out of standard support",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "EKS supports a Kubernetes version for about 14 months, then charges for extended "
        "support for 12 more, then upgrades the cluster itself: outside standard support the "
        "clock to a forced upgrade is running, and fixes come only in extended support."
    ),
    remediation=(
        "aws eks update-cluster-version --name NAME --kubernetes-version NEXT (one minor at "
        "a time)."
    ),
    references=(UP_TO_DATE,),
)
def version_support(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    version = str(cluster.get("version") or "")
    support_type = at(cluster, "upgradePolicy.supportType")
    entry = _version_entry(inventory, version)
    if entry is not None:
        status = entry.get("versionStatus") or entry.get("status")
        standard_end = entry.get("endOfStandardSupportDate") or "unknown"
        extended_end = entry.get("endOfExtendedSupportDate") or "unknown"
        if status == "STANDARD_SUPPORT":
            return Outcome.passed(
                f"EKS {version}: versionStatus STANDARD_SUPPORT until {standard_end}"
            )
        detail = (
            f"EKS {version}: versionStatus {status} (standard support ended {standard_end}, "
            f"extended support ends {extended_end}); "
            + fact("upgradePolicy.supportType", support_type)
        )
        return _failed(cluster, detail)
    parsed = parse_version(version)
    if parsed is None:
        return Outcome.unknown(f"cannot read the EKS version {version!r}")
    catalog = get_catalog()
    status = catalog.minor_status(parsed.minor_key, _today(context))
    release = catalog.release(parsed.minor_key)
    note = "EKS's own dates were not read (eks:DescribeClusterVersions); upstream dates judged"
    if status == SupportStatus.UNKNOWN or release is None:
        return Outcome.unknown(
            f"Kubernetes {parsed.minor_key} is not in release catalog {catalog.version}; {note}"
        )
    if status == SupportStatus.EOL:
        return _failed(
            cluster,
            f"EKS {version}: upstream end of life on {release.eol}, so out of EKS standard "
            f"support or close to it; {fact('upgradePolicy.supportType', support_type)} ({note})",
        )
    return Outcome.passed(f"EKS {version}: upstream supported until {release.eol} ({note})")


@eks_check(
    id="provider.eks_nodegroup_ami",
    title="Managed node groups run an end-of-support AMI type",
    area=Area.PATCHING,
    severity=Severity.HIGH,
    rationale=(
        "EKS-optimized Amazon Linux 2 AMIs reached end of support on 2025-11-26: their node "
        "groups get no new kernel, runtime or kubelet fixes. AL2023 and Bottlerocket are the "
        "supported container-optimized images."
    ),
    remediation=(
        "Create replacement node groups with --ami-type AL2023_x86_64_STANDARD (or a "
        "BOTTLEROCKET_* type), move workloads, delete the AL2 groups."
    ),
    references=(CONTAINER_OS,),
)
def nodegroup_ami(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)

    def judge(group: JSON) -> str | None:
        ami = group.get("amiType")
        path = f"nodegroups[{_group_name(group)}].amiType"
        if ami == "CUSTOM" or not isinstance(ami, str):
            return None  # a custom launch-template AMI: its OS is not in the description
        if ami.startswith("AL2_"):
            return (
                f"{path} = {ami}: Amazon Linux 2 EKS AMIs reached end of support on "
                f"{AL2_END_OF_SUPPORT} (expected AL2023_* or BOTTLEROCKET_*)"
            )
        return ""

    return _judge_groups(
        cluster,
        judge,
        passed="every managed node group runs a supported AMI type",
        failed="End-of-support AMI type",
    )


def _release_key(release: str) -> tuple[Any, ...]:
    version = parse_version(release.split("-", 1)[0])
    suffix = release.split("-", 1)[1] if "-" in release else ""
    return (version.key if version else (), suffix)


@eks_check(
    id="provider.eks_nodegroup_versions",
    title="Managed node groups lag the control plane or the newest AMI release",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "A node group on an older Kubernetes version, or an older AMI release than its "
        "siblings, keeps the kubelet, kernel and runtime fixes of that release; the control "
        "plane cannot be upgraded past a one-minor skew."
    ),
    remediation="aws eks update-nodegroup-version --cluster-name NAME --nodegroup-name GROUP",
    references=(NODE_SKEW, REPLACE_NODES),
)
def nodegroup_versions(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = eks_cluster(inventory)
    control = str(cluster.get("version") or "")
    newest: dict[tuple[str, str], str] = {}
    for group in _nodegroups(cluster):
        key = (str(group.get("amiType") or ""), str(group.get("version") or ""))
        release = str(group.get("releaseVersion") or "")
        if release and (key not in newest or _release_key(release) > _release_key(newest[key])):
            newest[key] = release

    def judge(group: JSON) -> str | None:
        name = _group_name(group)
        version = str(group.get("version") or "")
        release = str(group.get("releaseVersion") or "")
        if not version:
            return None
        problems = []
        if version != control:
            problems.append(f"nodegroups[{name}].version = {version} (control plane {control})")
        latest = newest.get((str(group.get("amiType") or ""), version), "")
        if release and latest and _release_key(release) < _release_key(latest):
            problems.append(
                f"nodegroups[{name}].releaseVersion = {release} (another node group of this "
                f"AMI type runs {latest})"
            )
        return "; ".join(problems)

    return _judge_groups(
        cluster,
        judge,
        passed=f"every managed node group runs the control plane's version {control} and its "
        "AMI type's newest release seen",
        failed="Behind the control plane or a newer AMI release",
    )

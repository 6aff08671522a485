"""Move each evaluation's own verdict rows into shared, content-addressed ones."""

import hashlib

import orjson
from django.db import migrations


def _digest(status, summary, affected):
    payload = orjson.dumps([status, summary, list(affected)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def share(apps, schema_editor):
    Evaluation = apps.get_model("posture", "Evaluation")
    CheckResult = apps.get_model("posture", "CheckResult")
    ResultSet = apps.get_model("posture", "ResultSet")
    for evaluation in Evaluation.objects.order_by("id").iterator():
        rows = list(CheckResult.objects.filter(evaluation_id=evaluation.pk))
        ids, digests = {}, {}
        for row in rows:
            digest = _digest(row.status, row.summary, row.affected)
            digests[row.check_id] = digest
            kept = (
                CheckResult.objects.filter(
                    cluster_id=evaluation.cluster_id, check_id=row.check_id, digest=digest
                )
                .exclude(pk=row.pk)
                .first()
            )
            if kept is None:
                row.cluster_id, row.digest, row.evaluation_id = evaluation.cluster_id, digest, None
                row.save(update_fields=["cluster", "digest", "evaluation"])
                ids[row.check_id] = row.pk
            else:
                row.delete()
                ids[row.check_id] = kept.pk
        set_digest = hashlib.sha256(
            orjson.dumps(sorted(digests.items()), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        result_set, _ = ResultSet.objects.get_or_create(
            cluster_id=evaluation.cluster_id,
            digest=set_digest,
            defaults={
                "statuses": {row.check_id: row.status for row in sorted(rows, key=_check)},
                "result_ids": sorted(ids.values()),
            },
        )
        evaluation.result_set_id = result_set.pk
        evaluation.save(update_fields=["result_set"])


def _check(row):
    return row.check_id


class Migration(migrations.Migration):
    dependencies = [("posture", "0003_result_sets")]

    operations = [migrations.RunPython(share, migrations.RunPython.noop)]

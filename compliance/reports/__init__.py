"""Compliance reports: what an auditor files, built only from stored verdicts.

    scope.py     what a report covers (cluster or fleet, guide, as of a date or a period)
    data.py      one cluster's report data, read from the evaluation of its date
    history.py   the period around it: trend, changes, attestations and waivers on record
    fleet.py     a fleet report: every cluster's data, aggregated item by item
    render.py    PDF (WeasyPrint, from Django templates), CSV and JSON of that data
    services.py  issuing: the Report record, its file, its fingerprints, verification

A report never decides a status: every item's status is the one the pipeline stored with the
evaluation (posture.evaluation.derive), and the score and coverage are that evaluation's.
The data is one plain JSON-able dict; its canonical JSON's SHA-256 is the content fingerprint
printed in the PDF, and the issued file's SHA-256 is kept with the Report row.
"""

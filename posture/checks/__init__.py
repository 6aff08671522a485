"""The check catalog. Importing this package registers every check module's checks."""

from posture.checks import (  # noqa: F401
    access,
    isolation,
    network,
    patching,
    supply_chain,
)

"""The metric groups, one file each; importing this package registers them in this order."""

from genlab.eval.groups import (  # noqa: F401  (imported to register)
    classification,
    diversity,
    likelihood,
    quality,
    reconstruction,
    representation,
)

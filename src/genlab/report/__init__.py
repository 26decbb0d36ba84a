"""Seeing runs: self-contained HTML reports and the comparison of runs. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {"render_report": "genlab.report.html", "compare_runs": "genlab.report.compare"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

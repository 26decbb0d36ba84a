"""Seeing runs: self-contained HTML reports and the comparison of runs. The names below load on first use."""

from genlab.exports import lazy_exports

_EXPORTS = {"genlab.report.html": ("render_report",), "genlab.report.compare": ("compare_runs",)}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

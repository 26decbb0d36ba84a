"""Seeing runs: self-contained HTML reports and the comparison of runs."""

from genlab.report.html import render_report

__all__ = ["render_report"]

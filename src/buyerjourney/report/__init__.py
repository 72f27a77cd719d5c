"""HTML reports: the journey audit as one self-contained page with Plotly charts (no network needed to view it)."""

from __future__ import annotations

from buyerjourney.report.render import render_audit_html, write_audit_html

__all__ = ["render_audit_html", "write_audit_html"]

"""Reports: report.json (v1, for machines), report.md and report.html (for people)."""
from grader.report.model import Report, build_report
from grader.report.render import write_reports

__all__ = ["Report", "build_report", "write_reports"]

"""provscan: find code in a submission that comes from known open-source model projects.

The package reads as the pipeline: walk -> parse -> fragments -> fingerprint -> index -> match -> findings -> report.
"""

__version__ = "0.1.0"

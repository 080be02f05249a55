"""Benchmarks: each module prints its figures beside a baseline measured in the same run.

Run one with ``python -m bench.<name>`` or all with ``make bench`` (``python -m bench``). They are not part
of ``make test``: timings belong here, not in assertions.
"""

"""hubbub's benchmark harness (issue #7): one open-loop load generator, three peers, the workloads
of docs/benchmarks.md. Run ``python -m bench.run --quick`` or ``hubbub bench``; needs the ``bench``
extra (``pip install -e '.[bench]'``)."""

"""Reliability under chaos: AWS API faults, duplicate/reordered/concurrent deliveries,
expired leases, Lambda timeouts, and a load test on a moto server.

``faults.py`` injects the faults at botocore's API call layer, ``_moto.py`` makes moto
thread-safe and atomic, ``workloads.py`` holds the workflows, ``harness.py`` runs
scenarios and checks the invariants, and ``conftest.py`` writes ``report.json``.
"""

"""Benchmarks of adapter: AWS calls per step, replay reads, throughput, fan-out, peers.

Run ``python -m benchmarks`` (``--quick`` for CI, ``--profile`` for a pyinstrument
profile); see docs/benchmarks.md.
"""

"""Speed and scale benchmarks of the engine: `python -m benchmarks` (`make bench`).

Not part of the installed package: the baselines need `bm25s` (the `test` extra), and the
synthetic corpus reads the seed pages and ../shared from the repository. Run from a checkout.
"""

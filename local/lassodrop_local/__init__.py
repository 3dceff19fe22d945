"""Local-only tooling for lassodrop: the AudioLasso emulator, the embedded stack and the benchmarks.

Never imported by Lambda code.
"""

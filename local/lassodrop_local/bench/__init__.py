"""The relay benchmark: throughput and peak memory of moving one S3 object into a signed upload URL.

`python -m lassodrop_local.bench` (or `make bench`) starts moto's S3 server and the AudioLasso emulator in
processes of their own, writes generated objects into S3, then runs each way of relaying an object (the
lassodrop relay and the baselines it is judged against) in a fresh subprocess, so each peak RSS belongs to
one variant alone. It prints a table with the targets marked PASS or FAIL and writes the figures as JSON.

`python -m lassodrop_local.bench --cold` runs the cold scenario instead (`coldstart`): each function's import,
in fresh interpreters, against a bare boto3 import timed beside it.
"""

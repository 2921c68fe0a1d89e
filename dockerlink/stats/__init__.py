"""Stats: one collector per host samples dockerlink's containers into a SQLite history.

runner.py      the rounds job (run by dockerlink.collector): aligned rounds, back-off
collector.py   one round: which containers (Listing), readings, samples, store
sampler.py     readings: cgroup files on this host (dockerlink/cgroups.py), the engine API otherwise
samples.py     Reading (raw counters) → Sample (a point of history): derive()
arithmetic.py  the formulas, as pure functions
store.py       SQLite (WAL): tiers, rollups, retention, queries
rendering.py   a sample as the API shows it
history.py     what an `id` means to the history endpoint, and its parameters
"""

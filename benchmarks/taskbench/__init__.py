"""The pieces of benchmarks/tasks.py: the task suite and scoring (`suite`), the two arms (`agent`, `baseline`),
one run's record (`record`), the server's cache made the same before every task (`priming`), a stand-in model
server for the preflight and the capture (`standin`) and the tables (`report`). Run the benchmark with
`.venv/bin/python benchmarks/tasks.py --help`."""

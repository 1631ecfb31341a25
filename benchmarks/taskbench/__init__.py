"""The pieces of benchmarks/tasks.py: the task suite and scoring (`suite`), the two arms (`agent`, `baseline`)
and the tables (`report`). Run the benchmark with `.venv/bin/python benchmarks/tasks.py --help`."""

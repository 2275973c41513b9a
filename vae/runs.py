"""One name for the three modules a run is made of, for the pages and tests that say `runs.read_status`:
vae.runfiles (the run folder's format), vae.lifecycle (processes and locks) and vae.eta (the time left).
New code imports from those modules."""
from .eta import RemainingTime  # noqa: F401
from .lifecycle import (active_run, cli_args, delete_run, holds_lock, list_runs, live_siblings,  # noqa: F401
                        lock_holder, pid_alive, read_status, resume_run, run_lock, run_name, start_run, stop_run)
from .runfiles import (CHECKPOINT, COIN_FLIP_NATS, DIVERGED_NATS, LOCK, LOG, MAX_NAME, METRICS,  # noqa: F401
                       NAME, STATES, STATUS, STATUS_FIELDS, STOP_MARK, RunWriter, divergence, holds_a_run,
                       read_metrics, read_name, read_recorded_status, remove_orphan_parts, rename_run,
                       run_divergence, status_problems, truncate_metrics, write_json_atomic)

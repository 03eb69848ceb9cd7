# polyarb.runtime: the imperative shell of `polyarb run` (docs/architecture.md). It journals
# every input, folds it through the deterministic engine, journals the decisions and acts on
# them through the venue clients. Public API: RunOptions, RunResult, run(); the parts (engine
# loop, executor, rebuild, reconciliation, backends, status) are importable for tests and for
# `polyarb replay`, which shares polyarb.runtime.rebuild.
from polyarb.runtime.app import RunOptions, RunResult, Supervisor, run

__all__ = ["RunOptions", "RunResult", "Supervisor", "run"]

"""The pure rules a case is computed by: 派单 routing over the directory and working-day arithmetic on the
calendar a case carries. Workflow code imports them, so a change here changes what a replay computes: keep them
deterministic, free of I/O and of anything that is not in the case's own input."""

"""Stage 2, run: the stage, the scheduler, settling a run's end, progress and the summary."""

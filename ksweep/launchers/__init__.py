"""The launcher seam: how a run starts and ends (local fork server, Ray, Slurm)."""

"""The launcher seam's settings (ksweep.options): where runs execute, and each backend's own."""

from ksweep.options import Option

BACKENDS = ("local", "ray", "slurm")
RUNNING = ("sweep", "run", "resume")

OPTIONS = (
    Option("backend", choices=BACKENDS, default="local", owner="launchers", commands=RUNNING,
           help="where runs execute (default local)"),
    Option("ray_address", owner="launchers.ray", metavar="host:port", environment=True, commands=RUNNING,
           help="BACKEND=ray: the cluster to join (Ray reads it from the environment; default: a Ray of "
                "its own)"),
    Option("slurm_partition", owner="launchers.slurm", metavar="p", commands=RUNNING,
           help="BACKEND=slurm: the partition (default: the cluster's)"),
    Option("slurm_gpus", int, at_least=0, default=0, owner="launchers.slurm", commands=RUNNING,
           help="BACKEND=slurm: GPUs per run (default 0)"),
    Option("slurm_cpus", int, at_least=1, default=1, owner="launchers.slurm", commands=RUNNING,
           help="BACKEND=slurm: CPUs per run (default 1)"),
    Option("slurm_mem", owner="launchers.slurm", metavar="4G", commands=RUNNING,
           help="BACKEND=slurm: memory per run (default: the cluster's)"),
)  # fmt: skip

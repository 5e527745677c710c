"""The strategy seam's settings (ksweep.options): what runs next, and which runs stop early.
All are kept in sweep.json: a resumed search goes on as it was started."""

from ksweep.options import Option

SEARCHES = ("grid", "random", "tpe", "nsga2")
PRUNERS = ("none", "median", "asha")
RUNNING = ("sweep", "run", "resume")

OPTIONS = (
    Option("search", choices=SEARCHES, default="grid", kept=True, owner="search",
           commands=(*RUNNING, "generate"),
           help="grid (default): every config; random, tpe, nsga2 (two METRICs): Optuna proposes SAMPLES"),
    Option("samples", int, at_least=1, kept=True, owner="search", commands=RUNNING,
           help="SEARCH=random|tpe|nsga2: configs in all (each with its seeds under REPEATS)"),
    Option("search_seed", int, at_least=0, default=0, kept=True, owner="search", commands=RUNNING,
           help="SEARCH=random|tpe|nsga2: the sampler's seed (default 0)"),
    Option("pruner", choices=PRUNERS, default="none", kept=True, owner="search", commands=RUNNING,
           help="stop runs that fall behind: median, asha (default none)"),
    Option("pruner_min_epochs", int, at_least=1, default=1, kept=True, owner="search", commands=RUNNING,
           help="epochs every run trains before it may be pruned (default 1)"),
    Option("pruner_reduction", int, at_least=2, default=3, kept=True, owner="search", commands=RUNNING,
           help="PRUNER=asha: keep 1/N at each rung (default 3)"),
)  # fmt: skip

"""The analysis stage's settings (ksweep.options), beyond the ranking's METRIC and MODE."""

from ksweep.options import Option

OPTIONS = (
    Option("top", int, at_least=1, owner="analysis", commands=("leaderboard", "promote"),
           help="rows of the leaderboard (default 10), runs promote takes (default 3)"),
    Option("a", owner="analysis", metavar="dir", commands=("compare",),
           help="sweep-compare: the first sweep"),
    Option("b", owner="analysis", metavar="dir", commands=("compare",),
           help="sweep-compare: the second sweep"),
    Option("run", owner="analysis", metavar="dir", commands=("reproduce",),
           help="sweep-reproduce: the run folder to train again"),
)  # fmt: skip

"""The configuration stage's settings (ksweep.options): what is expanded, and how far."""

from ksweep.options import Option

DEFAULT_MAX_CONFIGS = 1000
# The commands that read the Kconfig: the stages, and the kernel's Kconfig targets.
KCONFIG_COMMANDS = ("sweep", "generate", "run", "resume", "analyze", "promote", "reproduce", "defconfig",
                    "savedefconfig", "olddefconfig", "menuconfig", "list-defconfigs")  # fmt: skip

OPTIONS = (
    Option("kconfig", help="the project's Kconfig: a file, or a folder holding one (default: ./Kconfig "
           "where there is one, else ksweep's own)", metavar="file", owner="config", exists=True,
           commands=KCONFIG_COMMANDS),
    Option("range_config", help="the range file: a path, or a name under defconfigs/ (default: the quick "
           "embedded sweep)", metavar="file", owner="generate", commands=("sweep", "generate")),
    Option("defconfig", help="the defconfig .config is written from (default lenet5-digits)", metavar="name",
           owner="config", commands=("defconfig",)),
    Option("max_configs", int, at_least=1, default=DEFAULT_MAX_CONFIGS, owner="generate",
           help=f"refuse a grid larger than this (default {DEFAULT_MAX_CONFIGS}; the estimate says how long)",
           commands=("sweep", "generate")),
    Option("repeats", int, at_least=1, default=1, owner="generate",
           help="each config with k seeds, ranked by its mean with a 95% interval", metavar="k",
           commands=("sweep", "generate")),
    Option("config_dir", help="where configs are generated and run from (default sweep_configs)",
           default="sweep_configs", metavar="dir", owner="generate", flags=("--out",),
           commands=("sweep", "generate", "run", "promote")),
)  # fmt: skip

"""Stage 1, configuration: Kconfig, range files, and the generator that expands them."""

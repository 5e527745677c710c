"""The sweep folder: its plan, manifest, lock and where sweeps are found."""

"""The strategy seam: what runs next (grid, random, TPE) and which runs stop early."""

"""Helpers every stage uses: atomic files and JSON(L) reads, seeds derived from names, the content cache, the
selections log read as decisions (written by the loop, read by the run, the trackers and the report)."""

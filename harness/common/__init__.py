"""Helpers every stage uses: atomic files and JSON(L) reads, seeds derived from names, the content cache."""

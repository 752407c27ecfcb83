"""Reward models (one file per kind: loglik, implicit, classifier, correctness, noisy), the run's RM pool,
shared scoring code, the preference pairs drawn from scores (``pairs``: the loop trains on them, the profile
measures their margins), and the pairwise judges that compare two policies' outputs."""

"""Reward models (one file per kind: loglik, implicit, classifier, correctness, noisy), the run's RM pool,
shared scoring code, and the pairwise judges that compare two policies' outputs."""

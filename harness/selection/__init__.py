"""Choosing the reward for each batch: the method interface and registry, LASeR, its bandits and MAB-reward
scaling, and how several RMs' scores combine. The baselines live in ``baselines/``, one file each."""

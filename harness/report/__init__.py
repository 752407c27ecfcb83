"""The report stage: the paper's tables (LaTeX/Markdown/CSV, best bold and second underlined), one-sided
Wilcoxon and McNemar tests, figures and the paper's transcribed numbers, all from a run store's files;
imports no torch."""

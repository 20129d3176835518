"""PCFG SET (Hupkes et al. 2020): string-edit programs in prefix notation."""

"""Kazemnejad et al. 2023's reasoning tasks, in a symbolic vocabulary: summation and
polynomial evaluation modulo 10, and LEGO."""

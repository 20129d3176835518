"""Multi-digit arithmetic in McLeish et al. 2024's format (reversed operands and results)."""

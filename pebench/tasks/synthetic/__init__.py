"""Synthetic length-generalization tasks: sequences generated on the fly (copy, reverse,
duplicate, mapped copy) and the copy family of Kazemnejad et al. 2023 on its finite splits,
as a causal decoder or a bidirectional encoder with an output tape."""

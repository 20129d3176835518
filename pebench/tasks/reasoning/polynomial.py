"""Polynomial evaluation modulo 10 (Kazemnejad et al. 2023, ``make_poly_dataset.py
--modular``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.reasoning.builder import Problem, ReasoningTask

#: the integers a problem names: coefficients −3..3, degrees 0..3, x −2..2, answers 0..9
NUMBERS = tuple(str(v) for v in range(-3, 10))


class PolynomialEvaluation(ReasoningTask):
    """``x = X in c1 * x ** d1 + … + cn * x ** dn`` → Σ c_i·X^d_i mod 10 (Python's modulo, in
    0–9), with c uniform in −3..3, d in 0..3 and X in −2..2; size n, the number of terms."""

    name = "polynomial"
    description = "Kazemnejad et al. polynomial evaluation: n terms at x, modulo 10"
    symbols = (*NUMBERS, "x", "=", "in", "*", "**", "+")

    def draw(self, n: int, count: int, rng: np.random.RandomState) -> list[Problem]:
        out = []
        for _ in range(count):
            coeffs = rng.randint(-3, 4, (n,)).tolist()
            degrees = rng.randint(0, 4, (n,)).tolist()
            x = int(rng.randint(-2, 3))
            terms = " + ".join(f"{c} * x ** {d}" for c, d in zip(coeffs, degrees, strict=True))
            answer = sum(c * x**d for c, d in zip(coeffs, degrees, strict=True)) % 10
            out.append((n, f"x = {x} in {terms}".split(), [str(answer)]))
        return out

    def size(self, source: list[str]) -> int:
        return source.count("**")

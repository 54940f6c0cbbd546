"""stepprop: a step-by-step backpropagation calculator.

Write a small network in YAML; stepprop prints every forward value, every
chain-rule term and every weight update of a training step, in the notation
of Matt Mazur's "A Step by Step Backpropagation Example", and trains it.
"""

__version__ = "0.1.0"

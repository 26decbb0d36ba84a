"""Evaluation: `genlab.evaluate(run, ...)` (genlab.eval.runner), its metric groups and their formulas.

Each metric group is a file in genlab.eval.groups, registered in genlab.eval.registry;
the formulas (likelihood, quality, manifold, diversity, probes, reconstruction) are
plain functions on tensors that any caller can use on its own.
"""
